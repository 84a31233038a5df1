"""The Home tab, published when a user opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.home import build_home
from bot.wiring import Services


class HomeHandlers:
    def __init__(self, services: Services) -> None:
        self._s = services

    def opened(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        team_id, user_id = body.get("team_id") or event.get("view", {}).get("team_id", ""), event["user"]
        t = self._s.profiles.get(client, team_id, user_id).t
        picked = len(self._s.prospects.picked(team_id, user_id))
        drafts = len(self._s.compose.drafts(team_id, user_id))
        client.views_publish(user_id=user_id, view=build_home(picked, drafts, t))


def register(app: App, handlers: HomeHandlers) -> None:
    app.event("app_home_opened")(handlers.opened)
