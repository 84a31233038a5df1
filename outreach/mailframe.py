"""A send's messages as bytes: what every recipient shares encoded once, what differs encoded per message. No I/O.

Building each message as an ``email.message.EmailMessage`` tree and flattening it costs about a millisecond
(two with an attachment) — more than the SMTP transaction on a fast relay. The messages of one send differ only
in a few places, so a :class:`Frame` (made once per send: sender, reply-to, attachments) holds everything they
share as bytes — the From and Reply-To headers, the MIME boundaries, each attachment part with its base64 —
and :meth:`Frame.render` encodes per recipient only To, Subject, Date, Message-ID, the extra headers
(List-Unsubscribe …) and the text and HTML bodies, then hands back the message as a tuple of byte chunks. The
attachment's chunk is the frame's own bytes object: a send holds its encoded attachment once, however many
messages are in flight.

The messages are those :func:`outreach.mailmsg.build_message` makes (``multipart/alternative`` of text and
HTML, in ``multipart/mixed`` with attachments; MIME-Version on the top only), with the same checks (a CR, LF
or control character in a header value, an invalid To or Reply-To, a malformed or reserved extra header: all
ValueError). The encodings:

* a header is written as it is when it is printable ASCII (folded at its spaces to 78 characters where it has
  any; a longer word stays whole, up to 998), and RFC 2047 encoded (``=?utf-8?b?…?=``, words of at most 75
  characters) where it holds non-ASCII or text that reads as an encoded word;
* a body is 7bit when it is ASCII with lines of at most 78 characters and does not hold the boundary, else
  quoted-printable or base64, whichever is shorter; lines end in CRLF;
* the boundaries are random per frame; quoted-printable and base64 cannot hold them.

A frame is made only for an all-ASCII envelope (From, To, Reply-To addresses): a message that needs SMTPUTF8
is built by :func:`~outreach.mailmsg.build_message` (:func:`frame_key` says None).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from outreach.mailmsg import (
    MAIL_POLICY,
    attachment_type,
    check_extra_header,
    mail_from_address,
    refuse_unsafe,
    valid_address,
)
from outreach.models import Attachment, OutgoingEmail

__all__ = ["Frame", "FrameKey", "frame_key"]

CRLF = b"\r\n"
MAX_LINE = 78  # RFC 5322's "should"
HARD_LINE = 998  # RFC 5322's "must"
_WORD_BYTES = 39  # UTF-8 bytes an encoded word: "=?utf-8?b?" + 52 base64 + "?=" = 64, "Subject: " + 64 ≤ 78
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_DOT_ATOM = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9.-]+$"
)

FrameKey = tuple[str, str, str, tuple[tuple[str, str, str, int], ...]]


def frame_key(email: OutgoingEmail, mail_from: str) -> FrameKey | None:
    """What a send's messages share (sender name, MAIL_FROM, reply-to, attachments); None when the message needs
    SMTPUTF8 (a non-ASCII address), which a frame does not make."""
    if not (email.to.isascii() and email.reply_to.isascii() and mail_from.isascii()):
        return None
    files = tuple((a.filename, a.mime_type, a.sha256, len(a.data)) for a in email.attachments)
    return (email.sender_name, mail_from, email.reply_to, files)


class Frame:
    """The invariant bytes of a send's messages (see the module's docstring). Immutable once made: one frame
    may render messages on several threads at once."""

    def __init__(self, email: OutgoingEmail, mail_from: str) -> None:
        refuse_unsafe("sender name", email.sender_name)
        refuse_unsafe("Reply-To", email.reply_to)
        sender = mail_from_address(mail_from)
        # The form's sender name; an e-mail without one shows MAIL_FROM's own name (or the workspace's), as
        # build_message does.
        display_name = email.sender_name.strip() or parseaddr(mail_from)[0].strip()
        refuse_unsafe("From name", display_name)
        self._from = _header_object("From", Address(display_name=display_name, addr_spec=sender))
        reply_to = email.reply_to.strip()
        if reply_to and not valid_address(reply_to):
            raise ValueError(f"Reply-To {email.reply_to!r} is not one valid e-mail address")
        self._reply_to = _address_header("Reply-To", reply_to) if reply_to else b""
        self.attachments = email.attachments  # kept to tell this frame's files from others with the same key
        self._alternative = _boundary()
        self._mixed = _boundary() if email.attachments else b""
        self._parts = tuple(_attachment_part(a) for a in email.attachments)
        self._boundaries = (self._alternative, self._mixed) if self._mixed else (self._alternative,)

    def render(
        self, email: OutgoingEmail, message_id_domain: str, *, date: datetime | None = None
    ) -> tuple[tuple[bytes, ...], str]:
        """(the message as byte chunks to send one after another, its Message-ID). Raises ValueError as
        :func:`~outreach.mailmsg.build_message` does."""
        for name, value in (
            ("To", email.to),
            ("Subject", email.subject),
            ("Message-ID domain", message_id_domain),
        ):
            refuse_unsafe(name, value)
        to = email.to.strip()
        if not valid_address(to):
            raise ValueError(f"To {email.to!r} is not one valid e-mail address")
        message_id = make_msgid(domain=message_id_domain)
        head = [
            self._from,
            _address_header("To", to),
            self._reply_to,
            _text_header("Subject", email.subject),
            b"Date: " + format_datetime(date or datetime.now(UTC)).encode() + CRLF,
            b"Message-ID: " + message_id.encode() + CRLF,
        ]
        for name, value in email.headers:
            check_extra_header(name, value)
            head.append(_text_header(name, value))
        head.append(b"MIME-Version: 1.0\r\n")
        alt = self._alternative
        text = _text_part("plain", email.text, self._boundaries)
        html = _text_part("html", email.html, self._boundaries)
        if not self._mixed:
            head.append(_multipart("alternative", alt) + b"\r\n--" + alt + CRLF)
            return (
                b"".join(head),
                text,
                b"\r\n--" + alt + CRLF,
                html,
                b"\r\n--" + alt + b"--\r\n",
            ), message_id
        mixed = self._mixed
        head.append(_multipart("mixed", mixed) + b"\r\n--" + mixed + CRLF + _multipart("alternative", alt))
        head.append(b"\r\n--" + alt + CRLF)
        chunks = [b"".join(head), text, b"\r\n--" + alt + CRLF, html, b"\r\n--" + alt + b"--\r\n"]
        for part in self._parts:
            chunks += [b"\r\n--" + mixed + CRLF, part]
        chunks.append(b"\r\n--" + mixed + b"--\r\n")
        return tuple(chunks), message_id


def _boundary() -> bytes:
    """As the email package makes them: fifteen '=', nineteen digits, '=='. Neither quoted-printable nor base64
    text can hold a run of '='; a 7bit body that holds it is encoded instead (:func:`_text_part`)."""
    return b"=" * 15 + b"%019d" % secrets.randbelow(10**19) + b"=="


def _multipart(subtype: str, boundary: bytes) -> bytes:
    return b"Content-Type: multipart/" + subtype.encode() + b';\r\n boundary="' + boundary + b'"\r\n'


def _text_part(subtype: str, text: str, boundaries: tuple[bytes, ...]) -> bytes:
    """A text/<subtype> part (its headers, a blank line, the encoded body ending in CRLF)."""
    lines = text.encode("utf-8").splitlines()
    body = CRLF.join(lines) + CRLF
    head = b"Content-Type: text/" + subtype.encode() + b'; charset="utf-8"\r\nContent-Transfer-Encoding: '
    if (
        body.isascii()
        and max(map(len, lines), default=0) <= MAX_LINE
        and not any(b in body for b in boundaries)
    ):
        return head + b"7bit\r\n\r\n" + body
    qp = binascii.b2a_qp(body, istext=True)
    if len(qp) <= len(body) * 4 // 3 + len(body) // 38:
        return head + b"quoted-printable\r\n\r\n" + qp
    return head + b"base64\r\n\r\n" + _base64(body)


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _attachment_part(attachment: Attachment) -> bytes:
    """The attachment's MIME part as the email package writes it (headers, base64 body), made once a frame."""
    refuse_unsafe("attachment file name", attachment.filename)
    maintype, subtype = attachment_type(attachment.mime_type)
    part = EmailMessage(policy=MAIL_POLICY)
    part.set_content(
        attachment.data,
        maintype=maintype,
        subtype=subtype,
        disposition="attachment",
        filename=attachment.filename or "attachment",
    )
    del part["MIME-Version"]
    data = part.as_bytes(policy=MAIL_POLICY)
    return data if data.endswith(CRLF) else data + CRLF


def _header_object(name: str, value: object) -> bytes:
    """A header written by the email package (an address with a display name to quote or encode)."""
    folded: str = MAIL_POLICY.header_factory(name, value).fold(policy=MAIL_POLICY)
    return folded.encode("ascii")


def _address_header(name: str, addr: str) -> bytes:
    if _DOT_ATOM.match(addr) and len(name) + 2 + len(addr) <= HARD_LINE:
        return name.encode() + b": " + addr.encode() + CRLF
    return _header_object(name, addr)


def _text_header(name: str, value: str) -> bytes:
    """An unstructured header: as written when printable ASCII, else with RFC 2047 encoded words; folded."""
    words = value.split(" ")
    if not value or not all(words) or "\t" in value:  # empty, or runs of spaces or tabs to keep as they are
        return _header_object(name, value)
    plain = _PRINTABLE.match(value) is not None and "=?" not in value
    tokens = words if plain else _encoded_tokens(words)
    line = name + ":"
    lines: list[str] = []
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line != name + ":":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    if max(map(len, lines)) > HARD_LINE:
        return _header_object(name, value)
    return "\r\n".join(lines).encode("ascii") + CRLF


def _encoded_tokens(words: list[str]) -> list[str]:
    """Words to write, runs of words that cannot go as they are replaced by encoded words. The space between two
    encoded words vanishes when read back, so a run's own spaces are encoded with it."""
    tokens: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        plain = word != "" and _PRINTABLE.match(word) is not None and "=?" not in word
        if word and not plain:
            run.append(word)
            continue
        if run:
            tokens += _encode_words(" ".join(run))
            run = []
        if word:
            tokens.append(word)
    return tokens


def _encode_words(text: str) -> list[str]:
    """``text`` as ``=?utf-8?b?…?=`` words of at most 39 UTF-8 bytes each, never splitting a character."""
    out: list[str] = []
    chunk = b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            out.append(_encoded_word(chunk))
            chunk = b""
        chunk += encoded
    if chunk:
        out.append(_encoded_word(chunk))
    return out


def _encoded_word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="
