"""ComposeService on the in-memory unit of work: drafts, checks, warnings, the send plan, retry, preview and the
test e-mail, each in milliseconds (tests/integration/test_compose.py runs the same use cases on SQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import (
    SKIP_NO_EMAIL,
    SKIP_SUPPRESSED,
    ComposeService,
    ComposeState,
    DraftFields,
)
from outreach.errors import DeliveryFailed, DraftNotEditable, NotFound, ValidationFailed
from outreach.layouts import Layouts
from outreach.models import (
    Ad,
    AdType,
    Attachment,
    Channel,
    Delivery,
    DeliveryStatus,
    DraftStatus,
    OutgoingEmail,
    OutgoingMessage,
    Partner,
)
from outreach.rendering import TrackingConfig
from tests.attachment_samples import pdf, png
from tests.fakes import FakeMailer, FakeScanner, FakeSniffer, FakeStore

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
GOOD = DraftFields(
    "Ann Lee", "ann@brand.example", "Hello {firstName}", "Dear {firstName} of {mpname}, {adcode_42}"
)
PENDING, SKIPPED = DeliveryStatus.PENDING, DeliveryStatus.SKIPPED


@pytest.fixture(scope="module")
def layouts() -> Layouts:
    return Layouts()


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore(FixedClock(AT))
    with store() as uow:
        uow.partners.upsert_many(
            T1,
            [
                Partner(T1, "m1", "Acme", "Ann", "Ng", "ann@acme.example", messaging_enabled=True),
                Partner(T1, "m2", "Bolt", "", "Li", "li@bolt.example"),
                Partner(T1, "m3", "Cog", "Cy", "", "", messaging_enabled=True),
                Partner(T1, "m4", "Dyn", "Di", "Do", "Di@Dyn.example"),
            ],
        )
        uow.partners.upsert_many(T2, [Partner(T2, "m9", "Elsewhere", "Eve", "", "eve@else.example")])
        uow.ads.upsert_many(
            T1, [Ad(T1, "42", "Winter sale", AdType.TEXT_LINK, "https://shop.example/w", "Shop")]
        )
        uow.commit()
    return store


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def make(store, mailer, layouts) -> Callable[..., ComposeService]:
    def make(**options) -> ComposeService:
        return ComposeService(
            uow=store,
            clock=store.clock,
            sniffer=FakeSniffer(),
            scanner=FakeScanner(),
            scan_cache=InMemoryScanCache(),
            policy=AttachmentPolicy(max_files=3),
            tracking=TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77"),
            layouts=layouts,
            **{"mailer": mailer, **options},
        )

    return make


@pytest.fixture
def compose(make) -> ComposeService:
    return make()


def ready(compose: ComposeService, mpids: list[str], channel: Channel = Channel.EMAIL) -> ComposeState:
    """A draft with good fields to these partners."""
    return compose.save(T1, "U1", compose.start(T1, "U1", channel, mpids).draft_id, GOOD)


def suppress(store: FakeStore, *emails: str, reason: str = "unsubscribed") -> None:
    with store() as uow:
        for email in emails:
            uow.suppressions.add(T1, email, reason)
        uow.commit()


def deliveries(store: FakeStore, draft_id: int) -> list[tuple[str, DeliveryStatus, str]]:
    with store() as uow:
        return [(d.mpid, d.status, d.last_error) for d in uow.deliveries.for_draft(T1, draft_id)]


def status(store: FakeStore, draft_id: int) -> DraftStatus:
    with store() as uow:
        return uow.drafts.get(T1, draft_id).status


def actions(store: FakeStore, draft_id: int) -> list[str]:
    with store() as uow:
        return [e.action for e in reversed(uow.audit.recent(T1, draft_id=draft_id))]


# -- start ------------------------------------------------------------------------------------------------
def test_a_new_draft_goes_to_the_known_partners_once_each_in_the_order_given(compose, store):
    state = compose.start(T1, "U1", Channel.EMAIL, ["m2", "m1", "nobody", "m2", "m9"], sender_name="Ann Lee")
    assert [r.mpid for r in state.recipients] == ["m2", "m1"]
    assert (state.draft.recipient_count, state.draft.sender_name, state.draft.status) == (
        2,
        "Ann Lee",
        DraftStatus.DRAFT,
    )
    assert actions(store, state.draft_id) == ["draft.created"]


def test_a_new_email_draft_names_who_it_will_skip_and_why(compose, store):
    suppress(store, "di@dyn.example")
    state = compose.start(T1, "U1", Channel.EMAIL, ["m1", "m3", "m4"])
    assert [r.mpid for r in state.recipients] == ["m1"]
    assert [(r.mpid, why) for r, why in state.skipped] == [("m3", SKIP_NO_EMAIL), ("m4", SKIP_SUPPRESSED)]
    assert (state.recipient_count, state.skipped_count) == (1, 2)


# -- save -------------------------------------------------------------------------------------------------
def test_saving_keeps_every_field_and_every_file_unless_told_which_files_to_keep(compose):
    draft_id = compose.start(T1, "U1", Channel.EMAIL, ["m1"]).draft_id
    compose.attach(T1, "U1", draft_id, [("a.pdf", pdf()), ("b.png", png())])
    state = compose.save(T1, "U1", draft_id, GOOD)
    assert (state.draft.subject, state.draft.content) == (GOOD.subject, GOOD.content)
    assert [a.filename for a in state.draft.attachments] == ["a.pdf", "b.png"]
    kept = state.draft.attachments[1].id
    state = compose.save(T1, "U1", draft_id, dataclasses.replace(GOOD, keep_attachment_ids=(kept,)))
    assert [a.filename for a in compose.load(T1, "U1", draft_id).draft.attachments] == ["b.png"]


def test_a_draft_being_sent_can_no_longer_be_saved(compose):
    state = ready(compose, ["m1"])
    compose.submit(T1, "U1", state.draft_id)
    with pytest.raises(DraftNotEditable):
        compose.save(T1, "U1", state.draft_id, dataclasses.replace(GOOD, subject="Changed"))
    assert compose.draft(T1, "U1", state.draft_id).subject == GOOD.subject


def test_a_draft_is_not_found_by_another_author_or_workspace(compose):
    state = ready(compose, ["m1"])
    for team, user in ((T1, "U2"), (T2, "U1")):
        for call in (compose.load, compose.submit, compose.retry_failed, compose.preview, compose.delete):
            with pytest.raises(NotFound):
                call(team, user, state.draft_id)
        with pytest.raises(NotFound):
            compose.save(team, user, state.draft_id, GOOD)


# -- check and warnings -----------------------------------------------------------------------------------
def test_check_reports_every_problem_at_once_and_nothing_typed_is_lost(compose):
    draft_id = compose.start(T1, "U1", Channel.EMAIL, ["nobody"]).draft_id
    fields = DraftFields("A\r\nBcc: x@y", "not an address", "", "Hi {fristName} {adcode_9}")
    state = compose.save(T1, "U1", draft_id, fields)
    problems = {(p.field, p.code) for p in compose.check(state)}
    assert {
        ("sender_name", "control_characters"),
        ("subject", "required"),
        ("content", "unknown_token"),
        ("content", "unknown_adid"),
        ("recipients", "no_recipients"),
    } <= problems
    assert any(field == "reply_to" for field, _ in problems)
    assert compose.load(T1, "U1", draft_id).draft.content == fields.content


def test_a_complete_draft_has_no_problems(compose):
    assert compose.check(ready(compose, ["m1"])) == []


def test_a_token_empty_for_some_recipients_is_a_warning_naming_them(compose):
    state = ready(compose, ["m1", "m2"])  # m2 has no first name
    warnings = compose.warnings(state)
    assert [(w.field, w.code) for w in warnings] == [
        ("content", "missing_value"),
        ("subject", "missing_value"),
    ]
    assert all(w.param("mpids") == "m2" for w in warnings)


def test_a_prospect_a_teammate_contacted_lately_is_a_warning_but_ones_own_contact_is_not(compose, store):
    with store() as uow:
        uow.prospects.mark_contacted(T1, ["m1"], AT - timedelta(days=2), "U2")
        uow.prospects.mark_contacted(T1, ["m4"], AT - timedelta(days=1), "U1")
        uow.prospects.mark_contacted(T1, ["m2"], AT - timedelta(days=8), "U2")  # longer ago than a week
        uow.commit()
    (warning,) = [w for w in compose.warnings(ready(compose, ["m1", "m2", "m4"])) if w.field == "recipients"]
    assert (warning.code, warning.param("count"), warning.param("mpids")) == ("recently_contacted", "1", "m1")
    assert "<@U2>" in warning.message


# -- submit -----------------------------------------------------------------------------------------------
def test_submitting_plans_one_pending_delivery_per_recipient_in_order_and_moves_the_draft_to_sending(
    compose, store
):
    state = ready(compose, ["m4", "m1", "m2"])
    plan = compose.submit(T1, "U1", state.draft_id)
    assert (plan.draft_id, plan.recipients, plan.skipped, plan.already_submitted) == (
        state.draft_id,
        3,
        0,
        False,
    )
    assert deliveries(store, state.draft_id) == [
        ("m4", PENDING, ""),
        ("m1", PENDING, ""),
        ("m2", PENDING, ""),
    ]
    assert status(store, state.draft_id) is DraftStatus.SENDING
    assert actions(store, state.draft_id)[-1] == "draft.submitted"


def test_suppressed_and_unsubscribed_addresses_are_skipped_with_their_reason(compose, store):
    state = ready(compose, ["m1", "m2", "m3", "m4"])
    suppress(store, "ANN@acme.example")  # unsubscribed after the draft was started
    suppress(store, "di@dyn.example", reason="bounced")
    plan = compose.submit(T1, "U1", state.draft_id)
    assert (plan.recipients, plan.skipped) == (1, 3)
    assert deliveries(store, state.draft_id) == [
        ("m1", SKIPPED, SKIP_SUPPRESSED),
        ("m2", PENDING, ""),
        ("m3", SKIPPED, SKIP_NO_EMAIL),
        ("m4", SKIPPED, SKIP_SUPPRESSED),
    ]


def test_a_second_submit_changes_nothing_and_says_the_draft_was_submitted_already(compose, store):
    state = ready(compose, ["m1", "m3"])
    compose.submit(T1, "U1", state.draft_id)
    before = deliveries(store, state.draft_id)
    again = compose.submit(T1, "U1", state.draft_id)
    assert (again.recipients, again.skipped, again.already_submitted) == (1, 1, True)
    assert deliveries(store, state.draft_id) == before
    assert actions(store, state.draft_id).count("draft.submitted") == 1


def test_a_draft_with_problems_is_not_submitted_and_stays_a_draft_with_no_plan(compose, store):
    state = compose.save(
        T1, "U1", ready(compose, ["m1"]).draft_id, dataclasses.replace(GOOD, content="Hi {nope}")
    )
    with pytest.raises(ValidationFailed) as err:
        compose.submit(T1, "U1", state.draft_id)
    assert [p.code for p in err.value.problems] == ["unknown_token"]
    assert status(store, state.draft_id) is DraftStatus.DRAFT
    assert deliveries(store, state.draft_id) == []


def test_a_draft_nobody_can_receive_stays_a_draft_with_no_plan(compose, store):
    state = ready(compose, ["m1", "m3"])
    suppress(store, "ann@acme.example")
    with pytest.raises(ValidationFailed) as err:
        compose.submit(T1, "U1", state.draft_id)
    assert [p.code for p in err.value.problems] == ["no_recipients"]
    assert (status(store, state.draft_id), deliveries(store, state.draft_id)) == (DraftStatus.DRAFT, [])


def test_a_file_not_scanned_clean_blocks_the_submit(compose, store):
    state = ready(compose, ["m1"])
    with store() as uow:  # stored before scanning was required, say: no verdict
        unscanned = uow.attachments.add(T1, Attachment("old.pdf", "application/pdf", "sha", pdf()))
        uow.drafts.save(dataclasses.replace(state.draft, attachments=(unscanned,)))
        uow.commit()
    with pytest.raises(ValidationFailed) as err:
        compose.submit(T1, "U1", state.draft_id)
    assert [(p.field, p.code) for p in err.value.problems] == [("attachments", "not_scanned")]
    assert status(store, state.draft_id) is DraftStatus.DRAFT


# -- retry failed -----------------------------------------------------------------------------------------
def test_retry_failed_queues_the_failed_deliveries_again_and_the_draft_is_sending_again(compose, store):
    draft_id = ready(compose, ["m1", "m2"]).draft_id
    compose.submit(T1, "U1", draft_id)
    with store() as uow:  # how a worker leaves it: m1 failed for good, m2 sent
        uow.deliveries.save_many(
            T1,
            [
                Delivery(draft_id, "m1", DeliveryStatus.FAILED, 5, "550 no such user"),
                Delivery(draft_id, "m2", DeliveryStatus.SENT, 1, "", "<1@x>", AT),
            ],
        )
        uow.drafts.set_status(T1, draft_id, DraftStatus.PARTIAL)
        uow.commit()
    assert compose.retry_failed(T1, "U1", draft_id) == 1
    with store() as uow:
        assert uow.deliveries.get(T1, draft_id, "m1").status is PENDING
        assert uow.deliveries.get(T1, draft_id, "m1").attempts == 0
        assert uow.deliveries.get(T1, draft_id, "m2").status is DeliveryStatus.SENT
    assert status(store, draft_id) is DraftStatus.SENDING
    assert actions(store, draft_id)[-1] == "draft.retry_failed"


def test_retry_failed_with_nothing_failed_changes_nothing(compose, store):
    draft_id = ready(compose, ["m1"]).draft_id
    compose.submit(T1, "U1", draft_id)
    with store() as uow:
        uow.drafts.set_status(T1, draft_id, DraftStatus.SENT)
        uow.commit()
    assert compose.retry_failed(T1, "U1", draft_id) == 0
    assert status(store, draft_id) is DraftStatus.SENT
    assert "draft.retry_failed" not in actions(store, draft_id)


# -- preview and test e-mail ------------------------------------------------------------------------------
def test_a_preview_is_rendered_for_the_first_recipient_who_will_get_it(compose, store):
    state = ready(compose, ["m3", "m1", "m2"])  # m3 has no address
    suppress(store, "ann@acme.example")
    email = compose.preview(T1, "U1", state.draft_id)
    assert isinstance(email, OutgoingEmail)
    assert (email.to, email.subject) == ("li@bolt.example", "Hello")
    assert "Dear  of Bolt, Winter sale: https://t.example/c/m2/42/77" in email.text


def test_a_preview_for_a_chosen_recipient_is_theirs_and_for_anyone_else_the_first_recipients(compose):
    state = ready(compose, ["m2", "m1"])
    assert compose.preview(T1, "U1", state.draft_id, "m1").subject == "Hello Ann"
    assert compose.preview(T1, "U1", state.draft_id, "m9").to == "li@bolt.example"  # not on the draft


def test_a_message_draft_previews_as_an_in_platform_message(compose):
    state = ready(compose, ["m1"], Channel.MESSAGE)
    message = compose.preview(T1, "U1", state.draft_id)
    assert isinstance(message, OutgoingMessage)
    assert (message.mpid, message.author_id) == ("m1", "U1") and message.text.startswith("Dear Ann of Acme")


def test_a_preview_of_a_draft_nobody_can_receive_has_nobody_to_show(compose):
    state = ready(compose, ["m3"])
    with pytest.raises(NotFound):
        compose.preview(T1, "U1", state.draft_id)


def test_a_test_email_goes_to_the_authors_own_address_only_marked_as_a_test(compose, mailer, store):
    state = ready(compose, ["m1", "m2"])
    message_id = compose.send_test(T1, "U1", state.draft_id, "ann@brand.example")
    (sent,) = mailer.sent
    assert (sent.to, sent.subject) == ("ann@brand.example", "[TEST] Hello Ann")
    assert "Dear Ann of Acme" in sent.text and message_id.endswith("@fake.example>")
    assert actions(store, state.draft_id)[-1] == "email.test_sent"


def test_a_test_email_goes_through_the_authors_own_account_when_they_connected_one(make, mailer):
    own = FakeMailer()
    compose = make(personal_mailer=lambda team, user: own if (team, user) == (T1, "U1") else None)
    compose.send_test(T1, "U1", ready(compose, ["m1"]).draft_id, "ann@brand.example")
    assert (own.addressed, mailer.addressed) == (["ann@brand.example"], [])


def test_a_test_email_needs_email_configured_an_own_address_and_an_email_draft(make, mailer):
    compose = make(mailer=None)
    with pytest.raises(DeliveryFailed) as failed:
        compose.send_test(T1, "U1", ready(compose, ["m1"]).draft_id, "ann@brand.example")
    assert failed.value.permanent
    compose = make()
    with pytest.raises(ValidationFailed) as err:
        compose.send_test(T1, "U1", ready(compose, ["m1"]).draft_id, "not an address")
    assert [p.code for p in err.value.problems] == ["no_own_address"]
    with pytest.raises(ValidationFailed) as err:
        compose.send_test(T1, "U1", ready(compose, ["m1"], Channel.MESSAGE).draft_id, "ann@brand.example")
    assert [p.code for p in err.value.problems] == ["not_email"]
    assert mailer.sent == []
