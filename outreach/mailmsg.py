"""Build the MIME message for one :class:`~outreach.models.OutgoingEmail`. No I/O.

The result is ``multipart/alternative`` (text + HTML), wrapped in ``multipart/mixed`` when there are
attachments. Non-ASCII header text (a Chinese subject or sender name) is RFC 2047 encoded, non-ASCII
attachment names RFC 2231 encoded; bodies are 7-bit clean (quoted-printable or base64) so any SMTP server
can carry them. Header values are checked once more here: a CR or LF that slipped past validation raises
ValueError instead of becoming a header injection.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from outreach.models import Attachment, OutgoingEmail
from outreach.validation import check_email_address


class CachedHeaderRegistry(HeaderRegistry):
    """The standard registry makes a new header class with type() for every header it parses; keep them.
    (Half of building a message went there.)"""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found


# SMTP line endings, and bodies encoded for a 7-bit channel.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit", header_factory=CachedHeaderRegistry())
# The same for a server that offers SMTPUTF8: address headers in raw UTF-8 (RFC 6532).
MAIL_POLICY_UTF8 = MAIL_POLICY.clone(utf8=True)

# Headers build_message writes itself: extra headers may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "sender",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "return-path",
    }
)

_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name: printable ASCII except ':'
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")  # controls except TAB, and line separators


@functools.lru_cache(maxsize=64)
def mail_from_address(mail_from: str) -> str:
    """The bare address of MAIL_FROM, which may be written ``outreach@example.com`` or ``Name <addr>``."""
    refuse_unsafe("MAIL_FROM", mail_from)
    addr = parseaddr(mail_from)[1] or mail_from.strip()
    if check_email_address(addr) is None:
        raise ValueError(f"MAIL_FROM {mail_from!r} is not a valid e-mail address")
    return addr


def build_message(
    email: OutgoingEmail,
    mail_from: str,
    message_id_domain: str,
    *,
    date: datetime | None = None,
) -> EmailMessage:
    """The complete message for ``email``, From ``"sender name" <MAIL_FROM address>`` (no sender name: MAIL_FROM's
    own name, if any).

    ``date`` defaults to now (UTC). Raises ValueError for a header value with CR/LF or other control
    characters, an invalid To/Reply-To address, or an extra header that is malformed or reserved.
    """
    for name, value in (
        ("sender name", email.sender_name),
        ("To", email.to),
        ("Reply-To", email.reply_to),
        ("Subject", email.subject),
        ("Message-ID domain", message_id_domain),
    ):
        refuse_unsafe(name, value)
    sender = mail_from_address(mail_from)
    to = _address("To", email.to)

    msg = EmailMessage(policy=MAIL_POLICY)
    # The form's sender name; an e-mail without one shows the From name of MAIL_FROM (or the workspace's settings).
    display_name = email.sender_name.strip() or parseaddr(mail_from)[0].strip()
    msg["From"] = Address(display_name=display_name, addr_spec=sender)
    msg["To"] = to
    if email.reply_to.strip():
        msg["Reply-To"] = _address("Reply-To", email.reply_to)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=message_id_domain)
    for name, value in email.headers:
        check_extra_header(name, value)
        msg[name] = value

    msg.set_content(email.text)
    msg.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        _attach(msg, attachment)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # the email package repeats it on every part; only the top needs it
    return msg


def needs_smtputf8(msg: EmailMessage) -> bool:
    """True when an address header holds non-ASCII (an internationalised address needs SMTPUTF8)."""
    for name in ("From", "To", "Reply-To"):
        for value in msg.get_all(name, []):
            addresses = getattr(value, "addresses", ())
            if any(not a.addr_spec.isascii() for a in addresses):
                return True
    return False


@functools.lru_cache(maxsize=4096)
def valid_address(addr: str) -> bool:
    """email-validator is thorough and slow: the same MAIL_FROM and reply-to come with every message of a send."""
    return check_email_address(addr) is not None


def _address(header: str, value: str) -> str:
    addr = value.strip()
    if not valid_address(addr):
        raise ValueError(f"{header} {value!r} is not one valid e-mail address")
    return addr


def attachment_type(mime_type: str) -> tuple[str, str]:
    """(maintype, subtype) an attachment is sent as: its own type, or application/octet-stream when malformed."""
    maintype, _, subtype = mime_type.partition("/")
    if not (maintype and subtype) or _UNSAFE.search(mime_type) or ";" in subtype:
        return "application", "octet-stream"
    return maintype, subtype


def _attach(msg: EmailMessage, attachment: Attachment) -> None:
    refuse_unsafe("attachment file name", attachment.filename)
    maintype, subtype = attachment_type(attachment.mime_type)
    msg.add_attachment(
        attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename or "attachment"
    )


def check_extra_header(name: str, value: str) -> None:
    if not _HEADER_NAME.match(name):
        raise ValueError(f"extra header name {name!r} is not a valid header field name")
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"extra header {name!r} would replace a header the message sets itself")
    refuse_unsafe(name, value)


def refuse_unsafe(name: str, value: str) -> None:
    if _UNSAFE.search(value):
        raise ValueError(f"{name} contains a line break or control character: {value!r}")
