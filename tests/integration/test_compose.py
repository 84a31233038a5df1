"""Drafts, checks, attachments and send plans, on SQLite and PostgreSQL (fake scanner and sniffer)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import (
    SKIP_NO_EMAIL,
    SKIP_NO_MESSAGING,
    ComposeService,
    DraftFields,
    DraftNotEditable,
)
from outreach.errors import NotFound, ValidationFailed
from outreach.layouts import Layouts
from outreach.models import Ad, AdType, Channel, DeliveryStatus, DraftStatus, Partner, PartnerKind
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner, FakeSniffer, pdf, png

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
GOOD = DraftFields(
    "Ann Lee", "ann@brand.example", "Hello {firstName}", "Dear {firstName} of {mpname}, {adcode_42}"
)


@pytest.fixture
def scanner():
    return FakeScanner()


@pytest.fixture
def compose(uow_factory, scanner):
    with uow_factory() as uow:
        for team in (T1, T2):
            uow.partners.upsert_many(
                team,
                [
                    Partner(
                        team, "m1", "Acme", "Ann", "Ng", "ann@acme.example", PartnerKind.PARTNER, True, "US"
                    ),
                    Partner(
                        team, "m2", "Bolt", "", "Li", "li@bolt.example", PartnerKind.CREATOR, False, "CN"
                    ),
                    Partner(team, "m3", "Cog", "Cy", "", "", PartnerKind.PARTNER, True, "US"),
                ],
                mark_prospects={"m1", "m2", "m3"},
                marked_by="U1",
            )
        uow.ads.upsert_many(
            T1, [Ad(T1, "42", "Winter sale", AdType.TEXT_LINK, "https://shop.example/w", "Shop now")]
        )
        uow.commit()
    return ComposeService(
        uow=uow_factory,
        clock=FixedClock(AT),
        sniffer=FakeSniffer(),
        scanner=scanner,
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(max_files=3),
        tracking=TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77"),
        layouts=Layouts(),
    )


def test_an_email_draft_leaves_out_partners_without_an_address(compose):
    state = compose.start(T1, "U1", Channel.EMAIL, ["m1", "m2", "m3", "nope"], sender_name="Ann Lee")
    assert [p.mpid for p in state.recipients] == ["m1", "m2"]
    assert [(p.mpid, why) for p, why in state.skipped] == [("m3", SKIP_NO_EMAIL)]
    assert state.draft.sender_name == "Ann Lee" and state.draft.status is DraftStatus.DRAFT


def test_a_message_goes_only_to_partners_with_messaging_enabled(compose):
    state = compose.start(T1, "U1", Channel.MESSAGE, ["m1", "m2", "m3"])
    assert [p.mpid for p in state.recipients] == ["m1", "m3"]
    assert [(p.mpid, why) for p, why in state.skipped] == [("m2", SKIP_NO_MESSAGING)]


def test_every_problem_is_reported_at_once(compose):
    state = compose.start(T1, "U1", Channel.EMAIL, ["m1"])
    state = compose.save(
        T1,
        "U1",
        state.draft_id,
        DraftFields("A\r\nBcc: x@y", "not an address", "", "Hi {fristName} {adcode_9}"),
    )
    codes = {(p.field, p.code) for p in compose.check(state)}
    assert {
        ("sender_name", "control_characters"),
        ("subject", "required"),
        ("content", "unknown_token"),
        ("content", "unknown_adid"),
    } <= codes
    assert any(f == "reply_to" for f, _ in codes)
    with pytest.raises(ValidationFailed) as err:
        compose.submit(T1, "U1", state.draft_id)
    assert len(err.value.problems) >= 5
    assert compose.load(T1, "U1", state.draft_id).draft.content == "Hi {fristName} {adcode_9}"  # nothing lost


def test_missing_values_are_warnings_naming_the_recipients(compose):
    state = compose.save(T1, "U1", compose.start(T1, "U1", Channel.EMAIL, ["m1", "m2"]).draft_id, GOOD)
    warnings = compose.warnings(state)
    assert [(w.field, w.code) for w in warnings] == [
        ("content", "missing_value"),
        ("subject", "missing_value"),
    ]
    assert all("m2" in w.param("mpids") and "m1" not in w.param("mpids") for w in warnings)
    assert "firstName" in warnings[0].message
    assert compose.check(state) == []


def test_submitting_stores_one_delivery_per_recipient_and_twice_changes_nothing(compose, uow_factory):
    state = compose.start(T1, "U1", Channel.EMAIL, ["m1", "m2", "m3"])
    compose.save(T1, "U1", state.draft_id, GOOD)
    plan = compose.submit(T1, "U1", state.draft_id)
    assert (plan.recipients, plan.skipped, plan.already_submitted) == (2, 1, False)
    again = compose.submit(T1, "U1", state.draft_id)
    assert again.already_submitted and (again.recipients, again.skipped) == (2, 1)
    with uow_factory() as uow:
        deliveries = uow.deliveries.for_draft(T1, state.draft_id)
        assert uow.drafts.get(T1, state.draft_id).status is DraftStatus.SENDING
    assert sorted((d.mpid, d.status) for d in deliveries) == [
        ("m1", DeliveryStatus.PENDING),
        ("m2", DeliveryStatus.PENDING),
        ("m3", DeliveryStatus.SKIPPED),
    ]
    with pytest.raises(DraftNotEditable):
        compose.save(T1, "U1", state.draft_id, GOOD)


def test_a_draft_belongs_to_its_author_and_workspace(compose):
    state = compose.start(T1, "U1", Channel.EMAIL, ["m1"])
    for team, user in ((T1, "U2"), (T2, "U1")):
        with pytest.raises(NotFound):
            compose.load(team, user, state.draft_id)
        with pytest.raises(NotFound):
            compose.submit(team, user, state.draft_id)
        with pytest.raises(NotFound):
            compose.delete(team, user, state.draft_id)


def test_good_files_are_attached_and_bad_ones_named(compose, scanner):
    state = compose.start(T1, "U1", Channel.EMAIL, ["m1"])
    result = compose.attach(
        T1, "U1", state.draft_id, [("deck.pdf", pdf()), ("logo.png", png()), ("bad.pdf", pdf(b"BAD-CONTENT"))]
    )
    assert [f.accepted for f in result.files] == [True, True, False]
    assert result.files[2].problem.code == "infected" and "Fake.Bad" in result.files[2].problem.message
    kept = compose.load(T1, "U1", state.draft_id).draft.attachments
    assert [a.filename for a in kept] == ["deck.pdf", "logo.png"] and all(a.verdict.clean for a in kept)
    # The same content again is not scanned again; files already attached count towards the limit.
    before = scanner.scans
    result = compose.attach(T1, "U1", state.draft_id, [("copy.pdf", pdf()), ("x.png", png(3, 3))])
    assert [f.problem.code if f.problem else "ok" for f in result.files] == ["ok", "too_many_files"]
    assert scanner.scans == before


def test_unticking_a_kept_file_removes_it(compose):
    state = compose.start(T1, "U1", Channel.EMAIL, ["m1"])
    compose.attach(T1, "U1", state.draft_id, [("a.pdf", pdf()), ("b.png", png())])
    ids = [a.id for a in compose.load(T1, "U1", state.draft_id).draft.attachments]
    state = compose.save(T1, "U1", state.draft_id, dataclasses.replace(GOOD, keep_attachment_ids=(ids[1],)))
    assert [a.filename for a in state.draft.attachments] == ["b.png"]


def test_a_preview_renders_every_token_for_the_chosen_recipient(compose):
    state = compose.save(T1, "U1", compose.start(T1, "U1", Channel.EMAIL, ["m1", "m2"]).draft_id, GOOD)
    email = compose.preview(T1, "U1", state.draft_id, "m1")
    assert email.subject == "Hello Ann" and email.to == "ann@acme.example"
    assert "Dear Ann of Acme, Winter sale: https://t.example/c/m1/42/77" in email.text
    assert 'href="https://t.example/c/m1/42/77"' in email.html


def test_drafts_lists_unsent_drafts_newest_first_and_delete_removes_one(compose):
    a = compose.start(T1, "U1", Channel.EMAIL, ["m1"]).draft_id
    b = compose.start(T1, "U1", Channel.MESSAGE, ["m1"]).draft_id
    compose.save(T1, "U1", a, GOOD)  # touched last
    assert [d.id for d in compose.drafts(T1, "U1")] == [a, b]
    compose.delete(T1, "U1", a)
    assert [d.id for d in compose.drafts(T1, "U1")] == [b]


def test_a_large_draft_is_counted_in_full_and_named_for_its_first_ten(compose, uow_factory):
    # 2,500 more partners (past the stream's chunks): every fifth without an address, every third without a
    # first name; one of them unsubscribed.
    crowd = [
        Partner(
            T1,
            f"c{i:04}",
            f"Crowd {i}",
            "" if i % 3 == 0 else "Ann",
            "Lee",
            "" if i % 5 == 0 else f"c{i}@x.example",
        )
        for i in range(2500)
    ]
    with uow_factory() as uow:
        uow.partners.upsert_many(T1, crowd)
        uow.suppressions.add(T1, "C7@X.example", "unsubscribed")
        uow.commit()
    mpids = [p.mpid for p in reversed(crowd)]
    state = compose.start(T1, "U1", Channel.EMAIL, mpids)
    state = compose.save(T1, "U1", state.draft_id, GOOD)
    no_address = sum(1 for i in range(2500) if i % 5 == 0)
    assert (state.recipient_count, state.skipped_count) == (2500 - no_address - 1, no_address + 1)
    assert state.draft.recipient_count == 2500
    assert [r.mpid for r in state.recipients] == [m for m in mpids if int(m[1:]) % 5][:10]
    assert len(state.skipped) == 10 and state.skipped[0] == (state.skipped[0][0], SKIP_NO_EMAIL)
    empty_first = sum(1 for i in range(2500) if i % 3 == 0 and i % 5 and i != 7)
    content, subject = compose.warnings(state)
    assert (content.field, content.param("count"), content.param("total")) == (
        "content",
        str(empty_first),
        str(state.recipient_count),
    )
    assert subject.field == "subject" and subject.param("key") == content.param("key")
    plan = compose.submit(T1, "U1", state.draft_id)
    assert (plan.recipients, plan.skipped) == (state.recipient_count, state.skipped_count)
    with uow_factory() as uow:
        deliveries = uow.deliveries.for_draft(T1, state.draft_id)
    assert [d.mpid for d in deliveries if d.status is DeliveryStatus.PENDING][:3] == [
        r.mpid for r in state.recipients[:3]
    ]
    assert {d.last_error for d in deliveries if d.mpid == "c0007"} == {"compose.skip.suppressed"}


def test_a_draft_nobody_can_receive_is_not_sent_and_stays_a_draft(compose, uow_factory):
    state = compose.start(T1, "U1", Channel.MESSAGE, ["m2"])
    compose.save(T1, "U1", state.draft_id, GOOD)
    with pytest.raises(ValidationFailed) as err:
        compose.submit(T1, "U1", state.draft_id)
    assert [p.code for p in err.value.problems] == ["no_recipients"]
    with uow_factory() as uow:
        assert uow.drafts.get(T1, state.draft_id).status is DraftStatus.DRAFT
        assert uow.deliveries.for_draft(T1, state.draft_id) == []


def test_a_preview_is_only_for_the_drafts_own_recipients(compose):
    state = compose.save(T1, "U1", compose.start(T1, "U1", Channel.EMAIL, ["m2", "m1"]).draft_id, GOOD)
    assert compose.preview(T1, "U1", state.draft_id, "m1").to == "ann@acme.example"
    # Not on the draft (or another workspace's): the first recipient instead, never someone else's data.
    assert compose.preview(T1, "U1", state.draft_id, "m3").to == "li@bolt.example"
    assert compose.preview(T1, "U1", state.draft_id).to == "li@bolt.example"


def test_a_previews_choices_are_the_drafts_first_hundred_in_its_order(compose, uow_factory):
    with uow_factory() as uow:
        uow.partners.upsert_many(T1, [Partner(T1, f"c{i:03}", f"Crowd {i}") for i in range(150)])
        uow.commit()
    mpids = ["m3", *(f"c{i:03}" for i in range(149, -1, -1))]
    draft_id = compose.start(T1, "U1", Channel.EMAIL, mpids).draft_id
    choices = compose.first_recipients(T1, "U1", draft_id, 100)
    assert [r.mpid for r in choices] == mpids[:100]  # m3 (no address: skipped) is a choice too
    with pytest.raises(NotFound):
        compose.first_recipients(T1, "U2", draft_id, 100)


def test_a_save_that_lands_while_a_submit_waits_is_checked_before_anything_is_planned(compose, uow_factory):
    import threading

    state = compose.start(T1, "U1", Channel.EMAIL, ["m1", "m2"])
    compose.save(T1, "U1", state.draft_id, GOOD)
    outcome: list[object] = []
    with uow_factory() as uow:  # an edit in progress: the draft is locked (PostgreSQL) / the writer (SQLite)
        draft = uow.drafts.get(T1, state.draft_id, for_update=True)

        def send() -> None:
            try:
                outcome.append(compose.submit(T1, "U1", state.draft_id))
            except ValidationFailed as err:
                outcome.append(err)

        sender = threading.Thread(target=send)
        sender.start()
        sender.join(timeout=1)
        assert sender.is_alive()  # the submit waits for the edit
        uow.drafts.save(dataclasses.replace(draft, content="Dear {fristName}"))
        uow.commit()
    sender.join(timeout=30)
    (result,) = outcome
    assert isinstance(result, ValidationFailed) and [p.code for p in result.problems] == ["unknown_token"]
    with uow_factory() as uow:
        assert uow.drafts.get(T1, state.draft_id).status is DraftStatus.DRAFT
        assert uow.deliveries.for_draft(T1, state.draft_id) == []
