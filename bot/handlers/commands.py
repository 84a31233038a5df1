"""``/prospects``: parse the text, hand over to the screen it names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.help import build_help
from bot.handlers.parsing import Command, parse_command
from bot.users import UserProfiles

Screen = Callable[[Command, dict[str, Any], WebClient, Respond], None]


class CommandHandlers:
    def __init__(self, profiles: UserProfiles, screens: dict[str, Screen] | None = None) -> None:
        self._profiles = profiles
        self._screens = dict(screens or {})

    def prospects(self, ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        parsed = parse_command(command.get("text", ""))
        screen = self._screens.get(parsed.name)
        if screen is None or parsed.name == "help":
            ack()
            self.help(command, client, respond)
            return
        ack()
        screen(parsed, command, client, respond)

    def help(self, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        profile = self._profiles.get(client, command["team_id"], command["user_id"])
        blocks = build_help(profile.t)
        respond(response_type="ephemeral", text=profile.t("help.title"), blocks=blocks)


def register(app: App, handlers: CommandHandlers) -> None:
    app.command(ids.COMMAND)(handlers.prospects)
