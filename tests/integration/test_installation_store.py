"""The encrypted installation store and slack_sdk's state store, on our own engine and tables (migration 0017),
SQLite and PostgreSQL: tokens never at rest in plaintext, SECRET_KEY rotation, unknown keys, deletes."""

from __future__ import annotations

import logging
import time

from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import text

from bot.installs.store import EncryptedInstallationStore
from outreach.adapters.fernet_cipher import FernetCipher, Unreadable

OLD, NEW, OTHER = "old-secret-key-0123456789", "new-secret-key-0123456789", "another-key-0123456789"
BOT, REFRESH = "xoxe.xoxb-T1-1-secretbottoken", "xoxe-1-T1-refresh-secret"


def store(engine, *keys: str) -> EncryptedInstallationStore:
    return EncryptedInstallationStore("1000.2000", engine, FernetCipher(*keys), unreadable=(Unreadable,))


def installation(team_id: str = "T1", **fields) -> Installation:
    return Installation(
        app_id="A1",
        enterprise_id=fields.pop("enterprise_id", None),
        team_id=team_id,
        team_name="Brand",
        bot_token=fields.pop("bot_token", BOT),
        bot_refresh_token=REFRESH,
        bot_token_expires_in=43_200,
        bot_id="B1",
        bot_user_id="UBOT",
        bot_scopes="commands,chat:write",
        user_id="U1",
        **fields,
    )


def raw_rows(engine) -> str:
    with engine.connect() as conn:
        rows = [
            *conn.execute(text("SELECT * FROM slack_installations")).all(),
            *conn.execute(text("SELECT * FROM slack_bots")).all(),
        ]
    return repr(rows)


def test_tokens_are_kept_encrypted_and_read_back_decrypted(db_engine):
    tokens = store(db_engine, NEW)
    tokens.save(installation())
    stored = raw_rows(db_engine)
    assert "T1" in stored and BOT not in stored and REFRESH not in stored and "secret" not in stored
    bot = tokens.find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and (bot.bot_token, bot.bot_refresh_token) == (BOT, REFRESH)
    found = tokens.find_installation(enterprise_id=None, team_id="T1")
    assert found is not None and found.bot_token == BOT and found.bot_token_expires_at > time.time()


def test_the_latest_install_wins_and_an_uninstall_deletes_every_row(db_engine):
    tokens = store(db_engine, NEW)
    tokens.save(installation(installed_at=time.time() - 60))
    tokens.save(installation(bot_token="xoxb-T1-newer"))
    tokens.save(installation("T2", bot_token="xoxb-T2"))
    assert tokens.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-T1-newer"
    tokens.delete_all(enterprise_id=None, team_id="T1")
    assert tokens.find_bot(enterprise_id=None, team_id="T1") is None
    assert tokens.find_installation(enterprise_id=None, team_id="T1") is None
    assert tokens.find_bot(enterprise_id=None, team_id="T2").bot_token == "xoxb-T2"


def test_an_org_wide_install_is_found_for_the_org(db_engine):
    tokens = store(db_engine, NEW)
    tokens.save(installation(None, enterprise_id="E1", is_enterprise_install=True, bot_token="xoxb-E1"))
    bot = tokens.find_bot(enterprise_id="E1", team_id="T7", is_enterprise_install=True)
    assert bot is not None and bot.bot_token == "xoxb-E1"


def test_after_a_key_change_old_rows_read_with_the_previous_key_and_rotate_to_the_new(db_engine):
    store(db_engine, OLD).save(installation())
    rotating = store(db_engine, NEW, OLD)  # SECRET_KEY=new, SECRET_KEY_PREVIOUS=old
    assert rotating.find_bot(enterprise_id=None, team_id="T1").bot_token == BOT
    assert rotating.rotate_keys() == (2, 0)  # the installation row and the bot row
    assert (
        store(db_engine, NEW).find_bot(enterprise_id=None, team_id="T1").bot_token == BOT
    )  # old key dropped
    assert BOT not in raw_rows(db_engine)


def test_a_row_under_an_unknown_key_is_no_install(db_engine, caplog):
    store(db_engine, OTHER).save(installation())
    tokens = store(db_engine, NEW, OLD)
    with caplog.at_level(logging.ERROR, logger="bot.installs.store"):
        assert tokens.find_bot(enterprise_id=None, team_id="T1") is None
        assert tokens.find_installation(enterprise_id=None, team_id="T1") is None
    assert "unknown key" in caplog.text and "T1" in caplog.text
    assert tokens.rotate_keys() == (0, 2)  # left as they are, counted


def test_an_install_state_is_consumed_once_on_our_table(db_engine):
    states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=db_engine)
    state = states.issue()
    assert states.consume(state) is True
    assert states.consume(state) is False  # a replayed state
    assert states.consume("forged") is False
    expired = SQLAlchemyOAuthStateStore(expiration_seconds=-1, engine=db_engine).issue()
    assert states.consume(expired) is False


def test_the_hourly_retention_job_purges_what_is_due_and_forgets_expired_install_links(
    database_url, db_engine
):
    from datetime import UTC, datetime, timedelta

    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.retention import RetentionJob
    from bot.settings import Settings
    from bot.wiring import build_services
    from outreach.models import Workspace

    settings = Settings(
        database_url=database_url,
        slack_client_id="1000.2000",
        slack_client_secret="shh",
        slack_signing_secret="sig",
        secret_key=NEW,
        retention_days_after_uninstall=0,
    )
    services = build_services(settings, migrate=False)
    try:
        services.workspaces.installed(Workspace("T1", datetime.now(UTC) - timedelta(days=1)))
        services.workspaces.uninstalled("T1", None)
        states = services.installs.state_store
        live = states.issue()
        SQLAlchemyOAuthStateStore(expiration_seconds=-5, engine=db_engine).issue()  # a link never followed
        job = RetentionJob(services.workspaces, services.installs.forget_expired_states)
        assert job.run() == ["T1"] and services.workspaces.find("T1") is None
        with db_engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM slack_oauth_states")).scalar_one() == 1
        assert states.consume(live) is True  # a link still in use is kept
        scheduler = BackgroundScheduler(timezone="UTC")
        job.schedule(scheduler)
        (scheduled,) = scheduler.get_jobs()
        assert scheduled.id == "retention" and "minute='7'" in str(scheduled.trigger)
    finally:
        services.close()
