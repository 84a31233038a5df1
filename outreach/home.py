"""What the App Home tells a user at a glance: how many prospects they picked and how many drafts wait.

Both are counted by the database: a Home tab is opened often, and a user's drafts may carry files of
megabytes, none of which is needed to count them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from outreach.models import DraftStatus
from outreach.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class HomeStatus:
    picked: int  # ticked prospects (those still prospects of the workspace)
    drafts: int  # unsent drafts


class HomeService:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    def status(self, team_id: str, user_id: str) -> HomeStatus:
        with self._uow() as uow:
            return HomeStatus(
                picked=uow.picks.count_prospects(team_id, user_id),
                drafts=uow.drafts.count_for_author(team_id, user_id, (DraftStatus.DRAFT,)),
            )
