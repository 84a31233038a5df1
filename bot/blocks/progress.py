"""The author's DM while a send runs (a progress bar and counts) and when it ends (the result per recipient).

A send with follow-ups says what its steps are and where they stand, with **Cancel follow-ups** while some are
still to come; each step's own progress and result are written in the thread of that DM, with how many partners
were skipped and why (replied, bounced, unsubscribed, contacted by a teammate, cancelled).
"""

from __future__ import annotations

from collections import Counter

from bot import ids
from bot.blocks.common import Block, actions, button, check_limits, clip, context, escape, section
from bot.blocks.drafts import cancel_followups_button, steps_text
from bot.i18n import Translator
from outreach.compose import SendReport
from outreach.followups import PENDING_STEP, REASONS
from outreach.models import Channel, DeliveryStatus, Draft

BAR_WIDTH = 20
SHOWN_ROWS = 40


def bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def what(draft: Draft, t: Translator) -> str:
    """What a send is, in a line: its e-mail subject or the start of its message (a follow-up step says so)."""
    if draft.channel is Channel.EMAIL:
        what = t("progress.email", subject=escape(clip(draft.subject or "—", 120)))
    else:
        what = t("progress.message", excerpt=escape(clip(" ".join(draft.content.split()), 80)))
    return t("progress.followup", step=draft.step, what=what) if draft.step else what


def _steps_blocks(draft: Draft, steps: tuple[Draft, ...], t: Translator) -> list[Block]:
    """For a send with follow-ups (or a step): the steps and where they stand; Cancel while any is to come."""
    if not steps:
        return []
    later = [s for s in steps if s.step > draft.step]
    blocks: list[Block] = []
    if not draft.step:
        blocks.append(context(t("progress.steps", steps=steps_text(steps, t))))
    if any(s.status in PENDING_STEP for s in later):
        root = draft.parent_id or draft.id or 0
        blocks.append(actions(cancel_followups_button(root, t), block_id=f"followups~{draft.id}"))
    return blocks


def skipped_by_reason(report: SendReport, t: Translator) -> str:
    """How many were skipped, by reason (a follow-up step's: replied, bounced …), or ""."""
    found = Counter(d.last_error for d, _ in report.rows if d.status is DeliveryStatus.SKIPPED)
    shown = [t("progress.reason", reason=t(r), count=t.number(found[r])) for r in REASONS if found[r]]
    return " · ".join(shown)


def bar_and_counts(counts: dict[DeliveryStatus, int], t: Translator) -> tuple[str, str]:
    """A send's bar with its percentage, and its counts line (skipped recipients are not to send)."""
    sent, failed = counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.FAILED, 0)
    to_send = sum(counts.values()) - counts.get(DeliveryStatus.SKIPPED, 0)
    pct = round(100 * (sent + failed) / to_send) if to_send else 100
    line = t("progress.counts", sent=t.number(sent), failed=t.number(failed), total=t.number(to_send))
    return f"`{bar(sent + failed, to_send)}` {pct}%", line


def build_progress(
    draft: Draft, counts: dict[DeliveryStatus, int], t: Translator, steps: tuple[Draft, ...] = ()
) -> list[Block]:
    skipped = counts[DeliveryStatus.SKIPPED]
    shown, line = bar_and_counts(counts, t)
    if not skipped:
        note = t("progress.running")
    elif draft.step:
        note = t("progress.followup_skipped", count=t.number(skipped))
    else:
        note = t("progress.skipped", count=t.number(skipped))
    icon = ":leftwards_arrow_with_hook:" if draft.step else ":outbox_tray:"
    return check_limits(
        [
            section(f"{icon} {what(draft, t)}"),
            section(f"{shown}\n{line}"),
            context(note),
            *_steps_blocks(draft, steps, t),
        ]
    )


def build_summary(report: SendReport, t: Translator, steps: tuple[Draft, ...] = ()) -> list[Block]:
    sent, failed = report.count(DeliveryStatus.SENT), report.count(DeliveryStatus.FAILED)
    skipped = report.count(DeliveryStatus.SKIPPED)
    icon = ":white_check_mark:" if not failed else (":warning:" if sent else ":x:")
    blocks: list[Block] = [
        section(f"{icon} {what(report.draft, t)}"),
        section(
            t("progress.summary", sent=t.number(sent), failed=t.number(failed), skipped=t.number(skipped))
        ),
    ]
    reasons = skipped_by_reason(report, t) if report.draft.step else ""
    if reasons:
        blocks.append(context(t("progress.skipped_why", reasons=reasons)))
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
    buttons = [button(t("progress.download"), ids.ACTION_DOWNLOAD_RESULTS, str(report.draft.id))]
    if failed:
        buttons.insert(
            0,
            button(
                t("progress.retry", count=failed),
                ids.ACTION_RETRY_FAILED,
                str(report.draft.id),
                style="primary",
            ),
        )
    blocks.append(actions(*buttons, block_id=f"retry~{report.draft.id}"))
    blocks += _steps_blocks(report.draft, steps, t)
    return check_limits(blocks)
