"""The author's progress DM against a stand-in Slack that enforces its rate tiers: the worker never waits on
Slack (a 429 on every chat.update costs the send nothing and the summary follows once Slack answers again), and
five concurrent sends keep within chat.update's tier 3, each ending with its correct summary."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import make_client
from bot.blocks.progress import build_summary
from bot.devtools.harness import wait_for
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.sending import BackgroundSender, ProgressDM
from bot.settings import Settings
from bot.users import Profile
from bot.wiring import Services, build_services
from outreach.compose import DraftFields
from outreach.models import Channel, DeliveryStatus, DraftStatus, Partner

pytestmark = pytest.mark.smtp

TEAM, TOKEN = "T0001", "xoxb-progress"
AUTHORS = [f"U000{i}" for i in range(1, 6)]


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=TOKEN, team_id=TEAM) as running:  # Slack's rate tiers enforced
        for author in AUTHORS:
            running.add_user(SlackUser(author, author.lower(), f"Author {author}", tz="Europe/London"))
        yield running


@pytest.fixture
def services(database_url, db_engine, smtp_server, standin) -> Iterator[Callable[..., Services]]:
    made: list[Services] = []

    def make(**overrides: Any) -> Services:
        settings = Settings(
            database_url=database_url,
            smtp_host=smtp_server.host,
            smtp_port=smtp_server.port,
            mail_from="Outreach <outreach@brand.example>",
            slack_bot_token=TOKEN,
            slack_api_url=standin.api_url,
            **overrides,
        )
        made.append(build_services(settings))
        return made[-1]

    yield make
    for built in made:
        built.close()


def submit(services: Services, author: str, count: int) -> int:
    prefix = author.lower()
    partners = [
        Partner(TEAM, f"{prefix}-{i:03d}", f"Shop {i}", f"First{i}", "Doe", f"{prefix}.{i}@partner.example")
        for i in range(count)
    ]
    with services.uow() as uow:
        uow.partners.upsert_many(TEAM, partners, mark_prospects={p.mpid for p in partners}, marked_by=author)
        uow.commit()
    compose = services.compose
    state = compose.start(TEAM, author, Channel.EMAIL, [p.mpid for p in partners])
    compose.save(
        TEAM, author, state.draft_id, DraftFields("Ann Lee", "ann@brand.example", "Hi {firstName}", "Hello")
    )
    assert compose.submit(TEAM, author, state.draft_id).recipients == count
    return state.draft_id


def status(services: Services, draft_id: int) -> DraftStatus:
    with services.uow() as uow:
        draft = uow.drafts.get(TEAM, draft_id)
    assert draft is not None
    return draft.status


def the_dm(standin: SlackStandIn, author: str) -> tuple[str, str]:
    """The one DM posted to ``author`` (its channel and ts); fails if there is none or more than one."""
    channel = "D" + author.removeprefix("U")
    posts = [c for c in standin.calls_to("chat.postMessage") if c.args.get("channel") == channel]
    assert len(posts) == 1, [c.args.get("text") for c in posts]
    (ts,) = [ts for (ch, ts) in standin.messages if ch == channel]
    return channel, ts


def dm_shows(standin: SlackStandIn, author: str, expected: list[dict[str, Any]]) -> bool:
    """Whether the author's DMs include one showing ``expected`` now (no DM yet: False)."""
    channel = "D" + author.removeprefix("U")
    return any(m.blocks == expected for (ch, _), m in list(standin.messages.items()) if ch == channel)


def summary_of(services: Services, author: str, draft_id: int) -> list[dict[str, Any]]:
    report = services.compose.report(TEAM, author, draft_id, unsent_only=True)
    blocks = build_summary(report, Profile(author, "en", "Europe/London").t)
    return json.loads(json.dumps(blocks))  # as Slack stores them


def shows_summary(standin: SlackStandIn, channel: str, ts: str, expected: list[dict[str, Any]]) -> bool:
    message = standin.message(channel, ts)
    return message is not None and message.blocks == expected


RETRY_AFTER = 10


def test_a_429_on_every_update_holds_up_no_send_and_the_summary_follows_when_slack_answers(
    services, standin, smtp_server
):
    built = services(send_rate_per_second=20)  # 60 e-mails: about 3 s
    draft_id = submit(built, "U0001", 60)
    standin.fail("chat.update", status=429, times=1_000_000, retry_after=RETRY_AFTER)
    sender = BackgroundSender(
        built, ProgressDM(built, make_client(built.settings), interval=0.1), poll_seconds=0.2
    )
    started = time.monotonic()
    sender.start()
    try:
        wait_for(lambda: status(built, draft_id) is not DraftStatus.SENDING, timeout=60, what="the send")
        took = time.monotonic() - started
        refused = len(standin.calls_to("chat.update"))
        standin.fail("chat.update", status=429, times=0)  # Slack answers again
        expected = summary_of(built, "U0001", draft_id)
        wait_for(lambda: dm_shows(standin, "U0001", expected), timeout=3 * RETRY_AFTER, what="the summary")
        _, ts = the_dm(standin, "U0001")
    finally:
        sender.stop()

    assert len(smtp_server.received) == 60 and status(built, draft_id) is DraftStatus.SENT
    # Slack refused updates while it sent, and one wait of its Retry-After would have cost 10 s.
    assert refused >= 1
    assert took < RETRY_AFTER * 0.75, f"the send took {took:.1f} s"
    updates = standin.calls_to("chat.update")
    assert {c.args["ts"] for c in updates} == {ts}
    assert updates[-1].args["blocks"] == expected
    assert "*Sent:* 60" in json.dumps(expected)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_five_concurrent_sends_update_their_dms_within_tier_3(services, standin, smtp_server):
    # 300 e-mails at 20 a second shared by the five, about 15 s; each send's progress reported every second
    built = services(send_rate_per_second=20, in_flight_group=2)
    drafts = {author: submit(built, author, 60) for author in AUTHORS}
    progress = ProgressDM(built, make_client(built.settings), interval=0.1)  # the budget, not the interval
    errors: list[BaseException] = []

    def send(draft_id: int) -> None:
        try:
            built.make_worker(progress).run_until_idle(draft_id)  # each send by a worker of its own, at once
        except BaseException as exc:
            errors.append(exc)

    with progress:
        threads = [threading.Thread(target=send, args=(d,)) for d in drafts.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        expected = {author: summary_of(built, author, d) for author, d in drafts.items()}
        for author in AUTHORS:
            wait_for(
                lambda a=author: dm_shows(standin, a, expected[a]),
                timeout=30,
                what=f"the summary of {author}",
            )

    assert len(smtp_server.received) == 300
    assert standin.rate_limited == [], [(c.method, c.at) for c in standin.rate_limited]
    updates = standin.calls_to("chat.update")
    progress_updates = [c for c in updates if "Sending…" in json.dumps(c.args, ensure_ascii=False)]
    assert len(progress_updates) >= len(AUTHORS)  # the DMs did move while they sent
    for author, draft_id in drafts.items():
        channel, ts = the_dm(standin, author)
        mine = [c for c in updates if c.args["channel"] == channel]
        assert {c.args["ts"] for c in mine} == {ts}
        assert mine[-1].args["blocks"] == expected[author]
        counts = built.compose.report(TEAM, author, draft_id, unsent_only=True).counts
        assert counts[DeliveryStatus.SENT] == 60
    starts = sorted(c.at for c in updates)
    busiest = max(sum(1 for at in starts if s <= at < s + 60) for s in starts)
    assert busiest <= 45  # 40 progress updates a minute at most, plus the summaries


def test_a_summary_owed_by_a_process_that_stopped_first_is_shown_by_another(services, standin):
    built = services()
    draft_id = submit(built, "U0001", 3)
    client = make_client(built.settings)
    first = ProgressDM(built, client, interval=0.1)
    with first:  # this process shows the progress, then stops before it can show the summary
        built.make_worker(lambda p: None if p.finished else first(p)).run_until_idle()
        wait_for(lambda: standin.calls_to("chat.postMessage"), what="the progress DM")
    assert status(built, draft_id) is DraftStatus.SENT
    channel, ts = the_dm(standin, "U0001")
    expected = summary_of(built, "U0001", draft_id)
    assert not shows_summary(standin, channel, ts, expected)

    a_minute_later = ProgressDM(built, client, wall=lambda: datetime.now(UTC) + timedelta(minutes=2))
    with a_minute_later:  # another process (or this one, restarted) finds the summary owed and shows it
        wait_for(lambda: shows_summary(standin, channel, ts, expected), what="the summary")
    assert the_dm(standin, "U0001") == (channel, ts)


def test_retry_failed_is_a_new_round_with_a_dm_of_its_own(services, standin, smtp_server):
    built = services()
    draft_id = submit(built, "U0001", 3)
    smtp_server.refuse_data("u0001.1@partner.example")
    progress = ProgressDM(built, make_client(built.settings), interval=0.1)
    worker = built.make_worker(progress)

    def shown(blocks: list[dict[str, Any]]) -> list[str]:
        return [ts for (ch, ts), m in list(standin.messages.items()) if ch == "D0001" and m.blocks == blocks]

    with progress:
        worker.run_until_idle()
        first = summary_of(built, "U0001", draft_id)
        assert "*Failed:* 1" in json.dumps(first)
        (first_ts,) = wait_for(lambda: shown(first), what="the first summary")
        channel, _ = the_dm(standin, "U0001")

        smtp_server.accept("u0001.1@partner.example")
        assert built.compose.retry_failed(TEAM, "U0001", draft_id) == 1
        worker.run_until_idle()
        second = summary_of(built, "U0001", draft_id)
        (second_ts,) = wait_for(lambda: shown(second), what="the second summary")
    assert second_ts != first_ts
    posts = [c for c in standin.calls_to("chat.postMessage") if c.args["channel"] == channel]
    assert len(posts) == 2  # one DM per round
    assert shows_summary(standin, channel, first_ts, first)  # the first round's summary stays as it was
    assert "*Sent:* 3" in json.dumps(second)
