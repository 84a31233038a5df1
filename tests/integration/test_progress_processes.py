"""One DM per send, whatever the number of processes: two ``prospects-bot worker`` processes (real subprocesses,
on SQLite and on PostgreSQL) share a 60-recipient send with Slack pointed at a stand-in. The author gets one
chat.postMessage; every later change is a chat.update of that same ts; the last is the summary, with the counts
the database holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.blocks.progress import build_summary
from bot.devtools.harness import wait_for
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.settings import Settings
from bot.users import Profile
from bot.wiring import build_services
from outreach.compose import DraftFields
from outreach.models import Channel, DeliveryStatus, DraftStatus, Partner

pytestmark = [pytest.mark.smtp, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TEAM, AUTHOR, TOKEN, COUNT = "T0001", "U0001", "xoxb-two-workers", 60
MAIL_FROM = "Outreach <outreach@brand.example>"


@pytest.fixture
def workers(tmp_path, uow_factory) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    """Start ``prospects-bot worker`` processes; stopped (SIGTERM, then SIGKILL) before the tables are emptied."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(started)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "worker", "--count", "1"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def test_two_worker_processes_sharing_a_send_give_its_author_one_dm(
    database_url, smtp_server, workers, tmp_path
):
    with SlackStandIn(bot_token=TOKEN, team_id=TEAM) as standin:
        standin.add_user(SlackUser(AUTHOR, "ann", "Ann Lee", tz="Europe/London"))
        settings = Settings(
            database_url=database_url,
            slack_bot_token=TOKEN,
            slack_api_url=standin.api_url,
            mail_from=MAIL_FROM,
        )
        services = build_services(settings)
        try:
            draft_id = submit(services)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESSAGES_", "CLAMD_"))}
            env.update(
                DATABASE_URL=database_url,
                SMTP_HOST=smtp_server.host,
                SMTP_PORT=str(smtp_server.port),
                MAIL_FROM=MAIL_FROM,
                SLACK_BOT_TOKEN=TOKEN,
                SLACK_API_URL=standin.api_url,
                SEND_RATE_PER_SECOND="6",  # 60 e-mails: 10 s, so the other process wakes up mid-send
                CLAIM_LEASE_SECONDS="1",  # … and takes over what the first claimed but has not sent yet
                IN_FLIGHT_GROUP="2",
                PROGRESS_UPDATE_SECONDS="0.3",
                LOG_LEVEL="WARNING",
            )
            workers(env)
            workers(env)

            def closed() -> bool:
                with services.uow() as uow:
                    draft = uow.drafts.get(TEAM, draft_id)
                return draft is not None and draft.status is not DraftStatus.SENDING

            wait_for(closed, timeout=120, what="the two workers to finish the send")
            report = services.compose.report(TEAM, AUTHOR, draft_id, unsent_only=True)
            expected = json.loads(json.dumps(build_summary(report, Profile(AUTHOR, "en", "Europe/London").t)))

            def summary_shown() -> bool:
                return any(
                    m.blocks == expected
                    for (channel, _), m in list(standin.messages.items())
                    if channel == "D0001"
                )

            wait_for(summary_shown, timeout=60, what="the summary DM")
            time.sleep(3)  # time for a second DM or a late update, if either were coming
        finally:
            services.close()

    assert sum(report.counts.values()) == COUNT and report.counts[DeliveryStatus.PENDING] == 0
    # Both processes sent part of it: each looked its author up once (its own cache) to show its progress.
    assert len(standin.calls_to("users.info")) == 2, (tmp_path / "worker-0.log").read_text()
    posts = [c for c in standin.calls_to("chat.postMessage") if c.args.get("channel") == "D0001"]
    assert len(posts) == 1, [c.args.get("text") for c in posts]
    (ts,) = [ts for (channel, ts) in standin.messages if channel == "D0001"]
    updates = [c for c in standin.calls_to("chat.update") if c.args.get("channel") == "D0001"]
    assert updates and {c.args["ts"] for c in updates} == {ts}
    assert updates[-1].args["blocks"] == expected
    assert f"*Sent:* {report.counts[DeliveryStatus.SENT]}" in json.dumps(expected)


def submit(services) -> int:
    partners = [
        Partner(TEAM, f"m{i:03d}", f"Shop {i}", f"First{i}", "Doe", f"p{i}@partner.example")
        for i in range(COUNT)
    ]
    with services.uow() as uow:
        uow.partners.upsert_many(TEAM, partners, mark_prospects={p.mpid for p in partners}, marked_by=AUTHOR)
        uow.commit()
    state = services.compose.start(TEAM, AUTHOR, Channel.EMAIL, [p.mpid for p in partners])
    services.compose.save(
        TEAM, AUTHOR, state.draft_id, DraftFields("Ann Lee", "ann@brand.example", "Hi", "Hello")
    )
    assert services.compose.submit(TEAM, AUTHOR, state.draft_id).recipients == COUNT
    return state.draft_id
