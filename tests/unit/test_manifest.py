"""manifest.yml is what a user pastes into Slack: it must match what the code uses (bot/ids.py)."""

from pathlib import Path

import yaml

from bot import ids

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text())


def test_the_slash_command_and_its_usage_hint_match():
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == ids.COMMAND
    assert command["usage_hint"] == ids.COMMAND_USAGE
    assert len(command["command"]) <= 32 and command["description"]


def test_the_bot_asks_for_exactly_the_scopes_it_uses():
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == ids.BOT_SCOPES


def test_interactivity_socket_mode_and_the_home_tab_are_on():
    settings = MANIFEST["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]


def test_display_limits_hold():
    info = MANIFEST["display_information"]
    assert len(info["name"]) <= 35 and len(info["description"]) <= 140
    assert 174 <= len(info["long_description"]) <= 4000
    assert len(MANIFEST["features"]["bot_user"]["display_name"]) <= 80
