"""Send later: when a scheduled send goes, and to each partner at what time.

The rules:

* **A time in the future.** The author picks a date and time (Slack's datetimepicker gives an instant; the
  author reads it in their own time zone). It must be at least ``MIN_AHEAD`` from now and at most ``MAX_AHEAD``
  (a year: further is a typo of the year) — :func:`send_at_problems`.
* **Checked like a send, then kept.** A scheduled send passes every check Send makes (the fields, the files
  scanned clean, someone left to send to) and becomes SCHEDULED with its time; it is no longer editable (Cancel
  puts it back to a draft). At its time the plan is made exactly as Send makes it — the same checks again — and
  a problem that appeared meanwhile sends nothing and puts it back to a draft (outreach/outbox.py).
* **At HH:MM in each partner's time zone** (``local_zone``: the author's zone). The picked date and time of day,
  read in the author's zone, is the time each partner gets it in *their* zone (partners without one: the
  author's). The send starts when that time first comes anywhere (UTC+14, :func:`start_at`); a partner whose time
  has already passed by then (the send started late, or was scheduled less than a day ahead) gets it at that
  time the next day (:func:`local_due`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.errors import Problem

MIN_AHEAD = timedelta(minutes=1)
MAX_AHEAD = timedelta(days=366)
EARLIEST_ZONE = timezone(timedelta(hours=14))  # Pacific/Kiritimati: where a day's time of day comes first


def zone(name: str) -> ZoneInfo | None:
    """The IANA zone ``name`` names, or None (empty, unknown, or not a zone name)."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def send_at_problems(send_at: datetime | None, now: datetime, *, local: bool = False) -> list[Problem]:
    """What is wrong with a send time (``local``: the author asked for each partner's time zone)."""
    if send_at is None:
        if local:
            return [Problem("send_at", "required", "Pick the date and time to send at.")]
        return []
    if send_at < now + MIN_AHEAD:
        return [Problem("send_at", "in_the_past", "Pick a time in the future.")]
    if send_at > now + MAX_AHEAD:
        return [Problem("send_at", "too_far", "Pick a time within a year.", (("days", str(MAX_AHEAD.days)),))]
    return []


def wall_time(send_at: datetime, local_zone: str) -> datetime:
    """The picked date and time as the author reads it (naive: a date and a time of day)."""
    author = zone(local_zone) or UTC
    return send_at.astimezone(author).replace(tzinfo=None)


def start_at(send_at: datetime, local_zone: str = "") -> datetime:
    """When a scheduled send is planned: its time, or (each partner's time zone) when that date and time of day
    first comes anywhere."""
    if not local_zone:
        return send_at.astimezone(UTC)
    return wall_time(send_at, local_zone).replace(tzinfo=EARLIEST_ZONE).astimezone(UTC)


def local_due(send_at: datetime, local_zone: str, partner_zone: str, not_before: datetime) -> datetime:
    """When a partner of ``partner_zone`` (empty or unknown: the author's) gets a send scheduled for ``send_at``
    in each partner's time zone: that date and time of day in their zone, or the first day after on which it is
    not before ``not_before``."""
    wall = wall_time(send_at, local_zone)
    where = zone(partner_zone) or zone(local_zone) or UTC
    for day in range(MAX_AHEAD.days + 2):
        due = (wall + timedelta(days=day)).replace(tzinfo=where).astimezone(UTC)
        if due >= not_before:
            return due
    return not_before
