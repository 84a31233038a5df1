"""The digest and inbound-reply builders stay within Slack's limits and say what matters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.blocks.digest import MAX_SHOWN, age_text, build_digest
from bot.blocks.inbound import build_inbound, reply_text
from bot.i18n import Translator
from outreach.digest import DigestFor, DigestItem
from outreach.inbound import InboundResult
from outreach.models import (
    Attachment,
    Channel,
    Direction,
    Partner,
    ReceivedFile,
    ScanStatus,
    ScanVerdict,
    Thread,
    ThreadMessage,
)

AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


def test_a_long_digest_shows_the_first_drafts_and_counts_the_rest():
    items = tuple(DigestItem(i, Channel.EMAIL, f"Draft {i}", 3, timedelta(days=2)) for i in range(40))
    blocks = build_digest(DigestFor("T1", "U1", items), Translator())
    assert len(blocks) <= 50
    assert sum(b["type"] == "actions" for b in blocks) == MAX_SHOWN
    assert blocks[-1]["elements"][0]["text"] == f"and {40 - MAX_SHOWN} more"


def test_an_untitled_draft_gets_a_placeholder_and_titles_are_escaped():
    items = (
        DigestItem(1, Channel.MESSAGE, "", 1, timedelta(hours=30)),
        DigestItem(2, Channel.EMAIL, "<b>&", 1, timedelta(hours=30)),
    )
    shown = json.dumps(build_digest(DigestFor("T1", "U1", items), Translator()))
    assert "(empty draft)" in shown and "&lt;b&gt;&amp;" in shown


def test_ages_read_in_hours_then_days():
    t = Translator()
    assert age_text(timedelta(minutes=5), t) == "1 hour(s)"
    assert age_text(timedelta(hours=47), t) == "47 hour(s)"
    assert age_text(timedelta(days=9, hours=5), t) == "9 day(s)"


def _result(files, body="Hello"):
    message = ThreadMessage(Direction.IN, body, author_id="m1", at=AT, id=7, external_id="x", files=files)
    thread = Thread("T1", "m1", Channel.MESSAGE, id=3)
    return InboundResult("T1", "U1", Partner("T1", "m1", "Acme"), thread, message)


def test_the_reply_dm_lists_kept_and_held_files_with_the_reason():
    clean = Attachment("a.pdf", "application/pdf", "s1", b"x", ScanVerdict(ScanStatus.CLEAN))
    bad = Attachment("b.pdf", "application/pdf", "s2", b"y", ScanVerdict(ScanStatus.INFECTED, "Eicar"))
    odd = Attachment("c.exe", "application/x-executable", "s3", b"z")
    files = (
        ReceivedFile(clean),
        ReceivedFile(bad, "infected", "found"),
        ReceivedFile(odd, "type_not_allowed"),
    )
    for t, kept, infected in (
        (Translator(), "Files kept: a.pdf", "b.pdf: the virus scanner found Eicar."),
        (Translator("zh-CN"), "已保留的文件：a.pdf", "b.pdf：病毒扫描发现了 Eicar。"),
    ):
        shown = json.dumps(build_inbound(_result(files), t), ensure_ascii=False)
        assert kept in shown and infected in shown and "c.exe" in shown


def test_a_reply_without_text_says_so_and_long_text_is_clipped():
    t = Translator()
    assert "(no text)" in json.dumps(build_inbound(_result((), body=" "), t))
    blocks = build_inbound(_result((), body="word " * 2000), t)
    assert len(blocks[2]["text"]["text"]) <= 3000
    assert reply_text("a\nb") == "> a\n> b"
