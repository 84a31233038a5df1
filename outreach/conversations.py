"""Conversations with partners, shown in Slack threads: the events the core publishes, recorded until shown.

The rules:

* A conversation is a stored :class:`~outreach.models.Thread` (workspace, partner, channel). It is shown to a
  Slack user in one thread of their DM with the app: the user an event names (``author_id`` — the author of the
  message answered, of the follow-up sent …). An event that names nobody is not shown (it is logged).
* The thread's parent is posted when the conversation first has something to show, never when a message is
  sent: a 300-recipient send posts nothing (a parent per recipient would flood the DM and meet
  ``chat.postMessage``'s one message a second per channel); replies come one by one, each starting its thread.
* Every event is recorded (:meth:`ConversationFeed.record`, the outbox) before anything is posted, so a slow or
  refusing Slack, or a process that stops, loses none. Events are shown in the order recorded; one process at a
  time holds a conversation while it posts to its thread (:meth:`ConversationFeed.hold`), so the parent is posted
  once however many processes show events.
* An event without ``thread_id`` goes to the partner's conversation on its channel (made if missing). Its files
  without an id are stored first, so the bytes shown are the bytes received.
* An event that Slack keeps refusing is given up after a few tries (kept, with why); one that Slack asks to wait
  for (429) waits its ``Retry-After`` without counting as a failure.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from outreach.inbound import InboundResult
from outreach.models import (
    Channel,
    ConversationEvent,
    ConversationNotice,
    EventKind,
    PendingEvent,
    ReceivedFile,
    Recipient,
)
from outreach.ports import Clock, UnitOfWork
from outreach.tokens import RenderContext, Template, render_text

log = logging.getLogger(__name__)

HOLD_STALE = timedelta(seconds=60)  # a hold older than this was left by a process that stopped


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """One conversation as shown to one user."""

    team_id: str
    thread_id: int
    user_id: str


@dataclass(frozen=True, slots=True)
class ConversationHeader:
    """What the parent of a conversation's Slack thread says: with whom, on which channel, how a reply goes."""

    mpid: str
    name: str  # the partner's name, else its contact name, else its mpid
    channel: Channel  # the conversation's
    email: str = ""
    subject: str = (
        ""  # the subject of the last e-mail we sent the partner (as they got it), when there is one
    )
    replies_by: Channel | None = None  # how a reply written in the thread goes; None: it cannot go


def reply_channel(channel: Channel, messaging_enabled: bool, email: str) -> Channel | None:
    """How a reply to this conversation goes: in-platform when it is an in-platform conversation and the partner
    accepts messages, else by e-mail when there is an address; None when neither."""
    if channel is Channel.MESSAGE and messaging_enabled:
        return Channel.MESSAGE
    return Channel.EMAIL if email else None


def held_reason(received: ReceivedFile) -> str:
    """Why a file was held back, as a ``ConversationEvent.held`` reason: its problem code, with the virus's name
    after a colon for an infected file (``infected: Eicar-Test-Signature``)."""
    verdict = received.attachment.verdict
    if received.quarantine == "infected" and verdict is not None and verdict.signature:
        return f"infected: {verdict.signature}"
    return received.quarantine


def reply_event(result: InboundResult) -> ConversationEvent:
    """The conversation event of a partner's in-platform reply: its text, its clean files, the others named."""
    message = result.message
    return ConversationEvent(
        team_id=result.team_id,
        mpid=result.partner.mpid,
        author_id=result.author_id,
        kind=EventKind.REPLY,
        channel=result.thread.channel,
        at=message.at or datetime.now(UTC),
        text=message.body,
        thread_id=result.thread.id,
        files=result.kept,
        held=tuple((f.attachment.filename, held_reason(f)) for f in result.quarantined),
    )


class ConversationFeed:
    """The conversation events of every workspace, from their recording to their showing (see the module doc):
    what the Slack publisher reads and writes, one short transaction at a time."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def record(self, events: Sequence[ConversationEvent]) -> list[int]:
        """Record events to show (in one transaction); those naming nobody are dropped. Their ids."""
        now = self._clock.now()
        ids: list[int] = []
        with self._uow() as uow:
            for event in events:
                if not event.author_id:
                    log.warning("%s event of %s (%s): nobody to tell", event.kind, event.mpid, event.team_id)
                    continue
                thread_id = event.thread_id
                if thread_id is None:
                    thread_id = uow.threads.open(event.team_id, event.mpid, event.channel).id
                    assert thread_id is not None
                files = [
                    f if f.id is not None else uow.attachments.add(event.team_id, f) for f in event.files
                ]
                file_ids = [f.id for f in files if f.id is not None]
                ids.append(
                    uow.conversation_events.add(
                        dataclasses.replace(event, thread_id=thread_id), file_ids, now
                    )
                )
            uow.commit()
        return ids

    def due(self, limit: int = 50) -> list[ConversationKey]:
        """Conversations with an event to show now, the longest waiting first."""
        with self._uow() as uow:
            found = uow.conversation_events.due(self._clock.now(), limit)
        return [ConversationKey(*key) for key in found]

    def hold(self, key: ConversationKey, holder: str) -> ConversationNotice | None:
        """Hold the conversation to post to its thread; None when another process holds it."""
        now = self._clock.now()
        with self._uow() as uow:
            notice = uow.conversation_notices.take(
                key.team_id, key.thread_id, key.user_id, holder, now, stale_before=now - HOLD_STALE
            )
            uow.commit()
        return notice

    def release(self, key: ConversationKey, holder: str) -> None:
        with self._uow() as uow:
            uow.conversation_notices.release(
                key.team_id, key.thread_id, key.user_id, holder, self._clock.now()
            )
            uow.commit()

    def placed(self, key: ConversationKey, holder: str, channel: str, ts: str) -> None:
        """The thread's parent is posted at ``channel``/``ts``."""
        with self._uow() as uow:
            uow.conversation_notices.placed(
                key.team_id, key.thread_id, key.user_id, holder, channel=channel, ts=ts
            )
            uow.commit()

    def pending(self, key: ConversationKey, limit: int = 20) -> list[PendingEvent]:
        """The conversation's events not shown yet, oldest first (at most ``limit``)."""
        with self._uow() as uow:
            return uow.conversation_events.pending(key.team_id, key.thread_id, key.user_id, limit)

    def header(self, key: ConversationKey) -> ConversationHeader | None:
        """What the thread's parent shows; None when the conversation is gone."""
        with self._uow() as uow:
            thread = uow.threads.get(key.team_id, key.thread_id)
            if thread is None:
                return None
            partner = uow.partners.get(key.team_id, thread.mpid)
            sent = uow.conversation_replies.sent_emails(key.team_id, thread.mpid, limit=1)
        name = thread.mpid if partner is None else (partner.name or partner.contact_name or partner.mpid)
        email = partner.email if partner is not None else ""
        messaging = partner.messaging_enabled if partner is not None else False
        replies_by = reply_channel(thread.channel, messaging, email) if partner is not None else None
        subject = thread.subject
        if sent and partner is not None:  # the subject as the partner got it (recipient tokens filled in)
            ctx = RenderContext(
                now=sent[-1].at or self._clock.now(), ads={}, tracking_link_template="", program_id=""
            )
            subject = " ".join(
                render_text(Template.parse(sent[-1].subject), Recipient.of(partner), ctx).split()
            )
        return ConversationHeader(thread.mpid, name, thread.channel, email, subject, replies_by)

    def posted(self, event_id: int, ts: str) -> None:
        with self._uow() as uow:
            uow.conversation_events.posted(event_id, ts)
            uow.commit()

    def done(self, event_id: int) -> None:
        with self._uow() as uow:
            uow.conversation_events.done(event_id, self._clock.now())
            uow.commit()

    def later(self, event_id: int, seconds: float, error: str, *, failed: bool = True) -> int:
        """Show the event again in ``seconds``; the tries that failed so far (``failed``: False for a wait Slack
        asked for)."""
        with self._uow() as uow:
            attempts = uow.conversation_events.later(
                event_id, self._clock.now() + timedelta(seconds=seconds), error, failed=failed
            )
            uow.commit()
        return attempts

    def give_up(self, event_id: int, error: str) -> None:
        with self._uow() as uow:
            uow.conversation_events.give_up(event_id, self._clock.now(), error)
            uow.commit()
