"""build_message: every message is serialised to bytes and parsed back, as a receiving client would."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from outreach.mailmsg import build_message, mail_from_address
from outreach.models import Attachment, OutgoingEmail

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CSV = "name;city\r\n张伟;北京\nAnn;Zürich\n".encode()


def attachment(name, mime, data):
    return Attachment(filename=name, mime_type=mime, sha256=hashlib.sha256(data).hexdigest(), data=data)


def outgoing(**changes):
    values = {
        "to": "partner@example.org",
        "sender_name": "Ann Lee",
        "reply_to": "ann@brand.example",
        "subject": "Let's work together",
        "text": "Hello Bob,\nhere is our offer.\n",
        "html": "<p>Hello <b>Bob</b>,</p><p>here is our offer.</p>",
    }
    values.update(changes)
    return OutgoingEmail(**values)


def roundtrip(email, mail_from="outreach@brand.example", **kwargs):
    raw = build_message(email, mail_from, "brand.example", **kwargs).as_bytes()
    return raw, message_from_bytes(raw, policy=policy.default)


def test_from_carries_the_sender_name_with_the_mail_from_address():
    _, msg = roundtrip(outgoing(sender_name="Ann Lee"), mail_from="Brand Mailer <outreach@brand.example>")
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Ann Lee", "outreach@brand.example")


def test_to_and_reply_to_come_from_the_email():
    _, msg = roundtrip(outgoing(to="bob@partner.example", reply_to="ann@brand.example"))
    assert [a.addr_spec for a in msg["To"].addresses] == ["bob@partner.example"]
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["ann@brand.example"]


def test_chinese_subject_and_sender_name_arrive_intact_and_are_rfc2047_encoded_on_the_wire():
    raw, msg = roundtrip(outgoing(subject="关于合作的邀请", sender_name="张伟"))
    assert msg["Subject"] == "关于合作的邀请"
    assert msg["From"].addresses[0].display_name == "张伟"
    assert raw.isascii()
    assert b"=?utf-8?" in raw


def test_a_long_chinese_subject_is_folded_and_still_arrives_intact():
    subject = "关于合作的邀请，" * 20
    raw, msg = roundtrip(outgoing(subject=subject))
    assert msg["Subject"] == subject
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


@pytest.mark.parametrize("name", ['Lee, Ann "the boss"', "Ann (Brand)", "Ann <ceo@brand.example>"])
def test_sender_names_with_special_characters_arrive_as_written(name):
    _, msg = roundtrip(outgoing(sender_name=name))
    assert msg["From"].addresses[0].display_name == name
    assert msg["From"].addresses[0].addr_spec == "outreach@brand.example"


def test_without_attachments_the_message_is_text_and_html_alternatives():
    email = outgoing(text="Hi 张伟\n", html="<p>Hi 张伟</p>")
    raw, msg = roundtrip(email)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    # MIME's canonical line ending inside encoded text is CRLF
    assert msg.get_body(("plain",)).get_content() == "Hi 张伟\r\n"
    assert msg.get_body(("html",)).get_content() == "<p>Hi 张伟</p>\r\n"
    assert raw.isascii()  # bodies too: 7-bit clean for any server


def test_attachments_go_into_multipart_mixed_with_their_types_names_and_exact_bytes():
    files = (
        attachment("offer.pdf", "application/pdf", PDF),
        attachment("logo.png", "image/png", PNG),
        attachment("partners.csv", "text/csv", CSV),
    )
    _, msg = roundtrip(outgoing(attachments=files))
    assert msg.get_content_type() == "multipart/mixed"
    alternative = next(msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    got = [
        (a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()
    ]
    assert got == [
        ("offer.pdf", "application/pdf", PDF),
        ("logo.png", "image/png", PNG),
        ("partners.csv", "text/csv", CSV),
    ]
    assert all(a.get_content_disposition() == "attachment" for a in msg.iter_attachments())


def test_a_chinese_file_name_is_rfc2231_encoded_and_arrives_intact():
    raw, msg = roundtrip(outgoing(attachments=(attachment("合作方案 2024.pdf", "application/pdf", PDF),)))
    (part,) = msg.iter_attachments()
    assert part.get_filename() == "合作方案 2024.pdf"
    assert b"filename*=utf-8''" in raw


def test_a_malformed_mime_type_falls_back_to_octet_stream():
    _, msg = roundtrip(outgoing(attachments=(attachment("x.bin", "nonsense", b"\x00\x01"),)))
    (part,) = msg.iter_attachments()
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_payload(decode=True) == b"\x00\x01"


def test_extra_headers_are_added():
    headers = (
        ("List-Unsubscribe", "<mailto:unsubscribe@brand.example?subject=stop>, <https://brand.example/u/1>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("X-Outreach-Draft", "42"),
    )
    _, msg = roundtrip(outgoing(headers=headers))
    for name, value in headers:
        assert msg[name].strip() == value  # a folded first line leaves the unfolded value's leading space


def test_date_and_message_id_are_set():
    when = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
    _, msg = roundtrip(outgoing(), date=when)
    assert msg["Date"].datetime == when
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@brand.example>")


def test_each_message_gets_its_own_message_id():
    ids = {
        str(build_message(outgoing(), "outreach@brand.example", "brand.example")["Message-ID"])
        for _ in range(50)
    }
    assert len(ids) == 50


def test_only_the_top_level_carries_mime_version():
    raw, _ = roundtrip(outgoing(attachments=(attachment("logo.png", "image/png", PNG),)))
    assert raw.count(b"MIME-Version:") == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hi\r\nBcc: victim@example.com"},
        {"subject": "Hi\nthere"},
        {"sender_name": "Ann\rLee"},
        {"reply_to": "ann@brand.example\r\nBcc: victim@example.com"},
        {"to": "bob@partner.example\nBcc: victim@example.com"},
        {"headers": (("X-Note", "a\r\nBcc: victim@example.com"),)},
        {"attachments": (attachment("a\r\nb.pdf", "application/pdf", PDF),)},
    ],
)
def test_line_breaks_in_any_header_value_are_refused(changes):
    with pytest.raises(ValueError, match="line break"):
        build_message(outgoing(**changes), "outreach@brand.example", "brand.example")


@pytest.mark.parametrize(
    "headers", [(("Bcc", "x@example.com"),), (("subject", "other"),), (("Bad Name", "x"),), (("X:Y", "x"),)]
)
def test_extra_headers_may_not_replace_our_own_or_be_malformed(headers):
    with pytest.raises(ValueError, match="extra header"):
        build_message(outgoing(headers=headers), "outreach@brand.example", "brand.example")


@pytest.mark.parametrize("changes", [{"to": "a@b.com, c@d.com"}, {"to": ""}, {"reply_to": "Ann <ann@x.com>"}])
def test_to_and_reply_to_must_each_be_one_address(changes):
    with pytest.raises(ValueError, match="not one valid"):
        build_message(outgoing(**changes), "outreach@brand.example", "brand.example")


def test_an_empty_reply_to_leaves_the_header_out():
    _, msg = roundtrip(outgoing(reply_to=""))
    assert "Reply-To" not in msg


def test_mail_from_may_be_written_with_a_name_but_must_be_an_address():
    assert mail_from_address("Brand <outreach@brand.example>") == "outreach@brand.example"
    assert mail_from_address("outreach@brand.example") == "outreach@brand.example"
    with pytest.raises(ValueError, match="MAIL_FROM"):
        mail_from_address("not an address")
