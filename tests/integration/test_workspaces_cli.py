"""`prospects-bot workspaces`, `prospects-bot workspace purge --team T` and `prospects-bot secrets rotate`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import insert

from bot.cli import main
from bot.installs.store import EncryptedInstallationStore
from outreach.adapters.fernet_cipher import FernetCipher, Unreadable
from outreach.clock import FixedClock
from outreach.models import Partner, Workspace
from outreach.workspaces import WorkspaceService
from storage.models import DeliveryRow, DraftRow

NOW = datetime.now(UTC)


def services(uow_factory) -> WorkspaceService:
    return WorkspaceService(uow_factory, FixedClock(NOW), timedelta(days=30))


def test_workspaces_lists_each_install_with_who_when_and_its_sends_in_30_days(
    database_url, uow_factory, db_engine, monkeypatch, capsys
):
    workspaces = services(uow_factory)
    workspaces.installed(Workspace("T1", NOW - timedelta(days=3), name="Brand One", installed_by="U1"))
    workspaces.installed(
        Workspace(
            "E9", NOW, enterprise_id="E9", name="Grid Org", enterprise_name="Grid Org", org_install=True
        )
    )
    workspaces.installed(Workspace("T2", NOW, name="Gone", installed_by="U2"))
    workspaces.uninstalled("T2", None)
    with db_engine.begin() as conn:
        draft = conn.execute(
            insert(DraftRow.__table__)
            .values(
                team_id="T1", author_id="U1", channel="email", status="sent", created_at=NOW, updated_at=NOW
            )
            .returning(DraftRow.id)
        ).scalar_one()
        for i, sent in enumerate((NOW - timedelta(days=1), NOW - timedelta(days=40))):
            conn.execute(
                insert(DeliveryRow.__table__).values(
                    team_id="T1",
                    draft_id=draft,
                    mpid=f"m{i}",
                    status="sent",
                    sent_at=sent,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["workspaces"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "team",
        "name",
        "enterprise",
        "installed",
        "by",
        "installed",
        "at",
        "status",
        "sends",
        "(30",
        "days)",
    ]
    one = next(line for line in lines if line.startswith("T1 "))
    assert "Brand One" in one and "U1" in one and "installed" in one and one.rstrip().endswith(" 1")
    assert "Grid Org (org-wide)" in next(line for line in lines if line.startswith("E9 "))
    gone = next(line for line in lines if line.startswith("T2 "))
    assert "uninstalled" in gone and f"data deleted on {(NOW + timedelta(days=30)).date()}" in gone


def test_purge_deletes_an_uninstalled_workspaces_rows_and_refuses_an_installed_one_unless_forced(
    database_url, uow_factory, monkeypatch, capsys
):
    workspaces = services(uow_factory)
    for team in ("T1", "T2"):
        workspaces.installed(Workspace(team, NOW))
        with uow_factory() as uow:
            uow.partners.upsert_many(team, [Partner(team, "m1", "Acme", "A", "B", "a@acme.example")])
            uow.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["workspace", "purge", "--team", "T1"]) == 1
    assert "still installed" in capsys.readouterr().err
    workspaces.uninstalled("T1", None)
    assert main(["workspace", "purge", "--team", "T1"]) == 0
    assert "T1: every row deleted" in capsys.readouterr().out
    with uow_factory() as uow:
        assert uow.partners.get("T1", "m1") is None and uow.partners.get("T2", "m1") is not None
    assert workspaces.find("T1") is None
    assert main(["workspace", "purge", "--team", "T2", "--force"]) == 0
    with uow_factory() as uow:
        assert uow.partners.get("T2", "m1") is None


def test_secrets_rotate_rewrites_every_token_under_the_new_key(database_url, db_engine, monkeypatch, capsys):
    old, new = "old-secret-key-0123456789", "new-secret-key-0123456789"
    EncryptedInstallationStore("1.2", db_engine, FernetCipher(old), unreadable=(Unreadable,)).save(
        Installation(app_id="A1", team_id="T1", bot_token="xoxb-T1-secret", bot_id="B1", user_id="U1")
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", new)
    monkeypatch.setenv("SECRET_KEY_PREVIOUS", old)
    assert main(["secrets", "rotate"]) == 0
    assert "2 stored secret(s) rewritten" in capsys.readouterr().out
    rotated = EncryptedInstallationStore("1.2", db_engine, FernetCipher(new), unreadable=(Unreadable,))
    assert rotated.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-T1-secret"
