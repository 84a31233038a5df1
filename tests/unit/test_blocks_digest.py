"""The digest builder stays within Slack's limits and says what matters (a conversation's messages:
test_blocks_conversations.py)."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.blocks.digest import MAX_SHOWN, age_text, build_digest
from bot.i18n import Translator
from outreach.digest import DigestFor, DigestItem
from outreach.models import Channel


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
