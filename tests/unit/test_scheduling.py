"""Send later on the in-memory unit of work: the time rules of outreach/scheduling.py, a scheduled send kept,
started when its time comes (a FixedClock moved, never a sleep), in each partner's time zone when asked, put back
to a draft when a problem appeared meanwhile, cancelled, or sent at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.compose_flow import AlreadySending, ComposeFlow, Invalid, Scheduled, Submission
from outreach.errors import DraftNotEditable, ValidationFailed
from outreach.layouts import Layouts
from outreach.models import Channel, DraftStatus, FollowUp, Partner, ScanStatus, ScanVerdict
from outreach.outbox import NotStarted, Outbox, Started
from outreach.rendering import TrackingConfig
from outreach.scheduling import local_due, send_at_problems, start_at
from tests.attachment_samples import pdf
from tests.fakes import FakeSniffer, FakeStore, Ticker

T1 = "T1"
NOW = datetime(2038, 1, 18, 12, 0, tzinfo=UTC)
LONDON, TOKYO, NEW_YORK = "Europe/London", "Asia/Tokyo", "America/New_York"
TRACKING = TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77")


# -- the rules ----------------------------------------------------------------------------------------------------
def test_a_send_time_must_be_ahead_and_within_a_year():
    assert send_at_problems(None, NOW) == []
    assert [p.code for p in send_at_problems(None, NOW, local=True)] == ["required"]
    assert [p.code for p in send_at_problems(NOW - timedelta(minutes=5), NOW)] == ["in_the_past"]
    assert [p.code for p in send_at_problems(NOW + timedelta(seconds=30), NOW)] == ["in_the_past"]
    assert send_at_problems(NOW + timedelta(minutes=2), NOW) == []
    assert [p.field for p in send_at_problems(NOW + timedelta(days=400), NOW)] == ["send_at"]


def test_each_partner_gets_the_picked_time_of_day_in_their_own_zone():
    # The author in London picks 19 January 09:00 (their time).
    picked = datetime(2038, 1, 19, 9, 0, tzinfo=ZoneInfo(LONDON))
    start = start_at(picked, LONDON)
    assert start == datetime(2038, 1, 18, 19, 0, tzinfo=UTC)  # 09:00 first comes at UTC+14
    assert start_at(picked) == picked  # not per zone: the instant itself
    assert local_due(picked, LONDON, TOKYO, start) == datetime(2038, 1, 19, 9, 0, tzinfo=ZoneInfo(TOKYO))
    assert local_due(picked, LONDON, NEW_YORK, start) == datetime(
        2038, 1, 19, 9, 0, tzinfo=ZoneInfo(NEW_YORK)
    )
    assert local_due(picked, LONDON, "", start) == picked  # no zone of their own: the author's
    assert local_due(picked, LONDON, "Mars/Olympus", start) == picked
    # Started late (or picked less than a day ahead): where 09:00 has passed, the next day's 09:00.
    late = datetime(2038, 1, 19, 5, 0, tzinfo=UTC)
    assert local_due(picked, LONDON, TOKYO, late) == datetime(2038, 1, 20, 9, 0, tzinfo=ZoneInfo(TOKYO))
    assert local_due(picked, LONDON, NEW_YORK, late) == datetime(2038, 1, 19, 9, 0, tzinfo=ZoneInfo(NEW_YORK))


# -- a scheduled send on the fakes --------------------------------------------------------------------------------
class Rescanning:
    """A scanner whose signatures can change (a file clean when scheduled may be refused when it goes)."""

    def __init__(self) -> None:
        self.bad: set[bytes] = set()

    def scan(self, data: bytes) -> ScanVerdict:
        if any(marker in data for marker in self.bad):
            return ScanVerdict(ScanStatus.INFECTED, signature="New.Signature")
        return ScanVerdict(ScanStatus.CLEAN)


class Env:
    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.store = FakeStore(self.clock)
        self.scanner = Rescanning()
        self.ticker = Ticker()
        self.woken = 0
        with self.store() as uow:
            uow.partners.upsert_many(
                T1,
                [
                    Partner(T1, "m1", "Acme", "Ann", "", "ann@acme.example", timezone=TOKYO),
                    Partner(T1, "m2", "Bolt", "Bo", "", "bo@bolt.example", timezone=NEW_YORK),
                    Partner(T1, "m3", "Cog", "Cy", "", "cy@cog.example"),
                ],
            )
            uow.commit()
        self.compose = ComposeService(
            uow=self.store,
            clock=self.clock,
            sniffer=FakeSniffer(),
            scanner=self.scanner,
            scan_cache=InMemoryScanCache(clock=self.ticker),
            policy=AttachmentPolicy(),
            tracking=TRACKING,
            layouts=Layouts(),
        )
        self.flow = ComposeFlow(self.compose, work_waiting=self._wake)
        self.outbox = Outbox(self.compose, self.store, self.clock, work_waiting=self._wake)

    def _wake(self) -> None:
        self.woken += 1

    def draft(self, send_at: datetime | None, local_zone: str = "", files=(), steps=()) -> int:
        draft_id = self.compose.start(T1, "U1", Channel.EMAIL, ["m1", "m2", "m3"]).draft_id
        fields = DraftFields(
            "Ann", "ann@brand.example", "Hi {firstName}", "Hello", None, steps, send_at, local_zone
        )
        self.compose.save(T1, "U1", draft_id, fields)
        if files:
            assert self.compose.attach(T1, "U1", draft_id, files).ok
        return draft_id

    def submit(self, draft_id: int, send_at: datetime | None, local_zone: str = "", steps=()):
        fields = DraftFields(
            "Ann", "ann@brand.example", "Hi {firstName}", "Hello", None, steps, send_at, local_zone
        )
        return self.flow.submit(Submission(T1, "U1", draft_id, fields), lambda: True)

    def status(self, draft_id: int) -> DraftStatus:
        with self.store() as uow:
            return uow.drafts.get(T1, draft_id).status

    def due(self, draft_id: int) -> dict[str, datetime | None]:
        with self.store() as uow:
            rows = uow._require().tables.deliveries.values()
            return {r.delivery.mpid: r.next_attempt_at for r in rows if r.delivery.draft_id == draft_id}

    def later(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))


@pytest.fixture
def env() -> Env:
    return Env()


def test_a_time_in_the_past_is_refused_next_to_its_field_and_nothing_is_kept(env):
    draft_id = env.draft(None)
    outcome = env.submit(draft_id, NOW - timedelta(hours=1))
    assert isinstance(outcome, Invalid)
    assert [(p.field, p.code) for p in outcome.problems] == [("send_at", "in_the_past")]
    assert env.status(draft_id) is DraftStatus.DRAFT


def test_a_scheduled_send_waits_for_its_time_then_is_planned_once(env):
    when = NOW + timedelta(days=1)
    draft_id = env.draft(None)
    outcome = env.submit(draft_id, when, steps=(FollowUp(2, "Any news?"),))
    assert isinstance(outcome, Scheduled)
    assert (outcome.plan.send_at, outcome.plan.recipients) == (when, 3)
    assert env.status(draft_id) is DraftStatus.SCHEDULED
    with pytest.raises(DraftNotEditable):
        env.compose.save(T1, "U1", draft_id, DraftFields(content="changed"))

    assert env.outbox.run_due() == []
    env.later(days=1, seconds=-1)
    assert env.outbox.run_due() == []
    env.later(seconds=1)
    (started,) = env.outbox.run_due()
    assert isinstance(started, Started) and not started.plan.already_submitted
    assert started.plan.recipients == 3 and started.plan.followups == 1
    assert env.status(draft_id) is DraftStatus.SENDING
    assert env.woken == 1
    assert env.outbox.run_due() == []  # a second worker asking finds nothing due
    assert set(env.due(draft_id)) == {"m1", "m2", "m3"}


def test_in_each_partners_time_zone_every_delivery_is_due_at_their_local_time(env):
    picked = datetime(2038, 1, 20, 9, 0, tzinfo=ZoneInfo(LONDON))
    draft_id = env.draft(None)
    assert isinstance(env.submit(draft_id, picked, LONDON), Scheduled)
    env.clock.set(datetime(2038, 1, 19, 19, 0, tzinfo=UTC))  # 09:00 on the 20th in UTC+14
    (started,) = env.outbox.run_due()
    assert isinstance(started, Started)
    assert env.due(draft_id) == {
        "m1": datetime(2038, 1, 20, 9, 0, tzinfo=ZoneInfo(TOKYO)),
        "m2": datetime(2038, 1, 20, 9, 0, tzinfo=ZoneInfo(NEW_YORK)),
        "m3": picked,  # no zone of their own: the author's
    }


def test_send_now_ignores_the_time_and_the_zones(env):
    draft_id = env.draft(None)
    env.submit(draft_id, NOW + timedelta(days=3), LONDON)
    plan = env.outbox.send_now(T1, "U1", draft_id)
    assert plan.recipients == 3 and not plan.already_submitted
    assert env.due(draft_id) == {"m1": None, "m2": None, "m3": None}
    env.later(days=3)
    assert env.outbox.run_due() == []


def test_cancel_puts_it_back_to_a_draft_with_its_time_kept(env):
    when = NOW + timedelta(days=1)
    draft_id = env.draft(None)
    env.submit(draft_id, when)
    assert env.outbox.unschedule(T1, "U1", draft_id)
    assert not env.outbox.unschedule(T1, "U1", draft_id)
    assert env.status(draft_id) is DraftStatus.DRAFT
    with env.store() as uow:
        assert uow.drafts.get(T1, draft_id).send_at == when
    env.later(days=2)
    assert env.outbox.run_due() == []
    listing = env.outbox.listing(T1, "U1")
    assert [d.id for d in listing.drafts] == [draft_id] and listing.scheduled == ()


def test_a_file_refused_meanwhile_sends_nothing_and_puts_it_back_to_a_draft(env):
    draft_id = env.draft(None, files=[("deck.pdf", pdf(b"deck v1"))])
    env.submit(draft_id, NOW + timedelta(hours=1))
    env.scanner.bad.add(b"deck v1")  # new signatures; and the day-old verdict has expired
    env.ticker.advance(25 * 3600)
    env.later(hours=1)
    (stopped,) = env.outbox.run_due()
    assert isinstance(stopped, NotStarted)
    assert [p.code for p in stopped.problems] == ["infected"]
    assert env.status(draft_id) is DraftStatus.DRAFT
    assert env.due(draft_id) == {}


def test_every_recipient_suppressed_meanwhile_sends_nothing(env):
    draft_id = env.draft(None)
    env.submit(draft_id, NOW + timedelta(hours=1))
    with env.store() as uow:
        for address in ("ann@acme.example", "bo@bolt.example", "cy@cog.example"):
            uow.suppressions.add(T1, address, "unsubscribed")
        uow.commit()
    env.later(hours=2)
    (stopped,) = env.outbox.run_due()
    assert isinstance(stopped, NotStarted) and [p.code for p in stopped.problems] == ["no_recipients"]
    assert env.status(draft_id) is DraftStatus.DRAFT
    assert env.outbox.run_due() == []  # told once


def test_the_list_shows_drafts_scheduled_sends_soonest_first_and_sends_with_follow_ups(env):
    plain = env.draft(None)
    later = env.draft(None)
    sooner = env.draft(None)
    env.submit(later, NOW + timedelta(days=2))
    env.submit(sooner, NOW + timedelta(days=1))
    with_steps = env.draft(None)
    env.submit(with_steps, None, steps=(FollowUp(1, "a"), FollowUp(2, "b")))
    listing = env.outbox.listing(T1, "U1")
    assert [d.id for d in listing.drafts] == [plain]
    assert [d.id for d in listing.scheduled] == [sooner, later]
    (series,) = listing.sequences
    assert series.draft.id == with_steps and [s.step for s in series.remaining] == [1, 2]
    with pytest.raises(ValidationFailed):
        env.compose.schedule(T1, "U1", plain)  # no time picked


def test_a_scheduled_send_opened_says_how_to_change_it(env):
    draft_id = env.draft(None)
    env.submit(draft_id, NOW + timedelta(days=1))
    opened = env.flow.open(T1, "U1", draft_id, lambda: True)
    assert isinstance(opened, AlreadySending) and opened.scheduled
    env.outbox.unschedule(T1, "U1", draft_id)
    assert not isinstance(env.flow.open(T1, "U1", draft_id, lambda: True), AlreadySending)
