""" "Select all 1,234 matching": the modal that says what ticking every match would tick, before it does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import ids
from bot.blocks.common import check_limits, context, plain, section
from bot.i18n import Translator
from outreach.models import MatchCounts


def matching_metadata(key: str, response_url: str) -> str:
    """What the submission needs: the list's render key (its search and filters) and where to show it again."""
    return json.dumps({"k": key, "u": response_url}, separators=(",", ":"))


def read_matching_metadata(raw: str) -> tuple[str, str] | None:
    try:
        data = json.loads(raw)
        return str(data["k"]), str(data["u"])
    except (ValueError, TypeError, KeyError):
        return None


@dataclass(frozen=True)
class MatchingScreen:
    counts: MatchCounts
    filters: str  # the search and filters in words, mrkdwn-escaped
    picked: int  # ticked already
    recent_days: int  # a teammate's contact is recent within this many days
    metadata: str  # :func:`matching_metadata`


def build_select_matching_view(screen: MatchingScreen, t: Translator) -> dict[str, Any]:
    """How many match, and how many of them can be messaged or e-mailed, are suppressed or were contacted lately
    by a teammate; submitting ticks them all."""
    counts = screen.counts
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": ids.CALLBACK_SELECT_MATCHING,
        "title": plain(t("matching.title"), 24),
        "close": plain(t("common.cancel"), 24),
        "private_metadata": screen.metadata,
    }
    if not counts.total:
        view["blocks"] = check_limits([section(t("matching.none"))], surface="modal")
        return view
    lines = [
        t("matching.messageable", count=t.number(counts.messageable)),
        t("matching.emailable", count=t.number(counts.emailable)),
    ]
    if counts.suppressed:
        lines.append(t("matching.suppressed", count=t.number(counts.suppressed)))
    if counts.recent_by_teammate:
        lines.append(t("matching.recent", count=t.number(counts.recent_by_teammate), days=screen.recent_days))
    intro = t(
        "matching.intro", count=t.number(counts.total), filters=screen.filters or t("matching.everyone")
    )
    blocks = [section(intro), section("\n".join(lines))]
    if screen.picked:
        blocks.append(context(t("matching.after", picked=t.number(screen.picked))))
    view["blocks"] = check_limits(blocks, surface="modal")
    view["submit"] = plain(t("matching.submit", count=t.number(counts.total)), 24)
    return view


def build_matching_notice(text: str, t: Translator) -> dict[str, Any]:
    """While the ticks are made, and once they are."""
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_SELECT_MATCHING,
        "title": plain(t("matching.title"), 24),
        "close": plain(t("common.close"), 24),
        "blocks": check_limits([section(text)], surface="modal"),
    }
