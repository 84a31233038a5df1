"""The Home tab, published when a user opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.home import build_home
from bot.blocks.workspace_settings import settings_blocks
from bot.users import UserProfiles
from outreach.home import HomeService


class HomeHandlers:
    def __init__(self, profiles: UserProfiles, home: HomeService) -> None:
        self._profiles = profiles
        self._home = home

    def opened(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        team_id, user_id = body.get("team_id") or event.get("view", {}).get("team_id", ""), event["user"]
        t = self._profiles.get(client, team_id, user_id).t
        status = self._home.status(team_id, user_id)
        client.views_publish(
            user_id=user_id, view=build_home(status.picked, status.drafts, t, settings_blocks(t))
        )


def register(app: App, handlers: HomeHandlers) -> None:
    app.event("app_home_opened")(handlers.opened)
