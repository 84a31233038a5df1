"""Inbound e-mail read as matching needs it: ids, recipients, the words without our quoted text, the files, and
RFC 3464 delivery status notifications — from real messages built with the standard library."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import pytest

from bot.devtools.mail_samples import dsn, reply
from outreach.mail_parsing import header_summary, looks_like_mail, parse_mail, strip_quoted
from tests.attachment_samples import pdf, png


def test_a_replys_ids_come_in_reply_to_first_then_references_newest_first():
    raw = reply(
        in_reply_to="<b@brand.example>", references="<a@brand.example> <b@brand.example> <c@x.example>"
    )
    mail = parse_mail(raw)
    assert mail.references == ("<b@brand.example>", "<c@x.example>", "<a@brand.example>")
    assert mail.message_id.startswith("<") and mail.message_id.endswith("@acme.example>")
    assert mail.from_address == "al@acme.example" and mail.recipients == ("outreach@brand.example",)
    assert not mail.is_dsn and not mail.auto_submitted


def test_our_quoted_text_is_cut_from_the_words():
    mail = parse_mail(
        reply(in_reply_to="<b@x>", text="Yes, let's do it.\n\nAl", quoted="Hello Al,\nour offer")
    )
    assert mail.text == "Yes, let's do it.\n\nAl"


@pytest.mark.parametrize(
    "separator",
    [
        "On Tue, Jan 19, 2038 at 3:14 AM Ann Lee <ann@brand.example> wrote:",
        "-----Original Message-----",
        "在 2038年1月19日 03:14，Ann Lee <ann@brand.example> 写道：",
        "________________________________",
    ],
)
def test_the_usual_quote_introductions_of_mail_clients_are_recognised(separator):
    assert strip_quoted(f"Sounds good\n\n{separator}\n> Hello\n> there") == "Sounds good"


def test_a_quote_introduction_wrapped_over_two_lines_is_recognised():
    text = "Fine by me\n\nOn Tue, Jan 19, 2038 at 3:14 AM Ann Lee <ann@brand.example>\nwrote:\n> Hello"
    assert strip_quoted(text) == "Fine by me"


def test_a_reply_that_is_only_a_quote_keeps_its_text():
    assert strip_quoted("> only quoted") == "> only quoted"


def test_an_html_only_reply_gives_its_text_without_tags_or_scripts():
    html = "<html><head><style>p{}</style></head><body><p>Hi <b>Ann</b>,</p><p>count me in</p>"
    html += "<script>x()</script></body></html>"
    assert parse_mail(reply(html=html)).text == "Hi Ann,\n\ncount me in"


def test_files_come_with_their_names_types_and_exact_bytes():
    deck, logo = pdf(), png()
    files = (("deck.pdf", "application/pdf", deck), ("logo.png", "image/png", logo))
    mail = parse_mail(reply(files=files))
    assert [(f.name, f.mime, f.data) for f in mail.files] == [
        ("deck.pdf", "application/pdf", deck),
        ("logo.png", "image/png", logo),
    ]
    assert mail.text == "Sounds great, let's talk."


def test_a_forwarded_message_is_a_file_of_its_own():
    inner = EmailMessage()
    inner["Subject"] = "fwd"
    inner.set_content("inside")
    outer = EmailMessage()
    outer["From"] = "al@acme.example"
    outer.set_content("see attached")
    outer.add_attachment(inner)
    mail = parse_mail(outer.as_bytes(policy=policy.SMTP))
    (file,) = mail.files
    assert file.mime == "message/rfc822" and b"inside" in file.data


def test_a_hard_bounce_names_its_recipient_status_and_the_original_message():
    mail = parse_mail(dsn("Al@Acme.example", original_id="<o1@brand.example>"))
    assert mail.is_dsn and mail.auto_submitted and mail.original_ids == ("<o1@brand.example>",)
    (failed,) = mail.dsn
    assert (failed.final_recipient, failed.action, failed.status) == ("al@acme.example", "failed", "5.1.1")
    assert failed.hard and not failed.soft and failed.diagnostic.startswith("smtp; 550 5.1.1")
    assert mail.files == () and mail.text == ""


def test_a_delay_is_soft_and_the_original_can_come_whole_or_not_at_all():
    whole = parse_mail(
        dsn("al@acme.example", original_id="<o2@b>", status="4.4.1", action="delayed", returned="message")
    )
    assert whole.dsn[0].soft and not whole.dsn[0].hard and whole.original_ids == ("<o2@b>",)
    bare = parse_mail(
        dsn("al@acme.example", original_id="<o3@b>", returned="none", original_recipient="Al@Old.example")
    )
    assert bare.original_ids == () and bare.dsn[0].addresses() == {"al@acme.example", "al@old.example"}


def test_a_report_of_another_kind_is_not_a_bounce():
    raw = dsn("al@acme.example").replace(
        b'report-type="delivery-status"', b'report-type="disposition-notification"'
    )
    assert not parse_mail(raw).is_dsn


def test_the_headers_alone_tell_a_dsn_an_auto_reply_and_what_a_reply_names():
    head = (
        dsn("al@acme.example", to="outreach+b1.aaaaaaaaaaaa@brand.example").split(b"\r\n\r\n")[0]
        + b"\r\n\r\n"
    )
    summary = header_summary(head)
    assert summary.is_dsn and summary.recipients == ("outreach+b1.aaaaaaaaaaaa@brand.example",)
    answer = header_summary(
        reply(in_reply_to="<b@x>", headers=(("Auto-Submitted", "auto-replied"),)).split(b"\r\n\r\n")[0]
    )
    assert answer.references == ("<b@x>",) and answer.auto_submitted and not answer.is_dsn
    assert not header_summary(reply(headers=(("Auto-Submitted", "no"),))).auto_submitted


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b"no header here",
        b"From: \r\n\r\n\r\n",
        b"Content-Type: multipart/report\r\n\r\n",
    ],
)
def test_anything_parses_without_an_exception(raw):
    mail = parse_mail(raw)
    assert mail.dsn == () and mail.references == ()


def test_only_bytes_that_start_with_a_header_field_look_like_mail():
    assert looks_like_mail(reply()) and looks_like_mail(b"\r\nReceived: from x\r\n\r\nbody")
    assert (
        not looks_like_mail(b"hello there")
        and not looks_like_mail(b"")
        and not looks_like_mail(b'{"json": 1}')
    )
