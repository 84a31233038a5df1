"""Inbound replies on SQLite and PostgreSQL, with the real clamd and libmagic: stored once in the thread,
files kept or quarantined, and addressed to the author of the message being answered."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime

import pytest

from outreach.adapters.clamd_local import eicar_test_bytes, free_tcp_port
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import DeliveryWorker
from outreach.errors import NotFound, ValidationFailed
from outreach.inbound import InboundService
from outreach.layouts import Layouts
from outreach.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Direction,
    Draft,
    OutgoingMessage,
    Partner,
    ScanStatus,
    ThreadMessage,
)
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner, pdf

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


class RecordingTransport:
    """A MessageTransport that accepts every message and numbers them."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> str:
        self.sent.append(message)
        return f"prov-{len(self.sent)}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def payload(**overrides):
    body = {"team_id": T1, "mpid": "m1", "text": "Thanks, interested!", "external_id": "in-1"}
    body.update(overrides)
    return body


@pytest.fixture
def partners(uow_factory):
    with uow_factory() as uow:
        uow.partners.upsert_many(
            T1,
            [Partner(T1, f"m{i}", f"Company {i}", f"First{i}", messaging_enabled=True) for i in (1, 2)],
            mark_prospects={"m1", "m2"},
            marked_by="U_MARKER",
        )
        uow.partners.upsert_many(T2, [Partner(T2, "m9", "Elsewhere", messaging_enabled=True)])
        uow.commit()


@pytest.fixture
def service(uow_factory, partners, clamd):
    return InboundService(
        uow=uow_factory,
        clock=FixedClock(AT),
        sniffer=MagicSniffer(),
        scanner=clamd.scanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
    )


def send_message(uow_factory, author: str, mpids: list[str], transport: RecordingTransport) -> None:
    """A real send through compose and the delivery worker, so the OUT message is in the thread."""
    clock, sniffer, scanner, cache = FixedClock(AT), MagicSniffer(), FakeScanner(), InMemoryScanCache()
    tracking = TrackingConfig("https://t.example/{mpid}/{adid}/{program_id}", "1")
    compose = ComposeService(
        uow=uow_factory,
        clock=clock,
        sniffer=sniffer,
        scanner=scanner,
        scan_cache=cache,
        policy=AttachmentPolicy(),
        tracking=tracking,
        layouts=Layouts(),
    )
    state = compose.start(T1, author, Channel.MESSAGE, mpids)
    compose.save(T1, author, state.draft_id, DraftFields(content="Hello {firstName}"))
    compose.submit(T1, author, state.draft_id)
    worker = DeliveryWorker(
        uow=uow_factory,
        clock=clock,
        mailer=SmtpMailer("127.0.0.1", free_tcp_port(), "", "", "none", "o@brand.example", 5),  # unused
        transport=transport,
        sniffer=sniffer,
        scanner=scanner,
        scan_cache=cache,
        policy=AttachmentPolicy(),
        tracking=tracking,
        layouts=Layouts(),
        worker_id="w",
    )
    assert worker.run_until_idle() == len(mpids)


@pytest.fixture
def transport():
    return RecordingTransport()


def test_a_sent_message_is_recorded_in_the_partners_thread(uow_factory, partners, transport):
    send_message(uow_factory, "U_ANN", ["m1"], transport)
    with uow_factory() as uow:
        (thread,) = uow.threads.for_partner(T1, "m1")
        (message,) = uow.threads.get(T1, thread.id).messages
    assert thread.channel is Channel.MESSAGE
    assert message.direction is Direction.OUT and message.author_id == "U_ANN"
    assert message.body == "Hello First1" and message.provider_message_id == "prov-1"
    assert message.delivery_id is not None


def test_a_reply_lands_in_the_thread_of_the_message_it_answers_and_goes_to_its_author(
    uow_factory, service, transport
):
    send_message(uow_factory, "U_ANN", ["m1"], transport)
    send_message(uow_factory, "U_BOB", ["m1"], transport)  # Bob wrote last; the reply answers Ann
    result = service.receive(payload(in_reply_to="prov-1"))
    assert (result.team_id, result.author_id, result.duplicate) == (T1, "U_ANN", False)
    assert result.partner.mpid == "m1"
    with uow_factory() as uow:
        thread = uow.threads.get(T1, result.thread.id)
    assert [m.direction for m in thread.messages] == [Direction.OUT, Direction.OUT, Direction.IN]
    stored = thread.messages[-1]
    assert stored.body == "Thanks, interested!" and stored.external_id == "in-1"
    assert stored.id == result.message.id


def test_our_idempotency_key_also_finds_the_original_message(uow_factory, service, transport):
    send_message(uow_factory, "U_ANN", ["m1"], transport)
    send_message(uow_factory, "U_BOB", ["m1"], transport)
    key = transport.sent[0].idempotency_key
    assert service.receive(payload(in_reply_to=key)).author_id == "U_ANN"


def test_without_a_reference_the_last_author_is_told(uow_factory, service, transport):
    send_message(uow_factory, "U_ANN", ["m1"], transport)
    send_message(uow_factory, "U_BOB", ["m1"], transport)
    assert service.receive(payload(in_reply_to="unknown-id")).author_id == "U_BOB"


def test_the_author_of_the_last_e_mail_sent_or_the_marker_is_the_fallback(uow_factory, service):
    assert service.receive(payload(mpid="m2", external_id="a")).author_id == "U_MARKER"
    with uow_factory() as uow:
        for author, status, when in (
            ("U_OLD", DeliveryStatus.SENT, AT.replace(year=2037)),
            ("U_MAIL", DeliveryStatus.SENT, AT),
            ("U_FAILED", DeliveryStatus.FAILED, None),
        ):
            draft = uow.drafts.add(Draft(T1, author, Channel.EMAIL, subject="Hi", content="Hi"), ["m2"])
            uow.deliveries.plan(T1, draft.id, {})
            uow.deliveries.save(T1, Delivery(draft.id, "m2", status, sent_at=when))
        uow.commit()
    assert service.receive(payload(mpid="m2", external_id="b")).author_id == "U_MAIL"


def test_a_reply_without_an_earlier_thread_opens_one(uow_factory, service):
    result = service.receive(payload())
    with uow_factory() as uow:
        (thread,) = uow.threads.for_partner(T1, "m1")
    assert thread.id == result.thread.id and thread.channel is Channel.MESSAGE


def test_the_same_inbound_delivered_twice_is_stored_once(uow_factory, service):
    first = service.receive(
        payload(attachments=[{"name": "deck.pdf", "mime": "application/pdf", "data": b64(pdf())}])
    )
    again = service.receive(
        payload(attachments=[{"name": "deck.pdf", "mime": "application/pdf", "data": b64(pdf())}])
    )
    assert again.duplicate and again.message.id == first.message.id
    assert [a.filename for a in again.kept] == ["deck.pdf"]
    with uow_factory() as uow:
        assert len(uow.threads.get(T1, first.thread.id).messages) == 1


def test_two_deliveries_racing_store_one_message(uow_factory, service):
    results, barrier = [], threading.Barrier(2)

    def deliver():
        barrier.wait()
        results.append(service.receive(payload(external_id="race")))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2 and len({r.message.id for r in results}) == 1
    assert sorted(r.duplicate for r in results) == [False, True]
    with uow_factory() as uow:
        assert len(uow.threads.get(T1, results[0].thread.id).messages) == 1


def test_the_same_external_id_in_another_workspace_is_another_message(uow_factory, service):
    service.receive(payload())
    other = service.receive(payload(team_id=T2, mpid="m9"))
    assert not other.duplicate and other.team_id == T2


def test_an_infected_file_is_quarantined_and_a_clean_one_kept(uow_factory, service):
    result = service.receive(
        payload(
            attachments=[
                {"name": "deck.pdf", "mime": "application/pdf", "data": b64(pdf())},
                {"name": "invoice.pdf", "mime": "application/pdf", "data": b64(pdf(eicar_test_bytes()))},
                {"name": "run.sh", "mime": "text/x-sh", "data": b64(b"#!/bin/sh\necho hi\n")},
            ]
        )
    )
    assert [a.filename for a in result.kept] == ["deck.pdf"]
    assert result.kept[0].verdict.status is ScanStatus.CLEAN
    assert [(f.attachment.filename, f.quarantine) for f in result.quarantined] == [
        ("invoice.pdf", "infected"),
        ("run.sh", "type_not_allowed"),
    ]
    infected = result.quarantined[0]
    assert infected.attachment.verdict.status is ScanStatus.INFECTED
    assert "Outreach.Test.EICAR" in infected.attachment.verdict.signature
    assert "Outreach.Test.EICAR" in infected.reason
    with uow_factory() as uow:
        stored = uow.threads.by_external_id(T1, "in-1")[1]
        assert [(f.attachment.filename, f.quarantined) for f in stored.files] == [
            ("deck.pdf", False),
            ("invoice.pdf", True),
            ("run.sh", True),
        ]
        assert uow.attachments.get(T1, infected.attachment.id).data == pdf(eicar_test_bytes())


def test_files_that_cannot_be_scanned_are_quarantined(uow_factory, partners, dead_clamd):
    from outreach.adapters.clamd import ClamdScanner

    service = InboundService(
        uow=uow_factory,
        clock=FixedClock(AT),
        sniffer=MagicSniffer(),
        scanner=ClamdScanner(socket_path=dead_clamd.socket_path, read_timeout=2),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
    )
    result = service.receive(payload(attachments=[{"name": "deck.pdf", "data": b64(pdf())}]))
    assert result.kept == ()
    (held,) = result.quarantined
    assert held.quarantine == "unscannable" and held.attachment.verdict.status is ScanStatus.UNSCANNABLE


def test_an_unknown_partner_or_workspace_is_not_found(service):
    with pytest.raises(NotFound):
        service.receive(payload(mpid="nobody"))
    with pytest.raises(NotFound):
        service.receive(payload(team_id=T2))  # m1 is not T2's partner


def test_every_problem_with_the_payload_is_reported_at_once(service):
    with pytest.raises(ValidationFailed) as caught:
        service.receive(
            {
                "team_id": 7,
                "text": "x" * 20_001,
                "attachments": [{"name": "a.pdf", "data": "not base64!"}, "junk"],
            }
        )
    codes = {(p.field, p.code) for p in caught.value.problems}
    assert codes == {
        ("team_id", "not_a_string"),
        ("mpid", "missing"),
        ("external_id", "missing"),
        ("text", "too_long"),
        ("attachments", "bad_data"),
        ("attachments", "bad_file"),
    }


def test_an_empty_message_is_refused(service):
    with pytest.raises(ValidationFailed) as caught:
        service.receive(payload(text="  "))
    assert [p.code for p in caught.value.problems] == ["empty"]


def test_storing_a_message_twice_under_one_external_id_raises_already_exists(uow_factory, partners):
    from outreach.errors import AlreadyExists

    with uow_factory() as uow:
        thread = uow.threads.open(T1, "m1", Channel.MESSAGE)
        uow.threads.add_message(T1, thread.id, ThreadMessage(Direction.IN, "a", external_id="x"))
        with pytest.raises(AlreadyExists):
            uow.threads.add_message(T1, thread.id, ThreadMessage(Direction.IN, "b", external_id="x"))
        uow.threads.add_message(T1, thread.id, ThreadMessage(Direction.IN, "c"))
        uow.threads.add_message(T1, thread.id, ThreadMessage(Direction.IN, "d"))  # no id: no uniqueness
