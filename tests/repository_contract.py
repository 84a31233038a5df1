"""What the core relies on from its repositories, written once and run on every implementation.

``RepositoryContract`` is run on the in-memory fakes (tests/unit/test_fake_repositories.py, in milliseconds) and on
the SQL repositories, SQLite and PostgreSQL (tests/integration/test_sql_repositories.py), through a
``uow_factory`` fixture: a fake that passes these behaves as the database does where compose and delivery look —
drafts in their order and workspace, status moves that only one caller wins, the send plan, claims, leases and
results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outreach.errors import NotFound
from outreach.models import (
    Attachment,
    AuditEvent,
    Channel,
    ConversationReply,
    Delivery,
    DeliveryStatus,
    Direction,
    Draft,
    DraftStatus,
    FollowUp,
    Partner,
    ScanStatus,
    ScanVerdict,
    ThreadMessage,
)

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
LEASE = timedelta(minutes=10)
PENDING, CLAIMED, IN_FLIGHT = DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.IN_FLIGHT
SENT, FAILED, SKIPPED = DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED

UowFactory = Callable[[], Any]


def partners(uow: Any, team: str, *mpids: str) -> None:
    uow.partners.upsert_many(
        team, [Partner(team, m, f"Company {m}", email=f"{m}@example.com") for m in mpids]
    )


def draft_to(uow: Any, recipients: list[str], team: str = T1) -> int:
    draft = uow.drafts.add(Draft(team, "U1", Channel.EMAIL, subject="Hi"), recipients)
    return int(draft.id)


def planned(uow_factory: UowFactory, mpids: list[str], team: str = T1) -> int:
    """A committed draft to these partners with a plan of PENDING deliveries, moved to SENDING."""
    with uow_factory() as uow:
        partners(uow, team, *mpids)
        draft_id = draft_to(uow, mpids, team)
        uow.drafts.set_status(team, draft_id, DraftStatus.SENDING, only_from=DraftStatus.DRAFT)
        uow.deliveries.plan(team, draft_id, {})
        uow.commit()
    return draft_id


def statuses(uow: Any, draft_id: int, team: str = T1) -> list[tuple[str, DeliveryStatus]]:
    return [(d.mpid, d.status) for d in uow.deliveries.for_draft(team, draft_id)]


class RepositoryContract:
    """Subclass as ``Test…`` where a ``uow_factory`` fixture gives a fresh, empty store."""

    # -- the unit of work -------------------------------------------------------------------------------
    def test_work_left_without_a_commit_is_not_kept(self, uow_factory):
        with uow_factory() as uow:
            partners(uow, T1, "m1")
        with pytest.raises(ZeroDivisionError), uow_factory() as uow:
            partners(uow, T1, "m2")
            1 / 0  # noqa: B018
        with uow_factory() as uow:
            partners(uow, T1, "m3")
            uow.commit()
            partners(uow, T1, "m4")  # after the commit: a new transaction, never committed
        with uow_factory() as uow:
            assert uow.partners.known(T1, ["m1", "m2", "m3", "m4"]) == {"m3"}

    # -- drafts -----------------------------------------------------------------------------------------
    def test_a_draft_keeps_its_recipients_in_order_once_each_and_streams_those_still_partners(
        self, uow_factory
    ):
        with uow_factory() as uow:
            partners(uow, T1, "m1", "m2", "m3")
            draft_id = draft_to(uow, ["m3", "m1", "m3", "gone", "m2"])
            uow.commit()
        with uow_factory() as uow:
            assert uow.drafts.get(T1, draft_id).recipient_count == 4
            assert [r.mpid for r in uow.drafts.audience(T1, draft_id)] == ["m3", "m1", "m2"]
            assert uow.drafts.has_recipient(T1, draft_id, "m1")
            assert not uow.drafts.has_recipient(T1, draft_id, "m4")

    def test_a_draft_is_nobody_elses_in_another_workspace(self, uow_factory):
        with uow_factory() as uow:
            partners(uow, T1, "m1")
            partners(uow, T2, "m1")
            draft_id = draft_to(uow, ["m1"])
            draft = uow.drafts.get(T1, draft_id)
            uow.commit()
        with uow_factory() as uow:
            assert uow.drafts.get(T2, draft_id) is None
            assert list(uow.drafts.audience(T2, draft_id)) == []
            assert not uow.drafts.has_recipient(T2, draft_id, "m1")
            assert uow.drafts.for_author(T2, "U1") == []
            for call in (
                lambda: uow.drafts.set_status(T2, draft_id, DraftStatus.SENDING),
                lambda: uow.drafts.save(Draft(T2, "U1", Channel.EMAIL, id=draft_id)),
                lambda: uow.drafts.delete(T2, draft_id),
            ):
                with pytest.raises(NotFound):
                    call()
            assert uow.drafts.get(T1, draft_id) == draft

    def test_a_status_moves_from_a_given_status_for_one_caller_only(self, uow_factory):
        with uow_factory() as uow:
            draft_id = draft_to(uow, [])
            assert uow.drafts.set_status(T1, draft_id, DraftStatus.SENDING, only_from=DraftStatus.DRAFT)
            assert not uow.drafts.set_status(T1, draft_id, DraftStatus.SENDING, only_from=DraftStatus.DRAFT)
            assert uow.drafts.get(T1, draft_id).status is DraftStatus.SENDING
            assert uow.drafts.set_status(T1, draft_id, DraftStatus.SENT)
            assert [d.id for d in uow.drafts.for_author(T1, "U1", (DraftStatus.DRAFT,))] == []
            assert [d.id for d in uow.drafts.for_author(T1, "U1", (DraftStatus.SENT,))] == [draft_id]
            with pytest.raises(NotFound):
                uow.drafts.set_status(T1, draft_id + 1000, DraftStatus.SENT)

    def test_saving_a_draft_replaces_its_fields_and_files_but_never_its_recipients(self, uow_factory):
        clean = ScanVerdict(ScanStatus.CLEAN)
        with uow_factory() as uow:
            partners(uow, T1, "m1", "m2")
            draft = uow.drafts.get(T1, draft_to(uow, ["m1", "m2"]))
            a = uow.attachments.add(T1, Attachment("a.pdf", "application/pdf", "sha-a", b"%PDF-a", clean))
            b = uow.attachments.add(T1, Attachment("b.png", "image/png", "sha-b", b"png", clean))
            saved = uow.drafts.save(
                Draft(T1, "U1", Channel.EMAIL, subject="New", attachments=(b, a), id=draft.id)
            )
            assert (saved.subject, saved.recipient_count) == ("New", 2)
            assert [f.filename for f in saved.attachments] == ["b.png", "a.pdf"]
            with pytest.raises(ValueError, match="stored"):
                uow.drafts.save(
                    Draft(T1, "U1", Channel.EMAIL, attachments=(Attachment("c", "t", "s", b""),), id=draft.id)
                )
            uow.rollback()
        with uow_factory() as uow:  # nothing was committed
            assert uow.drafts.get(T1, draft.id) is None

    # -- the plan ---------------------------------------------------------------------------------------
    def test_the_plan_is_one_delivery_per_partner_in_the_drafts_order_with_the_skipped_ones_marked(
        self, uow_factory
    ):
        with uow_factory() as uow:
            partners(uow, T1, "m1", "m2", "m3")
            draft_id = draft_to(uow, ["m3", "m1", "gone", "m2"])
            assert uow.deliveries.plan(T1, draft_id, {"compose.skip.suppressed": ["m1"]}) == 2
            assert statuses(uow, draft_id) == [("m3", PENDING), ("m1", SKIPPED), ("m2", PENDING)]
            assert uow.deliveries.get(T1, draft_id, "m1").last_error == "compose.skip.suppressed"
            counts = uow.queue.counts(T1, draft_id)
            assert counts == {**dict.fromkeys(DeliveryStatus, 0), PENDING: 2, SKIPPED: 1}
            assert uow.queue.counts(T2, draft_id) == dict.fromkeys(DeliveryStatus, 0)

    # -- claiming and recording -------------------------------------------------------------------------
    def test_claims_take_due_deliveries_oldest_first_count_an_attempt_and_never_give_one_twice(
        self, uow_factory
    ):
        first = planned(uow_factory, ["m1", "m2", "m3"])
        other = planned(uow_factory, ["m4"], team=T2)
        with uow_factory() as uow:
            assert uow.queue.claim("w0", AT, 10, draft_id=other)[0].team_id == T2
            one = uow.queue.claim("w1", AT, 2)
            two = uow.queue.claim("w2", AT, 10)
            assert uow.queue.claim("w3", AT, 10) == []
            uow.commit()
        assert [(c.team_id, c.delivery.mpid, c.delivery.attempts) for c in one] == [
            (T1, "m1", 1),
            (T1, "m2", 1),
        ]
        assert [c.delivery.mpid for c in two] == ["m3"]
        assert all(c.delivery.status is CLAIMED for c in one + two)
        with uow_factory() as uow:
            assert statuses(uow, first) == [("m1", CLAIMED), ("m2", CLAIMED), ("m3", CLAIMED)]

    def test_only_the_worker_that_claimed_a_delivery_puts_it_in_flight_and_only_once(self, uow_factory):
        draft_id = planned(uow_factory, ["m1", "m2"])
        with uow_factory() as uow:
            ids = [c.delivery.id for c in uow.queue.claim("w1", AT, 10)]
            assert uow.queue.sending_many(T1, ids, "w2", AT) == set()
            assert uow.queue.sending_many(T2, ids, "w1", AT) == set()
            assert uow.queue.sending_many(T1, ids[:1], "w1", AT) == {ids[0]}
            assert uow.queue.sending_many(T1, ids, "w1", AT) == {ids[1]}
            assert uow.queue.sending_many(T1, ids, "w1", AT) == set()
            assert statuses(uow, draft_id) == [("m1", IN_FLIGHT), ("m2", IN_FLIGHT)]

    def test_a_delivery_to_retry_later_is_not_due_before_its_time(self, uow_factory):
        draft_id = planned(uow_factory, ["m1"])
        with uow_factory() as uow:
            (claimed,) = uow.queue.claim("w1", AT, 10)
            uow.queue.retry_later(T2, claimed.delivery.id, "not this workspace's", AT)
            assert statuses(uow, draft_id) == [("m1", CLAIMED)]
            uow.queue.retry_later(T1, claimed.delivery.id, "451 try later", AT + timedelta(seconds=30))
            delivery = uow.deliveries.get(T1, draft_id, "m1")
            assert (delivery.status, delivery.attempts, delivery.last_error) == (PENDING, 1, "451 try later")
            assert uow.queue.has_open(T1, draft_id)
            assert uow.queue.claim("w1", AT + timedelta(seconds=29), 10) == []
            (again,) = uow.queue.claim("w1", AT + timedelta(seconds=30), 10)
            assert again.delivery.attempts == 2

    def test_results_are_recorded_and_a_send_with_nothing_open_is_finished(self, uow_factory):
        draft_id = planned(uow_factory, ["m1", "m2"])
        with uow_factory() as uow:
            claimed = uow.queue.claim("w1", AT, 10)
            uow.queue.sending_many(T1, [c.delivery.id for c in claimed], "w1", AT)
            assert uow.queue.sending_drafts() == [(T1, draft_id)]
            assert uow.queue.finished_sending() == []
            m1, m2 = (c.delivery for c in claimed)
            uow.deliveries.save_many(
                T1,
                [
                    Delivery(draft_id, "m1", SENT, m1.attempts, "", "<1@x>", AT, m1.id),
                    Delivery(draft_id, "m2", FAILED, m2.attempts, "550 no such user", "", None, m2.id),
                ],
            )
            uow.commit()
        with uow_factory() as uow:
            assert uow.deliveries.get(T1, draft_id, "m1") == Delivery(
                draft_id, "m1", SENT, 1, "", "<1@x>", AT, m1.id
            )
            assert [d.mpid for d in uow.deliveries.for_draft(T1, draft_id, unsent_only=True)] == ["m2"]
            assert not uow.queue.has_open(T1, draft_id)
            assert uow.queue.sending_drafts() == []
            assert uow.queue.finished_sending() == [(T1, draft_id)]
            assert uow.queue.last_sender(T1, "m1") == "U1"
            assert uow.queue.last_sender(T1, "m2") is None

    def test_a_dead_workers_delivery_in_flight_fails_and_its_claimed_ones_go_back_to_the_queue(
        self, uow_factory
    ):
        draft_id = planned(uow_factory, ["m1", "m2", "m3"])
        with uow_factory() as uow:
            claimed = [c.delivery.id for c in uow.queue.claim("dead", AT, 10)]
            uow.queue.sending_many(T1, claimed[:1], "dead", AT)
            assert uow.queue.abandon_stale(AT, "interrupted") == []  # still within its lease
            assert uow.queue.abandon_stale(AT + LEASE, "interrupted") == [(T1, draft_id)]
            assert statuses(uow, draft_id) == [("m1", FAILED), ("m2", PENDING), ("m3", PENDING)]
            assert uow.deliveries.get(T1, draft_id, "m1").last_error == "interrupted"
            assert uow.queue.sending_many(T1, claimed, "dead", AT) == set()  # too late: not the dead worker's
            assert [c.delivery.mpid for c in uow.queue.claim("w2", AT + LEASE, 10)] == ["m2", "m3"]

    def test_failed_deliveries_go_back_to_the_queue_with_their_attempts_started_again(self, uow_factory):
        draft_id = planned(uow_factory, ["m1", "m2", "m3"])
        with uow_factory() as uow:
            claimed = [c.delivery for c in uow.queue.claim("w1", AT, 10)]
            uow.deliveries.save_many(
                T1, [Delivery(draft_id, d.mpid, FAILED, 1, "550", id=d.id) for d in claimed[:2]]
            )
            assert uow.queue.requeue_failed(T2, draft_id) == 0
            assert uow.queue.requeue_failed(T1, draft_id) == 2
            assert statuses(uow, draft_id) == [("m1", PENDING), ("m2", PENDING), ("m3", CLAIMED)]
            assert [(c.delivery.mpid, c.delivery.attempts) for c in uow.queue.claim("w2", AT, 10)] == [
                ("m1", 1),
                ("m2", 1),
            ]

    # -- who may be e-mailed, and who was contacted ------------------------------------------------------
    def test_suppressions_are_per_workspace_lower_cased_and_keep_their_first_reason(self, uow_factory):
        with uow_factory() as uow:
            assert uow.suppressions.add(T1, " Ann@Example.COM ", "unsubscribed")
            assert not uow.suppressions.add(T1, "ann@example.com", "bounced", "550")
            assert uow.suppressions.among(T1, ["ANN@example.com", "bob@example.com", ""]) == {
                "ann@example.com": "unsubscribed"
            }
            assert uow.suppressions.emails(T1) == {"ann@example.com"}
            assert uow.suppressions.emails(T2) == frozenset()
            assert uow.suppressions.among(T2, ["ann@example.com"]) == {}

    def test_partners_are_known_in_their_own_workspace_only(self, uow_factory):
        with uow_factory() as uow:
            partners(uow, T1, "m1", "m2")
            partners(uow, T2, "m3")
            assert uow.partners.known(T1, ["m1", "m3", "m9"]) == {"m1"}
            assert sorted(uow.partners.get_many(T1, ["m1", "m2", "m3"])) == ["m1", "m2"]
            assert uow.partners.get_many(T1, ["m1"])["m1"].team_id == T1
            assert uow.partners.get(T2, "m1") is None

    def test_a_contact_only_moves_forward_and_a_teammates_recent_one_shows_in_the_audience(self, uow_factory):
        with uow_factory() as uow:
            partners(uow, T1, "m1", "m2")
            draft_id = draft_to(uow, ["m1", "m2"])
            assert uow.prospects.mark_contacted(T1, ["m1"], AT, "U2") == 1
            assert uow.prospects.mark_contacted(T1, ["m1"], AT - timedelta(days=1), "U3") == 0
            since = AT - timedelta(days=7)
            seen = {
                r.mpid: (r.last_contacted_at, r.last_contacted_by)
                for r in uow.drafts.audience(T1, draft_id, contacted_since=since, author_id="U1")
            }
            assert seen == {"m1": (AT, "U2"), "m2": (None, "")}
            own = uow.drafts.audience(T1, draft_id, contacted_since=since, author_id="U2")
            assert [(r.last_contacted_at, r.last_contacted_by) for r in own] == [(None, ""), (None, "")]
            later = uow.drafts.audience(
                T1, draft_id, contacted_since=AT + timedelta(seconds=1), author_id="U1"
            )
            assert all(r.last_contacted_at is None for r in later)

    def test_audit_events_come_back_newest_first_for_their_workspace(self, uow_factory):
        with uow_factory() as uow:
            for i, action in enumerate(("draft.created", "draft.submitted", "delivery.failed")):
                uow.audit.record(AuditEvent(T1, "U1", action, AT + timedelta(minutes=i), draft_id=7))
            uow.audit.record(AuditEvent(T2, "U1", "draft.created", AT, draft_id=7))
            uow.commit()
        with uow_factory() as uow:
            recent = uow.audit.recent(T1, limit=2, draft_id=7)
            assert [e.action for e in recent] == ["delivery.failed", "draft.submitted"]
            assert all(e.id is not None for e in recent)

    def test_a_send_budget_gives_each_slot_once_in_order_and_never_before_now(self, uow_factory):
        with uow_factory() as uow:
            first = uow.send_budgets.reserve("smtp:T1", 3, 25_000, 1_000_000)
            second = uow.send_budgets.reserve("smtp:T1", 2, 25_000, 1_000_000)  # behind the first three
            other = uow.send_budgets.reserve("own:T1:U1", 1, 25_000, 1_000_000)  # an account of its own
            later = uow.send_budgets.reserve("smtp:T1", 1, 25_000, 9_000_000)  # idle since: starts at now
            uow.commit()
        assert (first, second, other, later) == (1_000_000, 1_075_000, 1_000_000, 9_000_000)

    def test_partners_at_an_address_are_found_without_case_in_their_own_workspace(self, uow_factory):
        with uow_factory() as uow:
            partners(uow, T1, "m1", "m2")
            partners(uow, T2, "m1")
            uow.partners.upsert_many(T1, [Partner(T1, "m3", "Three", email="M1@Example.com")])
            assert [p.mpid for p in uow.partners.with_email(T1, " m1@example.COM ")] == ["m1", "m3"]
            assert uow.partners.with_email(T2, "m2@example.com") == []
            assert uow.partners.with_email(T1, "") == []

    def test_the_emails_sent_to_a_partner_are_the_sent_ones_oldest_first_with_their_drafts_fields(
        self, uow_factory
    ):
        first = planned(uow_factory, ["m1", "m2"])
        second = planned(uow_factory, ["m1"])
        with uow_factory() as uow:
            for draft_id, at, message_id in (
                (second, AT, "<2@x>"),
                (first, AT - timedelta(hours=1), "<1@x>"),
            ):
                delivery = uow.deliveries.get(T1, draft_id, "m1")
                uow.deliveries.save(
                    T1, dataclasses.replace(delivery, status=SENT, provider_message_id=message_id, sent_at=at)
                )
            uow.commit()
        with uow_factory() as uow:
            sent = uow.conversation_replies.sent_emails(T1, "m1")
            assert [(e.message_id, e.subject, e.author_id, e.at) for e in sent] == [
                ("<1@x>", "Hi", "U1", AT - timedelta(hours=1)),
                ("<2@x>", "Hi", "U1", AT),
            ]
            assert [e.message_id for e in uow.conversation_replies.sent_emails(T1, "m1", limit=1)] == [
                "<2@x>"
            ]
            assert uow.conversation_replies.sent_emails(T1, "m2") == []  # planned, never sent
            assert uow.conversation_replies.sent_emails(T2, "m1") == []

    def test_a_reply_written_in_slack_is_recorded_once_per_slack_message(self, uow_factory):
        draft_id = planned(uow_factory, ["m1"])
        other = planned(uow_factory, ["m1"])
        with uow_factory() as uow:
            thread = uow.threads.open(T1, "m1", Channel.EMAIL)
            reply = ConversationReply(
                T1, draft_id, thread.id, "U1", "D1", "1.000100", "<1@x>", ("<0@x>", "<1@x>")
            )
            assert uow.conversation_replies.add(reply, AT)
            assert not uow.conversation_replies.add(dataclasses.replace(reply, draft_id=other), AT)
            uow.commit()
        with uow_factory() as uow:
            assert uow.conversation_replies.get(T1, draft_id) == reply
            assert uow.conversation_replies.by_source(T1, "D1", "1.000100") == reply
            assert uow.conversation_replies.get(T1, other) is None
            assert uow.conversation_replies.by_source(T2, "D1", "1.000100") is None

    # -- follow-ups and scheduled sends (outreach/followups.py, outreach/outbox.py) -----------------------------
    def test_a_draft_keeps_its_follow_ups_send_time_and_zone_and_its_steps_come_back_in_order(
        self, uow_factory
    ):
        steps = (FollowUp(3, "Any news?"), FollowUp(7, "Last try", "One more thing"))
        with uow_factory() as uow:
            partners(uow, T1, "m1")
            draft = uow.drafts.get(T1, draft_to(uow, ["m1"]))
            saved = uow.drafts.save(
                dataclasses.replace(draft, followups=steps, send_at=AT, local_zone="Europe/London")
            )
            assert (saved.followups, saved.send_at, saved.local_zone) == (steps, AT, "Europe/London")
            second = uow.drafts.add(
                Draft(
                    T1,
                    "U1",
                    Channel.EMAIL,
                    content="b",
                    status=DraftStatus.WAITING,
                    parent_id=draft.id,
                    step=2,
                ),
                [],
            )
            first = uow.drafts.add(
                Draft(
                    T1,
                    "U1",
                    Channel.EMAIL,
                    content="a",
                    status=DraftStatus.WAITING,
                    parent_id=draft.id,
                    step=1,
                    delay_days=3,
                ),
                [],
            )
            uow.commit()
        with uow_factory() as uow:
            assert uow.drafts.get(T1, draft.id).followups == steps
            found = uow.drafts.steps(T1, draft.id)
            assert [(s.id, s.step, s.parent_id, s.root_id) for s in found] == [
                (first.id, 1, draft.id, draft.id),
                (second.id, 2, draft.id, draft.id),
            ]
            assert found[0].delay_days == 3 and found[0].recipient_count == 0
            assert uow.drafts.steps(T2, draft.id) == []
            assert uow.drafts.steps(T1, first.id) == []

    def test_a_status_moves_from_any_of_several_and_a_draft_is_scheduled_only_from_draft(self, uow_factory):
        with uow_factory() as uow:
            draft_id = draft_to(uow, [])
            waiting = {DraftStatus.WAITING, DraftStatus.SENT}
            assert not uow.drafts.set_status(T1, draft_id, DraftStatus.SENDING, only_from=waiting)
            assert uow.drafts.schedule(T1, draft_id, AT)
            assert not uow.drafts.schedule(T1, draft_id, AT)
            assert uow.drafts.get(T1, draft_id).status is DraftStatus.SCHEDULED
            assert uow.queue.scheduled_due(AT - timedelta(seconds=1)) == []
            assert uow.queue.scheduled_due(AT) == [(T1, draft_id)]
            assert uow.drafts.set_status(
                T1, draft_id, DraftStatus.SENDING, only_from={DraftStatus.SCHEDULED, DraftStatus.WAITING}
            )
            assert uow.queue.scheduled_due(AT + LEASE) == []
            with pytest.raises(NotFound):
                uow.drafts.schedule(T2, draft_id, AT)

    def test_scheduled_sends_are_due_across_workspaces_the_longest_due_first(self, uow_factory):
        with uow_factory() as uow:
            later, sooner, other = draft_to(uow, []), draft_to(uow, []), draft_to(uow, [], team=T2)
            uow.drafts.schedule(T1, later, AT)
            uow.drafts.schedule(T1, sooner, AT - timedelta(hours=1))
            uow.drafts.schedule(T2, other, AT - timedelta(minutes=30))
            uow.commit()
        with uow_factory() as uow:
            assert uow.queue.scheduled_due(AT) == [(T1, sooner), (T2, other), (T1, later)]
            assert uow.queue.scheduled_due(AT, limit=1) == [(T1, sooner)]

    def test_a_steps_deliveries_are_planned_once_each_due_when_given(self, uow_factory):
        step = planned(uow_factory, ["m1", "m2"])
        with uow_factory() as uow:
            partners(uow, T1, "m3")
            first = uow.drafts.add(
                Draft(T1, "U1", Channel.EMAIL, status=DraftStatus.WAITING, parent_id=step), []
            )
            assert uow.deliveries.plan_followups(T1, first.id, {"m1": AT, "m2": AT + LEASE}) == 2
            assert uow.deliveries.plan_followups(T1, first.id, {"m2": AT, "m3": AT}) == 1
            uow.commit()
        with uow_factory() as uow:
            assert statuses(uow, first.id) == [("m1", PENDING), ("m2", PENDING), ("m3", PENDING)]
            assert [c.delivery.mpid for c in uow.queue.claim("w1", AT, 10, draft_id=first.id)] == ["m1", "m3"]
            assert [c.delivery.mpid for c in uow.queue.claim("w1", AT + LEASE, 10, draft_id=first.id)] == [
                "m2"
            ]

    def test_the_sent_deliveries_of_a_draft_are_read_by_partner(self, uow_factory):
        draft_id = planned(uow_factory, ["m1", "m2", "m3"])
        with uow_factory() as uow:
            m1, m2, _ = uow.queue.claim("w1", AT, 10)
            uow.deliveries.save_many(
                T1,
                [
                    Delivery(draft_id, "m1", SENT, 1, "", "<1@x>", AT, m1.delivery.id),
                    Delivery(draft_id, "m2", FAILED, 1, "550", "", None, m2.delivery.id),
                ],
            )
            uow.commit()
        with uow_factory() as uow:
            sent = uow.deliveries.sent_to(T1, draft_id, ["m1", "m2", "m3", "m9"])
            assert {m: (d.sent_at, d.provider_message_id) for m, d in sent.items()} == {"m1": (AT, "<1@x>")}
            assert uow.deliveries.sent_to(T2, draft_id, ["m1"]) == {}

    def test_cancel_skips_what_is_pending_or_only_claimed_and_leaves_what_is_in_flight(self, uow_factory):
        draft_id = planned(uow_factory, ["m1", "m2", "m3", "m4"])
        with uow_factory() as uow:
            first, second, _ = uow.queue.claim("w1", AT, 3)
            uow.queue.sending_many(T1, [first.delivery.id], "w1", AT)
            assert uow.queue.cancel_pending(T2, draft_id, "cancelled") == 0
            assert uow.queue.cancel_pending(T1, draft_id, "cancelled") == 3
            assert statuses(uow, draft_id) == [
                ("m1", IN_FLIGHT),
                ("m2", SKIPPED),
                ("m3", SKIPPED),
                ("m4", SKIPPED),
            ]
            assert uow.deliveries.get(T1, draft_id, "m4").last_error == "cancelled"
            assert (
                uow.queue.sending_many(T1, [second.delivery.id], "w1", AT) == set()
            )  # no longer the worker's

    def test_pending_deliveries_are_delayed_to_the_time_of_their_partners_zone(self, uow_factory):
        with uow_factory() as uow:
            uow.partners.upsert_many(
                T1,
                [
                    Partner(T1, "m1", "A", timezone="Asia/Tokyo"),
                    Partner(T1, "m2", "B", timezone="America/New_York"),
                    Partner(T1, "m3", "C"),
                ],
            )
            draft_id = draft_to(uow, ["m1", "m2", "m3"])
            uow.deliveries.plan(T1, draft_id, {})
            tokyo, other = AT, AT + timedelta(hours=9)
            assert uow.deliveries.delay(T1, draft_id, {"Asia/Tokyo": tokyo}, other) == 3
            uow.commit()
        with uow_factory() as uow:
            assert [r.timezone for r in uow.drafts.audience(T1, draft_id)] == [
                "Asia/Tokyo",
                "America/New_York",
                "",
            ]
            assert uow.partners.get(T1, "m1").timezone == "Asia/Tokyo"
            assert [c.delivery.mpid for c in uow.queue.claim("w1", AT, 10)] == ["m1"]
            assert [c.delivery.mpid for c in uow.queue.claim("w1", other, 10)] == ["m2", "m3"]

    def test_the_latest_reply_of_each_partner_on_any_channel_and_the_latest_contact(self, uow_factory):
        with uow_factory() as uow:
            partners(uow, T1, "m1", "m2", "m3")
            email, message = (
                uow.threads.open(T1, "m1", Channel.EMAIL),
                uow.threads.open(T1, "m1", Channel.MESSAGE),
            )
            other = uow.threads.open(T2, "m2", Channel.EMAIL)
            uow.threads.add_message(T1, email.id, ThreadMessage(Direction.IN, "a", at=AT))
            uow.threads.add_message(T1, message.id, ThreadMessage(Direction.IN, "b", at=AT + LEASE))
            uow.threads.add_message(T1, email.id, ThreadMessage(Direction.OUT, "ours", at=AT + 2 * LEASE))
            uow.threads.add_message(T2, other.id, ThreadMessage(Direction.IN, "elsewhere", at=AT))
            uow.prospects.mark_contacted(T1, ["m2"], AT, "U2")
            uow.commit()
        with uow_factory() as uow:
            assert uow.threads.last_replies(T1, ["m1", "m2", "m3"]) == {"m1": AT + LEASE}
            assert uow.prospects.contacts(T1, ["m1", "m2", "m3"]) == {"m2": (AT, "U2")}
            assert uow.prospects.contacts(T2, ["m2"]) == {}
