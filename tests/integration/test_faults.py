"""Fault tests of the send pipeline: each ends with every recipient e-mailed exactly once (or, for a delivery
in flight when its worker died, at most once and marked failed as interrupted) and the draft's state true.

A worker process killed mid-batch and started again; the SMTP connection dropped mid-batch; clamd stopped
during a send with attachments; two workers sharing 1,000 recipients. (The same view submission delivered
twice is in tests/scenario/test_outreach.py; 429s from Slack in tests/scenario/test_faults_slack.py.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.devtools.harness import wait_for
from outreach.adapters.clamd_local import ClamdUnavailable, clamd_binary, demo_signatures, start_local_clamd
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import INTERRUPTED, DeliveryWorker, RetryPolicy
from outreach.layouts import Layouts
from outreach.models import Channel, DeliveryStatus, DraftStatus, Partner
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner, FakeSniffer, pdf
from tests.fixtures.services import unavailable

pytestmark = pytest.mark.smtp

T1 = "T1"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
TRACKING = TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77")
MAIL_FROM = "Outreach <outreach@brand.example>"
ROOT = Path(__file__).resolve().parents[2]


def address(i: int) -> str:
    return f"p{i}@partner.example"


def seed(uow_factory, count: int) -> list[str]:
    partners = [Partner(T1, f"m{i}", f"Company {i}", f"First{i}", "Doe", address(i)) for i in range(count)]
    with uow_factory() as uow:
        uow.partners.upsert_many(T1, partners, mark_prospects={p.mpid for p in partners}, marked_by="U1")
        uow.commit()
    return [p.mpid for p in partners]


def composer(uow_factory, clock, scanner=None, sniffer=None, cache=None) -> ComposeService:
    return ComposeService(
        uow=uow_factory,
        clock=clock,
        sniffer=sniffer or FakeSniffer(),
        scanner=scanner or FakeScanner(),
        scan_cache=cache or InMemoryScanCache(),
        policy=AttachmentPolicy(),
        tracking=TRACKING,
        layouts=Layouts(),
    )


def submit(compose: ComposeService, mpids: list[str], files=()) -> int:
    state = compose.start(T1, "U1", Channel.EMAIL, mpids)
    compose.save(
        T1,
        "U1",
        state.draft_id,
        DraftFields("Ann Lee", "ann@brand.example", "Hello {firstName}", "Hi {mpname}"),
    )
    if files:
        verdicts = compose.attach(T1, "U1", state.draft_id, files)
        assert len(verdicts.accepted) == len(files), verdicts
    plan = compose.submit(T1, "U1", state.draft_id)
    assert plan.recipients == len(mpids)
    return state.draft_id


def make_worker(uow_factory, clock, smtp_server, name: str, **options) -> DeliveryWorker:
    settings = {
        "sniffer": FakeSniffer(),
        "scanner": FakeScanner(),
        "scan_cache": InMemoryScanCache(),
        **options,
    }
    return DeliveryWorker(
        uow=uow_factory,
        clock=clock,
        mailer=SmtpMailer(smtp_server.host, smtp_server.port, "", "", "none", MAIL_FROM, 10),
        transport=None,
        policy=AttachmentPolicy(),
        tracking=TRACKING,
        layouts=Layouts(),
        worker_id=name,
        **settings,
    )


def received(smtp_server) -> Counter[str]:
    """How many e-mails each address got."""
    return Counter(r.rcpt_tos[0] for r in list(smtp_server.received))


def outcome(uow_factory, draft_id: int):
    with uow_factory() as uow:
        return (
            uow.drafts.get(T1, draft_id),
            uow.deliveries.for_draft(T1, draft_id),
            uow.queue.counts(T1, draft_id),
        )


def assert_each_exactly_once(smtp_server, uow_factory, draft_id: int, count: int) -> None:
    got = received(smtp_server)
    assert sorted(got) == sorted(address(i) for i in range(count))
    assert set(got.values()) == {1}, {a: n for a, n in got.items() if n != 1}
    draft, deliveries, counts = outcome(uow_factory, draft_id)
    assert draft.status is DraftStatus.SENT
    assert counts[DeliveryStatus.SENT] == count == len(deliveries)
    assert all(d.provider_message_id for d in deliveries)


# -- 1. a worker process killed with SIGKILL mid-batch, and a new one started ----------------------------------


@pytest.fixture
def worker_processes(tmp_path) -> Iterator:
    """Start ``prospects-bot worker`` processes; every one still alive is killed at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "worker", "--count", "1"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


GROUP = 4  # e-mails a worker marks in flight together (IN_FLIGHT_GROUP)


def worker_env(database_url: str, smtp_server) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESSAGES_", "CLAMD_"))}
    env.update(
        DATABASE_URL=database_url,
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=str(smtp_server.port),
        MAIL_FROM=MAIL_FROM,
        SEND_RATE_PER_SECOND="100",  # 100 per batch: a batch takes a second, so the kill lands inside one
        CLAIM_LEASE_SECONDS="1",  # the dead worker's rows count as interrupted a second after their claim
        IN_FLIGHT_GROUP=str(GROUP),
        LOG_LEVEL="WARNING",
    )
    return env


@pytest.mark.slow
def test_a_worker_process_killed_mid_batch_and_restarted_sends_nothing_twice(
    database_url, uow_factory, smtp_server, worker_processes
):
    count = 300
    draft_id = submit(composer(uow_factory, FixedClock(AT)), seed(uow_factory, count))
    env = worker_env(database_url, smtp_server)

    first = worker_processes(env)
    wait_for(lambda: len(smtp_server.received) >= 40, timeout=60, what="the first worker to be sending")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    at_kill = len(smtp_server.received)
    assert 0 < at_kill < count  # it died mid-send
    _, _, counts = outcome(uow_factory, draft_id)
    in_flight_at_kill = counts[DeliveryStatus.IN_FLIGHT]
    assert in_flight_at_kill <= GROUP  # one group goes out at a time: the rest of the batch is only CLAIMED

    worker_processes(env)
    draft = wait_for(
        lambda: (d := outcome(uow_factory, draft_id)[0]).status is not DraftStatus.SENDING and d,
        timeout=90,
        what="the second worker to finish the send",
    )

    _, deliveries, counts = outcome(uow_factory, draft_id)
    got = received(smtp_server)
    assert set(got.values()) == {1}, {a: n for a, n in got.items() if n != 1}  # nobody got it twice
    sent = {d.mpid for d in deliveries if d.status is DeliveryStatus.SENT}
    interrupted = {d.mpid for d in deliveries if d.status is DeliveryStatus.FAILED}
    assert (
        counts[DeliveryStatus.PENDING]
        == counts[DeliveryStatus.CLAIMED]
        == counts[DeliveryStatus.IN_FLIGHT]
        == 0
    )
    assert len(sent) + len(interrupted) == count
    assert {d.last_error for d in deliveries if d.status is DeliveryStatus.FAILED} <= {INTERRUPTED}
    assert {got[f"p{m[1:]}@partner.example"] for m in sent} == {1}  # every sent row: exactly one e-mail
    assert len(interrupted) <= in_flight_at_kill <= GROUP  # at most the group that was going out
    assert draft.status is (DraftStatus.PARTIAL if interrupted else DraftStatus.SENT)


# -- 2. the SMTP connection dropped mid-batch -----------------------------------------------------------------


@pytest.mark.parametrize("abrupt", [True, False], ids=["tcp-close", "421-closing"])
def test_an_smtp_connection_dropped_mid_batch_costs_nobody_a_message(uow_factory, smtp_server, abrupt):
    clock = FixedClock(AT)
    draft_id = submit(composer(uow_factory, clock), seed(uow_factory, 30))
    smtp_server.drop_connection_after(7, abrupt=abrupt)

    assert make_worker(uow_factory, clock, smtp_server, "w1").run_until_idle() == 30

    assert smtp_server.connections == 2  # the batch went on, on a new connection
    assert_each_exactly_once(smtp_server, uow_factory, draft_id, 30)


def test_a_connection_lost_after_the_content_went_out_is_never_sent_again(uow_factory, smtp_server):
    """The at-most-once rule for SMTP's own window: the server may have the message, so no retry by itself."""
    clock = FixedClock(AT)
    draft_id = submit(composer(uow_factory, clock), seed(uow_factory, 5))
    smtp_server.vanish_after_data(address(2))
    worker = make_worker(uow_factory, clock, smtp_server, "w1")

    worker.run_until_idle()
    clock.set(AT + timedelta(hours=2))  # past any backoff
    worker.run_until_idle()

    got = received(smtp_server)
    assert sorted(got) == [address(i) for i in range(5)] and set(got.values()) == {1}
    draft, deliveries, counts = outcome(uow_factory, draft_id)
    (lost,) = [d for d in deliveries if d.status is not DeliveryStatus.SENT]
    assert lost.mpid == "m2" and lost.status is DeliveryStatus.FAILED
    assert "may have been delivered" in lost.last_error
    assert counts[DeliveryStatus.SENT] == 4 and draft.status is DraftStatus.PARTIAL


# -- 3. clamd stopped during a send that has attachments ---------------------------------------------------


@pytest.fixture
def own_clamd() -> Iterator:
    """A clamd of this test's own, which it may stop and start again on the same socket."""
    if clamd_binary() is None:
        unavailable("clamd is not installed (apt-get install clamav-daemon)")
    workdir = Path(tempfile.mkdtemp(prefix="clamd-"))  # short: unix socket paths are limited to ~100 bytes
    running: list = []

    def start():
        try:
            handle = start_local_clamd(workdir, demo_signatures())
        except ClamdUnavailable as exc:
            unavailable(str(exc))
            raise
        running.append(handle)
        return handle

    try:
        yield start
    finally:
        for handle in running:
            handle.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.clamd
def test_clamd_stopped_mid_send_holds_the_rest_back_until_it_is_back(uow_factory, smtp_server, own_clamd):
    clock = FixedClock(AT)
    clamd = own_clamd()
    scanner, sniffer = clamd.scanner(), MagicSniffer()  # the socket path: the same for a restarted clamd
    compose = composer(uow_factory, clock, scanner=scanner, sniffer=sniffer)
    draft_id = submit(compose, seed(uow_factory, 6), files=[("deck.pdf", pdf(b"Our offer"))])
    retry = RetryPolicy(max_attempts=5, base_delay=timedelta(seconds=30))

    def worker(name):  # each a fresh process: nothing in its scan cache
        return make_worker(
            uow_factory, clock, smtp_server, name, scanner=scanner, sniffer=sniffer, retry=retry, batch_size=2
        )

    assert worker("before").run_once() == 2  # scanned, sent
    clamd.stop()
    assert worker("during").run_until_idle() == 4  # handled: put back, not sent
    assert len(smtp_server.received) == 2  # nothing went out unscanned
    _, deliveries, counts = outcome(uow_factory, draft_id)
    assert counts[DeliveryStatus.PENDING] == 4 and counts[DeliveryStatus.FAILED] == 0
    waiting = [d for d in deliveries if d.status is DeliveryStatus.PENDING]
    assert all("could not be scanned" in d.last_error for d in waiting)
    assert worker("still-down").run_until_idle() == 0  # not due before the backoff

    own_clamd()  # a new clamd on the same socket
    clock.set(AT + timedelta(seconds=31))
    assert worker("after").run_until_idle() == 4

    assert_each_exactly_once(smtp_server, uow_factory, draft_id, 6)
    assert all(len(list(m.iter_attachments())) == 1 for m in smtp_server.messages())


# -- 5. two workers sharing 1,000 recipients ---------------------------------------------------------------


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_workers_share_a_thousand_recipients_and_nobody_gets_two(uow_factory, smtp_server):
    clock = FixedClock(AT)
    count = 1000
    draft_id = submit(composer(uow_factory, clock), seed(uow_factory, count))
    workers = [make_worker(uow_factory, clock, smtp_server, name, batch_size=25) for name in ("a", "b")]
    handled: dict[str, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(worker: DeliveryWorker) -> None:
        try:
            start.wait(timeout=30)
            handled[worker.worker_id] = worker.run_until_idle()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    assert_each_exactly_once(smtp_server, uow_factory, draft_id, count)
    assert handled["a"] + handled["b"] == count
    assert handled["a"] > 0 and handled["b"] > 0, handled  # they shared it
