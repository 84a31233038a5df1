"""Ads, drafts, attachments, deliveries, threads and the audit log on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from outreach.errors import NotFound
from outreach.models import (
    Ad,
    AdType,
    Attachment,
    AuditEvent,
    Channel,
    Delivery,
    DeliveryStatus,
    Direction,
    Draft,
    DraftStatus,
    Partner,
    ScanStatus,
    ScanVerdict,
    ThreadMessage,
)

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
LATER = datetime(2038, 1, 19, 4, 0, tzinfo=UTC)


def attachment(data: bytes = b"%PDF-1.4 hello", verdict: ScanVerdict | None = None) -> Attachment:
    return Attachment("offer.pdf", "application/pdf", hashlib.sha256(data).hexdigest(), data, verdict)


def new_draft(uow, team=T1, recipients=("m1", "m2"), attachments=()) -> Draft:
    return uow.drafts.add(
        Draft(
            team_id=team,
            author_id="U1",
            channel=Channel.EMAIL,
            sender_name="Ann",
            reply_to="ann@brand.example",
            subject="Hello {firstName} 你好",
            content="Hi",
            attachments=attachments,
        ),
        recipients,
    )


def test_ads_upsert_by_adid_and_stay_in_their_workspace(uow_factory):
    ads = [
        Ad(T1, "a1", "Spring sale", AdType.TEXT_LINK, "https://brand.example/s", "Shop now"),
        Ad(
            T1,
            "a2",
            "Banner",
            AdType.BANNER,
            "https://brand.example/b",
            "https://cdn.example/b.png",
            300,
            250,
        ),
    ]
    with uow_factory() as uow:
        first = uow.ads.upsert_many(T1, ads)
        uow.commit()
    with uow_factory() as uow:
        second = uow.ads.upsert_many(T1, ads)
        changed = uow.ads.upsert_many(
            T1, [Ad(T1, "a1", "Summer sale", AdType.TEXT_LINK, "https://brand.example/s")]
        )
        uow.commit()
    assert (first.inserted, second.unchanged, changed.updated) == (2, 2, 1)
    with uow_factory() as uow:
        assert uow.ads.get(T1, "a2") == ads[1]
        assert uow.ads.get(T1, "a1").name == "Summer sale"
        assert uow.ads.get(T2, "a1") is None
        assert uow.ads.all(T2) == []
        assert sorted(uow.ads.get_many(T1, ["a1", "a2", "zz"])) == ["a1", "a2"]


def test_a_draft_round_trips_with_recipients_and_attachments_in_order(uow_factory):
    with uow_factory() as uow:
        uow.partners.upsert_many(
            T1, [Partner(T1, m, f"Media {m}", first_name=m.upper()) for m in ("m1", "m2")]
        )
        uow.partners.upsert_many(T2, [Partner(T2, "m3", "Other workspace")])
        stored = uow.attachments.add(T1, attachment(verdict=ScanVerdict(ScanStatus.CLEAN)))
        draft = new_draft(uow, recipients=("m2", "m1", "m3", "m2"), attachments=(stored,))
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.drafts.get(T1, draft.id)
        assert uow.drafts.get(T2, draft.id) is None
        # In the draft's order, duplicates dropped; m3 is no partner of T1 and never comes out.
        audience = list(uow.drafts.audience(T1, draft.id))
        assert list(uow.drafts.audience(T2, draft.id)) == []
        assert uow.drafts.has_recipient(T1, draft.id, "m1")
        assert not uow.drafts.has_recipient(T2, draft.id, "m1")
        assert not uow.drafts.has_recipient(T1, draft.id, "m9")
    assert loaded == draft
    assert loaded.recipient_count == 3
    assert [(r.mpid, r.mpname, r.first_name) for r in audience] == [
        ("m2", "Media m2", "M2"),
        ("m1", "Media m1", "M1"),
    ]
    assert loaded.attachments[0].data == b"%PDF-1.4 hello"
    assert loaded.attachments[0].verdict == ScanVerdict(ScanStatus.CLEAN)
    assert loaded.subject == "Hello {firstName} 你好"
    assert loaded.created_at.tzinfo is not None


def test_saving_a_draft_keeps_its_recipients_and_status_changes_are_kept(uow_factory):
    with uow_factory() as uow:
        draft = new_draft(uow)
        uow.commit()
    with uow_factory() as uow:
        from dataclasses import replace

        uow.drafts.save(replace(draft, recipient_count=0, subject="New"))
        assert uow.drafts.set_status(T1, draft.id, DraftStatus.SENT, only_from=DraftStatus.DRAFT)
        assert not uow.drafts.set_status(T1, draft.id, DraftStatus.SENDING, only_from=DraftStatus.DRAFT)
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.drafts.get(T1, draft.id)
        assert (loaded.recipient_count, loaded.subject, loaded.status) == (2, "New", DraftStatus.SENT)
        assert [d.id for d in uow.drafts.for_author(T1, "U1", [DraftStatus.SENT])] == [draft.id]
        assert uow.drafts.for_author(T1, "U1", [DraftStatus.DRAFT]) == []
        with pytest.raises(NotFound):
            uow.drafts.set_status(T2, draft.id, DraftStatus.SENT)


def test_an_attachment_keeps_its_scan_verdict_within_the_workspace(uow_factory):
    infected = ScanVerdict(ScanStatus.INFECTED, signature="Eicar-Signature")
    with uow_factory() as uow:
        stored = uow.attachments.add(T1, attachment(verdict=infected))
        unscanned = uow.attachments.add(T1, attachment(b"%PDF-1.4 other"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.attachments.get(T1, stored.id) == stored
        assert uow.attachments.get(T1, stored.id).verdict == infected
        assert uow.attachments.get(T1, unscanned.id).verdict is None
        assert uow.attachments.get(T2, stored.id) is None


def add_partners(uow, team=T1, mpids=("m1", "m2")) -> None:
    uow.partners.upsert_many(team, [Partner(team, m, f"Media {m}") for m in mpids])


def test_the_send_plan_is_one_delivery_per_recipient_still_a_partner_in_the_drafts_order(uow_factory):
    with uow_factory() as uow:
        add_partners(uow, mpids=("m1", "m2", "m3"))
        add_partners(uow, T2, mpids=("m4",))
        draft = new_draft(uow, recipients=("m3", "m1", "gone", "m2", "m4"))
        assert uow.deliveries.plan(T1, draft.id, {"unsubscribed": ["m1"]}) == 2
        uow.commit()
    with uow_factory() as uow:
        planned = uow.deliveries.for_draft(T1, draft.id)
        assert [(d.mpid, d.status, d.last_error) for d in planned] == [
            ("m3", DeliveryStatus.PENDING, ""),
            ("m1", DeliveryStatus.SKIPPED, "unsubscribed"),
            ("m2", DeliveryStatus.PENDING, ""),
        ]
        assert all(d.id is not None and d.attempts == 0 for d in planned)
        assert uow.deliveries.for_draft(T2, draft.id) == []


def test_one_recipient_can_never_get_the_same_draft_twice(uow_factory):
    with uow_factory() as uow:
        add_partners(uow)
        draft = new_draft(uow)
        assert uow.deliveries.plan(T1, draft.id, {}) == 2
        uow.commit()
    with uow_factory() as uow, pytest.raises(IntegrityError):
        uow.deliveries.plan(T1, draft.id, {})  # the database refuses a second delivery for (draft, mpid)
    with uow_factory() as uow:
        assert [d.mpid for d in uow.deliveries.for_draft(T1, draft.id)] == ["m1", "m2"]


def test_a_delivery_records_attempts_errors_and_the_send(uow_factory):
    with uow_factory() as uow:
        add_partners(uow)
        draft = new_draft(uow)
        uow.deliveries.plan(T1, draft.id, {})
        uow.deliveries.save(
            T1,
            Delivery(
                draft.id, "m1", DeliveryStatus.SENT, attempts=2, provider_message_id="<x@y>", sent_at=AT
            ),
        )
        uow.commit()
    with uow_factory() as uow:
        saved = uow.deliveries.get(T1, draft.id, "m1")
        assert (saved.status, saved.attempts, saved.provider_message_id, saved.sent_at) == (
            DeliveryStatus.SENT,
            2,
            "<x@y>",
            AT,
        )
        assert uow.deliveries.get(T2, draft.id, "m1") is None


def test_threads_keep_messages_in_both_directions(uow_factory):
    with uow_factory() as uow:
        thread = uow.threads.open(T1, "m1", Channel.EMAIL, "Hello")
        assert uow.threads.open(T1, "m1", Channel.EMAIL).id == thread.id
        uow.threads.add_message(T1, thread.id, ThreadMessage(Direction.OUT, "Hi", author_id="U1", at=AT))
        uow.threads.add_message(T1, thread.id, ThreadMessage(Direction.IN, "Hello back", at=LATER))
        with pytest.raises(NotFound):
            uow.threads.add_message(T2, thread.id, ThreadMessage(Direction.IN, "sneaky"))
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.threads.get(T1, thread.id)
        assert [(m.direction, m.body) for m in loaded.messages] == [
            (Direction.OUT, "Hi"),
            (Direction.IN, "Hello back"),
        ]
        assert uow.threads.get(T2, thread.id) is None
        assert [t.id for t in uow.threads.for_partner(T1, "m1")] == [thread.id]


def test_the_audit_log_lists_newest_first_per_workspace(uow_factory):
    with uow_factory() as uow:
        uow.audit.record(AuditEvent(T1, "U1", "draft.sent", AT, draft_id=7, mpid="m1"))
        uow.audit.record(AuditEvent(T1, "U1", "draft.sent", AT.replace(year=2039), draft_id=7, mpid="m2"))
        uow.audit.record(AuditEvent(T2, "U2", "draft.sent", AT))
        uow.commit()
    with uow_factory() as uow:
        assert [e.mpid for e in uow.audit.recent(T1)] == ["m2", "m1"]
        assert [e.mpid for e in uow.audit.recent(T1, mpid="m1")] == ["m1"]
        assert len(uow.audit.recent(T1, draft_id=7)) == 2
        assert [e.actor_id for e in uow.audit.recent(T2)] == ["U2"]


def test_suppressing_an_address_says_whether_it_was_new_and_keeps_the_first_reason(uow_factory):
    with uow_factory() as uow:
        assert uow.suppressions.add(T1, " Ann@Example.com", "unsubscribed") is True
        assert uow.suppressions.add(T1, "ann@example.com", "bounced") is False
        assert uow.suppressions.add(T2, "ann@example.com", "bounced") is True
        uow.commit()
    with uow_factory() as uow:
        assert uow.suppressions.add(T1, "ANN@example.com", "bounced") is False
        assert uow.suppressions.among(T1, ["ann@example.com"]) == {"ann@example.com": "unsubscribed"}
