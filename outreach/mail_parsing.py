"""An inbound e-mail read into what matching needs: its ids, who it was for, its words and files, its DSN.

:func:`parse_mail` takes the raw RFC 822 bytes (what an MTA pipe, an inbound-parse service or an IMAP fetch
gives) and never raises for a malformed message: what cannot be read is left empty. No I/O. The rules:

* **Ids.** ``message_id`` is the message's own ``Message-ID`` (``<…>``, as the SMTP adapter writes ours);
  ``references`` the ids of ``In-Reply-To`` (it names the message answered), then of ``References`` newest
  first, without repeats, at most :data:`MAX_REFERENCES`.
* **Where it went.** ``recipients``: the addresses of ``Delivered-To``, ``X-Original-To``, ``Envelope-To``,
  ``X-Envelope-To``, ``To`` and ``Cc`` — a bounce sent to our VERP address carries that address there.
* **A bounce** is an RFC 3464 delivery status notification: ``multipart/report; report-type=delivery-status``
  with a ``message/delivery-status`` part, one block per recipient (``Final-Recipient``, ``Original-Recipient``,
  ``Action``, ``Status``, ``Diagnostic-Code``). The message it reports on is named by the ``Message-ID`` of
  the returned headers (``text/rfc822-headers``, ``message/rfc822`` or RFC 6533's ``message/global-headers``):
  ``original_ids``. A report of another kind (read receipts, feedback reports) is not a bounce.
* **Auto-replies** (``Auto-Submitted`` other than ``no``, RFC 3834; ``Precedence: auto_reply``) are marked:
  an out-of-office answer is not a partner's reply.
* **The words.** The plain-text body (else the HTML one, its tags dropped), with the quoted earlier messages
  cut off (:func:`strip_quoted`: the "On … wrote:" line and what follows, Outlook's "Original Message"
  separator, trailing ``>`` lines); at most :data:`TEXT_MAX` characters.
* **Files**: every part with a file name or ``Content-Disposition: attachment`` other than the body, decoded
  (a forwarded message as its bytes); they are checked and scanned like any other file before anything uses
  them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from outreach.inbound import InboundFile
from outreach.mailmsg import CachedHeaderRegistry

# policy.default, with the header classes made once (the standard registry makes one per header it parses).
PARSE_POLICY = policy.default.clone(header_factory=CachedHeaderRegistry())

MAX_REFERENCES = 100
TEXT_MAX = 20_000
ID_MAX = 255
_ID = re.compile(r"<([^<>\s]{1,250})>")
_FIRST_FIELD = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9-]{0,99}:")  # a header field as mail systems write them
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")
_ORIGINAL_TYPES = ("text/rfc822-headers", "message/rfc822", "message/global-headers", "message/global")
# The line that introduces a quoted earlier message, in the mail clients partners use.
_QUOTE_INTRO = re.compile(
    r"^\s*(On\s.{4,300}\swrote:|Le\s.{4,300}\sa écrit\s?:|Am\s.{4,300}\sschrieb\s?.{0,80}:"
    r"|在.{2,300}写道[:：]|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*原始邮件\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    """One recipient block of a delivery status notification."""

    final_recipient: str  # the address, lower-cased, without its "rfc822;" type
    original_recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded (lower-cased)
    status: str  # "5.1.1"
    diagnostic: str  # "smtp; 550 5.1.1 user unknown" as the reporting MTA wrote it

    @property
    def hard(self) -> bool:
        """A permanent failure: a 5.x.x status (or, without a status, the action ``failed``)."""
        return self.status.startswith("5") if self.status else self.action == "failed"

    @property
    def soft(self) -> bool:
        """A passing one: 4.x.x (or, without a status, ``delayed``); the message may still arrive."""
        return self.status.startswith("4") if self.status else self.action == "delayed"

    def addresses(self) -> set[str]:
        return {a for a in (self.final_recipient, self.original_recipient) if a}


@dataclass(frozen=True, slots=True)
class InboundMail:
    message_id: str
    references: tuple[str, ...]
    from_address: str
    subject: str
    recipients: tuple[str, ...]  # lower-cased
    text: str
    files: tuple[InboundFile, ...] = ()
    auto_submitted: bool = False
    dsn: tuple[DsnRecipient, ...] = ()  # empty: not a delivery status notification
    original_ids: tuple[str, ...] = ()  # a DSN's reported message(s)

    @property
    def is_dsn(self) -> bool:
        return bool(self.dsn)


def parse_mail(raw: bytes) -> InboundMail:
    msg = message_from_bytes(raw, policy=PARSE_POLICY)
    assert isinstance(msg, EmailMessage)
    dsn, original = _report(msg)
    body = None if dsn else _body(msg)
    return InboundMail(
        message_id=_first_id(_header(msg, "Message-ID")),
        references=_references(msg),
        from_address=parseaddr(_header(msg, "From"))[1].strip(),
        subject=_header(msg, "Subject")[:998],
        recipients=_recipients(msg),
        text=strip_quoted(_text(body))[:TEXT_MAX] if body is not None else "",
        files=() if dsn else tuple(_files(msg, body)),
        auto_submitted=_auto(msg),
        dsn=dsn,
        original_ids=original,
    )


def looks_like_mail(raw: bytes) -> bool:
    """Whether ``raw`` starts as an RFC 822 message does: with a header field (``Name: value``)."""
    return _FIRST_FIELD.match(raw.lstrip(b"\r\n")[:1000]) is not None


def header_summary(raw_headers: bytes) -> InboundMail:
    """What the headers alone say (a poll reads these before it fetches a whole message): ids, recipients,
    whether it is a report or an auto-reply (``dsn`` then holds one placeholder block)."""
    msg = BytesHeaderParser(policy=PARSE_POLICY).parsebytes(raw_headers)
    report = _is_report(msg)
    return InboundMail(
        message_id=_first_id(_header(msg, "Message-ID")),
        references=_references(msg),
        from_address=parseaddr(_header(msg, "From"))[1].strip(),
        subject=_header(msg, "Subject")[:998],
        recipients=_recipients(msg),
        text="",
        auto_submitted=_auto(msg),
        dsn=(DsnRecipient("", "", "", "", ""),) if report else (),
    )


# Headers read by header_summary, for an IMAP ``BODY.PEEK[HEADER.FIELDS (…)]``.
SUMMARY_HEADERS = (
    "Message-ID",
    "In-Reply-To",
    "References",
    "From",
    "Subject",
    "Content-Type",
    "Auto-Submitted",
    "Precedence",
    *_RECIPIENT_HEADERS,
)


def strip_quoted(text: str) -> str:
    """The new words of a reply: cut at the line that introduces the quoted earlier message (which may wrap
    over two lines), then drop trailing quoted (``>``) and blank lines. The whole text when nothing is left."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        joined = f"{line} {lines[i + 1]}" if i + 1 < len(lines) else line
        if _QUOTE_INTRO.match(line) or (line.strip() and _QUOTE_INTRO.match(joined)):
            cut = i
            break
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    result = "\n".join(kept).strip()
    return result or text.strip()


# -- headers -----------------------------------------------------------------------------------------------
def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot make sense of
        return ""
    return "" if value is None else " ".join(str(value).split())


def _all(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name, [])]
    except (ValueError, IndexError, TypeError):
        return []


def _first_id(value: str) -> str:
    found = _ID.search(value)
    if found:
        return f"<{found[1]}>"
    return value.strip()[:ID_MAX]


def _references(msg: Message) -> tuple[str, ...]:
    """The ids of In-Reply-To (the message answered), then of References newest first."""
    newest_first = tuple(reversed(_ids(_all(msg, "References"))))
    return _ids([_header(msg, "In-Reply-To"), *newest_first])[:MAX_REFERENCES]


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        for found in _ID.finditer(value or ""):
            seen.setdefault(f"<{found[1]}>", None)
    return tuple(seen)


def _recipients(msg: Message) -> tuple[str, ...]:
    values = [v for name in _RECIPIENT_HEADERS for v in _all(msg, name)]
    addresses: dict[str, None] = {}
    for _, addr in getaddresses(values):
        if "@" in addr:
            addresses.setdefault(addr.strip().lower(), None)
    return tuple(addresses)


def _auto(msg: Message) -> bool:
    auto = _header(msg, "Auto-Submitted").lower()
    precedence = _header(msg, "Precedence").lower()
    return (bool(auto) and not auto.startswith("no")) or precedence == "auto_reply"


# -- reports -----------------------------------------------------------------------------------------------
def _is_report(msg: Message) -> bool:
    if msg.get_content_type() != "multipart/report":
        return False
    kind = msg.get_param("report-type")
    return isinstance(kind, str) and kind.lower() == "delivery-status"


def _report(msg: EmailMessage) -> tuple[tuple[DsnRecipient, ...], tuple[str, ...]]:
    if not _is_report(msg):
        return (), ()
    recipients: list[DsnRecipient] = []
    original: list[str] = []
    for part in msg.iter_parts():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            recipients += _status_blocks(part)
        elif kind in _ORIGINAL_TYPES:
            original += _original_ids(part)
    return tuple(r for r in recipients if r.final_recipient or r.original_recipient), tuple(
        dict.fromkeys(original)
    )


def _status_blocks(part: Message) -> list[DsnRecipient]:
    payload = part.get_payload()
    blocks: list[Message] = []
    if isinstance(payload, list):
        blocks = [b for b in payload if isinstance(b, Message)]
    elif isinstance(payload, str):  # a status part the parser left as text: read its blocks ourselves
        parser = HeaderParser(policy=PARSE_POLICY)
        blocks = [parser.parsestr(chunk) for chunk in re.split(r"\r?\n\r?\n", payload) if chunk.strip()]
    found = []
    for block in blocks[1:] if len(blocks) > 1 else blocks:  # the first block is about the message
        final = _address(_header(block, "Final-Recipient"))
        original = _address(_header(block, "Original-Recipient"))
        if not final and not original:
            continue
        status = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", _header(block, "Status"))
        found.append(
            DsnRecipient(
                final,
                original,
                _header(block, "Action").lower(),
                status[1] if status else "",
                _header(block, "Diagnostic-Code")[:1000],
            )
        )
    return found


def _address(typed: str) -> str:
    """``rfc822; Al@Acme.example`` → ``al@acme.example`` (other address types are not e-mail addresses)."""
    kind, sep, address = typed.partition(";")
    if not sep:
        address = kind
    elif kind.strip().lower() not in ("rfc822", "utf-8"):
        return ""
    address = address.strip().strip("<>").strip()
    return address.lower() if "@" in address else ""


def _original_ids(part: Message) -> list[str]:
    kind = part.get_content_type()
    if kind in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return [i for i in [_first_id(_header(inner[0], "Message-ID"))] if i]
        return []
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return []
    headers = BytesHeaderParser(policy=PARSE_POLICY).parsebytes(data)
    return [i for i in [_first_id(_header(headers, "Message-ID"))] if i]


# -- words and files ---------------------------------------------------------------------------------------
def _body(msg: EmailMessage) -> MIMEPart | None:
    try:
        return msg.get_body(preferencelist=("plain", "html"))
    except (KeyError, ValueError, TypeError):
        return None


def _text(part: MIMEPart | None) -> str:
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, KeyError, AssertionError):  # an unknown charset or a damaged encoding
        data = part.get_payload(decode=True)
        content = data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
    text = content if isinstance(content, str) else ""
    return _html_text(text) if part.get_content_subtype() == "html" else text


def _leaves(part: Message) -> Iterable[Message]:
    """The parts of a message, multiparts opened, an attached message (``message/*``) kept whole."""
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        for inner in payload if isinstance(payload, list) else []:
            if isinstance(inner, Message):
                yield from _leaves(inner)
    else:
        yield part


def _files(msg: EmailMessage, body: MIMEPart | None) -> list[InboundFile]:
    files = []
    for part in _leaves(msg):
        if part is body or part is msg:
            continue
        name = part.get_filename() or ""
        if not name and part.get_content_disposition() != "attachment":
            continue
        data = _part_bytes(part)
        if data is None:
            continue
        files.append(InboundFile(name[:255] or "attachment", part.get_content_type(), data))
    return files


def _part_bytes(part: Message) -> bytes | None:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes(policy=policy.SMTP)
        return None
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else None


class _TextOf(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
