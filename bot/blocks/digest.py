"""The digest DM: how many drafts are unsent, and for each its title, recipient count and age, with the
same Open / Send / Delete buttons as /prospects drafts (so the same handlers answer them)."""

from __future__ import annotations

from datetime import timedelta

from bot.blocks.common import (
    Block,
    check_limits,
    clip,
    context,
    escape,
    header,
    section,
)
from bot.blocks.drafts import draft_buttons
from bot.i18n import Translator
from outreach.digest import DigestFor, DigestItem
from outreach.models import Channel

MAX_SHOWN = 15  # 2 blocks each, within the 50 blocks of a message


def age_text(age: timedelta, t: Translator) -> str:
    hours = int(age.total_seconds() // 3600)
    if hours >= 48:
        return t("digest.age_days", days=hours // 24)
    return t("digest.age_hours", hours=max(hours, 1))


def _row(item: DigestItem, t: Translator) -> list[Block]:
    title = escape(clip(item.title, 120)) if item.title else t("drafts.untitled")
    kind = t("compose.title_email") if item.channel is Channel.EMAIL else t("compose.title_message")
    meta = t("digest.meta", kind=kind, count=item.recipients, age=age_text(item.age, t))
    return [section(f"*{title}*\n{meta}"), draft_buttons(item.draft_id, t, f"digest~{item.draft_id}")]


def build_digest(digest: DigestFor, t: Translator) -> list[Block]:
    blocks: list[Block] = [
        header(t("digest.title")),
        section(t("digest.notice", count=digest.count) + "\n" + t("digest.intro")),
    ]
    for item in digest.drafts[:MAX_SHOWN]:
        blocks.extend(_row(item, t))
    if digest.count > MAX_SHOWN:
        blocks.append(context(t("compose.and_more", count=digest.count - MAX_SHOWN)))
    return check_limits(blocks)
