"""Settings.from_env(): the only reader of os.environ in the project.

Every variable has a default that works for the offline demo; a malformed value is reported
together with every other malformed value, in one error, naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MAX_SMTP_CONNECTIONS = 64  # a relay limits a client's concurrent connections long before this
MAX_LISTENER_THREADS = 64


class SettingsError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("bad configuration:\n  " + "\n  ".join(problems))


def _default_db_url() -> str:
    return f"sqlite:///{Path('var') / 'prospects.db'}"


@dataclass(frozen=True)
class Settings:
    # Storage
    database_url: str = field(default_factory=_default_db_url)
    # Slack
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    # Installs from a link in many workspaces (Slack OAuth v2): on when both are set (bot/installs/)
    slack_client_id: str = ""
    slack_client_secret: str = ""
    retention_days_after_uninstall: int = 30  # an uninstalled workspace's data is deleted this long after
    # Mail
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: str = "none"  # none | starttls | tls
    smtp_timeout: float = 30.0
    mail_from: str = "outreach@example.com"
    # Replies and bounces: bounces come back to <local>+<signed token>@<domain> of this address (VERP); empty:
    # MAIL_FROM's address. Users' own mailboxes are read every IMAP_POLL_SECONDS (0: never).
    bounce_address: str = ""
    imap_poll_seconds: float = 60.0
    # In-platform messages
    messages_webhook_url: str = ""
    messages_webhook_secret: str = ""
    # Scanning
    clamd_socket: str = ""
    clamd_host: str = ""
    clamd_port: int = 3310
    clamd_timeout: float = 30.0
    # Attachments (bytes / count)
    max_file_bytes: int = 10 * 1024 * 1024
    max_message_bytes: int = 25 * 1024 * 1024
    max_files: int = 10
    # Tokens
    tracking_link_template: str = "https://track.example.com/c/{mpid}/{adid}/{program_id}"
    program_id: str = "1000"
    # Sending
    send_rate_per_second: float = 10.0
    max_attempts: int = 5
    claim_lease_seconds: float = 600.0  # an in-flight delivery older than this was interrupted
    in_flight_group: int = 10  # e-mails marked in flight together (one commit per group, not per message)
    smtp_connections: int = 4  # connections a worker sends to SMTP_HOST over at once (a relay's latency)
    progress_update_seconds: float = 3.0  # a send's progress DM is updated at most this often (Slack: tier 3)
    # Digest
    digest_cron: str = "0 9 * * mon-fri"
    digest_min_age_hours: float = 24.0
    # Contact hygiene: unsubscribe links, teammates' recent contacts
    secret_key: str = ""  # signs unsubscribe links; without it the app makes and keeps a key in the database
    secret_key_previous: str = (
        ""  # during a rotation: what SECRET_KEY was; stored secrets under it still read
    )
    public_url: str = "http://127.0.0.1:3000"  # where /unsubscribe and /messages/inbound are reached
    http_port: int = 3000  # Socket Mode (`run`) still serves those two routes and /healthz on this port
    recent_contact_days: int = 7
    # Who may send (neither set: everyone)
    senders_usergroup: str = ""
    senders: tuple[str, ...] = ()
    # Operations
    log_level: str = "INFO"
    # Slack requests served at once (Bolt's listener threads; Bolt's own default is 5): a request waits for its
    # acknowledgement until a thread takes it, so too few make clicks queue (bench/list_load.py). On PostgreSQL
    # the database pool keeps one connection for each, and some for the rest (bot.wiring.pool_size).
    listener_threads: int = 16

    @property
    def oauth_enabled(self) -> bool:
        """Many workspaces, each installing from ``/slack/install`` with a bot token of its own."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token) or self.oauth_enabled

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """SECRET_KEY, then SECRET_KEY_PREVIOUS (if set): stored secrets are written with the first, read with
        any."""
        return tuple(k for k in (self.secret_key, self.secret_key_previous) if k)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            name = _ENV_NAMES.get(f.name, f.name.upper())
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            parse = _PARSERS.get(f.name, _parser_for(f.type))
            try:
                values[f.name] = parse(raw)
            except ValueError as exc:
                problems.append(f"{name}={raw!r}: {exc}")
        if "smtp_security" in values and values["smtp_security"] not in ("none", "starttls", "tls"):
            problems.append(f"SMTP_SECURITY={values['smtp_security']!r}: must be none, starttls or tls")
        if str(values.get("log_level", "INFO")).upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"LOG_LEVEL={values['log_level']!r}: must be DEBUG, INFO, WARNING or ERROR")
        if not 1 <= values.get("smtp_connections", 1) <= MAX_SMTP_CONNECTIONS:
            problems.append(f"SMTP_CONNECTIONS must be between 1 and {MAX_SMTP_CONNECTIONS}")
        if not 1 <= values.get("listener_threads", 1) <= MAX_LISTENER_THREADS:
            problems.append(f"LISTENER_THREADS must be between 1 and {MAX_LISTENER_THREADS}")
        if values.get("imap_poll_seconds", 0.0) < 0:
            problems.append("IMAP_POLL_SECONDS must be 0 (off) or more")
        bounce = str(values.get("bounce_address", ""))
        if bounce and (
            bounce.count("@") != 1 or not all(bounce.split("@")) or any(c in bounce for c in " <>,")
        ):
            problems.append(
                f"BOUNCE_ADDRESS={bounce!r}: must be one plain e-mail address, like bounces@example.com"
            )
        if values.get("progress_update_seconds", 1.0) <= 0:
            problems.append("PROGRESS_UPDATE_SECONDS must be more than 0")
        for name in ("secret_key", "secret_key_previous"):
            if values.get(name) and len(values[name]) < 16:
                problems.append(f"{name.upper()} must be at least 16 characters long")
        if values.get("secret_key_previous") and not values.get("secret_key"):
            problems.append("SECRET_KEY_PREVIOUS is only read with SECRET_KEY (the key that replaces it)")
        if values.get("retention_days_after_uninstall", 0) < 0:
            problems.append("RETENTION_DAYS_AFTER_UNINSTALL must be 0 or more")
        problems += _oauth_problems(values)
        if values.get("messages_webhook_url") and not values.get("messages_webhook_secret"):
            problems.append(
                "MESSAGES_WEBHOOK_SECRET must be set with MESSAGES_WEBHOOK_URL: messages are signed"
            )
        if problems:
            raise SettingsError(problems)
        return cls(**values)


def _oauth_problems(values: dict[str, Any]) -> list[str]:
    """Installs from a link need the app's client id and secret together, the signing secret (Slack's requests,
    the uninstall events) and SECRET_KEY (tokens are stored encrypted with it): name each one missing."""
    if not (values.get("slack_client_id") or values.get("slack_client_secret")):
        return []
    needed = {
        "slack_client_id": "SLACK_CLIENT_ID",
        "slack_client_secret": "SLACK_CLIENT_SECRET",
        "slack_signing_secret": "SLACK_SIGNING_SECRET",
        "secret_key": "SECRET_KEY",
    }
    problems = [
        f"{env} must be set to install the app from a link (SLACK_CLIENT_ID or SLACK_CLIENT_SECRET is set)"
        for name, env in needed.items()
        if not values.get(name)
    ]
    if values.get("slack_bot_token"):
        problems.append(
            "SLACK_BOT_TOKEN must not be set with SLACK_CLIENT_ID: installed from a link, each workspace's token "
            "comes from its install (a workspace served by SLACK_BOT_TOKEN installs the app from the link once)"
        )
    return problems


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("must be a number") from None


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _parser_for(type_name: Any) -> Callable[[str], Any]:
    return {"int": _int, "float": _float, "tuple[str, ...]": _csv}.get(str(type_name), str)


def _hours(raw: str) -> float:
    """'24', '24h', '1d', '90m' → hours."""
    raw = raw.strip().lower()
    units = {"d": 24.0, "h": 1.0, "m": 1 / 60}
    if raw and raw[-1] in units:
        return _float(raw[:-1]) * units[raw[-1]]
    return _float(raw)


_ENV_NAMES = {"digest_min_age_hours": "DIGEST_MIN_AGE"}
_PARSERS: dict[str, Callable[[str], Any]] = {"digest_min_age_hours": _hours}
