"""Follow-ups on the in-memory unit of work: the rules of outreach/followups.py, and a send with steps driven by
the real DeliveryWorker and ComposeService through days of a FixedClock (never a sleep): each step goes N days
after the previous one went to that partner, is skipped for who replied, bounced, unsubscribed or was contacted
by a teammate, answers the previous e-mail, publishes each partner's outcome, and stops on Cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import DeliveryWorker
from outreach.errors import DeliveryFailed, NotFound
from outreach.followups import (
    SKIP_BOUNCED,
    SKIP_CANCELLED,
    SKIP_NOT_SENT_BEFORE,
    SKIP_REPLIED,
    SKIP_TEAMMATE,
    SKIP_UNSUBSCRIBED,
    FollowupService,
    followup_problems,
    reply_subject,
    skip_reason,
    thread_headers,
)
from outreach.layouts import Layouts
from outreach.models import (
    Channel,
    ConversationEvent,
    DeliveryStatus,
    Direction,
    DraftStatus,
    EventKind,
    FollowUp,
    FollowupFacts,
    Partner,
    ThreadMessage,
)
from outreach.rendering import TrackingConfig
from tests.fakes import FakeMailer, FakeScanner, FakeSniffer, FakeStore, FakeTransport

T1 = "T1"
AT = datetime(2038, 1, 19, 9, 0, tzinfo=UTC)
TRACKING = TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77")
PENDING, SENT, SKIPPED, FAILED = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.FAILED,
)
STEPS = (FollowUp(3, "Any news, {firstName}?"), FollowUp(4, "Last try, {firstName}.", "One more thing"))


def address(i: int) -> str:
    return f"p{i}@partner.example"


# -- the rules ----------------------------------------------------------------------------------------------------
def test_steps_are_checked_like_the_first_message_each_on_its_own_field():
    steps = (
        FollowUp(0, "ok"),
        FollowUp(3, "  "),
        FollowUp(91, "Hi {fristName}", "Re\nbroken"),
        FollowUp(2, "x"),
    )
    found = {(p.field, p.code) for p in followup_problems(steps, Channel.EMAIL, set())}
    assert found == {
        ("followup", "too_many"),
        ("followup.1.days", "days_out_of_range"),
        ("followup.2.content", "required"),
        ("followup.3.days", "days_out_of_range"),
        ("followup.3.content", "unknown_token"),
        ("followup.3.subject", "control_characters"),
    }
    assert followup_problems((FollowUp(90, "{adcode_42}"),), Channel.EMAIL, {"42"}) == []
    assert {p.code for p in followup_problems((FollowUp(1, "{adcode_7}"),), Channel.MESSAGE, set())} == {
        "unknown_adid"
    }
    # A message has no subject: whatever is in it is not checked.
    assert followup_problems((FollowUp(1, "hi", "Re\nx"),), Channel.MESSAGE, set()) == []


def test_a_step_is_skipped_for_a_reply_a_bounce_an_unsubscribe_or_a_teammates_contact_since_the_previous_one():
    sent = AT
    before, after = AT - timedelta(hours=1), AT + timedelta(hours=1)

    def why(channel=Channel.EMAIL, suppressed="", **facts):
        return skip_reason(
            FollowupFacts("m1", previous_sent_at=sent, **facts),
            author_id="U1",
            channel=channel,
            suppressed=suppressed,
        )

    assert why() == ""
    assert why(last_reply_at=before) == ""  # a reply to an earlier send: this one is unanswered
    assert why(last_reply_at=after) == SKIP_REPLIED
    assert why(suppressed="bounced") == SKIP_BOUNCED
    assert why(suppressed="unsubscribed") == SKIP_UNSUBSCRIBED
    assert (
        why(channel=Channel.MESSAGE, suppressed="bounced") == ""
    )  # the e-mail address bounced, not messages
    assert why(channel=Channel.MESSAGE, suppressed="unsubscribed") == SKIP_UNSUBSCRIBED
    assert why(last_contacted_at=after, last_contacted_by="U2") == SKIP_TEAMMATE
    assert why(last_contacted_at=after, last_contacted_by="U1") == ""  # the author's own contact
    assert why(last_contacted_at=before, last_contacted_by="U2") == ""
    assert why(last_reply_at=after, suppressed="bounced") == SKIP_REPLIED  # the reply says most
    no_previous = FollowupFacts("m1")
    assert skip_reason(no_previous, author_id="U1", channel=Channel.EMAIL) == SKIP_NOT_SENT_BEFORE


def test_an_email_step_answers_the_previous_one_and_keeps_its_subject_once():
    assert thread_headers(FollowupFacts("m1", previous_message_id="<1@x.example>")) == (
        ("In-Reply-To", "<1@x.example>"),
        ("References", "<1@x.example>"),
    )
    assert thread_headers(FollowupFacts("m1", previous_message_id="platform-id-7")) == ()
    assert thread_headers(FollowupFacts("m1", previous_message_id="<a\r\nBcc: x>")) == ()
    assert reply_subject("Hello {firstName}") == "Re: Hello {firstName}"
    assert reply_subject("RE: Hello") == "RE: Hello"


# -- a send with follow-ups, through the worker ------------------------------------------------------------------
class Events:
    def __init__(self) -> None:
        self.published: list[ConversationEvent] = []

    def publish(self, event: ConversationEvent) -> None:
        self.published.append(event)


class Env:
    def __init__(self) -> None:
        self.clock = FixedClock(AT)
        self.store = FakeStore(self.clock)
        self.mailer, self.transport = FakeMailer(), FakeTransport()
        self.events = Events()
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
            scanner=FakeScanner(),
            scan_cache=InMemoryScanCache(),
            policy=AttachmentPolicy(),
            tracking=TRACKING,
            layouts=Layouts(),
        )
        self.followups = FollowupService(self.store, self.clock)

    def submit(self, mpids: list[str], steps=STEPS, channel: Channel = Channel.EMAIL) -> int:
        draft_id = self.compose.start(T1, "U1", channel, mpids).draft_id
        fields = DraftFields(
            "Ann Lee", "ann@brand.example", "Hello {firstName}", "Dear {firstName}", None, steps
        )
        self.compose.save(T1, "U1", draft_id, fields)
        self.compose.submit(T1, "U1", draft_id)
        return draft_id

    def worker(self, name: str = "w1") -> DeliveryWorker:
        return DeliveryWorker(
            uow=self.store,
            clock=self.clock,
            mailer=self.mailer,
            transport=self.transport,
            sniffer=FakeSniffer(),
            scanner=FakeScanner(),
            scan_cache=InMemoryScanCache(),
            policy=AttachmentPolicy(),
            tracking=TRACKING,
            layouts=Layouts(),
            worker_id=name,
            events=self.events,
        )

    def later(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))

    def steps(self, draft_id: int):
        with self.store() as uow:
            return uow.drafts.steps(T1, draft_id)

    def rows(self, draft_id: int) -> dict[str, tuple[DeliveryStatus, str]]:
        with self.store() as uow:
            return {d.mpid: (d.status, d.last_error) for d in uow.deliveries.for_draft(T1, draft_id)}

    def reply(self, mpid: str, channel: Channel = Channel.MESSAGE) -> None:
        with self.store() as uow:
            thread = uow.threads.open(T1, mpid, channel)
            uow.threads.add_message(
                T1, thread.id, ThreadMessage(Direction.IN, "Thanks!", at=self.clock.now())
            )
            uow.commit()


@pytest.fixture
def env() -> Env:
    return Env()


def test_the_steps_are_stored_with_the_plan_and_wait_for_the_first_message(env):
    draft_id = env.submit(["m0", "m1"])
    step1, step2 = env.steps(draft_id)
    assert (step1.step, step1.delay_days, step1.status, step1.parent_id) == (
        1,
        3,
        DraftStatus.WAITING,
        draft_id,
    )
    assert (step1.subject, step1.content) == ("Re: Hello {firstName}", "Any news, {firstName}?")
    assert (step2.step, step2.delay_days, step2.subject) == (2, 4, "One more thing")
    assert (step1.sender_name, step1.reply_to, step1.attachments) == ("Ann Lee", "ann@brand.example", ())
    assert env.rows(step1.id) == {}


def test_each_step_goes_n_days_after_the_previous_one_went_to_that_partner(env):
    draft_id = env.submit(["m0", "m1"])
    env.mailer.refuse(address(1), DeliveryFailed("451 later", permanent=False))
    env.worker().run_until_idle()
    step1, step2 = env.steps(draft_id)
    with env.store() as uow:
        due = {r.delivery.mpid: r.next_attempt_at for r in uow._require().tables.deliveries.values()}
    assert env.rows(step1.id) == {"m0": (PENDING, "")}
    assert due["m0"] == AT + timedelta(days=3)

    env.mailer.accept(address(1))
    env.later(hours=2)  # m1's retry comes later: its follow-up counts from when it went
    env.worker().run_until_idle()
    with env.store() as uow:
        m1 = uow.deliveries.get(T1, step1.id, "m1")
        assert uow.drafts.get(T1, step1.id).status is DraftStatus.SENDING
    assert m1.status is PENDING

    env.later(days=3)  # AT + 3 days 2 hours: m0's step is due, m1's too (it went at AT + 2h)
    env.mailer.sent.clear()
    env.worker().run_until_idle()
    assert sorted(env.mailer.addressed) == [address(0), address(1)]
    assert env.rows(step1.id) == {"m0": (SENT, ""), "m1": (SENT, "")}
    assert env.rows(step2.id).keys() == {"m0", "m1"}  # planned as step 1 went
    assert env.steps(draft_id)[0].status is DraftStatus.SENT


def test_a_step_answers_the_previous_email_with_its_own_text_and_subject(env):
    draft_id = env.submit(["m0"])
    env.worker().run_until_idle()
    first = env.mailer.sent[0]
    env.later(days=3)
    env.worker().run_until_idle()
    env.later(days=4)
    env.worker().run_until_idle()
    _, one, two = env.mailer.sent
    assert (one.subject, one.text.split("\n\n-- ")[0]) == ("Re: Hello First0", "Any news, First0?")
    assert dict(one.headers)["In-Reply-To"] == "<1@fake.example>"
    assert dict(two.headers)["References"] == "<2@fake.example>"  # step 2 answers step 1
    assert two.subject == "One more thing"
    assert first.subject == "Hello First0" and "In-Reply-To" not in dict(first.headers)
    assert [(e.kind, e.mpid, e.text, e.draft_id) for e in env.events.published] == [
        (EventKind.FOLLOWUP_SENT, "m0", "Any news, First0?", env.steps(draft_id)[0].id),
        (EventKind.FOLLOWUP_SENT, "m0", "Last try, First0.", env.steps(draft_id)[1].id),
    ]


def test_who_replied_bounced_unsubscribed_or_was_contacted_by_a_teammate_is_skipped_and_told_why(env):
    draft_id = env.submit([f"m{i}" for i in range(5)])
    env.worker().run_until_idle()
    env.later(days=1)
    env.reply("m0")  # an in-platform message answering an e-mail still counts: they answered
    with env.store() as uow:
        uow.suppressions.add(T1, address(1), "bounced", "550 5.1.1 no such user")
        uow.suppressions.add(T1, address(2), "unsubscribed")
        uow.prospects.mark_contacted(T1, ["m3"], env.clock.now(), "U2")
        uow.commit()
    env.later(days=2)
    env.mailer.sent.clear()
    env.worker().run_until_idle()

    step1, step2 = env.steps(draft_id)
    assert env.mailer.addressed == [address(4)]
    assert env.rows(step1.id) == {
        "m0": (SKIPPED, SKIP_REPLIED),
        "m1": (SKIPPED, SKIP_BOUNCED),
        "m2": (SKIPPED, SKIP_UNSUBSCRIBED),
        "m3": (SKIPPED, SKIP_TEAMMATE),
        "m4": (SENT, ""),
    }
    assert env.rows(step2.id).keys() == {"m4"}  # a skipped partner's sequence ends there
    events = {e.mpid: (e.kind, e.detail, e.author_id, e.channel) for e in env.events.published}
    assert events["m0"] == (EventKind.FOLLOWUP_SKIPPED, SKIP_REPLIED, "U1", Channel.EMAIL)
    assert events["m3"][:2] == (EventKind.FOLLOWUP_SKIPPED, SKIP_TEAMMATE)
    assert events["m4"][0] is EventKind.FOLLOWUP_SENT


def test_in_platform_steps_are_skipped_on_a_reply_too(env):
    draft_id = env.submit(["m0", "m1"], channel=Channel.MESSAGE, steps=(FollowUp(2, "Ping {firstName}"),))
    env.worker().run_until_idle()
    env.later(hours=5)
    env.reply("m1")
    env.later(days=2)
    env.worker().run_until_idle()
    (step,) = env.steps(draft_id)
    assert env.rows(step.id) == {"m0": (SENT, ""), "m1": (SKIPPED, SKIP_REPLIED)}
    assert [m.text for m in env.transport.sent][-1] == "Ping First0"


def test_a_step_due_later_is_not_sent_early(env):
    draft_id = env.submit(["m0"])
    env.worker().run_until_idle()
    env.later(days=3, seconds=-1)
    assert env.worker().run_until_idle() == 0
    assert env.rows(env.steps(draft_id)[0].id) == {"m0": (PENDING, "")}


def test_nobody_got_the_first_message_so_the_steps_end_empty(env):
    draft_id = env.submit(["m0"])
    env.mailer.refuse(address(0), DeliveryFailed("550 5.1.1 unknown", permanent=True))
    env.worker().run_until_idle()
    assert [s.status for s in env.steps(draft_id)] == [DraftStatus.SENT, DraftStatus.SENT]
    assert all(env.rows(s.id) == {} for s in env.steps(draft_id))


def test_retrying_a_failed_first_message_starts_its_follow_ups_again(env):
    draft_id = env.submit(["m0"])
    env.mailer.refuse(address(0), DeliveryFailed("550 mailbox full", permanent=True))
    env.worker().run_until_idle()
    env.mailer.accept(address(0))
    env.later(hours=1)
    env.compose.retry_failed(T1, "U1", draft_id)
    env.worker().run_until_idle()
    step1 = env.steps(draft_id)[0]
    assert step1.status is DraftStatus.SENDING
    assert env.rows(step1.id) == {"m0": (PENDING, "")}


def test_cancel_stops_the_steps_to_come_and_what_is_not_on_its_way(env):
    draft_id = env.submit(["m0", "m1", "m2"])
    env.worker().run_until_idle()
    step1, step2 = env.steps(draft_id)
    env.later(days=3)
    with env.store() as uow:  # a worker has claimed m0's step and is about to send it
        (claimed, *_) = uow.queue.claim("w9", env.clock.now(), 1, draft_id=step1.id)
        uow.commit()

    with pytest.raises(NotFound):
        env.followups.cancel(T1, "U2", draft_id)  # only the author
    cancelled = env.followups.cancel(T1, "U1", step1.id)  # from the step's own message too
    assert (cancelled.root_id, cancelled.steps, cancelled.deliveries) == (draft_id, (step1.id, step2.id), 3)
    assert [s.status for s in env.steps(draft_id)] == [DraftStatus.CANCELLED, DraftStatus.CANCELLED]
    assert env.rows(step1.id) == {m: (SKIPPED, SKIP_CANCELLED) for m in ("m0", "m1", "m2")}
    with env.store() as uow:
        assert uow.queue.sending_many(T1, [claimed.delivery.id], "w9", env.clock.now()) == set()

    env.mailer.sent.clear()
    env.worker().run_until_idle()
    env.later(days=10)
    env.worker().run_until_idle()
    assert env.mailer.sent == []
    assert env.followups.cancel(T1, "U1", draft_id).steps == ()  # nothing left to cancel
    assert env.followups.remaining(T1, "U1", draft_id) == ()


def test_a_first_message_sent_after_cancel_plans_no_step(env):
    draft_id = env.submit(["m0"])
    env.followups.cancel(T1, "U1", draft_id)  # before anything went
    env.worker().run_until_idle()
    assert env.mailer.addressed == [address(0)]
    assert all(env.rows(s.id) == {} for s in env.steps(draft_id))
    assert env.followups.remaining(T1, "U1", draft_id) == ()
