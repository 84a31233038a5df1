"""The manifests are what a user pastes into Slack: they must match what the code uses (bot/ids.py).

manifest.yml is for Socket Mode (`run`), manifest.http.yml for HTTP mode (`serve`). HTTP mode needs four URLs,
all at the one route `serve` answers (POST /slack/events): ``settings.event_subscriptions.request_url``,
``settings.interactivity.request_url``, ``settings.interactivity.message_menu_options_url`` (the template menu's
options, an external select) and each ``features.slash_commands[].url`` (the manifest reference,
https://docs.slack.dev/reference/app-manifest; SLACK.md §6.1 and §8.8). Nothing else may differ between the two.
"""

import copy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bot import ids

ROOT = Path(__file__).resolve().parents[2]
SOCKET = yaml.safe_load((ROOT / "manifest.yml").read_text())
HTTP = yaml.safe_load((ROOT / "manifest.http.yml").read_text())
BOTH = pytest.mark.parametrize("manifest", [SOCKET, HTTP], ids=["socket", "http"])


def http_urls(manifest: dict) -> list[str | None]:
    """Every URL Slack needs in HTTP mode (None where one is missing)."""
    settings = manifest["settings"]
    return [
        settings["event_subscriptions"].get("request_url"),
        settings["interactivity"].get("request_url"),
        settings["interactivity"].get("message_menu_options_url"),
        *(command.get("url") for command in manifest["features"]["slash_commands"]),
    ]


def without_mode(manifest: dict) -> dict:
    """The manifest without what depends on the mode: socket_mode_enabled and the four kinds of URL."""
    rest = copy.deepcopy(manifest)
    settings = rest["settings"]
    del settings["socket_mode_enabled"]
    settings["event_subscriptions"].pop("request_url", None)
    settings["interactivity"].pop("request_url", None)
    settings["interactivity"].pop("message_menu_options_url", None)
    for command in rest["features"]["slash_commands"]:
        command.pop("url", None)
    return rest


@BOTH
def test_the_slash_command_and_its_usage_hint_match(manifest):
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == ids.COMMAND
    assert command["usage_hint"] == ids.COMMAND_USAGE
    assert len(command["command"]) <= 32 and command["description"]


@BOTH
def test_the_bot_asks_for_exactly_the_scopes_it_uses(manifest):
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == ids.BOT_SCOPES


@BOTH
def test_interactivity_and_the_home_tab_are_on(manifest):
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]


@BOTH
def test_the_bot_subscribes_to_exactly_the_events_it_handles(manifest):
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == ids.BOT_EVENTS


@BOTH
def test_people_can_write_to_the_app_so_replies_in_its_dm_threads_reach_it(manifest):
    # message.im needs im:history, and a read-only Messages tab would let nobody write in the DM at all
    # (https://docs.slack.dev/reference/app-manifest: features.app_home.messages_tab_read_only_enabled).
    app_home = manifest["features"]["app_home"]
    assert app_home["messages_tab_enabled"] is True and app_home["messages_tab_read_only_enabled"] is False
    assert "message.im" in ids.BOT_EVENTS and "im:history" in ids.BOT_SCOPES
    assert {"files:write", "files:read"} <= ids.BOT_SCOPES  # the external upload needs both (SLACK.md §5.1)


@BOTH
def test_display_limits_hold(manifest):
    info = manifest["display_information"]
    assert len(info["name"]) <= 35 and len(info["description"]) <= 140
    assert 174 <= len(info["long_description"]) <= 4000
    assert len(manifest["features"]["bot_user"]["display_name"]) <= 80


def test_the_socket_mode_manifest_needs_no_url():
    assert SOCKET["settings"]["socket_mode_enabled"] is True
    assert http_urls(SOCKET) == [None] * len(http_urls(SOCKET))


def test_the_http_manifest_sends_events_interactions_and_commands_to_slack_events():
    assert HTTP["settings"]["socket_mode_enabled"] is False
    urls = http_urls(HTTP)
    assert len(urls) == 4
    for url in urls:
        assert url is not None, "a URL Slack needs in HTTP mode is missing"
        parts = urlsplit(url)
        assert (parts.scheme, parts.path, parts.query) == ("https", "/slack/events", "")
        assert parts.hostname == "your-host"  # the placeholder the README tells the user to replace


def test_the_two_manifests_differ_only_in_what_the_mode_needs():
    assert without_mode(HTTP) == without_mode(SOCKET)


@BOTH
def test_the_app_subscribes_to_exactly_the_events_it_serves(manifest):
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == ids.BOT_EVENTS
    assert {"app_uninstalled", "tokens_revoked"} <= ids.BOT_EVENTS  # an uninstall ends an install at once


@BOTH
def test_installs_from_a_link_come_back_to_the_oauth_redirect_and_org_installs_are_allowed(manifest):
    (url,) = manifest["oauth_config"]["redirect_urls"]
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.path) == ("https", "your-host", ids.OAUTH_REDIRECT_PATH)
    assert manifest["settings"]["org_deploy_enabled"] is True
