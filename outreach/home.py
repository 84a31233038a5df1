"""What the App Home shows a user: their picks and drafts at a glance (the latest drafts listed), their sends in
progress (with their counts), their scheduled sends, and how outreach went in the last 30 days — their own numbers,
and the whole workspace's as well for its admins and owners (outreach/stats.py).

Everything is counted by the database: a Home tab is opened often, and a user's drafts may carry files of
megabytes, none of which is needed to count or list them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from outreach.models import DeliveryStatus, Draft, DraftStatus
from outreach.ports import UnitOfWork
from outreach.stats import DEFAULT_DAYS, Report, StatsService

SHOWN = 5  # sends in progress and scheduled sends listed on the Home tab (the rest: /prospects drafts)


@dataclass(frozen=True, slots=True)
class HomeStatus:
    picked: int  # ticked prospects (those still prospects of the workspace)
    drafts: int  # unsent drafts


@dataclass(frozen=True, slots=True)
class Dashboard:
    status: HomeStatus
    waiting: tuple[Draft, ...]  # the viewer's latest unsent drafts (status.drafts in all)
    sending: tuple[
        tuple[Draft, dict[DeliveryStatus, int]], ...
    ]  # the viewer's sends in progress, with counts
    sending_more: int  # in progress beyond those listed
    scheduled: tuple[Draft, ...]  # the viewer's scheduled sends, soonest first
    scheduled_more: int
    own: Report  # the viewer's own numbers
    workspace: Report | None  # the whole workspace's, for admins and owners only


class HomeService:
    def __init__(self, uow: Callable[[], UnitOfWork], stats: StatsService) -> None:
        self._uow = uow
        self._stats = stats

    def status(self, team_id: str, user_id: str) -> HomeStatus:
        with self._uow() as uow:
            return HomeStatus(
                picked=uow.picks.count_prospects(team_id, user_id),
                drafts=uow.drafts.count_for_author(team_id, user_id, (DraftStatus.DRAFT,)),
            )

    def dashboard(self, team_id: str, user_id: str, *, is_admin: bool, days: int = DEFAULT_DAYS) -> Dashboard:
        status = self.status(team_id, user_id)
        with self._uow() as uow:
            waiting = uow.drafts.for_author(team_id, user_id, (DraftStatus.DRAFT,), files=False)
            sending = uow.drafts.for_author(team_id, user_id, (DraftStatus.SENDING,), files=False)
            scheduled = uow.drafts.for_author(team_id, user_id, (DraftStatus.SCHEDULED,), files=False)
            scheduled.sort(key=lambda d: (d.send_at is None, d.send_at, d.id))
            counted = tuple((d, uow.queue.counts(team_id, d.id)) for d in sending[:SHOWN] if d.id is not None)
        return Dashboard(
            status=status,
            waiting=tuple(waiting[:SHOWN]),
            sending=counted,
            sending_more=max(0, len(sending) - SHOWN),
            scheduled=tuple(scheduled[:SHOWN]),
            scheduled_more=max(0, len(scheduled) - SHOWN),
            own=self._stats.report(team_id, user_id, days),
            workspace=self._stats.report(team_id, None, days) if is_admin else None,
        )
