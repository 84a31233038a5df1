"""Deleting the data of workspaces uninstalled RETENTION_DAYS_AFTER_UNINSTALL ago, on the scheduler.

One APScheduler job, hourly, as the digest runs (bot/digest.py): every process with a scheduler runs it, and the
purge of a workspace is conditional on its row (:mod:`storage.workspace_repository`), so each workspace is purged
once, by whichever process gets there first. It also forgets install links (OAuth ``state`` values) that expired
unused, so that visits to ``/slack/install`` do not pile up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import SQLAlchemyError

from outreach.workspaces import WorkspaceService

log = logging.getLogger(__name__)

JOB_ID = "retention"


class RetentionJob:
    def __init__(
        self, workspaces: WorkspaceService, housekeeping: Callable[[], object] | None = None
    ) -> None:
        self._workspaces = workspaces
        self._housekeeping = housekeeping

    def run(self) -> list[str]:
        """Purge what is due now; returns the workspaces purged by this call."""
        try:
            purged = self._workspaces.purge_due()
            if self._housekeeping is not None:
                self._housekeeping()
        except SQLAlchemyError:
            log.warning(
                "the retention job could not reach the database; it runs again in an hour", exc_info=True
            )
            return []
        for team_id in purged:
            log.info("the data of workspace %s, uninstalled long enough ago, is deleted", team_id)
        return purged

    def schedule(self, scheduler: BaseScheduler) -> Job:
        return scheduler.add_job(
            self.run,
            CronTrigger(minute=7, timezone="UTC"),
            id=JOB_ID,
            name="delete the data of uninstalled workspaces",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
