"""How outreach went, as blocks: the App Home's numbers (with the chart's ``image`` block) and ``/prospects stats``
(the same numbers as text)."""

from __future__ import annotations

from bot.blocks.common import Block, clip, context, escape, header, section
from bot.i18n import Translator
from outreach.stats import Rate, Report

SHOWN_TEMPLATES = 5


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.0f}%"


def _rate_line(r: Rate, name: str, t: Translator) -> str:
    return t(
        "stats.rate_line",
        name=name,
        rate=percent(r.rate),
        replied=t.number(r.replied),
        sent=t.number(r.sent),
    )


def stats_text(report: Report, t: Translator) -> list[str]:
    """The report's numbers as mrkdwn paragraphs: the outcomes, then the reply rate per template and per week."""
    o = report.outcomes
    lines = [
        t(
            "stats.outcomes",
            sent=t.number(o.sent),
            failed=t.number(o.failed),
            bounced=t.number(o.bounced),
            replied=t.number(o.replied),
            rate=percent(o.reply_rate),
            unsubscribed=t.number(o.unsubscribed),
        )
    ]
    if not o.sent and not o.failed:
        return [*lines, t("stats.nothing", days=t.number(report.days))]
    templates = [
        _rate_line(r, escape(clip(r.label, 80)) if r.label else t("stats.chart.no_template"), t)
        for r in report.by_template[:SHOWN_TEMPLATES]
    ]
    if len(report.by_template) > SHOWN_TEMPLATES:
        templates.append(t("compose.and_more", count=t.number(len(report.by_template) - SHOWN_TEMPLATES)))
    lines.append(t("stats.per_template") + "\n" + "\n".join(templates))
    weeks = [_rate_line(r, t("stats.week_of", day=r.label), t) for r in report.by_week if r.sent]
    lines.append(t("stats.per_week") + "\n" + "\n".join(weeks))
    return lines


def stats_blocks(report: Report, t: Translator, *, title: str, chart_url: str = "") -> list[Block]:
    blocks: list[Block] = [header(title)]
    blocks += [section(text) for text in stats_text(report, t)]
    if chart_url:
        blocks.append(
            {
                "type": "image",
                "image_url": chart_url,
                "alt_text": clip(
                    t(
                        "stats.chart.alt",
                        sent=report.outcomes.sent,
                        replied=report.outcomes.replied,
                        days=report.days,
                    ),
                    2000,
                ),
            }
        )
    blocks.append(context(t("stats.window", since=t.when(report.since), until=t.when(report.until))))
    return blocks


def stats_title(report: Report, t: Translator) -> str:
    key = "stats.title_workspace" if report.whole_workspace else "stats.title_own"
    return t(key, days=t.number(report.days))
