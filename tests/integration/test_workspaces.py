"""Workspaces installed from a link, on SQLite and PostgreSQL: who is served, an uninstall stopping the sends, and
deleting a workspace's data — from every table, once, after the retention."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.types import DateTime, TypeDecorator

from outreach.clock import FixedClock
from outreach.models import DeliveryStatus, Workspace
from outreach.workspaces import APP_UNINSTALLED, WorkspaceService
from storage.db import make_engine, make_session_factory
from storage.models import Base, DeliveryRow, DraftRow, SendBudgetRow
from storage.unit_of_work import SqlUnitOfWork
from storage.workspace_repository import NOT_PER_WORKSPACE, per_workspace_tables

T0 = datetime(2038, 1, 19, 3, 14, tzinfo=UTC)
RETENTION = timedelta(days=30)


def service(engine: Engine, clock: FixedClock) -> WorkspaceService:
    sessions = make_session_factory(engine)
    return WorkspaceService(lambda: SqlUnitOfWork(sessions, clock), clock, RETENTION)


def installed(team_id: str, **fields: Any) -> Workspace:
    return Workspace(
        **{"team_id": team_id, "installed_at": T0, "name": f"Brand {team_id}", "installed_by": "U1", **fields}
    )


# -- every table -------------------------------------------------------------------------------------------
def test_every_table_is_a_workspaces_data_or_named_as_shared():
    tables = set(Base.metadata.tables)
    per_workspace = {t.name for t in per_workspace_tables()}
    assert set(NOT_PER_WORKSPACE) <= tables, "a shared table named that no longer exists"
    unaccounted = tables - per_workspace - set(NOT_PER_WORKSPACE)
    assert unaccounted == set(), (
        f"{unaccounted}: give each a team_id (then a purge deletes its rows) or say in "
        "storage/workspace_repository.py NOT_PER_WORKSPACE why it holds no workspace's data"
    )
    assert {"partners", "drafts", "deliveries", "audit_events", "slack_bots", "workspaces"} <= per_workspace


def _sample(column: Any, team: str) -> Any:
    """A value for a required column, distinct per workspace where it could be a key."""
    kind = column.type
    if isinstance(kind, TypeDecorator) and isinstance(kind.impl, DateTime):
        return T0
    try:
        python = kind.python_type
    except NotImplementedError:
        return []
    if python is str:
        length = getattr(kind, "length", None) or 64
        return f"{column.name[:6]}-{team}"[:length]
    if python is bool:
        return False
    if python is int:
        return 1
    if python is float:
        return 1.0
    if python is datetime:
        return T0.replace(tzinfo=None)
    if python is date:
        return T0.date()
    if python is bytes:
        return b"x"
    return []  # JSON


def fill_every_table(engine: Engine, team: str) -> None:
    """One row in every table that has a ``team_id`` (parents first; foreign keys to this workspace's rows)."""
    made: dict[str, Any] = {}
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if "team_id" not in table.c:
                continue
            row: dict[str, Any] = {}
            for column in table.c:
                fks = list(column.foreign_keys)
                if column.name == "team_id":
                    row["team_id"] = team
                elif fks and fks[0].column.table is table:
                    continue  # a row's own parent (a follow-up's draft): left empty in the first row
                elif fks:
                    row[column.name] = made[fks[0].column.table.name]
                elif (column.primary_key and column.autoincrement is True) or (
                    column.primary_key and column.type.python_type is int and len(table.primary_key) == 1
                ):
                    continue
                elif not column.nullable or column.primary_key:
                    row[column.name] = _sample(column, team)
            result = conn.execute(insert(table).values(row))
            if len(table.primary_key) == 1:
                made[table.name] = result.inserted_primary_key[0]
        conn.execute(insert(SendBudgetRow.__table__).values(account=f"mailbox:{team}:U1", next_free_us=1))


def counts(engine: Engine, team: str) -> dict[str, int]:
    with engine.connect() as conn:
        found = {
            t.name: conn.execute(select(func.count()).select_from(t).where(t.c.team_id == team)).scalar_one()
            for t in per_workspace_tables()
        }
        mailbox = SendBudgetRow.account == f"mailbox:{team}:U1"
        found["send_budgets"] = conn.execute(select(func.count()).where(mailbox)).scalar_one()
    return found


def test_a_purge_deletes_the_workspaces_rows_from_every_table_and_nobody_elses(db_engine):
    for team in ("T1", "T2"):
        fill_every_table(db_engine, team)
    with db_engine.begin() as conn:
        conn.execute(insert(SendBudgetRow.__table__).values(account="smtp", next_free_us=1))
    assert set(counts(db_engine, "T1").values()) == {1}
    assert service(db_engine, FixedClock(T0)).purge("T1") is True
    assert set(counts(db_engine, "T1").values()) == {0}
    assert set(counts(db_engine, "T2").values()) == {1}
    with db_engine.connect() as conn:
        assert conn.execute(select(SendBudgetRow.account).where(SendBudgetRow.account == "smtp")).first()
    assert service(db_engine, FixedClock(T0)).purge("T1") is False  # nothing left


# -- retention -----------------------------------------------------------------------------------------------
def test_an_uninstalled_workspaces_data_goes_after_the_retention_once(db_engine, database_url):
    clock = FixedClock(T0)
    workspaces = service(db_engine, clock)
    for team in ("T1", "T2"):
        fill_every_table(db_engine, team)
        workspaces.installed(installed(team))
    assert workspaces.uninstalled("T1", None) == ["T1"]
    clock.set(T0 + RETENTION - timedelta(minutes=1))
    assert workspaces.purge_due() == []
    assert counts(db_engine, "T1")["partners"] == 1
    clock.set(T0 + RETENTION + timedelta(minutes=1))
    # Two schedulers (two engines: two processes' connections) at the same moment: one purges.
    second = make_engine(database_url)
    try:
        other = service(second, clock)
        results: list[list[str]] = []
        threads = [
            threading.Thread(target=lambda s=s: results.append(s.purge_due())) for s in (workspaces, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        second.dispose()
    assert sorted(results) == [[], ["T1"]]
    assert set(counts(db_engine, "T1").values()) == {0}
    assert counts(db_engine, "T2")["partners"] == 1 and workspaces.find("T2") is not None


def test_a_workspace_installed_again_before_the_retention_keeps_its_data(db_engine):
    clock = FixedClock(T0)
    workspaces = service(db_engine, clock)
    fill_every_table(db_engine, "T1")
    workspaces.installed(installed("T1"))
    workspaces.uninstalled("T1", None)
    workspaces.installed(installed("T1", installed_by="U2"))
    clock.set(T0 + RETENTION * 2)
    assert workspaces.purge_due() == []
    found = workspaces.find("T1")
    assert found is not None and found.installed and found.installed_by == "U2"
    assert counts(db_engine, "T1")["drafts"] == 1


# -- who is served -----------------------------------------------------------------------------------------
def test_only_installed_workspaces_are_served_and_an_orgs_workspaces_are_recorded_when_first_seen(db_engine):
    workspaces = service(db_engine, FixedClock(T0))
    workspaces.installed(installed("T1"))
    workspaces.installed(installed("E1", enterprise_id="E1", org_install=True, enterprise_name="Org"))
    assert workspaces.serves("T1", None, False)
    assert not workspaces.serves("T9", None, False)  # never installed
    assert not workspaces.serves(None, None, False)
    assert workspaces.serves("T5", "E1", True)  # a workspace of the org, under its org-wide install
    member = workspaces.find("T5")
    assert member is not None and member.org_install and member.enterprise_id == "E1"
    assert not workspaces.serves("T5", "E2", True)  # another org's install: none
    assert sorted(workspaces.uninstalled(None, "E1")) == ["E1", "T5"]  # the org, and its workspaces
    assert not workspaces.serves("T5", "E1", True)
    assert workspaces.serves("T1", None, False)  # another install: untouched
    workspaces.installed(installed("E1", enterprise_id="E1", org_install=True))  # the org installs it again
    assert workspaces.serves("T5", "E1", True) and workspaces.find("T5").installed


def draft_of(engine: Engine, team: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(DraftRow.id).where(DraftRow.team_id == team)).scalar_one())


# -- an uninstall stops the sends --------------------------------------------------------------------------
def test_an_uninstall_ends_the_deliveries_not_yet_in_flight_and_leaves_the_others(db_engine):
    workspaces = service(db_engine, FixedClock(T0))
    workspaces.installed(installed("T1"))
    statuses = [DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.IN_FLIGHT, DeliveryStatus.SENT]
    with db_engine.begin() as conn:
        for team in ("T1", "T2"):
            draft = conn.execute(
                insert(DraftRow.__table__)
                .values(
                    team_id=team,
                    author_id="U1",
                    channel="email",
                    status="sending",
                    created_at=T0,
                    updated_at=T0,
                )
                .returning(DraftRow.id)
            ).scalar_one()
            for i, status in enumerate(statuses):
                conn.execute(
                    insert(DeliveryRow.__table__).values(
                        team_id=team,
                        draft_id=draft,
                        mpid=f"m{i}",
                        status=status.value,
                        claimed_by="w1" if status is DeliveryStatus.CLAIMED else "",
                        created_at=T0,
                        updated_at=T0,
                    )
                )
    workspaces.uninstalled("T1", None)
    with db_engine.connect() as conn:
        rows = conn.execute(
            select(DeliveryRow.team_id, DeliveryRow.mpid, DeliveryRow.status, DeliveryRow.last_error)
        )
        found = {(r.team_id, r.mpid): (r.status, r.last_error) for r in rows}
    failed = (DeliveryStatus.FAILED.value, APP_UNINSTALLED)
    assert found[("T1", "m0")] == failed and found[("T1", "m1")] == failed
    assert found[("T1", "m2")] == (DeliveryStatus.IN_FLIGHT.value, "")  # its worker finishes it
    assert found[("T1", "m3")] == (DeliveryStatus.SENT.value, "")
    assert {found[("T2", f"m{i}")][0] for i in range(4)} == {s.value for s in statuses}  # another workspace's
    # The worker that had claimed m1 cannot put it in flight any more (nothing half-sent), and nothing of T1 is
    # left to claim.
    with SqlUnitOfWork(make_session_factory(db_engine)) as uow:
        m1 = uow.deliveries.get("T1", draft_of(db_engine, "T1"), "m1")
        assert m1 is not None and uow.queue.sending_many("T1", [m1.id], "w1", T0) == set()
        claimed = uow.queue.claim("w2", T0, 10)
        assert [c.team_id for c in claimed] == ["T2"]
