"""Pure pieces of conversations in Slack threads: a DM message read as Slack sends it, and an e-mail reply's
subject and threading headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.handlers.parsing import parse_dm_message, plain_text
from outreach.conversation_reply import MAX_REFERENCES, first_line, re_subject, threading
from outreach.conversations import held_reason, reply_channel
from outreach.models import Attachment, Channel, ReceivedFile, ScanStatus, ScanVerdict, ThreadEmail

AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("Terms &amp; conditions &lt;b&gt;", "Terms & conditions <b>"),
        ("&amp;lt; stays written", "&lt; stays written"),  # unescaped once: the user typed "&lt;"
        ("see <https://brand.example/rates>", "see https://brand.example/rates"),
        ("see <https://brand.example/rates|our rates>", "see our rates (https://brand.example/rates)"),
        ("<https://brand.example|brand.example>", "https://brand.example"),
        ("write to <mailto:ann@brand.example|ann@brand.example>", "write to ann@brand.example"),
        ("ask <@U0002> or <@U0003|wei>", "ask @U0002 or @wei"),
        ("in <#C0001|general>, <!here>", "in #general, @here"),
        ("<!subteam^S0001|@sales> knows", "@sales knows"),
    ],
)
def test_a_messages_text_reads_as_its_writer_meant_it(sent, meant):
    assert plain_text(sent) == meant


def im(**event):
    base = {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "ts": "2.0", "text": "hi"}
    return parse_dm_message({"team_id": "T1"}, {**base, **event})


def test_a_persons_message_in_a_dm_thread_is_read_with_its_files():
    message = im(thread_ts="1.0", subtype="file_share", files=[{"id": "F1"}], text="a &amp; b")
    assert message is not None and message.in_thread
    assert (message.team_id, message.user, message.channel, message.thread_ts) == ("T1", "U1", "D1", "1.0")
    assert message.text == "a & b" and message.files == ({"id": "F1"},)
    assert im(thread_ts="1.0", subtype="thread_broadcast") is not None
    assert not im().in_thread and not im(thread_ts="2.0").in_thread  # a parent is not in a thread


@pytest.mark.parametrize(
    "event",
    [
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"subtype": "channel_join"},
        {"subtype": "bot_message"},
        {"bot_id": "B1"},
        {"user": None},
        {"channel_type": "channel"},
        {"type": "app_mention"},
        {"hidden": True},
    ],
)
def test_anything_but_a_persons_message_in_a_dm_is_not_read(event):
    assert im(**event) is None


def test_a_reply_subject_gets_re_once():
    assert re_subject("Partnership with {mpname}") == "Re: Partnership with {mpname}"
    assert re_subject("RE: Partnership") == "RE: Partnership"
    assert re_subject("re:x") == "re:x"
    assert re_subject("  ") == ""


def test_a_first_emails_subject_is_the_first_line_with_words():
    assert first_line("\n  \n  Hello   there \nsecond") == "Hello there"
    assert first_line("x" * 100, 10) == "x" * 9 + "…"
    assert first_line("") == ""


def sent(message_id: str, minutes: int) -> ThreadEmail:
    return ThreadEmail(message_id, "Hi", "Ann", "ann@b.example", "U1", AT + timedelta(minutes=minutes))


def test_a_reply_answers_the_last_email_of_either_side_and_references_all_in_order():
    ours = [sent("<1@us>", 0), sent("<3@us>", 20)]
    theirs = [("<2@them>", AT + timedelta(minutes=10)), ("<4@them>", AT + timedelta(minutes=30))]
    assert threading(ours, theirs) == ("<4@them>", ("<1@us>", "<2@them>", "<3@us>", "<4@them>"))
    assert threading([], []) == ("", ())
    assert threading([sent("<1@us>", 0), sent("<1@us>", 5)], []) == ("<1@us>", ("<1@us>",))


def test_a_long_chain_of_references_keeps_the_first_and_the_latest():
    chain = [sent(f"<{i}@us>", i) for i in range(30)]
    last, references = threading(chain, [])
    assert (
        len(references) == MAX_REFERENCES
        and references[0] == "<0@us>"
        and references[-1] == last == "<29@us>"
    )


def test_a_reply_goes_as_a_message_only_in_an_in_platform_conversation_with_messaging_on():
    assert reply_channel(Channel.MESSAGE, True, "a@b.example") is Channel.MESSAGE
    assert reply_channel(Channel.MESSAGE, False, "a@b.example") is Channel.EMAIL
    assert reply_channel(Channel.EMAIL, True, "a@b.example") is Channel.EMAIL
    assert reply_channel(Channel.MESSAGE, False, "") is None


def test_a_held_files_reason_names_the_virus():
    infected = Attachment(
        "x.pdf", "application/pdf", "s", b"x", ScanVerdict(ScanStatus.INFECTED, "Eicar-Test")
    )
    assert held_reason(ReceivedFile(infected, "infected", "found")) == "infected: Eicar-Test"
    assert held_reason(ReceivedFile(infected, "unscannable")) == "unscannable"
