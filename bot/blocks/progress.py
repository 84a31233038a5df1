"""The author's DM while a send runs (a progress bar and counts) and when it ends (the result per recipient)."""

from __future__ import annotations

from bot import ids
from bot.blocks.common import Block, actions, button, check_limits, clip, context, escape, section
from bot.i18n import Translator
from outreach.compose import SendReport
from outreach.models import Channel, DeliveryStatus, Draft

BAR_WIDTH = 20
SHOWN_ROWS = 40


def bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def _what(draft: Draft, t: Translator) -> str:
    if draft.channel is Channel.EMAIL:
        return t("progress.email", subject=escape(clip(draft.subject or "—", 120)))
    return t("progress.message", excerpt=escape(clip(" ".join(draft.content.split()), 80)))


def build_progress(draft: Draft, counts: dict[DeliveryStatus, int], t: Translator) -> list[Block]:
    total = sum(counts.values())
    skipped = counts[DeliveryStatus.SKIPPED]
    to_send = total - skipped
    done = counts[DeliveryStatus.SENT] + counts[DeliveryStatus.FAILED]
    pct = round(100 * done / to_send) if to_send else 100
    line = t(
        "progress.counts",
        sent=t.number(counts[DeliveryStatus.SENT]),
        failed=t.number(counts[DeliveryStatus.FAILED]),
        total=t.number(to_send),
    )
    return check_limits(
        [
            section(f":outbox_tray: {_what(draft, t)}"),
            section(f"`{bar(done, to_send)}` {pct}%\n{line}"),
            context(t("progress.skipped", count=t.number(skipped)) if skipped else t("progress.running")),
        ]
    )


def build_summary(report: SendReport, t: Translator) -> list[Block]:
    sent, failed = report.count(DeliveryStatus.SENT), report.count(DeliveryStatus.FAILED)
    skipped = report.count(DeliveryStatus.SKIPPED)
    icon = ":white_check_mark:" if not failed else (":warning:" if sent else ":x:")
    blocks: list[Block] = [
        section(f"{icon} {_what(report.draft, t)}"),
        section(
            t("progress.summary", sent=t.number(sent), failed=t.number(failed), skipped=t.number(skipped))
        ),
    ]
    lines = []
    for delivery, partner in report.rows:
        if delivery.status is DeliveryStatus.SENT:
            continue
        who = escape(f"{partner.contact_name or partner.name} ({partner.mpid})" if partner else delivery.mpid)
        reason = delivery.last_error
        if reason.startswith("compose.skip."):
            reason = t(reason)
        mark = ":x:" if delivery.status is DeliveryStatus.FAILED else ":heavy_minus_sign:"
        lines.append(f"{mark} {who} — {escape(clip(reason, 200))}")
    if lines:
        shown = lines[:SHOWN_ROWS]
        if len(lines) > SHOWN_ROWS:
            shown.append(t("compose.and_more", count=t.number(len(lines) - SHOWN_ROWS)))
        blocks.append(section("\n".join(shown)))
    if failed:
        blocks.append(
            actions(
                button(
                    t("progress.retry", count=failed),
                    ids.ACTION_RETRY_FAILED,
                    str(report.draft.id),
                    style="primary",
                ),
                block_id=f"retry~{report.draft.id}",
            )
        )
    return check_limits(blocks)
