"""The App Home's chart, served by the app as ``image/png`` under ``PUBLIC_URL`` (``GET /charts/outreach.png``).

Slack shows an ``image`` block by downloading its ``image_url`` when the view is published (a URL it cannot
download refuses the whole view: ``invalid_blocks`` "downloading image failed", SLACK.md §8 point 9), so the URL
must be reachable from Slack — the same ``PUBLIC_URL`` the unsubscribe links use. The URL carries a signed token
(HMAC-SHA256 with a key derived from the app's signing key for this use only) naming the workspace, the viewer,
whose numbers (``me``: the viewer's own; ``team``: the whole workspace's, put only in an admin's Home), the window,
the language and when it was made; it is good for :data:`VALID_FOR`. A forged, altered or stale token, or a
workspace the app no longer serves (uninstalled), gets 404 and no data. The chart is drawn afresh on each request
(:class:`outreach.adapters.charts.MatplotlibCharts`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.http import Request, Response, Route
from bot.i18n import Translator, choose_locale
from outreach.ports import Clock
from outreach.signed_tokens import SignedTokens
from outreach.stats import MAX_DAYS, Report, StatsService

log = logging.getLogger(__name__)

PATH = "/charts/outreach.png"
VALID_FOR = timedelta(days=7)
LABELS = ("sent", "failed", "bounced", "replied", "unsubscribed")
TITLES = ("outcomes", "per_week", "per_template", "no_template", "nothing")


@dataclass(frozen=True, slots=True)
class ChartAsked:
    team_id: str
    user_id: str
    whole_workspace: bool
    days: int
    locale: str
    made_at: datetime


class ChartLinks:
    def __init__(self, signing_key: bytes, base_url: str) -> None:
        if len(signing_key) < 16:
            raise ValueError("the chart signing key must be at least 16 bytes")
        # A key of its own: a chart token is never a valid unsubscribe token, nor the other way round.
        self._tokens = SignedTokens(
            hmac.new(signing_key, b"prospect-outreach/charts", hashlib.sha256).digest()
        )
        self._base = base_url.rstrip("/")

    def url(self, asked: ChartAsked) -> str:
        data = [
            asked.team_id,
            asked.user_id,
            "team" if asked.whole_workspace else "me",
            asked.days,
            asked.locale,
            int(asked.made_at.timestamp()),
        ]
        return f"{self._base}{PATH}?t={urllib.parse.quote(self._tokens.dumps(data))}"

    def verify(self, token: str, now: datetime) -> ChartAsked | None:
        """What a genuine token that is still good asks for; None for anything else."""
        try:
            team_id, user_id, scope, days, locale, made = self._tokens.loads(token)
            made_at = datetime.fromtimestamp(int(made), tz=now.tzinfo)
        except (ValueError, TypeError, OverflowError):
            return None
        if not (team_id and user_id and scope in ("me", "team") and isinstance(days, int)):
            return None
        if not 1 <= days <= MAX_DAYS or not now - VALID_FOR <= made_at <= now + timedelta(minutes=5):
            return None
        return ChartAsked(
            str(team_id), str(user_id), scope == "team", days, choose_locale(str(locale)), made_at
        )


def chart_labels(t: Translator) -> dict[str, str]:
    return {key: t(f"stats.{key}") for key in LABELS} | {key: t(f"stats.chart.{key}") for key in TITLES}


def chart_routes(
    links: ChartLinks,
    stats: StatsService,
    draw: Callable[[Report, Mapping[str, str]], bytes],
    clock: Clock,
    serves: Callable[[str], bool],
) -> dict[tuple[str, str], Route]:
    """``serves(team_id)``: whether the app still serves that workspace (not uninstalled)."""

    def chart(request: Request) -> Response:
        token = urllib.parse.parse_qs(request.query).get("t", [""])[0]
        asked = links.verify(token, clock.now())
        if asked is None or not serves(asked.team_id):
            return Response.text(404, "not found")
        report = stats.report(asked.team_id, None if asked.whole_workspace else asked.user_id, asked.days)
        png = draw(report, chart_labels(Translator(asked.locale)))
        return Response(200, png, "image/png", (("Cache-Control", "private, max-age=300"),))

    return {("GET", PATH): chart}
