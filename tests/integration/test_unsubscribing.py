"""Unsubscribing through a link's token, on SQLite and PostgreSQL: suppressed, audited and told to the partners'
conversations once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from outreach.clock import FixedClock
from outreach.models import Channel, ConversationEvent, DeliveryStatus, Draft, EventKind, Partner
from outreach.unsubscribe import UnsubscribeLinks, Unsubscriber

LINKS = UnsubscribeLinks(b"k" * 32, "https://outreach.example.com")
AT = datetime(2030, 5, 6, 7, 8, tzinfo=UTC)


def test_a_genuine_token_suppresses_its_address_once_whoever_clicks_first(uow_factory):
    unsubscriber = Unsubscriber(LINKS, uow_factory, FixedClock(AT))
    token = LINKS.token("T1", "Ann@Example.com")
    assert unsubscriber.address(token) == "ann@example.com"
    assert unsubscriber.unsubscribe(token, one_click=False) == "ann@example.com"
    assert unsubscriber.unsubscribe(token, one_click=True) == "ann@example.com"  # the mail client, later
    with uow_factory() as uow:
        assert uow.suppressions.among("T1", ["ann@example.com"]) == {"ann@example.com": "unsubscribed"}
        assert uow.suppressions.among("T2", ["ann@example.com"]) == {}
        events = uow.audit.recent("T1")
    assert [(e.action, e.detail, e.at) for e in events] == [("email.unsubscribed", "ann@example.com", AT)]


def test_a_forged_token_changes_nothing(uow_factory):
    unsubscriber = Unsubscriber(LINKS, uow_factory, FixedClock(AT))
    forged = UnsubscribeLinks(b"x" * 32, "https://elsewhere").token("T1", "ann@example.com")
    assert unsubscriber.address(forged) is None
    assert unsubscriber.unsubscribe(forged, one_click=True) is None
    with uow_factory() as uow:
        assert uow.suppressions.emails("T1") == frozenset() and uow.audit.recent("T1") == []


def test_the_first_unsubscribe_tells_each_partner_at_the_address_to_whoever_last_wrote_or_marked_them(
    uow_factory,
):
    with uow_factory() as uow:
        uow.partners.upsert_many(
            "T1",
            [
                Partner("T1", "m1", "Acme", email="Ann@Example.com"),
                Partner("T1", "m2", "Acme Labs", email="ann@example.com"),
                Partner("T1", "m3", "Other", email="bo@example.com"),
            ],
            mark_prospects={"m1", "m2"},
            marked_by="U_MARK",
        )
        draft = uow.drafts.add(Draft("T1", "U_SENT", Channel.EMAIL, subject="Hi"), ["m1"])
        uow.deliveries.plan("T1", draft.id, {})
        sent = uow.deliveries.get("T1", draft.id, "m1")
        uow.deliveries.save(
            "T1", replace(sent, status=DeliveryStatus.SENT, provider_message_id="<1@x>", sent_at=AT)
        )
        uow.commit()
    published: list[ConversationEvent] = []

    class Events:
        def publish(self, event: ConversationEvent) -> None:
            published.append(event)

    unsubscriber = Unsubscriber(LINKS, uow_factory, FixedClock(AT), events=Events())
    token = LINKS.token("T1", "ann@example.com")
    unsubscriber.unsubscribe(token, one_click=True)
    unsubscriber.unsubscribe(token, one_click=False)  # the person, after their mail client: nothing new
    assert [(e.mpid, e.author_id, e.kind, e.channel, e.detail) for e in published] == [
        ("m1", "U_SENT", EventKind.UNSUBSCRIBED, Channel.EMAIL, "ann@example.com"),
        ("m2", "U_MARK", EventKind.UNSUBSCRIBED, Channel.EMAIL, "ann@example.com"),
    ]
