"""SmtpMailer against a real SMTP server (aiosmtpd on 127.0.0.1): every message parsed back and checked."""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading

import pytest

from outreach.adapters.smtp import SmtpMailer
from outreach.errors import DeliveryFailed
from outreach.models import Attachment, OutgoingEmail
from tests.fixtures.smtp import HOST, PASSWORD, USERNAME, SmtpTestServer, running

pytestmark = pytest.mark.smtp

MAIL_FROM = "outreach@brand.example"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 3000 + b"\n%%EOF\n"
CSV = "name;city\r\n张伟;北京\r\n".encode()


def send_each(mailer, emails):
    """As the worker sends: one session for the batch, one result per e-mail (its Message-ID or the refusal)."""
    results = []
    with mailer.open() as session:
        for email in emails:
            try:
                results.append(session.send(email))
            except DeliveryFailed as exc:
                results.append(exc)
    return results


def attachment(name, mime, data):
    return Attachment(filename=name, mime_type=mime, sha256=hashlib.sha256(data).hexdigest(), data=data)


def outgoing(to="bob@partner.example", **changes):
    values = {
        "to": to,
        "sender_name": "Ann Lee",
        "reply_to": "ann@brand.example",
        "subject": "Let's work together",
        "text": f"Hello {to}\n",
        "html": f"<p>Hello {to}</p>",
    }
    values.update(changes)
    return OutgoingEmail(**values)


def mailer_for(server, security="none", username="", password="", ssl_context=None, timeout=10.0, port=None):
    return SmtpMailer(
        server.host if server else HOST,
        port or server.port,
        username,
        password,
        security,
        MAIL_FROM,
        timeout,
        ssl_context,
    )


def batch(n):
    return [outgoing(f"partner{i}@partner.example") for i in range(n)]


def test_a_message_arrives_with_the_sender_name_reply_to_chinese_subject_parts_and_attachments(smtp_server):
    email = outgoing(
        to="bob@partner.example",
        sender_name="张伟",
        reply_to="zhang.wei@brand.example",
        subject="关于合作的邀请",
        text="你好 Bob，\n这是我们的提议。\n",
        html="<p>你好 <b>Bob</b>，</p><p>这是我们的提议。</p>",
        attachments=(
            attachment("提议.pdf", "application/pdf", PDF),
            attachment("logo.png", "image/png", PNG),
            attachment("partners.csv", "text/csv", CSV),
        ),
        headers=(("List-Unsubscribe", "<mailto:stop@brand.example>"),),
    )
    (result,) = send_each(mailer_for(smtp_server), [email])

    (received,) = smtp_server.received
    assert received.mail_from == MAIL_FROM
    assert received.rcpt_tos == ("bob@partner.example",)
    assert not received.smtputf8  # plain ASCII addresses: an ordinary 7-bit message
    (msg,) = smtp_server.messages()
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("张伟", MAIL_FROM)
    assert [a.addr_spec for a in msg["To"].addresses] == ["bob@partner.example"]
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["zhang.wei@brand.example"]
    assert msg["Subject"] == "关于合作的邀请"
    assert msg["Message-ID"] == result
    assert msg["List-Unsubscribe"] == "<mailto:stop@brand.example>"
    assert msg["Date"].datetime is not None
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "你好 Bob，\n这是我们的提议。\n"
    assert "<b>Bob</b>" in msg.get_body(("html",)).get_content()
    got = [
        (a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()
    ]
    assert got == [
        ("提议.pdf", "application/pdf", PDF),
        ("logo.png", "image/png", PNG),
        ("partners.csv", "text/csv", CSV),
    ]


def test_a_batch_of_twenty_goes_out_on_one_connection(smtp_server):
    emails = batch(20)
    results = send_each(mailer_for(smtp_server), emails)

    assert smtp_server.connections == 1
    assert [r.rcpt_tos for r in smtp_server.received] == [(e.to,) for e in emails]
    assert results == [m["Message-ID"] for m in smtp_server.messages()]
    assert len(set(results)) == 20


def test_lines_starting_with_a_dot_and_a_shared_attachment_arrive_byte_for_byte(smtp_server):
    text = ".\n.starts with a dot\n..two\nend\n"
    files = (attachment("offer.pdf", "application/pdf", PDF), attachment("logo.png", "image/png", PNG))
    emails = [outgoing(f"p{i}@partner.example", text=text, attachments=files) for i in range(3)]
    results = send_each(mailer_for(smtp_server), emails)

    assert [m["Message-ID"] for m in smtp_server.messages()] == results
    for msg in smtp_server.messages():
        assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
        got = [hashlib.sha256(a.get_payload(decode=True)).hexdigest() for a in msg.iter_attachments()]
        assert got == [f.sha256 for f in files]


def test_a_session_reuses_its_connection_until_closed(smtp_server):
    mailer = mailer_for(smtp_server)
    with mailer.open() as session:
        for email in batch(3):
            session.send(email)
    with mailer.open() as session:
        session.send(outgoing())
    assert smtp_server.connections == 2
    assert len(smtp_server.received) == 4


def test_a_5xx_refusal_is_permanent_and_the_others_still_go_out(smtp_server):
    emails = batch(5)
    smtp_server.refuse(emails[2].to, "550 5.1.1 No such user here")
    results = send_each(mailer_for(smtp_server), emails)

    failure = results[2]
    assert isinstance(failure, DeliveryFailed)
    assert failure.permanent
    assert "550" in failure.reason and emails[2].to in failure.reason
    assert all(isinstance(r, str) for i, r in enumerate(results) if i != 2)
    assert [r.rcpt_tos[0] for r in smtp_server.received] == [e.to for i, e in enumerate(emails) if i != 2]
    assert smtp_server.connections == 1


def test_a_4xx_refusal_is_transient_and_the_others_still_go_out(smtp_server):
    emails = batch(4)
    smtp_server.refuse(emails[0].to, "450 4.2.1 Mailbox busy, try again later")
    smtp_server.refuse(emails[3].to, "452 4.3.1 Insufficient system storage")
    results = send_each(mailer_for(smtp_server), emails)

    assert [(r.permanent, r.reason[-30:]) for r in (results[0], results[3])] == [
        (False, "450 4.2.1 Mailbox busy, try again later"[-30:]),
        (False, "452 4.3.1 Insufficient system storage"[-30:]),
    ]
    assert [r.rcpt_tos[0] for r in smtp_server.received] == [emails[1].to, emails[2].to]


def test_when_the_server_drops_the_connection_mid_batch_the_rest_go_out_after_one_reconnect(smtp_server):
    emails = batch(10)
    smtp_server.drop_connection_after(4, abrupt=True)
    results = send_each(mailer_for(smtp_server), emails)

    assert all(isinstance(r, str) for r in results)
    assert [r.rcpt_tos[0] for r in smtp_server.received] == [e.to for e in emails]  # each exactly once
    assert smtp_server.connections == 2


def test_a_421_closing_reply_mid_batch_is_also_followed_by_a_reconnect(smtp_server):
    emails = batch(6)
    smtp_server.drop_connection_after(2, abrupt=False)
    results = send_each(mailer_for(smtp_server), emails)

    assert all(isinstance(r, str) for r in results)
    assert [r.rcpt_tos[0] for r in smtp_server.received] == [e.to for e in emails]
    assert smtp_server.connections == 2


def test_a_connection_lost_after_the_content_is_not_resent_and_the_batch_goes_on(smtp_server):
    emails = batch(4)
    smtp_server.vanish_after_data(emails[1].to)
    results = send_each(mailer_for(smtp_server), emails)

    failure = results[1]
    assert isinstance(failure, DeliveryFailed)
    assert failure.permanent  # final: it may have been delivered, and it is sent at most once
    assert "may have been delivered" in failure.reason
    assert all(isinstance(r, str) for i, r in enumerate(results) if i != 1)
    assert [r.rcpt_tos[0] for r in smtp_server.received] == [e.to for e in emails]  # each exactly once
    assert smtp_server.connections == 2


@pytest.mark.parametrize(("reply", "permanent"), [("554 5.7.1 Spam", True), ("451 4.3.0 Try later", False)])
def test_a_refused_message_content_is_classified_by_its_code(smtp_server, reply, permanent):
    emails = batch(3)
    smtp_server.refuse_data(emails[0].to, reply)
    results = send_each(mailer_for(smtp_server), emails)

    assert isinstance(results[0], DeliveryFailed)
    assert results[0].permanent is permanent
    assert reply in results[0].reason
    assert [r.rcpt_tos[0] for r in smtp_server.received] == [emails[1].to, emails[2].to]
    assert smtp_server.connections == 1


def test_a_refused_connection_is_transient_for_every_message(closed_port):
    mailer = SmtpMailer(HOST, closed_port, "", "", "none", MAIL_FROM, 5.0)
    results = send_each(mailer, batch(3))
    assert all(isinstance(r, DeliveryFailed) and not r.permanent for r in results)
    assert "cannot connect" in results[0].reason


def test_a_server_that_never_answers_times_out_as_transient():
    listener = socket.create_server((HOST, 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    try:
        mailer = SmtpMailer(HOST, listener.getsockname()[1], "", "", "none", MAIL_FROM, 0.5)
        (result,) = send_each(mailer, [outgoing()])
    finally:
        thread.join(5)
        for conn, _ in accepted:
            conn.close()
        listener.close()
    assert isinstance(result, DeliveryFailed)
    assert not result.permanent
    assert "timed out" in result.reason


def test_line_breaks_in_a_header_fail_that_message_permanently_and_nothing_is_injected(smtp_server):
    emails = [
        outgoing("a@partner.example"),
        outgoing("b@partner.example", subject="Hi\r\nBcc: victim@evil.example"),
    ]
    emails.append(outgoing("c@partner.example"))
    results = send_each(mailer_for(smtp_server), emails)

    assert isinstance(results[1], DeliveryFailed) and results[1].permanent
    assert "line break" in results[1].reason
    assert [r.rcpt_tos for r in smtp_server.received] == [("a@partner.example",), ("c@partner.example",)]
    assert all(b"victim" not in r.data for r in smtp_server.received)


def test_an_internationalised_recipient_is_sent_with_smtputf8_and_arrives_intact(smtp_server):
    (result,) = send_each(
        mailer_for(smtp_server), [outgoing("用户@例子.广告", reply_to="pelé@brand.example")]
    )
    assert isinstance(result, str)
    (received,) = smtp_server.received
    assert received.rcpt_tos == ("用户@例子.广告",)
    assert received.smtputf8
    (msg,) = smtp_server.messages()
    assert [a.addr_spec for a in msg["To"].addresses] == ["用户@例子.广告"]
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["pelé@brand.example"]


def test_an_internationalised_recipient_fails_permanently_when_the_server_lacks_smtputf8():
    with running(SmtpTestServer(smtputf8=False)) as server:
        results = send_each(mailer_for(server), [outgoing("用户@例子.广告"), outgoing("bob@partner.example")])
        assert isinstance(results[0], DeliveryFailed) and results[0].permanent
        assert "SMTPUTF8" in results[0].reason
        assert [r.rcpt_tos for r in server.received] == [("bob@partner.example",)]


def test_starttls_with_login_works(smtp_starttls_server, smtp_client_context):
    mailer = mailer_for(smtp_starttls_server, "starttls", USERNAME, PASSWORD, smtp_client_context)
    results = send_each(mailer, batch(3))

    assert all(isinstance(r, str) for r in results)
    assert smtp_starttls_server.logins == [USERNAME]
    assert [r.login for r in smtp_starttls_server.received] == [USERNAME] * 3
    assert smtp_starttls_server.connections == 1


def test_a_wrong_password_is_a_permanent_login_failure(smtp_starttls_server, smtp_client_context):
    mailer = mailer_for(smtp_starttls_server, "starttls", USERNAME, "wrong", smtp_client_context)
    results = send_each(mailer, batch(2))

    assert all(isinstance(r, DeliveryFailed) and r.permanent for r in results)
    assert "login refused: 535" in results[0].reason
    assert smtp_starttls_server.received == []
    assert smtp_starttls_server.connections == 1  # the session does not hammer a server that refused it


def test_without_a_username_no_login_is_attempted(smtp_starttls_server, smtp_client_context):
    mailer = mailer_for(smtp_starttls_server, "starttls", ssl_context=smtp_client_context)
    (result,) = send_each(mailer, [outgoing()])
    assert isinstance(result, DeliveryFailed)  # this server requires AUTH, so it refuses MAIL FROM
    assert smtp_starttls_server.logins == []


def test_plain_smtp_to_a_server_that_requires_starttls_is_refused(smtp_starttls_server):
    (result,) = send_each(mailer_for(smtp_starttls_server, "none"), [outgoing()])
    assert isinstance(result, DeliveryFailed)
    assert smtp_starttls_server.received == []


def test_implicit_tls_works_with_and_without_login(smtp_tls_server, smtp_client_context):
    plain = mailer_for(smtp_tls_server, "tls", ssl_context=smtp_client_context)
    with_login = mailer_for(smtp_tls_server, "tls", USERNAME, PASSWORD, smtp_client_context)
    assert isinstance(send_each(plain, [outgoing("a@partner.example")])[0], str)
    assert isinstance(send_each(with_login, [outgoing("b@partner.example")])[0], str)

    assert [(r.rcpt_tos, r.login) for r in smtp_tls_server.received] == [
        (("a@partner.example",), None),
        (("b@partner.example",), USERNAME),
    ]


def test_an_untrusted_certificate_is_a_transient_tls_failure(smtp_tls_server):
    mailer = mailer_for(smtp_tls_server, "tls", ssl_context=ssl.create_default_context())
    (result,) = send_each(mailer, [outgoing()])
    assert isinstance(result, DeliveryFailed)
    assert not result.permanent
    assert "certificate" in result.reason.lower()
    assert smtp_tls_server.received == []


def test_an_unknown_security_mode_is_refused_at_construction():
    with pytest.raises(ValueError, match="none, starttls, tls"):
        SmtpMailer(HOST, 25, "", "", "ssl", MAIL_FROM, 5.0)  # type: ignore[arg-type]
