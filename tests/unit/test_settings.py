import pytest

from bot.settings import Settings, SettingsError


def test_defaults_run_the_offline_demo():
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///var/prospects.db"
    assert not s.slack_configured and s.smtp_security == "none" and s.max_files == 10


def test_every_malformed_variable_is_named_at_once():
    with pytest.raises(SettingsError) as err:
        Settings.from_env(
            {
                "SMTP_PORT": "x",
                "MAX_FILES": "ten",
                "SMTP_SECURITY": "ssl",
                "MESSAGES_WEBHOOK_URL": "https://hooks.example/in",
            }
        )
    text = str(err.value)
    for name in ("SMTP_PORT", "MAX_FILES", "SMTP_SECURITY", "MESSAGES_WEBHOOK_SECRET"):
        assert name in text


def test_values_are_parsed():
    s = Settings.from_env(
        {
            "DIGEST_MIN_AGE": "2d",
            "SEND_RATE_PER_SECOND": "2.5",
            "SLACK_BOT_TOKEN": "xoxb-1",
            "CLAMD_PORT": "3311",
        }
    )
    assert s.digest_min_age_hours == 48 and s.send_rate_per_second == 2.5 and s.clamd_port == 3311
    assert s.slack_configured


def test_a_bad_log_level_is_named():
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        Settings.from_env({"LOG_LEVEL": "chatty"})


def test_the_bounce_address_and_the_mailbox_poll_interval_are_read_and_checked():
    s = Settings.from_env({"BOUNCE_ADDRESS": "bounces@bounce.example.com", "IMAP_POLL_SECONDS": "30"})
    assert (s.bounce_address, s.imap_poll_seconds) == ("bounces@bounce.example.com", 30.0)
    assert Settings.from_env({}).imap_poll_seconds == 60.0 and Settings.from_env({}).bounce_address == ""
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"BOUNCE_ADDRESS": "Bounces <b@x.example>", "IMAP_POLL_SECONDS": "-1"})
    assert "BOUNCE_ADDRESS" in str(err.value) and "IMAP_POLL_SECONDS" in str(err.value)


def test_installing_from_a_link_names_everything_it_still_needs():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"SLACK_CLIENT_ID": "1.2"})
    text = str(err.value)
    for name in ("SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET", "SECRET_KEY"):
        assert name in text
    assert "SLACK_CLIENT_ID must" not in text
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN must not be set"):
        Settings.from_env(
            {
                "SLACK_CLIENT_ID": "1.2",
                "SLACK_CLIENT_SECRET": "shh",
                "SLACK_SIGNING_SECRET": "sig",
                "SECRET_KEY": "k" * 16,
                "SLACK_BOT_TOKEN": "xoxb-1",
            }
        )


def test_installing_from_a_link_is_on_with_its_four_variables_and_needs_no_bot_token():
    s = Settings.from_env(
        {
            "SLACK_CLIENT_ID": "1.2",
            "SLACK_CLIENT_SECRET": "shh",
            "SLACK_SIGNING_SECRET": "sig",
            "SECRET_KEY": "k" * 16,
            "RETENTION_DAYS_AFTER_UNINSTALL": "7",
        }
    )
    assert s.oauth_enabled and s.slack_configured and not s.slack_bot_token
    assert s.retention_days_after_uninstall == 7


def test_a_bot_token_alone_keeps_one_workspace_and_the_demo_needs_nothing():
    assert not Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"}).oauth_enabled
    assert (
        not Settings.from_env({}).oauth_enabled and Settings.from_env({}).retention_days_after_uninstall == 30
    )


def test_the_previous_secret_key_is_read_only_beside_a_current_one():
    with pytest.raises(SettingsError, match="SECRET_KEY_PREVIOUS"):
        Settings.from_env({"SECRET_KEY_PREVIOUS": "p" * 16})
    s = Settings.from_env({"SECRET_KEY": "n" * 16, "SECRET_KEY_PREVIOUS": "p" * 16})
    assert s.secret_keys == ("n" * 16, "p" * 16)


def test_smtp_connections_defaults_to_four_and_must_be_between_one_and_the_limit():
    assert Settings.from_env({}).smtp_connections == 4
    assert Settings.from_env({"SMTP_CONNECTIONS": "8"}).smtp_connections == 8
    for bad in ("0", "65", "-2", "many"):
        with pytest.raises(SettingsError, match="SMTP_CONNECTIONS"):
            Settings.from_env({"SMTP_CONNECTIONS": bad})


def test_listener_threads_default_to_sixteen_and_must_be_between_one_and_the_limit():
    assert Settings.from_env({}).listener_threads == 16
    assert Settings.from_env({"LISTENER_THREADS": "32"}).listener_threads == 32
    for bad in ("0", "65", "-1", "lots"):
        with pytest.raises(SettingsError, match="LISTENER_THREADS"):
            Settings.from_env({"LISTENER_THREADS": bad})
