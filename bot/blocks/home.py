"""The app's Home tab as a dashboard: the user's picks and drafts at a glance, their sends in progress (with their
bars) and scheduled sends, how outreach went in the last 30 days (numbers and a chart; the whole workspace's as
well for admins), then the commands and tokens."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import Block, check_limits, context, divider, header, section
from bot.blocks.drafts import send_time
from bot.blocks.help import token_lines
from bot.blocks.progress import bar_and_counts, what
from bot.blocks.stats import stats_blocks, stats_title
from bot.i18n import Translator
from outreach.home import Dashboard


def _waiting(dashboard: Dashboard, t: Translator) -> list[Block]:
    if not dashboard.waiting:
        return []
    lines = [
        t("home.draft_line", what=what(d, t), count=t.number(d.recipient_count), when=t.when(d.updated_at))
        for d in dashboard.waiting
    ]
    more = dashboard.status.drafts - len(dashboard.waiting)
    if more > 0:
        lines.append(t("compose.and_more", count=t.number(more)))
    return [section(t("home.waiting") + "\n" + "\n".join(lines))]


def _sending(dashboard: Dashboard, t: Translator) -> list[Block]:
    if not dashboard.sending:
        return []
    lines = []
    for draft, counts in dashboard.sending:
        shown, line = bar_and_counts(counts, t)
        lines.append(f"{what(draft, t)}\n{shown} · {line}")
    if dashboard.sending_more:
        lines.append(t("compose.and_more", count=t.number(dashboard.sending_more)))
    return [section(t("home.sending") + "\n" + "\n".join(lines))]


def _scheduled(dashboard: Dashboard, t: Translator) -> list[Block]:
    if not dashboard.scheduled:
        return []
    lines = [f"{what(d, t)} — {send_time(d, t)}" for d in dashboard.scheduled]
    if dashboard.scheduled_more:
        lines.append(t("compose.and_more", count=t.number(dashboard.scheduled_more)))
    return [section(t("home.scheduled") + "\n" + "\n".join(lines))]


def build_home(
    dashboard: Dashboard,
    t: Translator,
    *,
    own_chart: str = "",
    workspace_chart: str = "",
    extra: list[Block] | None = None,
) -> dict[str, Any]:
    """``own_chart`` / ``workspace_chart``: the charts' URLs (bot/charts.py); ``extra``: blocks put after the
    numbers (a settings section, say)."""
    status = dashboard.status
    blocks: list[Block] = [
        header(t("help.title")),
        section(t("home.intro")),
        section(t("home.status", picked=t.number(status.picked), drafts=t.number(status.drafts))),
        *_waiting(dashboard, t),
        *_sending(dashboard, t),
        *_scheduled(dashboard, t),
        divider(),
        *stats_blocks(dashboard.own, t, title=stats_title(dashboard.own, t), chart_url=own_chart),
    ]
    if dashboard.workspace is not None:
        workspace = dashboard.workspace
        blocks += [
            divider(),
            *stats_blocks(workspace, t, title=stats_title(workspace, t), chart_url=workspace_chart),
        ]
    blocks += [
        *(extra or []),
        divider(),
        section(t("help.commands")),
        section(t("help.tokens") + "\n" + token_lines(t)),
        context(t("help.attachments")),
    ]
    return {"type": "home", "blocks": check_limits(blocks, surface="home")}
