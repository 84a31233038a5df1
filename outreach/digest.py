"""Who has unsent drafts: the digest's core.

``DigestService.due(now)`` lists, per (workspace, author), the drafts still unsent (status DRAFT) that were
created more than ``min_age`` ago, oldest first. ``claim(team, user, day)`` records that the user gets the
digest of ``day`` (their local date: the Slack side knows their time zone) and answers False when it was
already claimed, by this process or another scheduler: the record's unique (workspace, user, day) key is the
guard, so nobody gets two digests a day however many schedulers run. ``release`` undoes a claim whose DM
could not be posted, so a later run may try again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby

from outreach.models import Channel, DraftSummary
from outreach.ports import Clock, UnitOfWork

EXCERPT_CHARS = 120


@dataclass(frozen=True, slots=True)
class DigestItem:
    draft_id: int
    channel: Channel
    title: str  # the subject, else the start of the content ("" when both are empty)
    recipients: int
    age: timedelta


@dataclass(frozen=True, slots=True)
class DigestFor:
    team_id: str
    user_id: str
    drafts: tuple[DigestItem, ...]

    @property
    def count(self) -> int:
        return len(self.drafts)


def title_of(draft: DraftSummary) -> str:
    subject = " ".join(draft.subject.split())
    if subject:
        return subject
    excerpt = " ".join(draft.excerpt.split())
    return excerpt if len(excerpt) <= EXCERPT_CHARS else excerpt[: EXCERPT_CHARS - 1] + "…"


class DigestService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, min_age: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self.min_age = min_age

    def due(self, now: datetime | None = None) -> list[DigestFor]:
        """Every author with drafts unsent for longer than ``min_age``, by workspace then author."""
        now = now or self._clock.now()
        with self._uow() as uow:
            stale = uow.digests.stale_drafts(now - self.min_age)
        out: list[DigestFor] = []
        for (team_id, user_id), drafts in groupby(stale, key=lambda d: (d.team_id, d.author_id)):
            items = tuple(
                DigestItem(d.draft_id, d.channel, title_of(d), d.recipients, now - d.created_at)
                for d in drafts
            )
            out.append(DigestFor(team_id, user_id, items))
        return out

    def claim(self, team_id: str, user_id: str, day: date) -> bool:
        """True for the one caller that gets to send ``user_id`` the digest of ``day``."""
        with self._uow() as uow:
            won = uow.digests.claim(team_id, user_id, day, self._clock.now())
            uow.commit()
        return won

    def release(self, team_id: str, user_id: str, day: date) -> None:
        with self._uow() as uow:
            uow.digests.release(team_id, user_id, day)
            uow.commit()
