"""SEND_RATE_PER_SECOND holds per sending account whatever the number of processes: three ``prospects-bot
worker`` processes (real subprocesses, on SQLite and on PostgreSQL) share sends to SMTP servers that note when
each message arrives. The rate is measured there: (messages − 1) / (last arrival − first arrival)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.devtools.harness import wait_for
from bot.settings import Settings
from bot.wiring import Services, build_services
from outreach.adapters.fernet_cipher import FernetCipher
from outreach.compose import DraftFields
from outreach.models import Channel, DraftStatus, Partner, StoredAccount
from storage.models import DeliveryRow
from tests.fixtures.smtp import Received, SmtpTestServer, running

pytestmark = [pytest.mark.smtp, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TEAM, AUTHOR, OWNER = "T0001", "U0001", "U0002"  # OWNER sends through a mailbox of their own
MAIL_FROM = "Outreach <outreach@brand.example>"
SECRET = "a secret key for the tests, long enough"
RATE = 40  # per second and account
COUNT = 300  # three batches of 100: one for each process


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


@pytest.fixture
def services(database_url) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url, mail_from=MAIL_FROM, secret_key=SECRET))
    try:
        yield built
    finally:
        built.close()


def start_three(workers, database_url: str, server: SmtpTestServer, rate: int = RATE) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESSAGES_", "CLAMD_"))}
    env.update(
        DATABASE_URL=database_url,
        SMTP_HOST=server.host,
        SMTP_PORT=str(server.port),
        MAIL_FROM=MAIL_FROM,
        SECRET_KEY=SECRET,
        SEND_RATE_PER_SECOND=str(rate),
        LOG_LEVEL="WARNING",
    )
    for _ in range(3):
        workers(env)


def seed(services: Services, prefix: str, count: int = COUNT) -> list[str]:
    partners = [
        Partner(TEAM, f"{prefix}{i:03d}", f"Shop {i}", f"First{i}", "Doe", f"{prefix}{i}@partner.example")
        for i in range(count)
    ]
    with services.uow() as uow:
        uow.partners.upsert_many(TEAM, partners, mark_prospects={p.mpid for p in partners}, marked_by=AUTHOR)
        uow.commit()
    return [p.mpid for p in partners]


def submit(services: Services, author: str, mpids: list[str]) -> int:
    state = services.compose.start(TEAM, author, Channel.EMAIL, mpids)
    services.compose.save(
        TEAM, author, state.draft_id, DraftFields("Ann Lee", "ann@brand.example", "Hi", "Hello")
    )
    assert services.compose.submit(TEAM, author, state.draft_id).recipients == len(mpids)
    return state.draft_id


def wait_until_sent(services: Services, *draft_ids: int) -> None:
    def closed() -> bool:
        with services.uow() as uow:
            drafts = [uow.drafts.get(TEAM, d) for d in draft_ids]
        return all(d is not None and d.status is DraftStatus.SENT for d in drafts)

    wait_for(closed, timeout=120, what="the workers to finish the sends")


def rate(received: list[Received]) -> float:
    times = sorted(r.at for r in received)
    return (len(times) - 1) / (times[-1] - times[0])


def senders(services: Services, draft_id: int) -> set[str]:
    """The worker (host:pid:thread) that sent each of the draft's deliveries."""
    with services.uow() as uow:
        session = uow._require()
        return set(session.scalars(select(DeliveryRow.claimed_by).where(DeliveryRow.draft_id == draft_id)))


def test_three_worker_processes_sharing_a_send_keep_to_the_rate_together(
    database_url, smtp_server, services, workers
):
    draft_id = submit(services, AUTHOR, seed(services, "m"))
    start_three(workers, database_url, smtp_server)

    wait_until_sent(services, draft_id)

    assert len(smtp_server.received) == COUNT
    assert len(senders(services, draft_id)) == 3  # each process sent a batch of it
    assert rate(smtp_server.received) == pytest.approx(RATE, rel=0.1)


def test_a_personal_mailbox_has_a_budget_of_its_own(database_url, smtp_server, services, workers):
    # Slow enough that three loaded processes keep up with it (at 25 a second a busy CI machine fell behind
    # the budget, so the measured rate was the machine's, not the limit's).
    rate_ = 12
    with running(SmtpTestServer()) as own_server:
        with (
            services.uow() as uow
        ):  # as /prospects connect-email stores it (its login check is not the point)
            uow.accounts.put(
                StoredAccount(
                    TEAM,
                    OWNER,
                    own_server.host,
                    own_server.port,
                    "none",
                    "",
                    FernetCipher(SECRET).encrypt("unused"),
                    "owner@own.example",
                )
            )
            uow.commit()
        # One batch through the workspace's server (one process), two through the owner's mailbox (the other
        # two), all at once.
        workspace = submit(services, AUTHOR, seed(services, "m", 100))
        own = submit(services, OWNER, seed(services, "n", 200))
        start_three(workers, database_url, smtp_server, rate_)

        wait_until_sent(services, workspace, own)

        assert (len(smtp_server.received), len(own_server.received)) == (100, 200)
        assert {r.mail_from for r in own_server.received} == {"owner@own.example"}
        assert min(r.at for r in own_server.received) < max(r.at for r in smtp_server.received)  # at once
        assert rate(smtp_server.received) == pytest.approx(rate_, rel=0.1)
        assert rate(own_server.received) == pytest.approx(rate_, rel=0.1)  # not sharing the server's
