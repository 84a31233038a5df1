"""SMTP_CONNECTIONS: one worker sends over K connections at once to a real SMTP server (aiosmtpd on 127.0.0.1)
that answers each MAIL, RCPT and end of DATA late, as a relay does; SQLite and PostgreSQL. Each message goes
once, on one of the K connections; the send budget holds as with one connection (checked on a clock that only
the throttle's waits move, never on the time the test took)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import INTERRUPTED, DeliveryWorker, Throttle
from outreach.delivery.lanes import group_size
from outreach.layouts import Layouts
from outreach.models import Channel, DeliveryStatus, DraftStatus, Partner
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner, FakeSniffer, pdf
from tests.fixtures.smtp import SmtpTestServer, running

pytestmark = pytest.mark.smtp

T1 = "T1"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
TRACKING = TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77")
COUNT = 48
DELAY = 0.02  # s, each reply to MAIL, RCPT and the end of DATA


class VirtualWall:
    """Wall-clock time that moves only when the throttle waits: the budget is checked without timing anything."""

    def __init__(self, start: float) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def wall() -> VirtualWall:
    return VirtualWall(AT.timestamp())


@pytest.fixture
def slow_server(wall) -> Iterator[SmtpTestServer]:
    with running(SmtpTestServer(reply_delay=DELAY, clock=wall)) as server:
        yield server


def seed_and_submit(uow_factory, count: int = COUNT, files=()) -> tuple[ComposeService, int]:
    partners = [
        Partner(T1, f"m{i:03d}", f"Shop {i}", f"First{i}", "Doe", f"p{i}@partner.example")
        for i in range(count)
    ]
    with uow_factory() as uow:
        uow.partners.upsert_many(T1, partners, mark_prospects={p.mpid for p in partners}, marked_by="U1")
        uow.commit()
    compose = ComposeService(
        uow=uow_factory,
        clock=FixedClock(AT),
        sniffer=FakeSniffer(),
        scanner=FakeScanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
        tracking=TRACKING,
        layouts=Layouts(),
    )
    state = compose.start(T1, "U1", Channel.EMAIL, [p.mpid for p in partners])
    compose.save(
        T1, "U1", state.draft_id, DraftFields("Ann Lee", "ann@brand.example", "Hi {firstName}", "Hello")
    )
    if files:
        compose.attach(T1, "U1", state.draft_id, files)
    assert compose.submit(T1, "U1", state.draft_id).recipients == count
    return compose, state.draft_id


def worker(uow_factory, server, connections: int, throttle: Throttle | None = None) -> DeliveryWorker:
    mailer = SmtpMailer(server.host, server.port, "", "", "none", "Outreach <outreach@brand.example>", 10)
    return DeliveryWorker(
        uow=uow_factory,
        clock=FixedClock(AT),
        mailer=mailer,
        transport=None,
        sniffer=FakeSniffer(),
        scanner=FakeScanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
        tracking=TRACKING,
        layouts=Layouts(),
        worker_id="w1",
        throttle=throttle,
        connections=connections,
    )


def statuses(uow_factory, draft_id: int) -> Counter[DeliveryStatus]:
    with uow_factory() as uow:
        return Counter(d.status for d in uow.deliveries.for_draft(T1, draft_id))


def test_the_in_flight_group_is_rounded_up_to_a_multiple_of_the_connections():
    assert [group_size(10, k) for k in (1, 2, 3, 4, 8, 16)] == [10, 10, 12, 12, 16, 16]
    assert group_size(0, 1) == 1


@pytest.mark.parametrize("connections", [2, 4])
def test_one_worker_sends_each_message_once_over_k_connections_at_once(uow_factory, slow_server, connections):
    _, draft_id = seed_and_submit(uow_factory, files=[("deck.pdf", pdf())])

    assert worker(uow_factory, slow_server, connections).run_until_idle() == COUNT

    received = slow_server.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(f"p{i}@partner.example" for i in range(COUNT))
    assert slow_server.connections == connections
    per_connection = Counter(r.connection for r in received)
    assert len(per_connection) == connections  # every connection carried messages …
    assert min(per_connection.values()) >= COUNT // connections // 2  # … a fair share of them
    assert len({m["Message-ID"] for m in slow_server.messages()}) == COUNT
    assert statuses(uow_factory, draft_id) == {DeliveryStatus.SENT: COUNT}
    with uow_factory() as uow:
        assert uow.drafts.get(T1, draft_id).status is DraftStatus.SENT


def test_the_send_rate_holds_over_k_connections_each_message_no_sooner_than_its_own_slot(
    uow_factory, slow_server, wall
):
    rate = 50.0
    start = wall()
    throttle = Throttle(rate, uow_factory, sleep=wall.sleep, wall=wall)
    _, draft_id = seed_and_submit(uow_factory)

    assert worker(uow_factory, slow_server, 4, throttle).run_until_idle() == COUNT

    arrivals = sorted(r.at for r in slow_server.received)
    assert len(arrivals) == COUNT and len({r.rcpt_tos for r in slow_server.received}) == COUNT
    slots = [start + i / rate for i in range(COUNT)]
    # Each message arrived no sooner than its slot, and slots are 1/rate apart: the i-th arrival is never
    # before the i-th slot, whichever connection carried it.
    assert all(a >= s - 1e-6 for a, s in zip(arrivals, slots, strict=True))
    # Every message took exactly one slot: the budget's next free one comes right after the last.
    assert throttle.reserve(["smtp"]) == pytest.approx([start + COUNT / rate])
    assert statuses(uow_factory, draft_id) == {DeliveryStatus.SENT: COUNT}


def test_a_connection_lost_after_the_content_fails_that_message_alone_and_sends_it_never_again(
    uow_factory, slow_server
):
    _, draft_id = seed_and_submit(uow_factory)
    slow_server.vanish_after_data("p7@partner.example")  # accepted, but the client never hears so

    assert worker(uow_factory, slow_server, 4).run_until_idle() == COUNT

    got = Counter(r.rcpt_tos[0] for r in slow_server.received)
    assert got["p7@partner.example"] == 1
    assert sorted(got) == sorted(f"p{i}@partner.example" for i in range(COUNT))
    assert set(got.values()) == {1}  # nobody twice
    with uow_factory() as uow:
        deliveries = {d.mpid: d for d in uow.deliveries.for_draft(T1, draft_id)}
    assert deliveries["m007"].status is DeliveryStatus.FAILED
    assert "may have been delivered" in deliveries["m007"].last_error
    assert statuses(uow_factory, draft_id) == {DeliveryStatus.SENT: COUNT - 1, DeliveryStatus.FAILED: 1}
    assert INTERRUPTED not in deliveries["m007"].last_error
