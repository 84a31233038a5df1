"""The rows of the in-memory store, and the transaction every fake repository reads and writes through.

Rows are frozen dataclasses: a transaction copies the tables (dicts of rows) when it begins, changes its
copy, and hands it back on commit, so a unit of work left without ``commit()`` changes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from outreach.models import (
    Ad,
    Attachment,
    AuditEvent,
    ConversationReply,
    Delivery,
    Draft,
    Partner,
    Thread,
    ThreadMessage,
)
from outreach.ports import Clock


@dataclass(frozen=True, slots=True)
class PartnerRow:
    """A partner with the prospect and contact state the SQL row keeps beside it."""

    partner: Partner
    marked_at: datetime | None = None
    marked_by: str = ""
    prospect_status: str = ""
    last_contacted_at: datetime | None = None
    last_contacted_by: str = ""


@dataclass(frozen=True, slots=True)
class DraftRow:
    """A draft's own fields (``attachments`` and ``recipient_count`` are filled in when it is read)."""

    draft: Draft
    recipients: tuple[str, ...]
    attachment_ids: tuple[int, ...]
    start_at: datetime | None = None  # a SCHEDULED draft's start (DraftRepository.schedule)


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    team_id: str
    delivery: Delivery
    next_attempt_at: datetime | None = None
    claimed_by: str = ""
    claimed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageRow:
    team_id: str
    thread_id: int
    message: ThreadMessage


@dataclass
class Tables:
    partners: dict[tuple[str, str], PartnerRow] = field(default_factory=dict)  # (team, mpid)
    ads: dict[tuple[str, str], Ad] = field(default_factory=dict)  # (team, adid)
    drafts: dict[int, DraftRow] = field(default_factory=dict)
    attachments: dict[int, tuple[str, Attachment]] = field(default_factory=dict)  # id → (team, attachment)
    deliveries: dict[int, DeliveryRow] = field(default_factory=dict)
    threads: dict[int, Thread] = field(default_factory=dict)
    messages: dict[int, MessageRow] = field(default_factory=dict)
    audit: dict[int, AuditEvent] = field(default_factory=dict)
    suppressions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # → (reason, detail)
    send_budgets: dict[str, int] = field(default_factory=dict)  # account → next free send time (µs)
    replies: dict[tuple[str, int], ConversationReply] = field(default_factory=dict)  # (team, draft)

    def copy(self) -> Tables:
        """A copy whose tables can change without touching these (the rows themselves are immutable)."""
        return Tables(**{f.name: copy.copy(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def load(self, other: Tables) -> None:
        """Become a copy of ``other`` (a rollback)."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, copy.copy(getattr(other, f.name)))


class Transaction:
    """What a fake repository works on: the unit of work's tables while it is open, its clock, and ids that,
    like a database sequence, are never given twice (not even after a rollback)."""

    def __init__(self, tables: Tables, clock: Clock, next_id: Callable[[], int]) -> None:
        self._tables: Tables | None = tables
        self.clock = clock
        self.next_id = next_id

    @property
    def tables(self) -> Tables:
        if self._tables is None:
            raise RuntimeError("this unit of work is closed: use its repositories inside its `with` block")
        return self._tables

    def close(self) -> None:
        self._tables = None
