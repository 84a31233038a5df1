"""The Home tab, published when a user opens it: the dashboard (bot/blocks/home.py), its charts served by the
app (bot/charts.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.home import build_home
from bot.blocks.workspace_settings import settings_blocks
from bot.charts import ChartAsked, ChartLinks
from bot.users import UserProfiles
from outreach.home import HomeService
from outreach.ports import Clock


class HomeHandlers:
    def __init__(self, profiles: UserProfiles, home: HomeService, charts: ChartLinks, clock: Clock) -> None:
        self._profiles = profiles
        self._home = home
        self._charts = charts
        self._clock = clock

    def opened(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        team_id, user_id = body.get("team_id") or event.get("view", {}).get("team_id", ""), event["user"]
        profile = self._profiles.get(client, team_id, user_id)
        board = self._home.dashboard(team_id, user_id, is_admin=profile.is_admin)
        now = self._clock.now()

        def chart(whole_workspace: bool) -> str:
            asked = ChartAsked(team_id, user_id, whole_workspace, board.own.days, profile.locale, now)
            return self._charts.url(asked)

        view = build_home(
            board,
            profile.t,
            own_chart=chart(False),
            workspace_chart=chart(True) if board.workspace is not None else "",
            extra=settings_blocks(profile.t),
        )
        client.views_publish(user_id=user_id, view=view)


def register(app: App, handlers: HomeHandlers) -> None:
    app.event("app_home_opened")(handlers.opened)
