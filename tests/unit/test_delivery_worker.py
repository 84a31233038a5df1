"""DeliveryWorker on the in-memory unit of work and a fake mailer, through its public API only (``run_once``,
``run_until_idle``): sending and recording, retries with backoff, permanent failures, bounces, suppressions, the
at-most-once rule and progress (tests/integration/test_delivery.py and test_faults.py run it on SQL and SMTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import SKIP_SUPPRESSED, ComposeService, DraftFields
from outreach.delivery import DeliveryWorker, RetryPolicy
from outreach.errors import DeliveryFailed
from outreach.layouts import Layouts
from outreach.models import Channel, DeliveryStatus, Direction, DraftStatus, OutgoingEmail, Partner
from outreach.rendering import TrackingConfig
from tests.attachment_samples import pdf
from tests.fakes import FakeMailer, FakeScanner, FakeSniffer, FakeStore, FakeTransport, Ticker

T1 = "T1"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
TRACKING = TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77")
FIELDS = DraftFields("Ann Lee", "ann@brand.example", "Hello {firstName}", "Dear {firstName} of {mpname}")
PENDING, SENT, FAILED, SKIPPED = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.SKIPPED,
)
PASSING = DeliveryFailed("451 4.7.1 try again later", permanent=False)


def address(i: int) -> str:
    return f"p{i}@partner.example"


class WorkerDied(BaseException):
    """The worker's process ends here (raised where nothing in the worker catches it)."""


class Env:
    """One workspace of six partners, a composer, and workers sharing a store, a clock and a mailer."""

    def __init__(self, layouts: Layouts) -> None:
        self.clock = FixedClock(AT)
        self.store = FakeStore(self.clock)
        self.mailer, self.transport, self.scanner = FakeMailer(), FakeTransport(), FakeScanner()
        self.ticker = Ticker()
        self.progress: list[tuple[float, Any]] = []  # (ticker time, progress) as reported
        self.layouts = layouts
        with self.store() as uow:
            uow.partners.upsert_many(
                T1,
                [
                    Partner(
                        T1, f"m{i}", f"Company {i}", f"First{i}", "Doe", address(i), messaging_enabled=True
                    )
                    for i in range(6)
                ],
                mark_prospects=[f"m{i}" for i in range(6)],
                marked_by="U1",
            )
            uow.commit()
        self.compose = ComposeService(
            uow=self.store,
            clock=self.clock,
            sniffer=FakeSniffer(),
            scanner=self.scanner,
            scan_cache=InMemoryScanCache(),
            policy=AttachmentPolicy(),
            tracking=TRACKING,
            layouts=layouts,
        )

    def submit(self, mpids: list[str], channel: Channel = Channel.EMAIL, files=()) -> int:
        draft_id = self.compose.start(T1, "U1", channel, mpids).draft_id
        self.compose.save(T1, "U1", draft_id, FIELDS)
        if files:
            self.compose.attach(T1, "U1", draft_id, files)
        self.compose.submit(T1, "U1", draft_id)
        return draft_id

    def worker(self, name: str = "w1", **options) -> DeliveryWorker:
        return DeliveryWorker(
            uow=self.store,
            clock=self.clock,
            mailer=self.mailer,
            transport=self.transport,
            sniffer=FakeSniffer(),
            scanner=self.scanner,
            scan_cache=InMemoryScanCache(),
            policy=AttachmentPolicy(),
            tracking=TRACKING,
            layouts=self.layouts,
            worker_id=name,
            on_progress=lambda progress: self.progress.append((self.ticker(), progress)),
            monotonic=self.ticker,
            **options,
        )

    def later(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))

    def rows(self, draft_id: int) -> dict[str, tuple[DeliveryStatus, int, str]]:
        with self.store() as uow:
            return {
                d.mpid: (d.status, d.attempts, d.last_error) for d in uow.deliveries.for_draft(T1, draft_id)
            }

    def status(self, draft_id: int) -> DraftStatus:
        with self.store() as uow:
            return uow.drafts.get(T1, draft_id).status


@pytest.fixture(scope="module")
def layouts() -> Layouts:
    return Layouts()


@pytest.fixture
def env(layouts) -> Env:
    return Env(layouts)


def test_a_batch_is_sent_to_every_recipient_once_and_recorded(env):
    draft_id = env.submit(["m2", "m0", "m1"])
    assert env.worker().run_until_idle() == 3
    assert env.mailer.addressed == [address(2), address(0), address(1)]
    assert [e.subject for e in env.mailer.sent] == ["Hello First2", "Hello First0", "Hello First1"]
    with env.store() as uow:
        sent = uow.deliveries.for_draft(T1, draft_id)
        contacted = [uow.prospects.get(T1, m) for m in ("m0", "m1", "m2")]
        seen = list(uow.drafts.audience(T1, draft_id, contacted_since=AT, author_id="U2"))
    assert [(d.status, d.attempts, d.sent_at) for d in sent] == [(SENT, 1, AT)] * 3
    assert [d.provider_message_id for d in sent] == [
        "<1@fake.example>",
        "<2@fake.example>",
        "<3@fake.example>",
    ]
    assert [p.last_contacted_at for p in contacted] == [AT] * 3
    assert {(r.last_contacted_at, r.last_contacted_by) for r in seen} == {
        (AT, "U1")
    }  # contacted by the author
    assert env.status(draft_id) is DraftStatus.SENT
    assert env.worker().run_until_idle() == 0


def test_run_once_works_one_batch(env):
    env.submit(["m0", "m1", "m2"])
    worker = env.worker(batch_size=2)
    assert [worker.run_once(), worker.run_once(), worker.run_once()] == [2, 1, 0]
    assert len(env.mailer.sent) == 3


def test_a_passing_failure_is_retried_later_with_a_backoff_that_doubles(env):
    draft_id = env.submit(["m0", "m1"])
    env.mailer.refuse(address(1), PASSING)
    worker = env.worker(retry=RetryPolicy(max_attempts=5, base_delay=timedelta(seconds=30)))
    assert worker.run_until_idle() == 2
    assert env.rows(draft_id)["m1"] == (PENDING, 1, PASSING.reason)
    assert env.status(draft_id) is DraftStatus.SENDING
    env.later(seconds=29)
    assert worker.run_until_idle() == 0  # not due yet
    env.later(seconds=1)
    assert worker.run_until_idle() == 1  # due after 30 s; refused again: now 60 s
    assert env.rows(draft_id)["m1"] == (PENDING, 2, PASSING.reason)
    env.later(seconds=59)
    assert worker.run_until_idle() == 0
    env.mailer.accept(address(1))
    env.later(seconds=1)
    assert worker.run_until_idle() == 1
    assert env.rows(draft_id)["m1"] == (SENT, 3, "")
    assert env.mailer.addressed == [address(0), address(1)]
    assert env.status(draft_id) is DraftStatus.SENT


def test_a_passing_failure_fails_after_the_last_attempt(env):
    draft_id = env.submit(["m0"])
    env.mailer.refuse(address(0), PASSING)
    worker = env.worker(retry=RetryPolicy(max_attempts=2, base_delay=timedelta(seconds=30)))
    worker.run_until_idle()
    env.later(seconds=30)
    worker.run_until_idle()
    assert env.rows(draft_id)["m0"] == (FAILED, 2, PASSING.reason)
    assert env.status(draft_id) is DraftStatus.FAILED


def test_a_permanent_failure_fails_at_once_and_the_others_still_go(env):
    draft_id = env.submit(["m0", "m1", "m2"])
    env.mailer.refuse(address(1), DeliveryFailed("550 5.7.1 refused by policy", permanent=True))
    assert env.worker().run_until_idle() == 3
    assert env.rows(draft_id) == {
        "m0": (SENT, 1, ""),
        "m1": (FAILED, 1, "550 5.7.1 refused by policy"),
        "m2": (SENT, 1, ""),
    }
    assert env.mailer.addressed == [address(0), address(2)]
    assert env.status(draft_id) is DraftStatus.PARTIAL
    with env.store() as uow:
        (event,) = [e for e in uow.audit.recent(T1, draft_id=draft_id) if e.action == "delivery.failed"]
        assert uow.suppressions.emails(T1) == frozenset()  # refused by policy is not a bounce
    assert (event.mpid, event.detail) == ("m1", "550 5.7.1 refused by policy")


def test_a_bounce_puts_the_address_on_the_suppression_list(env):
    draft_id = env.submit(["m0", "m1"])
    env.mailer.refuse(address(1), DeliveryFailed("550 5.1.1 no such user", permanent=True, bounce=True))
    env.worker().run_until_idle()
    assert env.rows(draft_id)["m1"] == (FAILED, 1, "550 5.1.1 no such user")
    with env.store() as uow:
        assert uow.suppressions.among(T1, [address(1).upper()]) == {address(1): "bounced"}
    later = env.compose.start(T1, "U1", Channel.EMAIL, ["m1"])
    assert [(r.mpid, why) for r, why in later.skipped] == [("m1", SKIP_SUPPRESSED)]


def test_an_address_suppressed_after_the_plan_is_skipped_not_sent(env):
    draft_id = env.submit(["m0", "m1"])
    with env.store() as uow:  # unsubscribed while the send waited in the queue
        uow.suppressions.add(T1, address(1), "unsubscribed")
        uow.commit()
    assert env.worker().run_until_idle() == 2
    assert env.mailer.addressed == [address(0)]
    assert env.rows(draft_id)["m1"] == (SKIPPED, 1, SKIP_SUPPRESSED)
    assert env.status(draft_id) is DraftStatus.SENT


def test_a_message_in_flight_when_its_worker_died_is_failed_and_never_sent_again(env):
    draft_id = env.submit(["m0", "m1", "m2"])

    def die_at_m1(email: OutgoingEmail) -> None:
        if email.to == address(1):
            raise WorkerDied

    env.mailer.before_send = die_at_m1
    with pytest.raises(WorkerDied):
        env.worker("w1", in_flight_group=1).run_until_idle()
    env.mailer.before_send = None
    assert {m: s for m, (s, _, _) in env.rows(draft_id).items()} == {
        "m0": SENT,
        "m1": DeliveryStatus.IN_FLIGHT,  # it may or may not have left: nobody can know
        "m2": DeliveryStatus.CLAIMED,  # never attempted
    }
    assert env.worker("w2").run_until_idle() == 0  # within the dead worker's lease nobody touches them
    env.later(minutes=10, seconds=1)
    assert env.worker("w2").run_until_idle() == 1
    (status, attempts, error) = env.rows(draft_id)["m1"]
    assert (status, attempts) == (FAILED, 1) and error.startswith("interrupted while sending")
    assert env.rows(draft_id)["m2"][0] is SENT
    assert env.mailer.addressed == [address(0), address(2)]  # m1 is not sent by itself: at most once
    assert env.status(draft_id) is DraftStatus.PARTIAL
    assert env.progress[-1][1].finished


def test_progress_is_reported_at_most_every_interval_and_once_at_the_end(env):
    draft_id = env.submit([f"m{i}" for i in range(6)])
    env.mailer.before_send = lambda email: env.ticker.advance(0.4)  # each message takes 0.4 s
    env.worker(in_flight_group=1, progress_interval=1.0).run_until_idle()
    reported = [(at, p.counts_sent, p.finished) for at, p in env.progress]
    # Results are reported as they are committed (with the next message going out): after 1 message at 0.4 s,
    # then not before 1.4 s (4 sent at 1.6 s), then not again until the send ends — once, with everything.
    assert reported == [(0.4, 1, False), (1.6, 4, False), (2.4, 6, True)]
    final = env.progress[-1][1]
    assert (final.draft_id, final.author_id, final.total, final.done) == (draft_id, "U1", 6, 6)


def test_a_message_draft_goes_through_the_transport_and_is_kept_in_the_partners_thread(env):
    draft_id = env.submit(["m0", "m1"], Channel.MESSAGE)
    env.transport.refuse("m1", DeliveryFailed("the partner blocked us", permanent=True))
    assert env.worker().run_until_idle() == 2
    assert [(m.mpid, m.text) for m in env.transport.sent] == [("m0", "Dear First0 of Company 0")]
    assert env.mailer.sent == []
    with env.store() as uow:
        (thread,) = uow.threads.for_partner(T1, "m0")
        kept = uow.threads.get(T1, thread.id).messages
    assert [(m.direction, m.body, m.provider_message_id) for m in kept] == [
        (Direction.OUT, "Dear First0 of Company 0", "msg-1")
    ]
    assert env.rows(draft_id)["m1"] == (FAILED, 1, "the partner blocked us")


def test_a_file_that_cannot_be_scanned_now_holds_the_send_back_and_one_found_infected_stops_it(env):
    draft_id = env.submit(["m0"], files=[("deck.pdf", pdf())])
    env.scanner.down = True
    env.worker().run_until_idle()
    (status, attempts, error) = env.rows(draft_id)["m0"]
    assert (status, attempts) == (PENDING, 1) and "could not be scanned" in error
    env.scanner.down = False
    env.scanner.BAD = b"%PDF"  # the signatures learnt something since the upload was checked
    env.later(seconds=30)
    env.worker().run_until_idle()
    (status, _, error) = env.rows(draft_id)["m0"]
    assert status is FAILED and error.startswith("the draft's attachments were refused")
    assert env.mailer.sent == []
