"""The digest DM against a stand-in Slack: 09:00 in each user's own time zone, once a day however many
schedulers tick, and ``prospects-bot digest --now``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot import ids
from bot.app import make_client
from bot.cli import main
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.digest import JOB_ID, DigestJob, fires_within, zone
from bot.settings import Settings
from bot.users import UserProfiles
from bot.wiring import build_services
from outreach.clock import FixedClock
from outreach.models import Channel, Draft, DraftStatus, WorkspaceSettings

TOKEN = "xoxb-digest"
TUESDAY = datetime(2038, 1, 19, tzinfo=UTC)  # a Tuesday in winter: London is on UTC
SHANGHAI_NINE = TUESDAY.replace(hour=1)  # 09:00 in Asia/Shanghai
LONDON_NINE = TUESDAY.replace(hour=9)  # 09:00 in Europe/London


def add_draft(uow_factory, author, created_at, subject="", recipients=("m1", "m2"), status=DraftStatus.DRAFT):
    with uow_factory() as uow:
        draft = uow.drafts.add(
            Draft(
                "T1",
                author,
                Channel.EMAIL if subject else Channel.MESSAGE,
                subject=subject,
                content="Hello {firstName}, about our spring campaign",
                status=status,
                created_at=created_at,
            ),
            recipients,
        )
        uow.commit()
    return draft.id


@pytest.fixture
def standin():
    with SlackStandIn(bot_token=TOKEN) as running:
        running.add_user(SlackUser("U_ANN", "ann", "Ann Lee", tz="Europe/London"))
        running.add_user(SlackUser("U_WEI", "wei", "张伟", tz="Asia/Shanghai", locale="zh-CN"))
        yield running


@pytest.fixture
def env(tmp_path, standin):
    clock = FixedClock(TUESDAY)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'digest.db'}",
        slack_bot_token=TOKEN,
        slack_api_url=standin.api_url,
    )
    services = build_services(settings, clock=clock)
    created = TUESDAY - timedelta(days=3)
    drafts = {
        "ann": [
            add_draft(services.uow, "U_ANN", created, "Spring rates"),
            add_draft(services.uow, "U_ANN", created),
        ],
        "wei": [add_draft(services.uow, "U_WEI", created, "春季合作", recipients=("m1",))],
    }
    add_draft(services.uow, "U_ANN", TUESDAY - timedelta(hours=2), "too fresh")
    add_draft(services.uow, "U_BOB", created, "already sent", status=DraftStatus.SENT)

    def job():  # one per "process": its own client and profile cache
        return DigestJob(
            services.digest, services.clock, make_client(settings), UserProfiles(), cron=settings.digest_cron
        )

    return clock, job, drafts


def dms(standin):
    return {c.args["channel"]: c.args for c in standin.calls_to("chat.postMessage")}


def test_the_digest_goes_out_at_nine_in_each_users_own_zone(env, standin):
    clock, job, _ = env
    clock.set(SHANGHAI_NINE)
    assert job().tick() == 1
    assert set(dms(standin)) == {"D_WEI"}
    clock.set(LONDON_NINE)
    assert job().tick() == 1
    assert set(dms(standin)) == {"D_WEI", "D_ANN"}


def test_between_nine_oclocks_nobody_gets_it(env, standin):
    clock, job, _ = env
    for hour in (0, 2, 8, 10, 17):
        clock.set(TUESDAY.replace(hour=hour, minute=30))
        assert job().tick() == 0
    assert standin.calls_to("chat.postMessage") == []


def test_a_late_tick_within_the_window_still_counts(env, standin):
    clock, job, _ = env
    clock.set(LONDON_NINE + timedelta(minutes=3))  # the scheduler woke a little late
    assert job().tick() == 1


def test_not_at_the_weekend(env, standin):
    clock, job, _ = env
    clock.set(LONDON_NINE + timedelta(days=4))  # Saturday
    assert job().tick() == 0


def test_two_schedulers_ticking_together_send_one_digest_each(env, standin):
    clock, job, _ = env
    clock.set(LONDON_NINE)
    first, second = job(), job()
    assert first.tick() + second.tick() == 1
    assert first.run() + second.run() == 1  # Wei, whose own 09:00 has not come in this test
    assert len(standin.calls_to("chat.postMessage")) == 2


def test_the_dm_lists_each_draft_with_open_send_and_delete(env, standin):
    clock, job, drafts = env
    clock.set(LONDON_NINE)
    job().tick()
    dm = dms(standin)["D_ANN"]
    assert dm["text"] == "You have 2 unsent draft(s)."
    shown = json.dumps(dm["blocks"], ensure_ascii=False)
    assert "*Spring rates*\\nEmail · 2 recipient(s) · waiting 3 day(s)" in shown
    assert "Hello {firstName}, about our spring campaign" in shown
    buttons = [
        (e["action_id"], e["value"]) for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [
        (action, str(draft_id))
        for draft_id in drafts["ann"]
        for action in (ids.ACTION_DRAFT_OPEN, ids.ACTION_DRAFT_SEND, ids.ACTION_DRAFT_DELETE)
    ]


def test_the_dm_is_in_the_users_language(env, standin):
    clock, job, _ = env
    clock.set(SHANGHAI_NINE)
    job().tick()
    dm = dms(standin)["D_WEI"]
    assert dm["text"] == "你有 1 份未发送的草稿。"
    assert "电子邮件 · 1 位收件人 · 已等待 3 天" in json.dumps(dm["blocks"], ensure_ascii=False)


def test_a_dm_slack_refused_gives_the_day_back_for_a_later_try(env, standin):
    clock, job, _ = env
    clock.set(LONDON_NINE)
    standin.fail("chat.postMessage", status=200, error="channel_not_found", times=1)
    digest = job()
    assert digest.run() == 1  # one of the two failed
    assert digest.run() == 1  # and goes out on the next run
    assert digest.run() == 0


def test_schedule_adds_one_ticking_job(tmp_path):
    scheduler = BackgroundScheduler(timezone="UTC")
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path / 's.db'}"))
    client = make_client(services.settings, with_token=False)
    job = DigestJob(
        services.digest, services.clock, client, UserProfiles(), cron=services.settings.digest_cron
    )
    scheduler.start(paused=True)
    try:
        added = job.schedule(scheduler)
        job.schedule(scheduler)  # scheduling twice replaces, never doubles
        assert [j.id for j in scheduler.get_jobs()] == [JOB_ID] and added.id == JOB_ID
        assert str(added.trigger) == "cron[minute='*/15']"
    finally:
        scheduler.shutdown(wait=False)


def test_the_cron_is_read_in_the_given_zone():
    cron = "0 9 * * mon-fri"
    assert fires_within(
        cron, zone("Asia/Kolkata"), TUESDAY.replace(hour=3, minute=15), TUESDAY.replace(hour=3, minute=30)
    )
    assert not fires_within(
        cron, zone("Asia/Kolkata"), TUESDAY.replace(hour=3), TUESDAY.replace(hour=3, minute=15)
    )
    assert zone("Not/AZone").key == "UTC"


def test_a_malformed_cron_fails_at_start_up(tmp_path):
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}"))
    with pytest.raises(ValueError):
        DigestJob(
            services.digest,
            services.clock,
            make_client(services.settings, with_token=False),
            UserProfiles(),
            cron="9 o'clock",
        )


def test_digest_now_from_the_command_line(tmp_path, standin, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    services = build_services(Settings(database_url=url))
    long_ago = datetime.now(UTC) - timedelta(days=2)
    add_draft(services.uow, "U_ANN", long_ago, "Spring rates")
    add_draft(services.uow, "U_WEI", long_ago, "春季合作")

    assert main(["digest", "--now"]) == 0
    assert "digest sent to 2 author(s)" in capsys.readouterr().out
    assert set(dms(standin)) == {"D_ANN", "D_WEI"}
    assert main(["digest", "--now"]) == 0  # the same day again: nobody twice
    assert "digest sent to 0 author(s)" in capsys.readouterr().out
    assert len(standin.calls_to("chat.postMessage")) == 2


def test_digest_now_needs_a_bot_token(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["digest", "--now"]) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


def test_a_workspaces_own_digest_time_replaces_the_crons_on_its_days(tmp_path, standin):
    clock = FixedClock(TUESDAY)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'digest.db'}",
        slack_bot_token=TOKEN,
        slack_api_url=standin.api_url,
    )
    services = build_services(settings, clock=clock)
    add_draft(services.uow, "U_ANN", TUESDAY - timedelta(days=3), "Spring rates")
    services.workspace_settings.save(WorkspaceSettings("T1", digest_time="07:30"), "U_ADMIN", is_admin=True)
    job = DigestJob(
        services.digest,
        services.clock,
        make_client(settings),
        UserProfiles(),
        cron=settings.digest_cron,
        time_for=lambda team: services.workspace_settings.effective(team).digest_time,
    )
    clock.set(LONDON_NINE)
    assert job.tick() == 0  # 09:00 is no longer this workspace's time
    clock.set(TUESDAY.replace(hour=7, minute=30))
    assert job.tick() == 1
    assert set(dms(standin)) == {"D_ANN"}
    clock.set(TUESDAY.replace(hour=7, minute=30) + timedelta(days=4))  # Saturday: the cron's days stay
    assert job.tick() == 0
