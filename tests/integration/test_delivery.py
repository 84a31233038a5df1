"""The send pipeline end to end: stored plan → worker → real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import INTERRUPTED, DeliveryWorker, RetryPolicy
from outreach.layouts import Layouts
from outreach.models import Ad, AdType, Channel, DeliveryStatus, DraftStatus, Partner, PartnerKind
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner, FakeSniffer, pdf

pytestmark = pytest.mark.smtp

T1 = "T1"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
TRACKING = TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77")
BODY = "Hi {firstName} {lastName} of {mpname} ({mpid}),\n{adcode_42}\n{currentDay} {currentTime} {currentMonthYear}"


class Listener:
    def __init__(self):
        self.events = []

    def __call__(self, progress):
        self.events.append(progress)


@pytest.fixture
def clock():
    return FixedClock(AT)


@pytest.fixture
def env(uow_factory, smtp_server, clock):
    with uow_factory() as uow:
        partners = [
            Partner(
                T1,
                f"m{i}",
                f"Company {i}",
                f"First{i}",
                "张" if i == 0 else "Doe",
                f"p{i}@partner.example",
                PartnerKind.PARTNER,
                True,
                "US",
            )
            for i in range(5)
        ]
        uow.partners.upsert_many(T1, partners, mark_prospects={p.mpid for p in partners}, marked_by="U1")
        uow.ads.upsert_many(
            T1, [Ad(T1, "42", "Winter sale", AdType.TEXT_LINK, "https://shop.example", "Shop")]
        )
        uow.commit()
    sniffer, scanner, cache, policy = FakeSniffer(), FakeScanner(), InMemoryScanCache(), AttachmentPolicy()
    compose = ComposeService(
        uow=uow_factory,
        clock=clock,
        sniffer=sniffer,
        scanner=scanner,
        scan_cache=cache,
        policy=policy,
        tracking=TRACKING,
        layouts=Layouts(),
    )
    mailer = SmtpMailer(
        smtp_server.host, smtp_server.port, "", "", "none", "Outreach <outreach@brand.example>", 10
    )
    listener = Listener()

    def worker(name="w1", **kw):
        options = {"scan_cache": cache, "mailer": mailer, "on_progress": listener, **kw}
        return DeliveryWorker(
            uow=uow_factory,
            clock=clock,
            transport=None,
            sniffer=sniffer,
            scanner=scanner,
            policy=policy,
            tracking=TRACKING,
            layouts=Layouts(),
            worker_id=name,
            **options,
        )

    return compose, worker, listener, scanner


def submit(compose, mpids, content=BODY, files=()):
    state = compose.start(T1, "U1", Channel.EMAIL, mpids, sender_name="Ann Lee", reply_to="ann@brand.example")
    compose.save(
        T1, "U1", state.draft_id, DraftFields("Ann Lee", "ann@brand.example", "关于合作 {firstName}", content)
    )
    if files:
        compose.attach(T1, "U1", state.draft_id, files)
    compose.submit(T1, "U1", state.draft_id)
    return state.draft_id


def test_every_recipient_gets_one_rendered_email(env, smtp_server, uow_factory):
    compose, worker, listener, _ = env
    draft_id = submit(compose, ["m0", "m1", "m2"], files=[("deck.pdf", pdf())])
    assert worker().run_until_idle() == 3
    messages = {m["To"]: m for m in smtp_server.messages()}
    assert sorted(messages) == ["p0@partner.example", "p1@partner.example", "p2@partner.example"]
    m0 = messages["p0@partner.example"]
    assert m0["Subject"] == "关于合作 First0"
    assert (
        str(m0["From"]) == "Ann Lee <outreach@brand.example>" and str(m0["Reply-To"]) == "ann@brand.example"
    )
    text = m0.get_body(("plain",)).get_content()
    assert "Hi First0 张 of Company 0 (m0)," in text
    assert "Winter sale: https://t.example/c/m0/42/77" in text
    assert "January 19, 2038 19-Jan-2038 03:14:08 UTC January, 2038" in text
    (attachment,) = list(m0.iter_attachments())
    assert attachment.get_filename() == "deck.pdf" and attachment.get_content_type() == "application/pdf"
    assert smtp_server.connections == 1  # one connection for the batch
    with uow_factory() as uow:
        assert uow.drafts.get(T1, draft_id).status is DraftStatus.SENT
        assert all(
            d.status is DeliveryStatus.SENT and d.provider_message_id
            for d in uow.deliveries.for_draft(T1, draft_id)
        )
        assert uow.prospects.get(T1, "m1").last_contacted_at == AT
    assert listener.events[-1].finished and listener.events[-1].done == 3


def test_a_refused_recipient_fails_alone_and_the_draft_is_partial(env, smtp_server, uow_factory):
    compose, worker, _, _ = env
    smtp_server.refuse("p1@partner.example")
    draft_id = submit(compose, ["m0", "m1", "m2"])
    worker().run_until_idle()
    assert sorted(m["To"] for m in smtp_server.messages()) == ["p0@partner.example", "p2@partner.example"]
    with uow_factory() as uow:
        failed = uow.deliveries.get(T1, draft_id, "m1")
        assert failed.status is DeliveryStatus.FAILED and "550" in failed.last_error
        assert uow.drafts.get(T1, draft_id).status is DraftStatus.PARTIAL


def test_a_passing_failure_is_retried_later_with_backoff(env, smtp_server, uow_factory, clock):
    compose, worker, _, _ = env
    smtp_server.refuse("p1@partner.example", "451 4.7.1 Try again later")
    draft_id = submit(compose, ["m1"])
    w = worker(retry=RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=30)))
    w.run_until_idle()
    with uow_factory() as uow:
        d = uow.deliveries.get(T1, draft_id, "m1")
    assert d.status is DeliveryStatus.PENDING and d.attempts == 1 and "451" in d.last_error
    assert w.run_until_idle() == 0  # not due yet
    smtp_server.accept("p1@partner.example")  # the server is fine again
    clock.set(AT + timedelta(seconds=31))
    assert w.run_until_idle() == 1
    assert [m["To"] for m in smtp_server.messages()] == ["p1@partner.example"]


def test_a_worker_that_died_mid_send_leaves_no_duplicate(env, smtp_server, uow_factory, clock):
    compose, worker, _, _ = env
    draft_id = submit(compose, ["m0", "m1"])
    with uow_factory() as uow:  # a worker claimed both, started sending m0, then died before recording it
        claimed = uow.queue.claim("dead-worker", AT, 10)
        m0 = next(c.delivery for c in claimed if c.delivery.mpid == "m0")
        assert uow.queue.sending_many(T1, [m0.id], "dead-worker", AT)
        uow.commit()
    assert len(claimed) == 2
    assert worker().run_until_idle() == 0  # still within the lease: nobody touches them
    clock.set(AT + timedelta(minutes=11))
    worker().run_until_idle()
    # At most once: m0 may have left, so it is never re-sent by itself; m1 was never attempted, so it goes out.
    assert [m["To"] for m in smtp_server.messages()] == ["p1@partner.example"]
    with uow_factory() as uow:
        assert uow.deliveries.get(T1, draft_id, "m0").status is DeliveryStatus.FAILED
        assert uow.deliveries.get(T1, draft_id, "m0").last_error == INTERRUPTED
        assert uow.deliveries.get(T1, draft_id, "m1").status is DeliveryStatus.SENT
        assert uow.drafts.get(T1, draft_id).status is DraftStatus.PARTIAL


def test_a_row_taken_back_after_the_lease_is_not_sent_by_its_late_worker(env, smtp_server, uow_factory):
    compose, _, _, _ = env
    submit(compose, ["m0"])
    with uow_factory() as uow:
        (claimed,) = uow.queue.claim("slow-worker", AT, 10)
        uow.queue.abandon_stale(AT + timedelta(minutes=11), INTERRUPTED)  # another worker recovered it
        assert not uow.queue.sending_many(
            T1, [claimed.delivery.id], "slow-worker", AT
        )  # the late worker may not send it
        uow.commit()


def test_attachments_are_scanned_again_on_the_way_out(env, smtp_server, uow_factory):
    compose, worker, _, scanner = env
    draft_id = submit(compose, ["m0", "m1"], files=[("deck.pdf", pdf())])
    scanner.BAD = b"Hello"  # the signatures learnt something since the upload was checked
    worker(scan_cache=InMemoryScanCache()).run_until_idle()  # a fresh process: nothing cached yet
    assert smtp_server.messages() == []
    with uow_factory() as uow:
        assert {d.status for d in uow.deliveries.for_draft(T1, draft_id)} == {DeliveryStatus.FAILED}


def test_two_workers_never_claim_the_same_delivery(env, uow_factory):
    compose, _, _, _ = env
    submit(compose, ["m0", "m1", "m2", "m3", "m4"])
    with uow_factory() as a, uow_factory() as b:
        first = a.queue.claim("a", AT, 3)
        a.commit()
        second = b.queue.claim("b", AT, 10)
        b.commit()
    assert {c.delivery.mpid for c in first}.isdisjoint({c.delivery.mpid for c in second})
    assert len(first) + len(second) == 5


def test_a_worker_asked_to_stop_finishes_its_batch_and_claims_no_more(env, smtp_server, uow_factory):
    compose, worker, _, _ = env
    draft_id = submit(compose, ["m0", "m1", "m2", "m3", "m4"])
    batches = []

    def stop():
        batches.append(len(smtp_server.messages()))
        return len(batches) > 1  # asked after the first batch

    assert worker(batch_size=2).run_until_idle(stop=stop) == 2
    assert len(smtp_server.messages()) == 2
    with uow_factory() as uow:
        counts = uow.queue.counts(T1, draft_id)
    assert (counts[DeliveryStatus.SENT], counts[DeliveryStatus.PENDING], counts[DeliveryStatus.CLAIMED]) == (
        2,
        3,
        0,
    )
    assert worker(batch_size=2).run_until_idle() == 3  # the rest, by whoever comes next


class WatchedMailer:
    """The real mailer, but each send first looks at the draft's rows from another connection."""

    def __init__(self, mailer, uow_factory, draft_id):
        self.mailer, self.uow_factory, self.draft_id = mailer, uow_factory, draft_id
        self.seen = []  # (recipient, {mpid: status committed when it was about to go out})

    def open(self):
        return WatchedSession(self, self.mailer.open())


class WatchedSession:
    def __init__(self, owner, inner):
        self.owner, self.inner = owner, inner

    def build(self, email):
        return self.inner.build(email)

    def send_ready(self, mail):
        with self.owner.uow_factory() as uow:
            rows = uow.deliveries.for_draft(T1, self.owner.draft_id)
        self.owner.seen.append((mail.to, {d.mpid: d.status.value for d in rows}))
        return self.inner.send_ready(mail)

    def send(self, email):
        return self.send_ready(self.build(email))

    def close(self):
        self.inner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_a_group_is_committed_in_flight_with_the_previous_groups_results_before_it_goes_out(
    env, smtp_server, uow_factory
):
    compose, worker, _, _ = env
    draft_id = submit(compose, ["m0", "m1", "m2", "m3", "m4"])
    mailer = SmtpMailer(
        smtp_server.host, smtp_server.port, "", "", "none", "Outreach <outreach@brand.example>", 10
    )
    watched = WatchedMailer(mailer, uow_factory, draft_id)
    assert worker(mailer=watched, in_flight_group=2).run_until_idle() == 5
    c, f, s = "claimed", "in_flight", "sent"
    assert watched.seen == [
        ("p0@partner.example", {"m0": f, "m1": f, "m2": c, "m3": c, "m4": c}),
        ("p1@partner.example", {"m0": f, "m1": f, "m2": c, "m3": c, "m4": c}),
        ("p2@partner.example", {"m0": s, "m1": s, "m2": f, "m3": f, "m4": c}),
        ("p3@partner.example", {"m0": s, "m1": s, "m2": f, "m3": f, "m4": c}),
        ("p4@partner.example", {"m0": s, "m1": s, "m2": s, "m3": s, "m4": f}),
    ]
    with uow_factory() as uow:
        assert {d.status for d in uow.deliveries.for_draft(T1, draft_id)} == {DeliveryStatus.SENT}
        assert all(uow.prospects.get(T1, m).last_contacted_at == AT for m in ("m0", "m4"))


def test_a_progress_listener_that_fails_stops_no_send(env, smtp_server, uow_factory):
    compose, worker, _, _ = env
    draft_id = submit(compose, ["m0", "m1", "m2", "m3", "m4"])

    def broken(progress):
        raise ConnectionError("Slack is unreachable")

    assert worker(on_progress=broken, in_flight_group=2).run_until_idle() == 5
    assert sorted(m["To"] for m in smtp_server.messages()) == [f"p{i}@partner.example" for i in range(5)]
    with uow_factory() as uow:
        assert {d.status for d in uow.deliveries.for_draft(T1, draft_id)} == {DeliveryStatus.SENT}
        assert uow.drafts.get(T1, draft_id).status is DraftStatus.SENT


def test_a_send_finished_but_left_open_is_closed_by_the_next_worker_once(env, smtp_server, uow_factory):
    compose, worker, listener, _ = env
    draft_id = submit(compose, ["m0", "m1"])
    assert worker().run_until_idle() == 2
    assert [e.finished for e in listener.events].count(True) == 1
    with uow_factory() as uow:  # as if its worker had stopped between the last result and closing the draft
        uow.drafts.set_status(T1, draft_id, DraftStatus.SENDING)
        uow.commit()
    assert worker("w2").run_until_idle() == 0  # nothing to send, but the draft is closed and the author told
    with uow_factory() as uow:
        assert uow.drafts.get(T1, draft_id).status is DraftStatus.SENT
    assert [e.finished for e in listener.events].count(True) == 2
    worker("w3").run_until_idle()
    assert [e.finished for e in listener.events].count(True) == 2  # closed once, told once
    assert len(smtp_server.messages()) == 2
