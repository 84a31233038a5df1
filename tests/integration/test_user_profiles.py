"""Slack profiles (users.info) without waiting on Slack: the digest asks once per author a day, not once per
author per tick, and survives 429s; a listener's lookup answered 429 returns at once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot.app import make_client
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.digest import TICK, DigestJob
from bot.settings import Settings
from bot.users import Profile, UserProfiles
from bot.wiring import build_services
from outreach.clock import FixedClock
from tests.integration.test_digest_dm import LONDON_NINE, SHANGHAI_NINE, TUESDAY, add_draft

TOKEN = "xoxb-profiles"


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def standin():
    with SlackStandIn(bot_token=TOKEN) as running:
        running.add_user(SlackUser("U_ANN", "ann", "Ann Lee", tz="Europe/London"))
        running.add_user(SlackUser("U_WEI", "wei", "张伟", tz="Asia/Shanghai", locale="zh-CN"))
        yield running


@pytest.fixture
def digest(tmp_path, standin):
    """(clock, monotonic, job): one scheduler's job with its own profile cache, over several ticks."""
    clock, monotonic = FixedClock(TUESDAY), Ticking()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'digest.db'}",
        slack_bot_token=TOKEN,
        slack_api_url=standin.api_url,
    )
    services = build_services(settings, clock=clock)
    created = TUESDAY - timedelta(days=3)
    add_draft(services.uow, "U_ANN", created, "Spring rates")
    add_draft(services.uow, "U_WEI", created, "春季合作")
    profiles = UserProfiles(monotonic=monotonic)
    yield (
        clock,
        monotonic,
        DigestJob(
            services.digest, services.clock, make_client(settings), profiles, cron=settings.digest_cron
        ),
    )
    services.close()


def dmed(standin) -> list[str]:
    return sorted(c.args["channel"] for c in standin.calls_to("chat.postMessage"))


def test_a_day_of_ticks_asks_slack_once_per_author(digest, standin):
    clock, monotonic, job = digest
    sent = 0
    for n in range(41):  # every 15 minutes from 00:00 to 10:00 UTC
        clock.set(TUESDAY + n * TICK)
        monotonic.now += TICK.total_seconds()
        sent += job.tick()
    assert sent == 2 and dmed(standin) == ["D_ANN", "D_WEI"]  # at 09:00 in Shanghai, then in London
    assert len(standin.calls_to("users.info")) == 2


def test_an_author_whose_zone_slack_will_not_say_is_left_for_a_later_tick_not_guessed(digest, standin):
    clock, monotonic, job = digest
    standin.fail("users.info", status=429, times=100, retry_after=30)
    clock.set(LONDON_NINE)  # 09:00 UTC: Ann's hour, not Wei's
    assert job.tick() == 0  # neither zone known: nobody DMed at a guessed hour
    # The 429 paused the workspace's lookups: one call, not one per author.
    assert len(standin.calls_to("users.info")) == 1
    monotonic.now += 10
    clock.set(LONDON_NINE + TICK)
    assert job.tick() == 0
    assert len(standin.calls_to("users.info")) == 1  # still within Retry-After: Slack not asked

    standin.fail("users.info", status=429, times=0)
    monotonic.now += 30
    clock.set(TUESDAY + timedelta(days=1, hours=1))  # Wednesday 09:00 in Shanghai
    assert job.tick() == 1 and dmed(standin) == ["D_WEI"]
    assert len(standin.calls_to("users.info")) == 3


def test_a_known_zone_serves_past_its_day_when_slack_is_rate_limited(digest, standin):
    clock, monotonic, job = digest
    clock.set(SHANGHAI_NINE)
    assert job.tick() == 1  # Wei; both looked up
    assert len(standin.calls_to("users.info")) == 2
    monotonic.now += timedelta(days=2).total_seconds()  # both profiles due for a refresh
    standin.fail("users.info", status=429, times=100, retry_after=30)
    clock.set(LONDON_NINE)
    assert job.tick() == 1 and dmed(standin) == ["D_ANN", "D_WEI"]  # Ann, at her 09:00, from what was known
    assert len(standin.calls_to("users.info")) == 3  # one refresh tried, then paused


def test_a_lookup_answered_429_returns_at_once_with_the_last_profile_known(standin):
    settings = Settings(slack_bot_token=TOKEN, slack_api_url=standin.api_url)
    client = make_client(settings)  # a client that itself sleeps on 429, as a listener's does
    monotonic = Ticking()
    profiles = UserProfiles(ttl_seconds=600, monotonic=monotonic)
    wei = profiles.get(client, "T0001", "U_WEI")
    assert (wei.locale, wei.tz) == ("zh-CN", "Asia/Shanghai")

    standin.fail("users.info", status=429, times=100, retry_after=30)
    monotonic.now += 601
    started = time.monotonic()
    assert profiles.get(client, "T0001", "U_WEI") == wei  # stale, but what we know
    assert profiles.get(client, "T0001", "U_ANN") == Profile("U_ANN")  # never known: the default
    assert time.monotonic() - started < 5  # not the 30 s Slack asked for
    assert profiles.lookup(client, "T0001", "U_ANN") is None
    assert len(standin.calls_to("users.info")) == 2  # the first 429 paused the workspace's lookups
