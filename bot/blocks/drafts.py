"""/prospects drafts: the user's unsent drafts, newest first, each with Open, Send and Delete."""

from __future__ import annotations

from bot import ids
from bot.blocks.common import (
    Block,
    actions,
    button,
    check_limits,
    clip,
    confirm_dialog,
    context,
    escape,
    header,
    section,
)
from bot.i18n import Translator
from outreach.models import Channel, Draft

MAX_SHOWN = 15  # 3 blocks each, within the 50 blocks of a message


def draft_title(d: Draft, t: Translator) -> str:
    if d.channel is Channel.EMAIL and d.subject.strip():
        return escape(clip(d.subject, 120))
    excerpt = " ".join(d.content.split())
    return escape(clip(excerpt, 120)) if excerpt else t("drafts.untitled")


def draft_buttons(draft_id: int, t: Translator, block_id: str) -> Block:
    """Open / Send / Delete for one draft (the same handlers answer them wherever they are shown)."""
    value = str(draft_id)
    delete_confirm = confirm_dialog(
        t("drafts.delete_title"), t("drafts.delete_confirm"), t("drafts.delete"), t("common.cancel")
    )
    return actions(
        button(t("drafts.open"), ids.ACTION_DRAFT_OPEN, value, style="primary"),
        button(t("compose.send"), ids.ACTION_DRAFT_SEND, value),
        button(t("drafts.delete"), ids.ACTION_DRAFT_DELETE, value, style="danger", confirm=delete_confirm),
        block_id=block_id,
    )


def build_drafts(drafts: list[Draft], t: Translator, notice: str = "") -> list[Block]:
    blocks: list[Block] = [header(t("drafts.title"))]
    if notice:
        blocks.append(section(notice))
    if not drafts:
        blocks.append(section(t("drafts.none")))
    for d in drafts[:MAX_SHOWN]:
        kind = t("compose.title_email") if d.channel is Channel.EMAIL else t("compose.title_message")
        blocks.append(
            section(
                f"*{draft_title(d, t)}*\n{kind} · "
                + t("drafts.meta", count=d.recipient_count, files=len(d.attachments))
            )
        )
        blocks.append(context(t("drafts.updated", when=t.when(d.updated_at))))
        blocks.append(draft_buttons(d.id or 0, t, f"draft~{d.id}"))
    if len(drafts) > MAX_SHOWN:
        blocks.append(context(t("compose.and_more", count=len(drafts) - MAX_SHOWN)))
    return check_limits(blocks)
