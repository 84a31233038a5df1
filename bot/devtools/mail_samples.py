"""Real inbound e-mail for the tests and benches, built with the standard library: partners' replies (with
attachments, quoted history, HTML only, auto-replies) and RFC 3464 delivery status notifications as mail servers
send them (``multipart/report; report-type=delivery-status`` with the original's headers or the whole original).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid

_counter = itertools.count(1)


def reply(
    *,
    in_reply_to: str = "",
    references: str = "",
    text: str = "Sounds great, let's talk.",
    sender: str = "Al Ng <al@acme.example>",
    to: str = "outreach@brand.example",
    subject: str = "Re: A partnership",
    files: tuple[tuple[str, str, bytes], ...] = (),
    html: str = "",
    message_id: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    quoted: str = "",
) -> bytes:
    """A partner's reply: ``text`` (then, when given, an "On … wrote:" line and ``quoted`` as ``>`` lines),
    optionally only ``html``, with ``files`` (name, MIME type, bytes) attached."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2038, 1, 19, 4, 0, tzinfo=UTC))
    msg["Message-ID"] = (
        message_id if message_id is not None else make_msgid(f"r{next(_counter)}", "acme.example")
    )
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references or in_reply_to:
        msg["References"] = references or in_reply_to
    for name, value in headers:
        msg[name] = value
    body = text
    if quoted:
        body += "\n\nOn Tue, Jan 19, 2038 at 03:14 Ann Lee <ann@brand.example> wrote:\n"
        body += "\n".join(f"> {line}" for line in quoted.splitlines()) + "\n"
    if html:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    for name, mime, data in files:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def dsn(
    recipient: str,
    *,
    original_id: str | None = None,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{r}>: Recipient address rejected: User unknown",
    to: str = "outreach@brand.example",
    returned: str = "headers",  # headers | message | none
    original_subject: str = "A partnership",
    message_id: str | None = None,
    original_recipient: str = "",
) -> bytes:
    """A delivery status notification from ``mx.acme.example`` about ``recipient``: the per-message block, one
    recipient block, and (``returned``) the original's headers, the whole original, or nothing."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.acme.example>"
    report["To"] = to
    report["Subject"] = "Undelivered Mail Returned to Sender" if action == "failed" else "Delayed Mail"
    report["Date"] = format_datetime(datetime(2038, 1, 19, 3, 20, tzinfo=UTC))
    report["Auto-Submitted"] = "auto-replied"
    report["Message-ID"] = (
        message_id if message_id is not None else make_msgid(f"d{next(_counter)}", "mx.acme.example")
    )
    report.attach(
        MIMEText(
            f"This is the mail system at host mx.acme.example.\n\nYour message to {recipient} could not be delivered.\n"
        )
    )
    status_part = Message()
    status_part["Content-Type"] = "message/delivery-status"
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.acme.example"
    per_message["Arrival-Date"] = "Tue, 19 Jan 2038 03:14:09 +0000"
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    if original_recipient:
        per_recipient["Original-Recipient"] = f"rfc822; {original_recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Remote-MTA"] = "dns; mx2.acme.example"
    per_recipient["Diagnostic-Code"] = diagnostic.format(r=recipient)
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    original = EmailMessage()
    original["From"] = "Ann Lee <outreach@brand.example>"
    original["To"] = recipient
    original["Subject"] = original_subject
    if original_id:
        original["Message-ID"] = original_id
    original.set_content("Hello\n")
    if returned == "headers":
        headers = "".join(
            f"{k}: {v}\n"
            for k, v in original.items()
            if k.lower() not in ("content-type", "content-transfer-encoding", "mime-version")
        )
        report.attach(MIMEText(headers, "rfc822-headers"))
    elif returned == "message":
        report.attach(MIMEMessage(original))
    return report.as_bytes(policy=policy.SMTP)
