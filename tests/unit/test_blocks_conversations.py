"""A conversation's messages in Slack — the thread's parent, each event, what came of a reply written there — stay
within Slack's limits, escape what people wrote, and read in both languages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.blocks.conversations import (
    build_event,
    build_hint,
    build_parent,
    build_reply_not_allowed,
    build_reply_refused,
    build_reply_sending,
)
from bot.i18n import Translator
from outreach.conversations import ConversationHeader
from outreach.errors import Problem
from outreach.models import Attachment, Channel, ConversationEvent, EventKind

AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
EN, ZH = Translator(), Translator("zh-CN")


def text_of(built) -> str:
    text, blocks = built
    return text + json.dumps(blocks, ensure_ascii=False)


def event(kind=EventKind.REPLY, text="Thanks!", **kw) -> ConversationEvent:
    return ConversationEvent("T1", "m1", "U1", kind, Channel.EMAIL, AT, text, **kw)


def test_the_parent_says_with_whom_and_how_a_reply_written_there_goes():
    email = ConversationHeader(
        "m1", "A&B <Media>", Channel.EMAIL, "ava@ab.example", "Re: Rates", Channel.EMAIL
    )
    shown = text_of(build_parent(email, EN))
    assert build_parent(email, EN)[0] == "Conversation with A&B <Media>"  # fallback text is plain
    assert "A&amp;B &lt;Media&gt;" in shown and "Subject: Re: Rates" in shown
    assert "your text and files go to ava@ab.example by e-mail" in shown
    message = ConversationHeader("m1", "Acme", Channel.MESSAGE, "", "", Channel.MESSAGE)
    assert "go to them as a message" in text_of(build_parent(message, EN))
    nowhere = ConversationHeader("m9", "Quiet", Channel.EMAIL, "", "", None)
    assert "cannot reach them" in text_of(build_parent(nowhere, EN))
    assert build_parent(message, ZH)[0] == "与 Acme 的对话"
    assert "以消息形式发送" in text_of(build_parent(message, ZH))


def test_a_reply_quotes_the_partner_escaped_counts_its_files_and_names_those_held_back():
    kit = Attachment("kit.pdf", "application/pdf", "s", b"x", id=1)
    shown = text_of(
        build_event(
            event(
                text="<b>hi</b> & bye",
                files=(kit,),
                held=(("x.pdf", "infected: Eicar"), ("y.exe", "type_not_allowed")),
            ),
            "Acme",
            EN,
        )
    )
    assert "> &lt;b&gt;hi&lt;/b&gt; &amp; bye" in shown and "1 file(s), below" in shown
    assert "x.pdf: the virus scanner found Eicar." in shown and "y.exe: not a file type we accept" in shown
    zh = text_of(build_event(event(held=(("x.pdf", "unscannable"),)), "Acme", ZH))
    assert "Acme 回复了你的消息。" in zh and "x.pdf：无法扫描。" in zh


def test_a_long_reply_is_clipped_within_a_section_and_an_empty_one_says_so():
    _, blocks = build_event(event(text="word " * 2000), "Acme", EN)
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    assert "(no text)" in text_of(build_event(event(text="  "), "Acme", EN))


@pytest.mark.parametrize(
    ("kind", "kw", "expected"),
    [
        (
            EventKind.BOUNCE,
            {"detail": "5.1.1 user unknown", "text": "550 no such user"},
            "bounced: 5.1.1 user unknown",
        ),
        (
            EventKind.UNSUBSCRIBED,
            {"detail": "ava@acme.example", "text": ""},
            "ava@acme.example (Acme) unsubscribed",
        ),
        (EventKind.FOLLOWUP_SENT, {"text": "Just checking in"}, "Follow-up sent to Acme."),
        (
            EventKind.FOLLOWUP_SKIPPED,
            {"detail": "they replied", "text": ""},
            "Follow-up not sent to Acme: they replied",
        ),
    ],
)
def test_each_kind_of_event_says_what_happened(kind, kw, expected):
    assert expected in text_of(build_event(event(kind, **kw), "Acme", EN))
    text, blocks = build_event(event(kind, **kw), "Acme", ZH)
    assert text and blocks  # the Chinese catalog has it too


def test_a_refused_reply_names_every_problem_and_every_file_not_fetched_in_the_readers_language():
    problems = [
        Problem(
            "attachments",
            "infected",
            "bad.pdf: the virus scanner found Eicar",
            (("filename", "bad.pdf"), ("signature", "Eicar")),
        ),
        Problem("recipient", "suppressed", "x@y.example unsubscribed", (("email", "x@y.example"),)),
    ]
    shown = text_of(build_reply_refused("Acme", problems, [("big.pdf", "files.too_large")], EN))
    assert "Not sent to Acme" in shown and "bad.pdf: the virus scanner found Eicar" in shown
    assert "big.pdf is larger than the 10 MB limit" in shown and "x@y.example unsubscribed" in shown
    zh = text_of(build_reply_refused("Acme", problems, [], ZH))
    assert "bad.pdf：病毒扫描发现 Eicar。" in zh and "x@y.example 已退订或退信" in zh


def test_the_short_answers_are_plain_sections():
    for built in (
        build_reply_sending("Acme", Channel.EMAIL, EN),
        build_reply_sending("Acme", Channel.MESSAGE, ZH),
        build_reply_not_allowed(EN),
        build_hint(ZH),
    ):
        text, blocks = built
        assert text and len(blocks) == 1
    assert "by e-mail" in build_reply_sending("Acme", Channel.EMAIL, EN)[0]
