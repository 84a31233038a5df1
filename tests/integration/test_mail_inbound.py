"""E-mail replies and bounces on SQLite and PostgreSQL: e-mails really sent through the pipeline to a real SMTP
server (each with its VERP envelope sender), then real replies and RFC 3464 DSNs about them handed to the
service, with the real clamd and libmagic for the files."""

from __future__ import annotations

import pytest

from bot.devtools.mail_samples import dsn, reply
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.bounce_address import BounceAddresses
from outreach.errors import ValidationFailed
from outreach.mail_inbound import Ignored, Outcome
from outreach.models import Channel, DeliveryStatus, Direction, EventKind
from tests.attachment_samples import pdf
from tests.integration.mail_world import KEY, T1, T2, build_world

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]


@pytest.fixture
def world(uow_factory, smtp_server, clamd):
    return build_world(uow_factory, smtp_server, clamd)


def delivery(uow_factory, team, draft_id, mpid):
    with uow_factory() as uow:
        return uow.deliveries.get(team, draft_id, mpid)


def test_each_email_goes_out_with_a_signed_envelope_sender_of_its_own(uow_factory, world):
    _, _, send = world
    sent = send(T1, "U_ANN", ["m1", "m2"])
    addresses = {s.envelope_from for s in sent.values()}
    assert len(addresses) == 2
    for mpid, s in sent.items():
        local, _, domain = s.envelope_from.partition("@")
        assert domain == "brand.example" and local.startswith("outreach+b")
        d = delivery(uow_factory, T1, s.draft_id, mpid)
        assert d.provider_message_id == s.message_id  # the Message-ID is kept with the delivery
        assert BounceAddresses(KEY, "outreach@brand.example").delivery_in([s.envelope_from]) is not None


def test_a_reply_is_stored_in_the_partners_email_thread_and_told_to_the_sends_author(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    raw = reply(in_reply_to=s.message_id, text="Yes please!", quoted="Hello Al")
    outcome = service.receive(raw)
    assert outcome.outcome is Outcome.REPLY and not outcome.duplicate and outcome.team_id == T1
    with uow_factory() as uow:
        (thread,) = uow.threads.for_partner(T1, "m1")
        (message,) = uow.threads.get(T1, thread.id).messages
    d = delivery(uow_factory, T1, s.draft_id, "m1")
    assert thread.channel is Channel.EMAIL and thread.subject == "A partnership"
    assert message.direction is Direction.IN and message.body == "Yes please!"  # the quote of ours cut off
    assert message.author_id == "al@acme.example" and message.delivery_id == d.id
    (event,) = events.events
    assert (event.kind, event.author_id, event.mpid, event.team_id) == (EventKind.REPLY, "U_ANN", "m1", T1)
    assert event.channel is Channel.EMAIL and event.text == "Yes please!" and event.thread_id == thread.id
    assert event.draft_id == s.draft_id


def test_a_replys_clean_file_is_kept_byte_identical_and_an_infected_one_quarantined(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    deck = pdf()
    files = (
        ("deck.pdf", "application/pdf", deck),
        ("invoice.pdf", "application/pdf", pdf(eicar_test_bytes())),
    )
    outcome = service.receive(reply(in_reply_to=s.message_id, files=files))
    assert outcome.kept == ("deck.pdf",) and outcome.quarantined == (("invoice.pdf", "infected"),)
    with uow_factory() as uow:
        (thread,) = uow.threads.for_partner(T1, "m1")
        (message,) = uow.threads.get(T1, thread.id).messages
    kept, held = message.files
    assert kept.attachment.data == deck and not kept.quarantined
    assert held.quarantined and held.attachment.verdict.signature.startswith("Outreach.Test.EICAR")
    (event,) = events.events
    assert [f.data for f in event.files] == [deck]
    assert [name for name, _ in event.held] == ["invoice.pdf"] and "EICAR" in event.held[0][1]


def test_the_same_reply_twice_is_stored_and_told_once(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    raw = reply(in_reply_to=s.message_id)
    first, again = service.receive(raw), service.receive(raw)
    assert not first.duplicate and again.duplicate and again.message_id == first.message_id
    assert len(events.events) == 1
    with uow_factory() as uow:
        (thread,) = uow.threads.for_partner(T1, "m1")
        assert len(uow.threads.get(T1, thread.id).messages) == 1


def test_a_reply_naming_our_email_only_in_references_is_matched(uow_factory, world):
    service, _, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    raw = reply(in_reply_to="<colleague@acme.example>", references=f"{s.message_id} <colleague@acme.example>")
    assert service.receive(raw).outcome is Outcome.REPLY


def test_unmatched_mail_and_auto_replies_are_ignored_and_nothing_is_stored(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    assert service.receive(reply(in_reply_to="<someone-else@x.example>")).ignored is Ignored.UNMATCHED
    assert service.receive(reply()).ignored is Ignored.UNMATCHED
    auto = reply(in_reply_to=s.message_id, headers=(("Auto-Submitted", "auto-replied"),), text="I am away")
    assert service.receive(auto).ignored is Ignored.AUTO_REPLY
    with uow_factory() as uow:
        assert uow.threads.for_partner(T1, "m1") == []
    assert events.events == []


def test_mail_about_another_workspaces_send_never_reaches_this_one(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    raw = reply(in_reply_to=s.message_id)
    assert service.receive(raw, team_id=T2).ignored is Ignored.UNMATCHED  # read from a T2 user's mailbox
    bounce = dsn("al@acme.example", original_id=s.message_id, returned="none", to=s.envelope_from)
    assert service.receive(bounce, team_id=T2).ignored is Ignored.UNMATCHED  # its VERP address is T1's
    with uow_factory() as uow:
        assert uow.threads.for_partner(T2, "m9") == [] and uow.threads.for_partner(T1, "m1") == []
        assert uow.suppressions.among(T2, ["al@acme.example"]) == {}
    assert events.events == []
    assert service.receive(raw, team_id=T1).outcome is Outcome.REPLY  # in its own workspace it is a reply


def test_a_hard_bounce_suppresses_the_address_and_fails_the_delivery_once(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1", "m2"])["m1"]
    raw = dsn("al@acme.example", original_id=s.message_id)
    outcome = service.receive(raw)
    assert outcome.outcome is Outcome.BOUNCE and outcome.hard and outcome.detail.startswith("5.1.1 smtp; 550")
    d = delivery(uow_factory, T1, s.draft_id, "m1")
    assert d.status is DeliveryStatus.FAILED and d.last_error.startswith("bounced: 5.1.1 smtp; 550 5.1.1")
    assert delivery(uow_factory, T1, s.draft_id, "m2").status is DeliveryStatus.SENT
    with uow_factory() as uow:
        assert uow.suppressions.among(T1, ["al@acme.example"]) == {"al@acme.example": "bounced"}
        assert uow.suppressions.among(T2, ["al@acme.example"]) == {}
        assert [e.action for e in uow.audit.recent(T1, mpid="m1")][:1] == ["delivery.bounced"]
        (log,) = [r for r in uow.queue.send_log(T1) if r.mpid == "m1"]
    assert log.result == "failed" and log.detail.startswith("bounced: 5.1.1")
    (event,) = events.events
    assert (event.kind, event.author_id, event.mpid) == (EventKind.BOUNCE, "U_ANN", "m1")
    assert event.detail.startswith("5.1.1 ") and event.draft_id == s.draft_id
    again = service.receive(raw)
    assert again.duplicate and len(events.events) == 1


def test_a_soft_bounce_is_noted_on_the_delivery_and_nothing_is_suppressed(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    raw = dsn(
        "al@acme.example",
        original_id=s.message_id,
        status="4.4.1",
        action="delayed",
        diagnostic="smtp; 451 4.4.1 mailbox busy",
        returned="message",
    )
    outcome = service.receive(raw)
    assert outcome.outcome is Outcome.BOUNCE and not outcome.hard
    d = delivery(uow_factory, T1, s.draft_id, "m1")
    assert d.status is DeliveryStatus.SENT and d.last_error == "delayed: 4.4.1 smtp; 451 4.4.1 mailbox busy"
    with uow_factory() as uow:
        assert uow.suppressions.among(T1, ["al@acme.example"]) == {}
        (log,) = uow.queue.send_log(T1)
    assert log.result == "sent" and "delayed: 4.4.1" in log.detail and s.message_id in log.detail
    (event,) = events.events
    assert event.kind is EventKind.BOUNCE and event.detail.startswith("4.4.1")
    # Then the hard one: it fails the delivery; a soft one after it changes nothing.
    service.receive(dsn("al@acme.example", original_id=s.message_id))
    late = service.receive(dsn("al@acme.example", original_id=s.message_id, status="4.4.1", action="delayed"))
    assert late.ignored is Ignored.ALREADY_BOUNCED
    assert [e.detail[:1] for e in events.events] == ["4", "5"]


def test_a_dsn_for_an_address_we_never_emailed_is_ignored(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    outcome = service.receive(dsn("someone@else.example", original_id=s.message_id))
    assert outcome.ignored is Ignored.NOT_OUR_RECIPIENT
    assert (
        service.receive(dsn("al@acme.example", original_id="<never@sent.example>")).ignored
        is Ignored.UNMATCHED
    )
    d = delivery(uow_factory, T1, s.draft_id, "m1")
    assert d.status is DeliveryStatus.SENT and d.last_error == ""
    with uow_factory() as uow:
        assert uow.suppressions.among(T1, ["someone@else.example", "al@acme.example"]) == {}
    assert events.events == []


def test_a_dsn_returning_nothing_of_ours_is_matched_by_its_verp_address_and_a_forged_one_is_not(
    uow_factory, world
):
    service, events, send = world
    sent = send(T1, "U_ANN", ["m1", "m2"])
    s1, s2 = sent["m1"], sent["m2"]
    forged_mac = s1.envelope_from.replace(s1.envelope_from.split(".")[-2][-3:], "aaa", 1)
    forged = service.receive(dsn("al@acme.example", returned="none", to=forged_mac))
    assert forged.ignored is Ignored.UNMATCHED
    wrong_one = service.receive(dsn("al@acme.example", returned="none", to=s2.envelope_from))
    assert wrong_one.ignored is Ignored.NOT_OUR_RECIPIENT  # m2's address: the DSN is about someone else
    outcome = service.receive(dsn("al@acme.example", returned="none", to=s1.envelope_from))
    assert outcome.outcome is Outcome.BOUNCE and outcome.hard
    assert delivery(uow_factory, T1, s1.draft_id, "m1").status is DeliveryStatus.FAILED
    assert len(events.events) == 1


def test_a_dsn_reporting_only_a_delivery_changes_nothing(uow_factory, world):
    service, events, send = world
    s = send(T1, "U_ANN", ["m1"])["m1"]
    raw = dsn("al@acme.example", original_id=s.message_id, status="2.0.0", action="delivered")
    assert service.receive(raw).ignored is Ignored.NO_FAILURE
    assert events.events == []


def test_bytes_that_are_not_an_email_are_refused(world):
    service, _, _ = world
    with pytest.raises(ValidationFailed):
        service.receive(b"just some text, no header\r\n")
