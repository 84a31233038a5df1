"""Inbound replies: a partner's answer to an in-platform message, checked, stored in the thread, addressed.

``InboundService.receive(payload)`` takes the JSON the messaging platform POSTs to ``/messages/inbound``::

    {"team_id": "T1", "mpid": "m1", "text": "Thanks!", "external_id": "in-42",
     "in_reply_to": "<our provider message id or idempotency key>",          (optional)
     "attachments": [{"name": "deck.pdf", "mime": "application/pdf", "data": "<base64>"}]}

Every problem with the payload is reported at once (``ValidationFailed``); a workspace without that partner
is ``NotFound``. Files go through :func:`~outreach.attachments.check_attachments`, exactly like outgoing
ones: a clean file is kept; one that fails any check (infected, unscannable — clamd down fails closed —, a
type off the allow-list, damaged …) is **quarantined**: stored with its verdict and the reason for review,
never forwarded or offered. The reply becomes an IN message of the partner's thread (the thread of the
message it answers, else the partner's in-platform thread, created if missing).

Idempotency: ``external_id`` is unique per workspace, so the same inbound delivered twice (or by two
servers at once) is stored once; the second call returns the stored message with ``duplicate=True``.

The author to tell is the Slack user who wrote the message being answered, else whoever last messaged the
partner (thread or sent delivery), else whoever marked the partner as a prospect; "" when nobody is known.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from outreach.attachments import AttachmentPolicy, FileVerdict, ScanCache, check_attachments
from outreach.errors import AlreadyExists, NotFound, Problem, ValidationFailed
from outreach.models import (
    Attachment,
    Channel,
    Direction,
    Partner,
    ReceivedFile,
    ScanStatus,
    ScanVerdict,
    Thread,
    ThreadMessage,
)
from outreach.ports import Clock, Scanner, Sniffer, UnitOfWork

TEXT_MAX = 20_000
ID_MAX = 255
_IDEMPOTENCY_KEY = re.compile(r"^(?P<team>[^:]+):(?P<draft>\d+):(?P<mpid>.+)$")  # see rendering.message_for


@dataclass(frozen=True, slots=True)
class InboundFile:
    name: str
    mime: str
    data: bytes


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A validated payload."""

    team_id: str
    mpid: str
    text: str
    external_id: str
    in_reply_to: str = ""
    files: tuple[InboundFile, ...] = ()


@dataclass(frozen=True)
class InboundResult:
    team_id: str
    author_id: str  # the Slack user to tell; "" when nobody is known
    partner: Partner
    thread: Thread
    message: ThreadMessage
    duplicate: bool = False  # already stored by an earlier delivery of the same inbound

    @property
    def kept(self) -> tuple[Attachment, ...]:
        return tuple(f.attachment for f in self.message.files if not f.quarantined)

    @property
    def quarantined(self) -> tuple[ReceivedFile, ...]:
        return tuple(f for f in self.message.files if f.quarantined)


def parse_payload(payload: object) -> InboundMessage:
    """The payload as an :class:`InboundMessage`; ValidationFailed names every problem at once."""
    if not isinstance(payload, dict):
        raise ValidationFailed([Problem("payload", "not_an_object", "the body must be a JSON object")])
    problems: list[Problem] = []
    team_id = _string(payload, "team_id", problems, required=True, limit=32)
    mpid = _string(payload, "mpid", problems, required=True, limit=64)
    external_id = _string(payload, "external_id", problems, required=True, limit=ID_MAX)
    in_reply_to = _string(payload, "in_reply_to", problems, limit=ID_MAX)
    text = _string(payload, "text", problems, limit=TEXT_MAX)
    files = _files(payload.get("attachments"), problems)
    if not problems and not text.strip() and not files:
        problems.append(Problem("text", "empty", "the message has neither text nor attachments"))
    if problems:
        raise ValidationFailed(problems)
    return InboundMessage(team_id, mpid, text, external_id, in_reply_to, tuple(files))


class InboundService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        sniffer: Sniffer,
        scanner: Scanner,
        scan_cache: ScanCache,
        policy: AttachmentPolicy,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._sniffer = sniffer
        self._scanner = scanner
        self._cache = scan_cache
        self._policy = policy

    def receive(self, payload: dict[str, Any]) -> InboundResult:
        inbound = parse_payload(payload)
        with self._uow() as uow:
            partner = uow.partners.get(inbound.team_id, inbound.mpid)
            if partner is None:
                raise NotFound("partner", inbound.mpid)
            earlier = self._earlier(uow, inbound, partner)
        if earlier is not None:
            return earlier
        # Scanning talks to clamd: done outside any transaction.
        check = check_attachments(
            [(f.name, f.data) for f in inbound.files], self._sniffer, self._scanner, self._policy, self._cache
        )
        try:
            return self._store(inbound, partner, check.files)
        except AlreadyExists:  # the same inbound, stored by a concurrent delivery in the meantime
            with self._uow() as uow:
                stored = self._earlier(uow, inbound, partner)
            assert stored is not None
            return stored

    # -- steps ---------------------------------------------------------------------------------------------
    def _earlier(self, uow: UnitOfWork, inbound: InboundMessage, partner: Partner) -> InboundResult | None:
        found = uow.threads.by_external_id(inbound.team_id, inbound.external_id)
        if found is None:
            return None
        thread, message = found
        author = self._author(uow, inbound)
        return InboundResult(inbound.team_id, author, partner, thread, message, duplicate=True)

    def _store(
        self, inbound: InboundMessage, partner: Partner, verdicts: Sequence[FileVerdict]
    ) -> InboundResult:
        team = inbound.team_id
        with self._uow() as uow:
            original = self._original(uow, inbound)
            thread = original[0] if original else uow.threads.open(team, inbound.mpid, Channel.MESSAGE)
            assert thread.id is not None
            files = tuple(
                received_file(uow.attachments.add(team, attachment), verdict)
                for attachment, verdict in (
                    (stored_form(f, v), v) for f, v in zip(inbound.files, verdicts, strict=True)
                )
            )
            message = uow.threads.add_message(
                team,
                thread.id,
                ThreadMessage(
                    Direction.IN,
                    inbound.text,
                    author_id=inbound.mpid,
                    at=self._clock.now(),
                    external_id=inbound.external_id,
                    files=files,
                ),
            )
            author = self._author(uow, inbound)
            uow.commit()
        return InboundResult(team, author, partner, thread, message)

    @staticmethod
    def _original(uow: UnitOfWork, inbound: InboundMessage) -> tuple[Thread, ThreadMessage] | None:
        """The OUT message this one answers: by our provider id, else by the idempotency key we sent."""
        ref = inbound.in_reply_to
        if not ref:
            return None
        found = uow.threads.find_out_message(inbound.team_id, inbound.mpid, provider_message_id=ref)
        match = _IDEMPOTENCY_KEY.match(ref)
        if found is None and match and match["team"] == inbound.team_id and match["mpid"] == inbound.mpid:
            delivery = uow.deliveries.get(inbound.team_id, int(match["draft"]), inbound.mpid)
            if delivery is not None and delivery.id is not None:
                found = uow.threads.find_out_message(inbound.team_id, inbound.mpid, delivery_id=delivery.id)
        return found

    def _author(self, uow: UnitOfWork, inbound: InboundMessage) -> str:
        original = self._original(uow, inbound)
        if original is not None and original[1].author_id:
            return original[1].author_id
        last = uow.threads.last_out_message(inbound.team_id, inbound.mpid)
        if last is not None and last.author_id:
            return last.author_id
        sender = uow.queue.last_sender(inbound.team_id, inbound.mpid)
        if sender:
            return sender
        prospect = uow.prospects.get(inbound.team_id, inbound.mpid)
        return prospect.marked_by if prospect is not None else ""


def stored_form(file: InboundFile, verdict: FileVerdict) -> Attachment:
    """The attachment row to store: the checked one when kept; the raw bytes with what is known when not."""
    if verdict.attachment is not None:
        return verdict.attachment
    problem = verdict.problem
    assert problem is not None
    scan: ScanVerdict | None = None
    if problem.code == "infected":
        scan = ScanVerdict(ScanStatus.INFECTED, signature=problem.param("signature") or "")
    elif problem.code == "unscannable":
        scan = ScanVerdict(ScanStatus.UNSCANNABLE, detail=(problem.param("detail") or "")[:500])
    mime = problem.param("mime_type") or file.mime or "application/octet-stream"
    name = file.name[:255] or "(no name)"
    return Attachment(name, mime[:127], hashlib.sha256(file.data).hexdigest(), file.data, scan)


def received_file(stored: Attachment, verdict: FileVerdict) -> ReceivedFile:
    if verdict.problem is None:
        return ReceivedFile(stored)
    return ReceivedFile(stored, verdict.problem.code, verdict.problem.message)


def _string(
    payload: dict[str, Any], name: str, problems: list[Problem], *, required: bool = False, limit: int
) -> str:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            problems.append(Problem(name, "missing", f"{name} is required"))
        return ""
    if not isinstance(value, str):
        problems.append(Problem(name, "not_a_string", f"{name} must be a string"))
        return ""
    if len(value) > limit:
        problems.append(
            Problem(name, "too_long", f"{name} is longer than {limit} characters", (("limit", str(limit)),))
        )
        return ""
    return value


def _files(raw: object, problems: list[Problem]) -> list[InboundFile]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem("attachments", "not_a_list", "attachments must be a list"))
        return []
    files: list[InboundFile] = []
    for index, item in enumerate(raw):
        where = f"attachments[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(Problem("attachments", "bad_file", f"{where} needs a name and base64 data"))
            continue
        data = item.get("data")
        mime = item.get("mime") if isinstance(item.get("mime"), str) else ""
        try:
            if not isinstance(data, str):
                raise ValueError
            decoded = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            problems.append(Problem("attachments", "bad_data", f"{where}: data must be base64"))
            continue
        files.append(InboundFile(item["name"], str(mime), decoded))
    return files
