"""Workspaces installed from a link: who installed them, which may be served, uninstalling, deleting their data.

The rules:

* **Install.** A workspace installed through Slack's OAuth flow is recorded with who installed it and when; an
  Enterprise Grid org installed org-wide is recorded under its ``E…`` id. A reinstall records it again (the
  installer and time are the latest) and clears its uninstall — an org's, its workspaces' too: data kept since
  is there again.
* **Who is served.** A request is served for a workspace that is installed; under an org-wide install, for a
  workspace of an org that is installed — that workspace is recorded the first time one of its requests comes,
  so that work done later without a request (a progress DM, the digest) knows which install's token is its.
  Anything else is not served at all: no data, no Slack call.
* **Uninstall.** ``app_uninstalled``, or the bot token revoked (``tokens_revoked``), marks the workspace — for an
  org, the org and each of its workspaces — uninstalled, and stops its sends: every delivery not yet in flight
  ends FAILED with :data:`APP_UNINSTALLED`; a delivery in flight finishes or fails by the at-most-once rules of
  :mod:`outreach.delivery`. The tokens themselves are deleted by the Slack adapter, at once.
* **Retention.** A workspace's data — every table's rows of it — is deleted ``retention`` after its uninstall by
  the scheduler (:meth:`WorkspaceService.purge_due`; once across processes: the purge is conditional on the
  workspace still being uninstalled since before the cut-off), or at once with :meth:`WorkspaceService.purge`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from outreach.models import Workspace
from outreach.ports import Clock, UnitOfWork

APP_UNINSTALLED = "app uninstalled"
SENDS_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class WorkspaceReport:
    """A line of ``prospects-bot workspaces``: the workspace, and what it sent in the last 30 days."""

    workspace: Workspace
    sends_30_days: int


class WorkspaceService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, retention: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention

    def installed(self, workspace: Workspace) -> None:
        """Record an install (or a reinstall: the uninstall is cleared — for an org, its workspaces' too)."""
        with self._uow() as uow:
            uow.workspaces.put(replace(workspace, uninstalled_at=None))
            if workspace.org_install:
                for team_id in uow.workspaces.members(workspace.enterprise_id):
                    member = uow.workspaces.get(team_id)
                    if member is not None and not member.installed:
                        uow.workspaces.put(replace(member, uninstalled_at=None))
            uow.commit()

    def find(self, team_id: str) -> Workspace | None:
        with self._uow() as uow:
            return uow.workspaces.get(team_id)

    def serves(self, team_id: str | None, enterprise_id: str | None, org_install: bool) -> bool:
        """Whether a request from ``team_id`` (of ``enterprise_id``; under its org-wide install when
        ``org_install``) is served; a workspace of an installed org is recorded on its first request."""
        key = enterprise_id if org_install else team_id
        if not key:
            return False
        with self._uow() as uow:
            install = uow.workspaces.get(key)
            if install is None or not install.installed:
                return False
            if not org_install or not team_id or team_id == key:
                return True
            member = uow.workspaces.get(team_id)
            if member is not None:
                return member.installed
            uow.workspaces.add_if_absent(
                Workspace(
                    team_id=team_id,
                    installed_at=self._clock.now(),
                    enterprise_id=key,
                    enterprise_name=install.enterprise_name,
                    org_install=True,
                    installed_by=install.installed_by,
                )
            )
            uow.commit()
        return True

    def uninstalled(self, team_id: str | None, enterprise_id: str | None) -> list[str]:
        """The app was uninstalled from ``team_id`` (or, without one, from the org ``enterprise_id``): mark it
        and stop its sends. Returns the workspaces marked."""
        now = self._clock.now()
        with self._uow() as uow:
            teams = [team_id] if team_id else []
            if not team_id and enterprise_id:
                teams = [enterprise_id, *uow.workspaces.members(enterprise_id)]
            marked = uow.workspaces.uninstall(teams, now)
            for team in teams:
                uow.queue.end_open(team, APP_UNINSTALLED, now)
            uow.commit()
        return marked

    def listing(self) -> list[WorkspaceReport]:
        with self._uow() as uow:
            workspaces = uow.workspaces.all()
            sends = uow.workspaces.sends_since(self._clock.now() - SENDS_WINDOW)
        return [WorkspaceReport(w, sends.get(w.team_id, 0)) for w in workspaces]

    def purge_due(self) -> list[str]:
        """Delete the data of every workspace uninstalled longer than the retention ago; returns those purged
        here (not those another process purged first)."""
        cutoff = self._clock.now() - self._retention
        with self._uow() as uow:
            due = uow.workspaces.uninstalled_before(cutoff)
        purged = []
        for team_id in due:
            with self._uow() as uow:
                if uow.workspaces.purge(team_id, uninstalled_before=cutoff):
                    purged.append(team_id)
                uow.commit()
        return purged

    def purge(self, team_id: str) -> bool:
        """Delete every row of ``team_id`` now, installed or not; False when there was none."""
        with self._uow() as uow:
            found = uow.workspaces.purge(team_id)
            uow.commit()
        return found
