"""/prospects drafts: the user's unsent drafts (newest first: Open, Send, Delete), scheduled sends (soonest
first: Send now, Cancel — back to a draft) and sends whose follow-ups are still to come (Cancel follow-ups)."""

from __future__ import annotations

from typing import Any

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
from outreach.models import Channel, Draft, DraftStatus
from outreach.outbox import Listing, SendWithFollowups
from outreach.scheduling import wall_time

MAX_SHOWN = 15  # 3 blocks each, within the 50 blocks of a message (all kinds together)


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


def send_time(d: Draft, t: Translator) -> str:
    """When a scheduled send goes, as its author reads it."""
    if d.send_at is None:
        return ""
    if d.local_zone:
        wall = wall_time(d.send_at, d.local_zone)
        return t("drafts.scheduled_local", date=f"{wall:%Y-%m-%d}", time=f"{wall:%H:%M}")
    return t("drafts.scheduled_at", when=t.when(d.send_at))


def steps_text(steps: tuple[Draft, ...], t: Translator) -> str:
    """Each follow-up step: after how many days, and where it stands."""
    return " · ".join(
        t("drafts.step", step=s.step, days=s.delay_days, state=t(f"drafts.step_{s.status.value}"))
        for s in steps
    )


def cancel_followups_button(draft_id: int, t: Translator) -> Block:
    confirm = confirm_dialog(
        t("followups.cancel_title"), t("followups.cancel_confirm"), t("followups.cancel"), t("common.back")
    )
    return button(
        t("followups.cancel"), ids.ACTION_FOLLOWUPS_CANCEL, str(draft_id), style="danger", confirm=confirm
    )


def _kind(d: Draft, t: Translator) -> str:
    return t("compose.title_email") if d.channel is Channel.EMAIL else t("compose.title_message")


def _draft(d: Draft, t: Translator) -> list[Block]:
    return [
        section(
            f"*{draft_title(d, t)}*\n{_kind(d, t)} · "
            + t("drafts.meta", count=d.recipient_count, files=len(d.attachments))
        ),
        context(t("drafts.updated", when=t.when(d.updated_at))),
        draft_buttons(d.id or 0, t, f"draft~{d.id}"),
    ]


def _scheduled(d: Draft, t: Translator) -> list[Block]:
    value = str(d.id or 0)
    steps = t("drafts.with_followups", count=len(d.followups)) if d.followups else ""
    return [
        section(f":alarm_clock: *{draft_title(d, t)}*\n{_kind(d, t)} · {send_time(d, t)}"),
        context(
            t("drafts.meta", count=d.recipient_count, files=len(d.attachments))
            + (f" · {steps}" if steps else "")
        ),
        actions(
            button(t("drafts.send_now"), ids.ACTION_SEND_NOW, value, style="primary"),
            button(t("drafts.unschedule"), ids.ACTION_UNSCHEDULE, value),
            block_id=f"scheduled~{d.id}",
        ),
    ]


def _series(series: SendWithFollowups, t: Translator) -> list[Block]:
    d = series.draft
    sent = (
        t("drafts.sending_now")
        if d.status is DraftStatus.SENDING
        else t("drafts.sent_on", when=t.when(d.updated_at))
    )
    return [
        section(f":leftwards_arrow_with_hook: *{draft_title(d, t)}*\n{_kind(d, t)} · {sent}"),
        context(steps_text(series.steps, t)),
        actions(cancel_followups_button(d.id or 0, t), block_id=f"followups~{d.id}"),
    ]


def without_action(message: dict[str, Any], action: dict[str, Any]) -> list[Block]:
    """A message's blocks without the element of ``action`` (its actions block dropped when nothing is left)."""
    blocks: list[Block] = []
    for block in message.get("blocks") or []:
        if block.get("type") != "actions" or block.get("block_id") != action.get("block_id"):
            blocks.append(block)
            continue
        elements = [e for e in block.get("elements", []) if e.get("action_id") != action.get("action_id")]
        if elements:
            blocks.append({**block, "elements": elements})
    return blocks


def build_drafts(listing: Listing, t: Translator, notice: str = "") -> list[Block]:
    blocks: list[Block] = [header(t("drafts.title"))]
    if notice:
        blocks.append(section(notice))
    entries = [  # what has a time first: scheduled sends, follow-ups to come; then drafts
        *(_scheduled(d, t) for d in listing.scheduled),
        *(_series(s, t) for s in listing.sequences),
        *(_draft(d, t) for d in listing.drafts),
    ]
    if not entries:
        blocks.append(section(t("drafts.none")))
    for entry in entries[:MAX_SHOWN]:
        blocks += entry
    if len(entries) > MAX_SHOWN:
        blocks.append(context(t("compose.and_more", count=len(entries) - MAX_SHOWN)))
    return check_limits(blocks)
