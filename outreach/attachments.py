"""Attachment checks: name, count and size limits, a type allow-list judged by content, and the virus scan.

:func:`check_attachments` never raises for a bad file: it returns one :class:`FileVerdict` per file, each
either an accepted :class:`~outreach.models.Attachment` (sniffed MIME type, sha256, CLEAN verdict) or the
:class:`~outreach.errors.Problem` that rejected it, so a UI can show a verdict next to every file. The
caller decides what to do.

Checks, in order, each file stopping at its first problem: a safe file name; at most ``max_files``;
not empty; at most ``max_file_bytes``; a content type on the allow-list (CSV, PDF, JPEG, PNG, GIF, by
libmagic over the whole file) whose extension agrees with the name; the structure (a CSV must parse with
one column count; an image or PDF must end at its end marker, so an archive appended to it is refused);
the message total within ``max_message_bytes``; and last the scan, which must say CLEAN (INFECTED names
the signature; UNSCANNABLE is refused as "could not be scanned": fail closed).

Each distinct content is scanned once: verdicts are cached by sha256 in a :class:`ScanCache`, which keeps
CLEAN and INFECTED but never UNSCANNABLE. :func:`recheck_for_send` runs the whole check again right
before sending, through the same cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from outreach import file_structure
from outreach.cache import StampedCache
from outreach.errors import Problem, Refusal
from outreach.models import Attachment, ScanStatus, ScanVerdict
from outreach.ports import Scanner, Sniffer

FIELD = "attachments"
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AllowedType:
    label: str
    mime_type: str  # the type we send it as
    sniffed: frozenset[str]  # what libmagic may call it
    extensions: tuple[str, ...]


ALLOWED_TYPES: tuple[AllowedType, ...] = (
    AllowedType("CSV", "text/csv", frozenset({"text/csv", "text/plain", "application/csv"}), (".csv",)),
    AllowedType("PDF", "application/pdf", frozenset({"application/pdf"}), (".pdf",)),
    AllowedType("JPEG", "image/jpeg", frozenset({"image/jpeg"}), (".jpg", ".jpeg")),
    AllowedType("PNG", "image/png", frozenset({"image/png"}), (".png",)),
    AllowedType("GIF", "image/gif", frozenset({"image/gif"}), (".gif",)),
)
_ALLOWED_LIST = "CSV, PDF, JPEG, PNG and GIF"


@dataclass(frozen=True, slots=True)
class AttachmentPolicy:
    max_file_bytes: int = 10 * MB  # Slack's own limit
    max_message_bytes: int = 25 * MB
    max_files: int = 10
    max_padding_bytes: int = 1024  # whitespace / NUL allowed after an image's or PDF's end marker


@dataclass(frozen=True, slots=True)
class FileVerdict:
    """The outcome for one file: ``attachment`` when accepted, else ``problem``."""

    filename: str
    size: int
    attachment: Attachment | None = None
    problem: Problem | None = None

    @property
    def accepted(self) -> bool:
        return self.attachment is not None


@dataclass(frozen=True, slots=True)
class AttachmentCheck:
    files: tuple[FileVerdict, ...]

    @property
    def accepted(self) -> tuple[Attachment, ...]:
        return tuple(f.attachment for f in self.files if f.attachment is not None)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(f.problem for f in self.files if f.problem is not None)

    @property
    def ok(self) -> bool:
        return not self.problems


class ScanCache(Protocol):
    """Scan verdicts by content sha256 (hex). Keeps CLEAN and INFECTED only: UNSCANNABLE is retried."""

    def get(self, sha256: str) -> ScanVerdict | None: ...

    def put(self, sha256: str, verdict: ScanVerdict) -> None: ...


class InMemoryScanCache:
    """A thread-safe, bounded (LRU) in-process :class:`ScanCache`; entries expire after ``ttl_seconds``
    (None: never) so that new signatures get a chance to catch content once thought clean."""

    def __init__(
        self,
        max_entries: int = 10_000,
        ttl_seconds: float | None = 24 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verdicts = StampedCache[str, ScanVerdict](
            ttl_seconds, max_entries=max_entries, lru=True, monotonic=clock
        )

    def get(self, sha256: str) -> ScanVerdict | None:
        return self._verdicts.fresh(sha256)

    def put(self, sha256: str, verdict: ScanVerdict) -> None:
        if verdict.status is not ScanStatus.UNSCANNABLE:
            self._verdicts.put(sha256, verdict)

    def __len__(self) -> int:
        return len(self._verdicts)


def scan_once(sha256: str, data: bytes, scanner: Scanner, cache: ScanCache) -> ScanVerdict:
    """The cached verdict for this content, or a fresh scan (cached unless UNSCANNABLE)."""
    cached = cache.get(sha256)
    if cached is not None:
        return cached
    verdict = scanner.scan(data)
    if verdict.status is not ScanStatus.UNSCANNABLE:
        cache.put(sha256, verdict)
    return verdict


def check_attachments(
    files: Sequence[tuple[str, bytes]],
    sniffer: Sniffer,
    scanner: Scanner,
    policy: AttachmentPolicy,
    cache: ScanCache,
) -> AttachmentCheck:
    """Check every ``(file name, bytes)``; one verdict per file, in order. Raises nothing for bad files."""
    verdicts: list[FileVerdict] = []
    total = 0
    for index, (name, data) in enumerate(files):
        problem: Problem | None
        kind: AllowedType | None = None
        problem = _name_problem(name)
        if problem is None and index >= policy.max_files:
            problem = _problem(
                "too_many_files",
                name,
                f"a message can carry at most {policy.max_files} files",
                limit=str(policy.max_files),
            )
        if problem is None:
            kind, problem = _content_problem(name, data, sniffer, policy)
        if problem is None and total + len(data) > policy.max_message_bytes:
            problem = _problem(
                "message_too_large",
                name,
                f"the attachments together would exceed {_size(policy.max_message_bytes)} per message",
                limit=str(policy.max_message_bytes),
            )
        sha = hashlib.sha256(data).hexdigest()
        if problem is None and kind is not None:
            verdict = scan_once(sha, data, scanner, cache)
            problem = _scan_problem(name, verdict)
            if problem is None:
                total += len(data)
                attachment = Attachment(name, kind.mime_type, sha, data, verdict)
                verdicts.append(FileVerdict(name, len(data), attachment=attachment))
                continue
        verdicts.append(FileVerdict(name, len(data), problem=problem))
    return AttachmentCheck(tuple(verdicts))


def recheck_for_send(
    attachments: Sequence[Attachment],
    sniffer: Sniffer,
    scanner: Scanner,
    policy: AttachmentPolicy,
    cache: ScanCache,
) -> AttachmentCheck:
    """Check a stored outgoing set again right before sending (through the cache: no extra scans for
    content already judged). Accepted attachments keep their ids; a stored sha256 that no longer matches
    the bytes is a problem of its own (``content_changed``)."""
    check = check_attachments([(a.filename, a.data) for a in attachments], sniffer, scanner, policy, cache)
    out: list[FileVerdict] = []
    for original, fresh in zip(attachments, check.files, strict=True):
        if fresh.attachment is None:
            out.append(fresh)
        elif original.sha256 and original.sha256 != fresh.attachment.sha256:
            problem = _problem("content_changed", original.filename, "it changed after it was checked")
            out.append(FileVerdict(fresh.filename, fresh.size, problem=problem))
        else:
            kept = dataclasses.replace(
                original,
                mime_type=fresh.attachment.mime_type,
                sha256=fresh.attachment.sha256,
                verdict=fresh.attachment.verdict,
            )
            out.append(FileVerdict(fresh.filename, fresh.size, attachment=kept))
    return AttachmentCheck(tuple(out))


def send_refusal(check: AttachmentCheck) -> Refusal | None:
    """What a re-check found, as the send acts on it (None: the files may go). A file that cannot be scanned
    right now holds the send back (passing: retried later, never sent unscanned); anything else found wrong
    with them (infected, not allowed, changed) refuses the draft for good."""
    if check.ok:
        return None
    reasons = "; ".join(p.message for p in check.problems)
    if all(p.code == "unscannable" for p in check.problems):
        return Refusal(reasons, permanent=False)
    return Refusal(f"the draft's attachments were refused: {reasons}", permanent=True)


def _content_problem(
    name: str, data: bytes, sniffer: Sniffer, policy: AttachmentPolicy
) -> tuple[AllowedType | None, Problem | None]:
    if not data:
        return None, _problem("empty_file", name, "the file is empty")
    if len(data) > policy.max_file_bytes:
        return None, _problem(
            "too_large",
            name,
            f"it is {_size(len(data))}, more than the {_size(policy.max_file_bytes)} allowed per file",
            limit=str(policy.max_file_bytes),
            size=str(len(data)),
        )
    sniffed = sniffer.sniff(data)
    kind = next((t for t in ALLOWED_TYPES if sniffed in t.sniffed), None)
    if kind is None:
        return None, _problem(
            "type_not_allowed",
            name,
            f"its content is {sniffed}, which is not allowed (allowed: {_ALLOWED_LIST})",
            mime_type=sniffed,
        )
    extension = _extension(name)
    if extension not in kind.extensions:
        shown = f"the extension {extension}" if extension else "no extension"
        return None, _problem(
            "extension_mismatch",
            name,
            f"its content is {kind.label} but the name has {shown} (expected {' or '.join(kind.extensions)})",
            mime_type=kind.mime_type,
            extension=extension,
        )
    return kind, _structure_problem(name, kind, data, policy)


def _structure_problem(name: str, kind: AllowedType, data: bytes, policy: AttachmentPolicy) -> Problem | None:
    if kind.label == "CSV":
        reason = file_structure.csv_problem(data)
        return None if reason is None else _problem("bad_csv", name, reason)
    try:
        end = file_structure.content_end(kind.label, data)
    except file_structure.Malformed as exc:
        return _problem("malformed", name, f"it is not a valid {kind.label}: {exc}")
    trailing = data[end:]
    if len(trailing) > policy.max_padding_bytes or trailing.strip(b" \t\r\n\f\v\0"):
        return _problem(
            "trailing_data",
            name,
            f"{len(trailing)} bytes of other data follow the end of the {kind.label}",
            trailing_bytes=str(len(trailing)),
        )
    return None


def _scan_problem(name: str, verdict: ScanVerdict) -> Problem | None:
    if verdict.status is ScanStatus.CLEAN:
        return None
    if verdict.status is ScanStatus.INFECTED:
        return _problem(
            "infected", name, f"the virus scanner found {verdict.signature}", signature=verdict.signature
        )
    return _problem("unscannable", name, verdict.detail or "could not be scanned", detail=verdict.detail)


def _name_problem(name: str) -> Problem | None:
    if not name.strip() or name in (".", ".."):
        return _problem("bad_filename", name, "the file needs a name")
    if "/" in name or "\\" in name:
        return _problem("bad_filename", name, "the name contains a path; give a plain file name")
    if any(file_structure.is_control(c) for c in name):
        return _problem("bad_filename", name, "the name contains control characters")
    if len(name.encode("utf-8")) > 255:
        return _problem("bad_filename", name, "the name is longer than 255 bytes")
    return None


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def _problem(code: str, name: str, reason: str, **params: str) -> Problem:
    shown = file_structure.printable(name) or "(no name)"
    return Problem(FIELD, code, f"{shown}: {reason}", (("filename", name), *params.items()))


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"
