"""How outreach is going: the numbers of the App Home dashboard, of ``/prospects stats`` and of a send's results.

A window is the last ``days`` days up to now. In it, for one author (their own sends) or for the whole workspace:

* **sent**: e-mails and messages that went out (``sent_at`` in the window) — a hard bounce went out too;
* **failed**: deliveries that could not be sent (never went out), last changed in the window;
* **bounced**: those sent that bounced permanently afterwards (a soft bounce is only a delay);
* **replied**: those sent that the partner answered: each message from a partner counts for the last delivery
  sent to that partner before it, so a partner who replies once to three sends counts once;
* **unsubscribed**: addresses that unsubscribed in the window (for an author: addresses they had e-mailed).

Reply rates are given per template (the template last used on the send's draft: the audit log's
``template.used``; a send written from scratch is "no template") and per calendar week (Monday to Sunday, UTC).
Every count is made by the database; nothing here reads a delivery row by row except the results file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.errors import NotFound, Problem, ValidationFailed
from outreach.models import ResultRow, SentGroup
from outreach.ports import Clock, UnitOfWork

DEFAULT_DAYS = 30
MAX_DAYS = 365
CSV_HEADER = ("recipient", "mpid", "address", "result", "detail", "sent at", "replied at")


def bad_days(given: str) -> ValidationFailed:
    """A number of days that is not a whole number from 1 to MAX_DAYS (field ``days``, code ``bad_days``)."""
    return ValidationFailed(
        [
            Problem(
                "days",
                "bad_days",
                f"days must be a whole number from 1 to {MAX_DAYS}, not {given!r}",
                (("given", given), ("max", str(MAX_DAYS))),
            )
        ]
    )


def parse_days(text: str) -> int:
    """``N`` (what follows ``--days``) as a number of days; ValidationFailed for anything else."""
    value = text.strip()
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_DAYS:
        return int(value)
    raise bad_days(value)


@dataclass(frozen=True, slots=True)
class Outcomes:
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    replied: int = 0
    unsubscribed: int = 0

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.sent if self.sent else None


@dataclass(frozen=True, slots=True)
class Rate:
    """Sends and replies of one template or one week. ``label``: the template's name ("" for no template) or the
    week's Monday as an ISO date."""

    label: str
    sent: int
    replied: int

    @property
    def rate(self) -> float | None:
        return self.replied / self.sent if self.sent else None


@dataclass(frozen=True, slots=True)
class Report:
    days: int
    since: datetime
    until: datetime
    whole_workspace: bool
    outcomes: Outcomes
    by_template: tuple[Rate, ...]
    by_week: tuple[Rate, ...]


def week_starts(since: datetime, until: datetime) -> list[datetime]:
    """The Mondays (00:00 of since's zone) starting each calendar week the window touches, the first one at or before
    ``since``."""
    first = datetime.combine(
        since.date() - timedelta(days=since.weekday()), datetime.min.time(), since.tzinfo
    )
    starts = []
    at = first
    while at < until:
        starts.append(at)
        at += timedelta(days=7)
    return starts


def results_csv(rows: Iterable[ResultRow], describe: Callable[[str], str] = lambda detail: detail) -> bytes:
    """The results file: UTF-8 with a byte-order mark (so spreadsheet programs read non-Latin names right), one
    line per recipient, times in UTC (ISO 8601). Cells that a spreadsheet would take for a formula are quoted
    with a leading apostrophe (CSV injection). ``describe``: a detail as the reader reads it (a skip reason's key
    translated, say)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            [
                _cell(r.name),
                _cell(r.mpid),
                _cell(r.address),
                r.result,
                _cell(describe(r.detail)),
                _iso(r.sent_at),
                _iso(r.replied_at),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _iso(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else ""


class StatsService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def report(self, team_id: str, author_id: str | None, days: int = DEFAULT_DAYS) -> Report:
        """The numbers of the last ``days`` days: the author's own sends, or the workspace's (``author_id`` None)."""
        if not 1 <= days <= MAX_DAYS:
            raise bad_days(str(days))
        until = self._clock.now()
        since = until - timedelta(days=days)
        weeks = week_starts(since, until)
        with self._uow() as uow:
            groups = uow.stats.sent_groups(team_id, author_id, since, until, weeks)
            failed = uow.stats.failed(team_id, author_id, since, until)
            unsubscribed = uow.stats.unsubscribed(team_id, author_id, since, until)
            templates = uow.stats.templates_of(team_id, sorted({g.root_id for g in groups}))
        outcomes = Outcomes(
            sent=sum(g.sent for g in groups),
            failed=failed,
            bounced=sum(g.bounced for g in groups),
            replied=sum(g.replied for g in groups),
            unsubscribed=unsubscribed,
        )
        return Report(
            days,
            since,
            until,
            author_id is None,
            outcomes,
            _by_template(groups, templates),
            _by_week(groups, weeks),
        )

    def results(self, team_id: str, user_id: str, draft_id: int, *, is_admin: bool) -> Iterator[ResultRow]:
        """A send's results, one row per recipient: for its author or a workspace admin; NotFound otherwise (a
        draft of another workspace, or of someone else, is not shown to exist)."""
        with self._uow() as uow:
            draft = uow.drafts.get(team_id, draft_id)
            if draft is None or (draft.author_id != user_id and not is_admin):
                raise NotFound("draft", str(draft_id))
            yield from uow.stats.results(team_id, draft_id)


def _by_template(groups: Iterable[SentGroup], templates: dict[int, str]) -> tuple[Rate, ...]:
    sent: dict[str, int] = {}
    replied: dict[str, int] = {}
    for g in groups:
        name = templates.get(g.root_id, "")
        sent[name] = sent.get(name, 0) + g.sent
        replied[name] = replied.get(name, 0) + g.replied
    # Most used first; "no template" last.
    order = sorted(sent, key=lambda n: (n == "", -sent[n], n.casefold()))
    return tuple(Rate(n, sent[n], replied[n]) for n in order)


def _by_week(groups: Iterable[SentGroup], weeks: list[datetime]) -> tuple[Rate, ...]:
    sent = [0] * len(weeks)
    replied = [0] * len(weeks)
    for g in groups:
        sent[g.week] += g.sent
        replied[g.week] += g.replied
    return tuple(Rate(w.date().isoformat(), s, r) for w, s, r in zip(weeks, sent, replied, strict=True))
