"""A workspace's own settings on SQLite and PostgreSQL, against real SMTP servers (aiosmtpd): checked and the login
tried before saving, secrets encrypted at rest, an audit row per change, the defaults for every other workspace."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.settings import Settings
from bot.wiring import effective_mailer, settings_defaults
from outreach.adapters.fernet_cipher import FernetCipher, Unreadable
from outreach.adapters.smtp import server_tester
from outreach.clock import FixedClock
from outreach.errors import DeliveryFailed, NotAdmin, ValidationFailed
from outreach.models import OutgoingEmail, SmtpServer, WorkspaceSettings
from outreach.workspace_settings import SETTINGS_CHANGED, WorkspaceSettingsService
from storage.models import AuditEventRow, WorkspaceSettingsRow
from tests.fixtures.smtp import PASSWORD, USERNAME

pytestmark = pytest.mark.smtp

KEY = "a-test-secret-key-of-enough-length"
DEFAULTS = Settings(
    smtp_host="127.0.0.1",
    smtp_port=2525,
    mail_from="Outreach <outreach@deploy.example>",
    messages_webhook_url="https://hooks.deploy.example/m",
    messages_webhook_secret="deploy-secret",
    senders_usergroup="S0DEPLOY",
    recent_contact_days=7,
    digest_cron="30 8 * * mon-fri",
)


@pytest.fixture
def service(uow_factory, smtp_client_context):
    return WorkspaceSettingsService(
        uow=uow_factory,
        clock=FixedClock(datetime(2038, 1, 19, 3, 14, tzinfo=UTC)),
        defaults=settings_defaults(DEFAULTS),
        cipher=FernetCipher(KEY),
        tester=server_tester(5.0, smtp_client_context),
    )


def own_server(server, password=PASSWORD, **fields):
    values = {
        "from_address": "hello@brand-one.example",
        "from_name": "Brand One",
        "smtp_host": server.host,
        "smtp_port": server.port,
        "smtp_security": "starttls",
        "smtp_username": USERNAME,
        "smtp_password": password,
    }
    return WorkspaceSettings("T1", **{**values, **fields})


def test_a_workspace_that_set_nothing_has_the_environments_values(service):
    found = service.effective("T1")
    assert found.mail_from == "Outreach <outreach@deploy.example>"
    assert (found.smtp.host, found.smtp.port, found.own_smtp, found.own_from) == (
        "127.0.0.1",
        2525,
        False,
        False,
    )
    assert (found.webhook_url, found.own_webhook) == ("https://hooks.deploy.example/m", False)
    assert found.senders_usergroup == "S0DEPLOY"
    assert found.recent_contact_days == 7
    assert found.digest_time == "08:30"


def test_an_admin_saves_a_server_whose_login_works_and_the_password_is_stored_encrypted(
    service, smtp_starttls_server, db_engine
):
    saved, changed = service.save(
        own_server(smtp_starttls_server, recent_contact_days=0, digest_time="07:45"), "U1", is_admin=True
    )
    assert saved.smtp_password == ""  # never handed back
    assert {"from_address", "smtp_host", "smtp_password", "recent_contact_days", "digest_time"} <= set(
        changed
    )
    assert smtp_starttls_server.logins == [USERNAME]  # the login was tried before saving
    found = service.effective("T1")
    assert found.mail_from == "Brand One <hello@brand-one.example>"
    assert (found.smtp.host, found.smtp.port, found.smtp.password, found.own_smtp) == (
        smtp_starttls_server.host,
        smtp_starttls_server.port,
        PASSWORD,
        True,
    )
    assert found.recent_contact is None and found.digest_time == "07:45"
    assert (
        service.effective("T2").mail_from == "Outreach <outreach@deploy.example>"
    )  # others keep the defaults
    with Session(db_engine) as session:
        row = session.scalars(select(WorkspaceSettingsRow)).one()
        assert PASSWORD not in row.smtp_password_encrypted
        assert FernetCipher(KEY).decrypt(row.smtp_password_encrypted) == PASSWORD
        audit = session.scalars(select(AuditEventRow).where(AuditEventRow.action == SETTINGS_CHANGED)).one()
        assert (audit.team_id, audit.actor_id) == ("T1", "U1")
        assert "smtp_host" in audit.detail and PASSWORD not in audit.detail


def test_a_refused_login_is_named_on_the_password_with_the_servers_answer_and_nothing_is_saved(
    service, smtp_starttls_server
):
    with pytest.raises(ValidationFailed) as refused:
        service.save(own_server(smtp_starttls_server, password="wrong"), "U1", is_admin=True)
    (problem,) = refused.value.problems
    assert (problem.field, problem.code) == ("smtp_password", "smtp_failed")
    assert "535" in problem.message  # the server's own answer
    assert service.effective("T1").own_smtp is False
    assert service.shown("T1").own == WorkspaceSettings("T1")


def test_an_unreachable_server_is_named_on_the_host(service, closed_port):
    form = WorkspaceSettings("T1", smtp_host="127.0.0.1", smtp_port=closed_port, smtp_security="none")
    with pytest.raises(ValidationFailed) as refused:
        service.save(form, "U1", is_admin=True)
    (problem,) = refused.value.problems
    assert (problem.field, problem.code) == ("smtp_host", "smtp_failed")
    assert "cannot connect" in problem.message


def test_saving_again_with_an_empty_password_keeps_the_stored_one(service, smtp_starttls_server):
    service.save(own_server(smtp_starttls_server), "U1", is_admin=True)
    _, changed = service.save(
        own_server(smtp_starttls_server, password="", from_name="Brand 1"), "U1", is_admin=True
    )
    assert changed == ["from_name"]
    assert service.effective("T1").smtp.password == PASSWORD
    assert service.shown("T1").has_password is True
    assert service.shown("T1").own.smtp_password == ""


def test_only_an_admin_or_owner_saves(service):
    with pytest.raises(NotAdmin):
        service.save(WorkspaceSettings("T1", from_name="Mine"), "U2", is_admin=False)
    assert service.effective("T1").own_from is False


def test_every_bad_field_is_named_at_once(service):
    form = WorkspaceSettings(
        "T1",
        from_address="not an address",
        webhook_url="http://hooks.brand.example/m",
        webhook_secret="s",
        senders_usergroup="marketing",
        recent_contact_days=400,
        digest_time="9am",
    )
    with pytest.raises(ValidationFailed) as refused:
        service.save(form, "U1", is_admin=True)
    assert {(p.field, p.code) for p in refused.value.problems} == {
        ("from_address", "invalid_email"),
        ("webhook_url", "not_https"),
        ("senders_usergroup", "invalid_usergroup"),
        ("recent_contact_days", "invalid_days"),
        ("digest_time", "invalid_time"),
    }


def test_a_webhook_and_its_secret_are_the_workspaces_and_the_secret_is_encrypted(service, db_engine):
    service.save(
        WorkspaceSettings(
            "T1", webhook_url="https://hooks.brand-one.example/m", webhook_secret="brand-one-secret"
        ),
        "U1",
        is_admin=True,
    )
    found = service.effective("T1")
    assert (found.webhook_url, found.webhook_secret, found.own_webhook) == (
        "https://hooks.brand-one.example/m",
        "brand-one-secret",
        True,
    )
    with Session(db_engine) as session:
        row = session.scalars(select(WorkspaceSettingsRow)).one()
        assert "brand-one-secret" not in row.webhook_secret_encrypted
    with pytest.raises(ValidationFailed) as refused:  # a new host needs its secret again
        service.save(WorkspaceSettings("T1", webhook_url="https://other.example/m"), "U1", is_admin=True)
    assert [(p.field, p.code) for p in refused.value.problems] == [("webhook_secret", "required")]


def test_emptying_a_field_goes_back_to_the_default(service, smtp_starttls_server):
    service.save(own_server(smtp_starttls_server, senders_usergroup="S0BRAND"), "U1", is_admin=True)
    assert service.effective("T1").senders_usergroup == "S0BRAND"
    service.save(WorkspaceSettings("T1"), "U1", is_admin=True)
    found = service.effective("T1")
    assert (found.own_smtp, found.own_from, found.senders_usergroup) == (False, False, "S0DEPLOY")


def test_the_workspaces_mailer_sends_through_its_server_from_its_address(
    service, smtp_starttls_server, smtp_client_context
):
    service.save(own_server(smtp_starttls_server), "U1", is_admin=True)
    mailer = effective_mailer(service.effective("T1"), 5.0)
    mailer.ssl_context = smtp_client_context
    with mailer.open() as session:
        session.send(
            OutgoingEmail(
                to="ann@partner.example", subject="Hi", text="Hello", sender_name="", reply_to="", html=""
            )
        )
    (received,) = smtp_starttls_server.received
    assert received.parsed()["From"] == "Brand One <hello@brand-one.example>"
    assert received.mail_from == "hello@brand-one.example"  # its own address as envelope sender: no VERP


def test_secrets_rotate_rewrites_the_workspaces_secrets_and_one_under_no_key_counts_as_not_set(
    database_url, uow_factory, db_engine, monkeypatch, capsys
):
    old, new = "old-secret-key-0123456789", "new-secret-key-0123456789"
    with uow_factory() as uow:
        uow.workspace_settings.put(
            WorkspaceSettings(
                "T1",
                webhook_url="https://hooks.brand-one.example/m",
                webhook_secret=FernetCipher(old).encrypt("brand-one-secret"),
                updated_at=datetime(2038, 1, 19, tzinfo=UTC),
            )
        )
        uow.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", new)
    monkeypatch.setenv("SECRET_KEY_PREVIOUS", old)
    assert main(["secrets", "rotate"]) == 0
    assert "1 stored secret(s) rewritten" in capsys.readouterr().out

    def reading(*keys: str) -> WorkspaceSettingsService:
        return WorkspaceSettingsService(
            uow=uow_factory,
            clock=FixedClock(datetime(2038, 1, 19, tzinfo=UTC)),
            defaults=settings_defaults(DEFAULTS),
            cipher=FernetCipher(*keys),
            tester=server_tester(5.0),
            unreadable=(Unreadable,),
        )

    assert reading(new).effective("T1").webhook_secret == "brand-one-secret"
    lost = reading("a-third-key-nobody-had-0123").effective("T1")  # under no key known: as if not set
    assert (lost.own_webhook, lost.webhook_url) == (False, "https://hooks.deploy.example/m")


def test_a_server_that_never_finishes_answering_is_refused_by_the_deadline_not_by_each_steps_timeout():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # connections are taken, and nobody ever greets them
    try:
        host, port = silent.getsockname()
        tester = server_tester(30.0, deadline=0.5)
        with pytest.raises(DeliveryFailed, match=r"no complete answer within 0\.5 seconds"):
            tester(SmtpServer(host, port, "none"), "hello@brand-one.example")
    finally:
        silent.close()
