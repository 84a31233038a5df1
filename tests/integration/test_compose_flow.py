"""The compose form's rules (outreach.compose_flow), on SQLite and PostgreSQL (fake scanner and sniffer)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields, SendPlan
from outreach.compose_flow import (
    AlreadySending,
    ComposeFlow,
    Editable,
    FilesRefused,
    FilesToFetch,
    Gone,
    Invalid,
    NoAddress,
    NotAllowed,
    NotSentToSelf,
    Planned,
    Requeued,
    Submission,
    Unconfirmed,
)
from outreach.layouts import Layouts
from outreach.models import Channel, DraftStatus, Partner, PartnerKind
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner, FakeSniffer, pdf, png

T1 = "T1"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
PLAIN = DraftFields("Ann Lee", "ann@brand.example", "Hello", "Dear partner")
TOKENS = DraftFields("Ann Lee", "ann@brand.example", "Hello {firstName}", "Dear {firstName}")  # m2 has none


def allowed() -> bool:
    return True


def refused() -> bool:
    return False


class Woken:
    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> None:
        self.times += 1


@pytest.fixture
def woken():
    return Woken()


@pytest.fixture
def compose(uow_factory):
    with uow_factory() as uow:
        uow.partners.upsert_many(
            T1,
            [
                Partner(T1, "m1", "Acme", "Ann", "Ng", "ann@acme.example", PartnerKind.PARTNER, True, "US"),
                Partner(T1, "m2", "Bolt", "", "Li", "li@bolt.example", PartnerKind.CREATOR, False, "CN"),
            ],
            mark_prospects={"m1", "m2"},
            marked_by="U1",
        )
        uow.commit()
    return ComposeService(
        uow=uow_factory,
        clock=FixedClock(AT),
        sniffer=FakeSniffer(),
        scanner=FakeScanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(max_files=3),
        tracking=TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77"),
        layouts=Layouts(),
    )


@pytest.fixture
def flow(compose, woken):
    return ComposeFlow(compose, work_waiting=woken)


def new_draft(flow: ComposeFlow, mpids=("m1", "m2")) -> int:
    started = flow.start(T1, "U1", Channel.EMAIL, lambda: list(mpids), allowed)
    assert isinstance(started, Editable)
    return started.state.draft_id


def status_of(compose: ComposeService, draft_id: int) -> DraftStatus:
    return compose.draft(T1, "U1", draft_id).status


def test_a_sender_without_warnings_plans_the_send_at_once_and_wakes_the_worker(flow, compose, woken):
    draft_id = new_draft(flow)
    sent = flow.submit(Submission(T1, "U1", draft_id, PLAIN), allowed)
    assert isinstance(sent, Planned) and sent.plan.recipients == 2 and sent.files == ()
    assert status_of(compose, draft_id) is DraftStatus.SENDING and woken.times == 1
    assert flow.submit(Submission(T1, "U1", draft_id, PLAIN), allowed) == AlreadySending()  # Slack, again


def test_someone_who_may_not_send_keeps_what_they_typed_and_nothing_is_planned(flow, compose, woken):
    draft_id = new_draft(flow)
    asked: list[str] = []

    def may_send() -> bool:
        asked.append(compose.draft(T1, "U1", draft_id).content)  # what was saved when the question came
        return False

    assert flow.submit(Submission(T1, "U1", draft_id, PLAIN), may_send) == NotAllowed(Channel.EMAIL)
    assert (
        asked == ["Dear partner"] and status_of(compose, draft_id) is DraftStatus.DRAFT and woken.times == 0
    )
    assert flow.start(T1, "U1", Channel.EMAIL, lambda: pytest.fail("recipients read"), refused) == NotAllowed(
        Channel.EMAIL
    )


def test_every_problem_comes_back_at_once_and_nothing_is_planned(flow, compose):
    draft_id = new_draft(flow)
    got = flow.submit(Submission(T1, "U1", draft_id, DraftFields("A", "nope", "", "{fristName}")), allowed)
    assert isinstance(got, Invalid)
    assert {(p.field, p.code) for p in got.problems} >= {
        ("subject", "required"),
        ("content", "unknown_token"),
    }
    assert status_of(compose, draft_id) is DraftStatus.DRAFT


def test_warnings_are_sent_only_once_the_user_confirmed_those_very_warnings(flow, compose, woken):
    draft_id = new_draft(flow)
    first = flow.submit(Submission(T1, "U1", draft_id, TOKENS), allowed)
    assert isinstance(first, Unconfirmed) and {w.code for w in first.warnings} == {"missing_value"}
    wrong = flow.submit(Submission(T1, "U1", draft_id, TOKENS, confirmed="0" * 16), allowed)
    assert isinstance(wrong, Unconfirmed) and (wrong.warnings, wrong.digest) == (first.warnings, first.digest)
    assert status_of(compose, draft_id) is DraftStatus.DRAFT and woken.times == 0
    confirmed = flow.submit(Submission(T1, "U1", draft_id, TOKENS, confirmed=first.digest), allowed)
    assert isinstance(confirmed, Planned) and confirmed.plan.recipients == 2 and woken.times == 1


def test_other_warnings_than_those_confirmed_are_shown_again(flow):
    draft_id = new_draft(flow)
    first = flow.submit(Submission(T1, "U1", draft_id, TOKENS), allowed)
    assert isinstance(first, Unconfirmed)
    changed = DraftFields(
        "Ann Lee", "ann@brand.example", "Hello", "Dear {firstName}"
    )  # no subject warning now
    again = flow.submit(Submission(T1, "U1", draft_id, changed, confirmed=first.digest), allowed)
    assert isinstance(again, Unconfirmed) and again.digest != first.digest


def test_uploads_are_fetched_after_the_checks_and_a_refused_file_stops_the_send(flow, compose, woken):
    draft_id = new_draft(flow)
    form = Submission(T1, "U1", draft_id, PLAIN)
    checked = flow.submit(form, allowed, uploads=True)
    assert isinstance(checked, FilesToFetch) and status_of(compose, draft_id) is DraftStatus.DRAFT
    got = flow.attach_and_send(form, [("deck.pdf", pdf()), ("evil.pdf", pdf() + b"BAD-CONTENT")])
    assert isinstance(got, FilesRefused)
    assert [(v.filename, v.accepted) for v in got.verdicts] == [("deck.pdf", True), ("evil.pdf", False)]
    assert [a.filename for a in compose.draft(T1, "U1", draft_id).attachments] == ["deck.pdf"]  # kept
    assert status_of(compose, draft_id) is DraftStatus.DRAFT and woken.times == 0


def test_a_file_that_could_not_be_fetched_stops_the_send_too(flow, compose):
    draft_id = new_draft(flow)
    got = flow.attach_and_send(Submission(T1, "U1", draft_id, PLAIN), [("a.png", png())], all_fetched=False)
    assert isinstance(got, FilesRefused) and [v.accepted for v in got.verdicts] == [True]
    assert status_of(compose, draft_id) is DraftStatus.DRAFT


def test_good_files_are_attached_and_sent(flow):
    draft_id = new_draft(flow)
    form = Submission(T1, "U1", draft_id, PLAIN)
    assert isinstance(flow.submit(form, allowed, uploads=True), FilesToFetch)
    got = flow.attach_and_send(form, [("deck.pdf", pdf())])
    assert isinstance(got, Planned) and got.files == ("deck.pdf",)


def test_closing_keeps_a_draft_with_something_in_it_and_drops_an_untouched_one(flow, compose):
    kept, dropped = new_draft(flow), new_draft(flow)
    flow.close(T1, "U1", kept, DraftFields(content="half written"))
    flow.close(T1, "U1", dropped, DraftFields(sender_name="Ann Lee", reply_to="ann@brand.example"))
    assert [d.id for d in compose.drafts(T1, "U1")] == [kept]
    flow.close(T1, "U1", dropped, DraftFields())  # gone already: nothing happens


def test_opening_a_draft_says_why_it_cannot_be_edited(flow, compose):
    draft_id = new_draft(flow)
    assert isinstance(flow.open(T1, "U1", draft_id, allowed), Editable)
    assert flow.open(T1, "U1", draft_id, refused) == NotAllowed(Channel.EMAIL)
    assert flow.open(T1, "U2", draft_id, allowed) == Gone()  # another author's
    flow.submit(Submission(T1, "U1", draft_id, PLAIN), allowed)
    assert flow.open(T1, "U1", draft_id, allowed) == AlreadySending(Channel.EMAIL)


def test_a_test_needs_a_sender_and_their_own_address(flow, compose):
    draft_id = new_draft(flow)
    assert flow.send_test(T1, "U1", draft_id, PLAIN, may_send=refused, address="ann@brand.example") == (
        NotAllowed()
    )
    assert compose.draft(T1, "U1", draft_id).content == "Dear partner"  # saved all the same
    assert flow.send_test(T1, "U1", draft_id, PLAIN, may_send=allowed, address="") == NoAddress()
    failed = flow.send_test(T1, "U1", draft_id, PLAIN, may_send=allowed, address="ann@brand.example")
    assert (
        isinstance(failed, NotSentToSelf) and "not configured" in failed.reason
    )  # no mailer in this service
    assert flow.send_test(T1, "U2", draft_id, PLAIN, may_send=allowed, address="x@y.example") == Gone()


def test_a_saved_draft_is_sent_from_the_list_warnings_or_not_and_failures_are_retried(flow, woken):
    draft_id = new_draft(flow)
    flow.save(T1, "U1", draft_id, TOKENS)
    assert flow.send_draft(T1, "U1", draft_id, refused) == NotAllowed()
    sent = flow.send_draft(T1, "U1", draft_id, allowed)
    assert isinstance(sent, SendPlan) and sent.recipients == 2 and not sent.already_submitted
    assert flow.send_draft(T1, "U2", draft_id, allowed) == Gone()
    assert flow.retry_failed(T1, "U1", draft_id, refused) == NotAllowed()
    assert flow.retry_failed(T1, "U1", draft_id, allowed) == Requeued(0) and woken.times == 2
    assert flow.retry_failed(T1, "U2", draft_id, allowed) == Gone()


def test_a_preview_saves_first_and_offers_the_recipients(flow):
    draft_id = new_draft(flow)
    shown = flow.preview(T1, "U1", draft_id, fields=TOKENS)
    assert shown is not None and shown.chosen == "m1" and [r.mpid for r in shown.choices] == ["m1", "m2"]
    assert shown.rendered.subject == "Hello Ann"
    other = flow.preview(T1, "U1", draft_id, mpid="m2")
    assert other is not None and other.chosen == "m2" and other.rendered.subject.strip() == "Hello"
    assert flow.preview(T1, "U2", draft_id) is None
