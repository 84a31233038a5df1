"""A follow-up step that falls due, and a scheduled send whose time has come, go once however many workers there
are: three ``prospects-bot worker`` processes (real subprocesses, on SQLite and on PostgreSQL) find both due at
the same moment, and the SMTP server receives each message exactly once.

The first messages go days "before", through a worker of the test's own with a FixedClock set back four days
(the app's clock: nothing sleeps for days); their follow-ups fall due three days after each went, which the
worker processes, on the system clock, see as due now."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.devtools.harness import wait_for
from bot.settings import Settings
from bot.wiring import Services, build_services
from outreach.clock import FixedClock
from outreach.compose import DraftFields
from outreach.models import Channel, DeliveryStatus, DraftStatus, FollowUp, Partner
from storage.models import AuditEventRow, DeliveryRow
from tests.fixtures.smtp import SmtpTestServer

pytestmark = [pytest.mark.smtp, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TEAM, AUTHOR = "T0001", "U0001"
MAIL_FROM = "Outreach <outreach@brand.example>"
COUNT = 300  # three batches of 100: each process may take one


@pytest.fixture
def workers(tmp_path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
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
def back_then(database_url, uow_factory, smtp_server) -> Iterator[tuple[Services, FixedClock]]:
    """The app as it was four days ago (its clock set back), on the test's database (``uow_factory`` empties
    its tables after the test) and SMTP server."""
    clock = FixedClock(datetime.now(UTC) - timedelta(days=4))
    settings = Settings(
        database_url=database_url,
        mail_from=MAIL_FROM,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        send_rate_per_second=0,
    )
    built = build_services(settings, clock=clock)
    try:
        yield built, clock
    finally:
        built.close()


def draft(services: Services, mpids: list[str], fields: DraftFields) -> int:
    state = services.compose.start(TEAM, AUTHOR, Channel.EMAIL, mpids)
    services.compose.save(TEAM, AUTHOR, state.draft_id, fields)
    return state.draft_id


def test_a_due_follow_up_and_a_due_schedule_go_once_with_three_worker_processes(
    database_url, smtp_server: SmtpTestServer, back_then, workers
):
    services, _ = back_then
    partners = [
        Partner(TEAM, f"m{i:03d}", f"Shop {i}", f"F{i}", "Doe", f"m{i}@partner.example") for i in range(COUNT)
    ]
    mpids = [p.mpid for p in partners]
    with services.uow() as uow:
        uow.partners.upsert_many(TEAM, partners, mark_prospects=set(mpids), marked_by=AUTHOR)
        uow.commit()
    # Four days ago: a send with a follow-up three days after, sent then; and a send scheduled for an hour ago.
    followed = draft(
        services,
        mpids,
        DraftFields("Ann", "ann@brand.example", "Offer", "Hello", followups=(FollowUp(3, "Any news?"),)),
    )
    services.compose.submit(TEAM, AUTHOR, followed)
    services.make_worker(None).run_until_idle()
    when = datetime.now(UTC) - timedelta(hours=1)
    scheduled = draft(services, mpids, DraftFields("Ann", "ann@brand.example", "Later", "Hi", send_at=when))
    services.compose.schedule(TEAM, AUTHOR, scheduled)
    assert len(smtp_server.received) == COUNT
    with services.uow() as uow:
        (step,) = uow.drafts.steps(TEAM, followed)
        assert uow.queue.counts(TEAM, step.id)[DeliveryStatus.PENDING] == COUNT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESSAGES_", "CLAMD_"))}
    env.update(
        DATABASE_URL=database_url,
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=str(smtp_server.port),
        MAIL_FROM=MAIL_FROM,
        SEND_RATE_PER_SECOND="60",  # 600 messages take ten seconds: every process gets to take a share
        LOG_LEVEL="WARNING",
    )
    for _ in range(3):
        workers(env)

    def done() -> bool:
        with services.uow() as uow:
            return all(uow.drafts.get(TEAM, d).status is DraftStatus.SENT for d in (step.id, scheduled))

    wait_for(done, timeout=120, what="the follow-up and the scheduled send, sent")
    subjects = Counter((r.rcpt_tos[0], r.parsed()["Subject"]) for r in smtp_server.received)
    assert len(smtp_server.received) == 3 * COUNT
    assert set(subjects.values()) == {1}  # nobody got anything twice
    assert {s for _, s in subjects} == {"Offer", "Re: Offer", "Later"}
    with services.uow() as uow:
        session = uow._require()
        planned = session.scalars(
            select(AuditEventRow.detail).where(
                AuditEventRow.draft_id == scheduled, AuditEventRow.action == "draft.submitted"
            )
        ).all()
        workers_seen = set(
            session.scalars(
                select(DeliveryRow.claimed_by).where(DeliveryRow.draft_id.in_([step.id, scheduled]))
            )
        )
    assert len(planned) == 1  # one worker planned the schedule, however many saw it due
    assert len(workers_seen) >= 2  # and the work was shared: several processes really ran at once
