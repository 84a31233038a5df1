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
