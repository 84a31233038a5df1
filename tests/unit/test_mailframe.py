"""A send's messages built from one frame: every message joined from its chunks and parsed back by the standard
library, as a receiving client would, and compared with what it was made from."""

from __future__ import annotations

import hashlib
from email import message_from_bytes, policy

import pytest

from outreach.adapters.smtp import SmtpMailer
from outreach.errors import DeliveryFailed
from outreach.mailframe import Frame
from outreach.models import Attachment, OutgoingEmail

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MAIL_FROM = "Brand <outreach@brand.example>"


def attachment(name, mime, data):
    return Attachment(filename=name, mime_type=mime, sha256=hashlib.sha256(data).hexdigest(), data=data)


FILES = (attachment("offer.pdf", "application/pdf", PDF), attachment("合作 方案.png", "image/png", PNG))


def outgoing(to="bob@partner.example", **changes):
    values = {
        "to": to,
        "sender_name": "Ann Lee",
        "reply_to": "ann@brand.example",
        "subject": "Let's work together",
        "text": "Hello Bob,\nhere is our offer.\n",
        "html": "<p>Hello <b>Bob</b>,</p><p>here is our offer.</p>",
        "headers": (
            ("List-Unsubscribe", "<https://brand.example/unsubscribe?t=" + "x" * 90 + ">"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    }
    values.update(changes)
    return OutgoingEmail(**values)


def session():
    return SmtpMailer("127.0.0.1", 25, "", "", "none", MAIL_FROM, 5).open()


def built(email, on=None):
    mail = (on or session()).build(email)
    raw = mail.data
    msg = message_from_bytes(raw, policy=policy.default)
    return mail, raw, msg


def well_formed(raw, msg):
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF
    assert raw.isascii()
    assert [d for part in msg.walk() for d in part.defects] == []


def body(msg, kind):
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Let's work together", "Hello Bob,\nhere is our offer.\n"),
        ("关于合作的邀请", "你好 Bob，\n这是我们的提议。\n"),
        ("A partnership for Rossi Media 5, 伟 Díaz", "Hi 伟 Díaz,\n"),
        ("关于合作的邀请，" * 20, "x" * 300 + "\n" + "长" * 200 + "\n"),
        ("A " + "very " * 40 + "long subject", "a line with trailing space \nand a tab\t\n"),
        ("=?utf-8?q?not_an_encoded_word?= is text", "=?utf-8?q?x?= and == and --\n"),
        ("Ünïcödé and ascii 伟 mixed 伟伟 words here", ".\n.a line starting with a dot\n..\n"),
    ],
)
def test_every_message_parses_back_to_what_it_was_made_from(subject, text):
    email = outgoing(subject=subject, text=text, html=f"<p>{text}</p>", attachments=FILES)
    _, raw, msg = built(email)
    well_formed(raw, msg)
    assert msg["Subject"] == subject
    assert body(msg, "plain") == text
    assert body(msg, "html") == f"<p>{text}</p>\n"
    assert [a.addr_spec for a in msg["To"].addresses] == ["bob@partner.example"]
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["ann@brand.example"]
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Ann Lee", "outreach@brand.example")
    got = [
        (a.get_filename(), a.get_content_type(), hashlib.sha256(a.get_content()).hexdigest())
        for a in msg.iter_attachments()
    ]
    assert got == [(f.filename, f.mime_type, f.sha256) for f in FILES]
    assert msg["List-Unsubscribe"] == dict(email.headers)["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert raw.count(b"MIME-Version:") == 1


def test_headers_are_folded_to_78_characters_where_they_have_spaces_and_non_ascii_is_rfc2047_encoded():
    subject = "关于合作的邀请，" * 20 + " and" + " words" * 30
    _, raw, msg = built(outgoing(subject=subject, headers=()))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert b"Subject: =?utf-8?b?" in head
    assert msg["Subject"] == subject


def test_the_list_unsubscribe_url_goes_as_written_not_encoded():
    email = outgoing()
    _, raw, _ = built(email)
    assert b"List-Unsubscribe: " + dict(email.headers)["List-Unsubscribe"].encode() + b"\r\n" in raw


def test_a_chinese_sender_name_and_file_name_arrive_intact():
    _, raw, msg = built(outgoing(sender_name="张伟", attachments=FILES))
    well_formed(raw, msg)
    assert msg["From"].addresses[0].display_name == "张伟"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["offer.pdf", "合作 方案.png"]


def test_a_text_holding_the_boundary_is_encoded_so_the_boundary_never_appears_in_a_body():
    probe = session()
    first, _, _ = built(outgoing(to="a@partner.example"), on=probe)
    boundary = next(line for line in first.data.split(b"\r\n") if line.startswith(b"--=")).decode()
    text = f"look:\n{boundary}\n{boundary}--\n"
    _, raw, msg = built(outgoing(to="b@partner.example", text=text), on=probe)
    well_formed(raw, msg)
    assert body(msg, "plain") == text
    assert [p.get_content_type() for p in msg.walk()] == ["multipart/alternative", "text/plain", "text/html"]


def test_the_messages_of_a_send_share_the_encoded_attachment_and_differ_in_their_ids():
    probe = session()
    mails = [probe.build(outgoing(to=f"p{i}@partner.example", attachments=FILES)) for i in range(20)]
    biggest = [max(m.parts, key=len) for m in mails]
    assert all(chunk is biggest[0] for chunk in biggest)  # one object for every message: held once
    assert len({m.message_id for m in mails}) == 20
    for i, mail in enumerate(mails):
        msg = message_from_bytes(mail.data, policy=policy.default)
        assert msg["Message-ID"] == mail.message_id
        assert [a.addr_spec for a in msg["To"].addresses] == [f"p{i}@partner.example"]


def test_another_send_with_other_files_under_the_same_names_gets_its_own_frame():
    probe = session()
    other = (attachment("offer.pdf", "application/pdf", PDF + b"v2"),)
    probe.build(outgoing(attachments=FILES[:1]))
    _, _, msg = built(outgoing(attachments=other), on=probe)
    (part,) = msg.iter_attachments()
    assert part.get_content() == PDF + b"v2"


def test_a_non_ascii_address_is_built_the_general_way_for_smtputf8():
    mail = session().build(outgoing(to="张伟@例子.example"))
    assert mail.international
    assert len(mail.parts) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hi\r\nBcc: victim@example.com"},
        {"sender_name": "Ann\rLee"},
        {"reply_to": "ann@brand.example\r\nBcc: victim@example.com"},
        {"to": "bob@partner.example\nBcc: victim@example.com"},
        {"headers": (("X-Note", "a\r\nBcc: victim@example.com"),)},
        {"headers": (("Bcc", "x@example.com"),)},
        {"headers": (("Bad Name", "x"),)},
        {"to": "a@b.com, c@d.com"},
        {"reply_to": "Ann <ann@x.com>"},
        {"attachments": (attachment("a\r\nb.pdf", "application/pdf", PDF),)},
    ],
)
def test_what_build_message_refuses_the_frame_refuses_too(changes):
    with pytest.raises(DeliveryFailed) as refused:
        session().build(outgoing(**changes))
    assert refused.value.refusal.permanent


def test_a_frame_is_only_made_for_what_it_shares():
    frame = Frame(outgoing(attachments=FILES), MAIL_FROM)
    parts, message_id = frame.render(outgoing(to="c@partner.example", attachments=FILES), "brand.example")
    msg = message_from_bytes(b"".join(parts), policy=policy.default)
    assert msg["Message-ID"] == message_id
    assert message_id.endswith("@brand.example>")


def test_the_same_files_in_other_objects_reuse_the_frame_and_its_encoded_attachment():
    probe = session()
    copies = tuple(attachment(f.filename, f.mime_type, bytes(f.data)) for f in FILES)
    first = probe.build(outgoing(to="a@partner.example", attachments=FILES))
    second = probe.build(outgoing(to="b@partner.example", attachments=copies))
    assert max(first.parts, key=len) is max(second.parts, key=len)


def test_an_email_without_a_sender_name_shows_the_from_name_as_build_message_does():
    _, _, msg = built(outgoing(sender_name=""))
    assert msg["From"] == MAIL_FROM
    _, _, named = built(outgoing(sender_name="Ann Lee"))
    assert named["From"] == "Ann Lee <outreach@brand.example>"
