"""Per-workspace settings without any service: the checks, the defaults, the digest's time, the screens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot import ids
from bot.blocks.workspace_settings import build_settings_view, settings_blocks
from bot.digest import cron_at, fires_within, zone
from bot.i18n import Translator
from bot.settings import Settings
from bot.wiring import settings_defaults
from outreach.models import WorkspaceSettings
from outreach.workspace_settings import Shown, check_settings, is_loopback

DEFAULTS = settings_defaults(
    Settings(
        mail_from="Outreach <outreach@deploy.example>",
        senders_usergroup="S0DEPLOY",
        digest_cron="0 9 * * mon-fri",
    )
)


def codes(settings: WorkspaceSettings) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in check_settings(settings)}


def test_nothing_set_is_fine_every_value_being_the_default():
    assert check_settings(WorkspaceSettings("T1")) == []


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.brand.example/in", True),
        ("http://hooks.brand.example/in", False),
        ("http://127.0.0.1:8080/in", True),
        ("http://localhost/in", True),
        ("http://[::1]:9000/in", True),
        ("ftp://hooks.brand.example/in", False),
        ("hooks.brand.example/in", False),
    ],
)
def test_a_webhook_is_https_and_plain_http_only_to_this_machine(url, ok):
    found = codes(WorkspaceSettings("T1", webhook_url=url, webhook_secret="s"))
    assert (found == set()) is ok, found


def test_a_login_without_a_server_names_the_missing_host():
    assert codes(WorkspaceSettings("T1", smtp_username="u", smtp_password="p")) == {
        ("smtp_host", "host_required")
    }


def test_a_server_needs_a_port_and_a_known_security():
    found = codes(WorkspaceSettings("T1", smtp_host="smtp.brand.example", smtp_port=0, smtp_security="ssl"))
    assert found == {("smtp_port", "invalid_port"), ("smtp_security", "invalid_security")}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("from_address", "Brand <hello@brand.example>", "invalid_email"),
        ("from_name", "Brand\nOne", "invalid_name"),
        ("senders_usergroup", "@marketing", "invalid_usergroup"),
        ("digest_time", "24:00", "invalid_time"),
        ("digest_time", "9:00", "invalid_time"),
    ],
)
def test_each_bad_value_is_named_on_its_field(field, value, code):
    assert codes(WorkspaceSettings("T1", **{field: value})) == {(field, code)}


def test_the_recent_contact_window_is_whole_days_from_0_to_365():
    assert codes(WorkspaceSettings("T1", recent_contact_days=0)) == set()
    assert codes(WorkspaceSettings("T1", recent_contact_days=365)) == set()
    assert codes(WorkspaceSettings("T1", recent_contact_days=-1)) == {("recent_contact_days", "invalid_days")}


def test_loopback_hosts():
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("LOCALHOST")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.com")


def test_the_defaults_are_the_environments_and_the_digest_time_is_the_crons():
    assert DEFAULTS.mail_from == "Outreach <outreach@deploy.example>"
    assert DEFAULTS.senders_usergroup == "S0DEPLOY"
    assert DEFAULTS.digest_time == "09:00"
    assert settings_defaults(Settings(digest_cron="*/30 9-17 * * *")).digest_time == ""  # no single time


def test_a_workspaces_digest_time_keeps_the_crons_days_in_the_authors_zone():
    assert cron_at("0 9 * * mon-fri", "07:45") == "45 7 * * mon-fri"
    assert cron_at("0 9 * * mon-fri", "") == "0 9 * * mon-fri"
    tokyo = zone("Asia/Tokyo")
    monday_0745_tokyo = datetime(2038, 1, 18, 22, 45, tzinfo=UTC) - timedelta(days=1)  # Mon 07:45 JST
    cron = cron_at("0 9 * * mon-fri", "07:45")
    assert fires_within(cron, tokyo, monday_0745_tokyo - timedelta(minutes=15), monday_0745_tokyo)
    saturday = monday_0745_tokyo - timedelta(days=2)
    assert not fires_within(cron, tokyo, saturday - timedelta(minutes=15), saturday)


def test_the_home_tab_offers_the_settings_button():
    (_, _, buttons) = settings_blocks(Translator())
    assert buttons["block_id"] == ids.BLOCK_WS_HOME
    assert buttons["elements"][0]["action_id"] == ids.ACTION_HOME_SETTINGS


def shown(**own) -> Shown:
    return Shown(WorkspaceSettings("T1", **own), DEFAULTS, has_password=True, has_webhook_secret=False)


def test_the_admins_form_shows_own_values_and_the_defaults_but_no_password():
    view = build_settings_view(
        Translator(),
        shown(
            from_address="hello@brand.example",
            smtp_host="smtp.brand.example",
            smtp_port=587,
            smtp_security="tls",
        ),
        editable=True,
    )
    assert view["callback_id"] == ids.CALLBACK_WORKSPACE_SETTINGS and view["submit"]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[ids.BLOCK_WS_FROM_ADDRESS]["element"]["initial_value"] == "hello@brand.example"
    assert blocks[ids.BLOCK_WS_SMTP_SECURITY]["element"]["initial_option"]["value"] == "tls"
    assert "initial_value" not in blocks[ids.BLOCK_WS_SMTP_PASSWORD]["element"]
    assert "A password is saved" in blocks[ids.BLOCK_WS_SMTP_PASSWORD]["hint"]["text"]
    assert "S0DEPLOY" in blocks[ids.BLOCK_WS_USERGROUP]["element"]["placeholder"]["text"]
    assert all(b.get("optional") for b in view["blocks"] if b["type"] == "input")


def test_everyone_else_reads_the_values_in_force_in_chinese_too_without_a_submit():
    view = build_settings_view(Translator("zh-CN"), shown(senders_usergroup="S0BRAND"), editable=False)
    assert view["callback_id"] == ids.CALLBACK_WORKSPACE_SETTINGS_READ
    assert "submit" not in view
    text = json.dumps(view, ensure_ascii=False)
    assert "S0BRAND" in text and "本工作区" in text and "outreach@deploy.example" in text
