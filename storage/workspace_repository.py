"""The workspaces installed from a link (table ``workspaces``), and deleting a workspace's data from every table.

The rules:

* ``purge`` deletes, in one transaction, the workspace's rows from **every** table of ``Base.metadata`` that has a
  ``team_id`` column — children before parents (the metadata's dependency order, reversed) — so a table added
  later is purged without anyone remembering to add it here. Tables without ``team_id`` are listed in
  :data:`NOT_PER_WORKSPACE` with what is done with them: a workspace's own mailboxes in ``send_budgets`` are keyed
  ``mailbox:<team>:<user>`` and go by that prefix; an org's tokens (``team_id`` NULL, ``enterprise_id`` the org)
  go with the org. tests/integration/test_workspaces.py fails on a table that is in neither group.
* The workspace's own row is deleted first, conditionally (``uninstalled_at`` still before the cut-off when the
  scheduler purges): on PostgreSQL a second process purging the same workspace waits on that row's lock and
  then deletes nothing, so a purge runs once however many schedulers run; SQLite has one writer at a time.
  A workspace reinstalled meanwhile (``uninstalled_at`` cleared) is not purged.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, delete, func, select, update
from sqlalchemy.orm import Session

from outreach.models import DeliveryStatus, Workspace
from storage.models import Base, DeliveryRow, SendBudgetRow, WorkspaceRow
from storage.upsert import insert_for

_WORKSPACES = cast(Table, WorkspaceRow.__table__)
_BUDGETS = cast(Table, SendBudgetRow.__table__)

# Tables with no team_id column, and why each is (or is not) part of a workspace's data.
NOT_PER_WORKSPACE = {
    "app_keys": "the app's own keys, shared by every workspace",
    "send_budgets": "keyed by sending account; a workspace's own (mailbox:<team>:…, workspace:<team>:…) are purged",
    "slack_oauth_states": "install attempts not yet tied to any workspace; they expire in minutes",
}
MAILBOX_PREFIX = "mailbox:{team_id}:"  # outreach.delivery.throttle.own_mailbox
WORKSPACE_PREFIX = "workspace:{team_id}:"  # outreach.delivery.throttle.workspace_account


def per_workspace_tables() -> list[Table]:
    """Every table with a ``team_id``, children before parents (the order rows can be deleted in)."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "team_id" in t.c]


class SqlWorkspaces:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, team_id: str) -> Workspace | None:
        row = self._session.get(WorkspaceRow, team_id)
        return _to_workspace(row) if row is not None else None

    def put(self, workspace: Workspace) -> None:
        values = _values(workspace)
        stmt = insert_for(self._session, _WORKSPACES).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_WORKSPACES.c.team_id],
            set_={k: v for k, v in values.items() if k != "team_id"},
        )
        self._session.execute(stmt)

    def add_if_absent(self, workspace: Workspace) -> bool:
        stmt = (
            insert_for(self._session, _WORKSPACES)
            .values(**_values(workspace))
            .on_conflict_do_nothing(index_elements=[_WORKSPACES.c.team_id])
            .returning(_WORKSPACES.c.team_id)
        )
        return self._session.execute(stmt).first() is not None

    def members(self, enterprise_id: str) -> list[str]:
        stmt = select(WorkspaceRow.team_id).where(
            WorkspaceRow.enterprise_id == enterprise_id,
            WorkspaceRow.org_install.is_(True),
            WorkspaceRow.team_id != enterprise_id,
        )
        return sorted(self._session.scalars(stmt))

    def uninstall(self, team_ids: Collection[str], at: datetime) -> list[str]:
        if not team_ids:
            return []
        stmt = (
            update(_WORKSPACES)
            .where(_WORKSPACES.c.team_id.in_(sorted(set(team_ids))), _WORKSPACES.c.uninstalled_at.is_(None))
            .values(uninstalled_at=at)
            .returning(_WORKSPACES.c.team_id)
        )
        return sorted(self._session.execute(stmt).scalars())

    def all(self) -> list[Workspace]:
        rows = self._session.scalars(
            select(WorkspaceRow).order_by(WorkspaceRow.installed_at, WorkspaceRow.team_id)
        )
        return [_to_workspace(row) for row in rows]

    def sends_since(self, since: datetime) -> dict[str, int]:
        stmt = (
            select(DeliveryRow.team_id, func.count())
            .where(DeliveryRow.status == DeliveryStatus.SENT.value, DeliveryRow.sent_at >= since)
            .group_by(DeliveryRow.team_id)
        )
        return {team_id: int(n) for team_id, n in self._session.execute(stmt)}

    def uninstalled_before(self, before: datetime) -> list[str]:
        stmt = select(WorkspaceRow.team_id).where(WorkspaceRow.uninstalled_at < before)
        return sorted(self._session.scalars(stmt))

    def purge(self, team_id: str, *, uninstalled_before: datetime | None = None) -> bool:
        own = delete(_WORKSPACES).where(_WORKSPACES.c.team_id == team_id)
        if uninstalled_before is not None:
            own = own.where(_WORKSPACES.c.uninstalled_at < uninstalled_before)
        deleted = int(getattr(self._session.execute(own), "rowcount", 0) or 0)
        if uninstalled_before is not None and not deleted:
            return False  # reinstalled meanwhile, or another process purged it first
        touched = deleted
        for table in per_workspace_tables():
            where = table.c.team_id == team_id
            if "enterprise_id" in table.c:  # an org-wide install's tokens: team_id NULL, the org's id
                where = where | and_(table.c.team_id.is_(None), table.c.enterprise_id == team_id)
            result = self._session.execute(delete(table).where(where))
            touched += int(getattr(result, "rowcount", 0) or 0)
        for prefix in (MAILBOX_PREFIX.format(team_id=team_id), WORKSPACE_PREFIX.format(team_id=team_id)):
            result = self._session.execute(
                delete(_BUDGETS).where(_BUDGETS.c.account.startswith(prefix, autoescape=True))
            )
            touched += int(getattr(result, "rowcount", 0) or 0)
        return touched > 0


def _values(workspace: Workspace) -> dict[str, object]:
    return {
        "team_id": workspace.team_id,
        "enterprise_id": workspace.enterprise_id,
        "name": workspace.name,
        "enterprise_name": workspace.enterprise_name,
        "org_install": workspace.org_install,
        "installed_by": workspace.installed_by,
        "installed_at": workspace.installed_at,
        "uninstalled_at": workspace.uninstalled_at,
    }


def _to_workspace(row: WorkspaceRow) -> Workspace:
    return Workspace(
        team_id=row.team_id,
        installed_at=row.installed_at,
        enterprise_id=row.enterprise_id,
        name=row.name,
        enterprise_name=row.enterprise_name,
        org_install=row.org_install,
        installed_by=row.installed_by,
        uninstalled_at=row.uninstalled_at,
    )
