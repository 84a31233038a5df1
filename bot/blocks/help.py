"""/prospects help."""

from __future__ import annotations

from bot.blocks.common import Block, check_limits, context, header, section
from bot.i18n import Translator

TOKENS = (
    "adcode",
    "mpid",
    "mpname",
    "firstName",
    "lastName",
    "currentDay",
    "currentTime",
    "currentMonthYear",
)


def token_lines(t: Translator) -> str:
    """Token names are never translated; their meaning is."""
    lines = []
    for name in TOKENS:
        shown = "{adcode_<adid>}" if name == "adcode" else "{" + name + "}"
        lines.append(f"• `{shown}` — {t('help.token.' + name)}")
    return "\n".join(lines)


def build_help(t: Translator) -> list[Block]:
    return check_limits(
        [
            header(t("help.title")),
            section(t("help.commands") + "\n" + t("help.account")),
            section(t("help.tokens") + "\n" + token_lines(t)),
            context(t("help.attachments")),
        ]
    )
