"""The app's Home tab: what the app does, the user's picks and drafts at a glance, the commands and tokens."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import Block, check_limits, context, divider, header, section
from bot.blocks.help import token_lines
from bot.i18n import Translator


def build_home(picked: int, drafts: int, t: Translator, extra: list[Block] | None = None) -> dict[str, Any]:
    """``extra``: more blocks at the end (the workspace's settings: bot/blocks/workspace_settings.py)."""
    blocks: list[Block] = [
        header(t("help.title")),
        section(t("home.intro")),
        section(t("home.status", picked=t.number(picked), drafts=t.number(drafts))),
        divider(),
        section(t("help.commands")),
        section(t("help.tokens") + "\n" + token_lines(t)),
        context(t("help.attachments")),
        *(extra or []),
    ]
    return {"type": "home", "blocks": check_limits(blocks, surface="home")}
