"""Per-workspace settings: what a workspace's admins set on the App Home, over the deployment's defaults.

The rules:

* **Defaults.** The environment (``MAIL_FROM``, ``SMTP_*``, ``MESSAGES_WEBHOOK_*``, ``SENDERS_USERGROUP``,
  ``RECENT_CONTACT_DAYS``, ``DIGEST_CRON``'s time) gives every workspace its values; a workspace overrides each
  group by setting it, and goes back to the default by emptying it. :meth:`WorkspaceSettingsService.effective`
  is what every sender, permission check and schedule reads — never the environment directly.
* **Groups.** The From address and name (either alone: the other stays the default's); the SMTP server with its
  login (a host set: its port, security, user name and password are the workspace's, and its e-mails keep its
  own From address as envelope sender, as a user's own mailbox does; no host: the deployment's server); the
  messages webhook (URL and secret together); the sender user group; the recent-contact window (days, 0: off);
  the digest time (``HH:MM`` in each author's own zone, on DIGEST_CRON's days).
* **Who.** Only a workspace admin or owner saves (:class:`NotAdmin` otherwise); anyone reads the settings, the
  password and webhook secret never shown to anyone (:meth:`WorkspaceSettingsService.shown`).
* **Checked before saved.** Every field is checked (:func:`check_settings`: a plain e-mail address, a host name,
  a port, https for the webhook — http only to a loopback host —, a user group id, whole days, a time), then a
  new or changed SMTP server is tried with a real connection and login (:data:`SmtpTester`); a refusal names the
  server's answer on the field it belongs to. An empty password (or webhook secret) keeps the stored one while
  the server (host and user name) stays the same.
* **Secrets encrypted.** The SMTP password and the webhook secret are stored encrypted with a :class:`Cipher`
  (Fernet with SECRET_KEY); without one, settings that need a secret cannot be saved.
* **Audited.** A save records ``workspace.settings_changed`` naming the fields changed (never their secrets).
* **Read often, cheaply.** Effective values are kept for ``ttl`` seconds per workspace (a save in this process
  forgets them at once; other processes see it within ``ttl``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formataddr, parseaddr
from typing import Protocol
from urllib.parse import urlsplit

from outreach.accounts import SECURITIES
from outreach.cache import StampedCache
from outreach.errors import DeliveryFailed, NotAdmin, Problem, ValidationFailed
from outreach.models import AuditEvent, SmtpServer, WorkspaceSettings
from outreach.ports import Clock, UnitOfWork
from outreach.validation import check_email_address, control_characters

log = logging.getLogger(__name__)

SETTINGS_CHANGED = "workspace.settings_changed"
MAX_RECENT_DAYS = 365
MAX_NAME = 100
_USERGROUP = re.compile(r"S[A-Z0-9]{2,30}")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_LOOPBACK_NAMES = ("localhost",)


class Cipher(Protocol):
    def encrypt(self, text: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


SmtpTester = Callable[[SmtpServer, str], None]  # (server, from address): raises DeliveryFailed if it fails


@dataclass(frozen=True, slots=True)
class Defaults:
    """The deployment's values (the environment), for workspaces that set nothing."""

    mail_from: str  # MAIL_FROM: "Name <address>" or an address
    smtp: SmtpServer
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    senders_usergroup: str = ""
    recent_contact_days: int = 7
    digest_time: str = ""  # empty: DIGEST_CRON's own time


@dataclass(frozen=True, slots=True)
class Effective:
    """A workspace's values in force: its own where it set them, else the defaults."""

    team_id: str
    mail_from: str
    smtp: SmtpServer
    own_smtp: bool  # the workspace's own server (its From address is the envelope sender: no VERP)
    own_from: bool
    webhook_url: str
    webhook_secret: str = field(repr=False)
    own_webhook: bool
    senders_usergroup: str
    recent_contact_days: int
    digest_time: str

    @property
    def recent_contact(self) -> timedelta | None:
        return timedelta(days=self.recent_contact_days) if self.recent_contact_days > 0 else None


@dataclass(frozen=True, slots=True)
class Shown:
    """The settings as a screen shows them: the workspace's own values, the defaults beside them, and whether a
    password and a webhook secret are stored (never the secrets)."""

    own: WorkspaceSettings
    defaults: Defaults
    has_password: bool
    has_webhook_secret: bool


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_settings(s: WorkspaceSettings) -> list[Problem]:
    """Every field's problems (the form's fields), without any connection."""
    problems: list[Problem] = []
    if s.from_address and check_email_address(s.from_address) is None:
        problems.append(
            Problem(
                "from_address", "invalid_email", "Give one plain e-mail address, like outreach@brand.com."
            )
        )
    if control_characters(s.from_name) or len(s.from_name) > MAX_NAME or any(c in s.from_name for c in "<>"):
        problems.append(
            Problem(
                "from_name", "invalid_name", f"The name is one line of at most {MAX_NAME} characters, no < >."
            )
        )
    if s.smtp_host:
        if control_characters(s.smtp_host) or " " in s.smtp_host or "/" in s.smtp_host:
            problems.append(
                Problem(
                    "smtp_host", "invalid_host", "Give the SMTP server's host name, like smtp.example.com."
                )
            )
        if not 0 < s.smtp_port < 65536:
            problems.append(
                Problem("smtp_port", "invalid_port", "The port is a number from 1 to 65535 (587, 465 or 25).")
            )
        if s.smtp_security not in SECURITIES:
            problems.append(
                Problem("smtp_security", "invalid_security", "Security is none, starttls or tls.")
            )
        if control_characters(s.smtp_username):
            problems.append(Problem("smtp_username", "invalid_username", "The user name is one line."))
        if control_characters(s.smtp_password):
            problems.append(Problem("smtp_password", "invalid_password", "The password is one line."))
    elif s.smtp_username or s.smtp_password:
        problems.append(
            Problem("smtp_host", "host_required", "Give the SMTP server's host name for this login.")
        )
    if s.webhook_url:
        problems += _webhook_problems(s.webhook_url)
    elif s.webhook_secret:
        problems.append(Problem("webhook_url", "url_required", "Give the webhook's URL for this secret."))
    if control_characters(s.webhook_secret):
        problems.append(Problem("webhook_secret", "invalid_secret", "The secret is one line."))
    if s.senders_usergroup and not _USERGROUP.fullmatch(s.senders_usergroup):
        problems.append(
            Problem(
                "senders_usergroup",
                "invalid_usergroup",
                "Give the user group's id, like S0123ABCD (in Slack: the group's ⋯ menu, Copy group ID).",
            )
        )
    days = s.recent_contact_days
    if days is not None and not 0 <= days <= MAX_RECENT_DAYS:
        problems.append(
            Problem(
                "recent_contact_days",
                "invalid_days",
                f"The window is a whole number of days from 0 (off) to {MAX_RECENT_DAYS}.",
            )
        )
    if s.digest_time and not _TIME.fullmatch(s.digest_time):
        problems.append(Problem("digest_time", "invalid_time", "The digest time is HH:MM, like 09:00."))
    return problems


def _webhook_problems(url: str) -> list[Problem]:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or not host or control_characters(url) or " " in url:
        return [Problem("webhook_url", "invalid_url", "Give the webhook's full URL, like https://….")]
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
        return []
    return [
        Problem(
            "webhook_url",
            "not_https",
            "The webhook URL must start with https:// (plain http only to this machine, for development).",
        )
    ]


def format_from(address: str, name: str) -> str:
    return formataddr((name, address)) if name else address


class WorkspaceSettingsService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        defaults: Defaults,
        cipher: Cipher | None,
        tester: SmtpTester,
        ttl: float = 30.0,
        unreadable: tuple[type[Exception], ...] = (),
    ) -> None:
        """``unreadable``: what ``cipher.decrypt`` raises for a secret under no key it has (SECRET_KEY changed
        without SECRET_KEY_PREVIOUS): such a secret counts as not set, and is logged."""
        self._unreadable = unreadable
        self._uow = uow
        self._clock = clock
        self.defaults = defaults
        self._cipher = cipher
        self._tester = tester
        self._kept = StampedCache[str, Effective](ttl, max_entries=10_000)

    @property
    def keeps_secrets(self) -> bool:
        """Whether an SMTP password or a webhook secret can be stored (SECRET_KEY is set)."""
        return self._cipher is not None

    # -- reading ---------------------------------------------------------------------------------------------
    def effective(self, team_id: str) -> Effective:
        kept = self._kept.fresh(team_id)
        if kept is not None:
            return kept
        now = self._kept.now()
        return self._kept.put(team_id, self._resolve(self._own(team_id)), at=now)

    def shown(self, team_id: str) -> Shown:
        own = self._stored(team_id) or WorkspaceSettings(team_id)
        return Shown(
            dataclasses.replace(own, smtp_password="", webhook_secret=""),
            self.defaults,
            bool(own.smtp_password),
            bool(own.webhook_secret),
        )

    def _stored(self, team_id: str) -> WorkspaceSettings | None:
        with self._uow() as uow:
            return uow.workspace_settings.get(team_id)

    def _own(self, team_id: str) -> WorkspaceSettings:
        """The stored settings with their secrets decrypted (a secret that cannot be: as if not set)."""
        stored = self._stored(team_id)
        if stored is None:
            return WorkspaceSettings(team_id)
        return dataclasses.replace(
            stored,
            smtp_password=self._decrypt(team_id, "SMTP password", stored.smtp_password),
            webhook_secret=self._decrypt(team_id, "webhook secret", stored.webhook_secret),
        )

    def _decrypt(self, team_id: str, what: str, token: str) -> str:
        if not token or self._cipher is None:
            return ""
        try:
            return self._cipher.decrypt(token)
        except self._unreadable:
            log.error(
                "the %s of workspace %s is under no SECRET_KEY known: an admin must enter it again",
                what,
                team_id,
            )
            return ""

    def _resolve(self, own: WorkspaceSettings) -> Effective:
        d = self.defaults
        default_name, default_address = parseaddr(d.mail_from)
        address = own.from_address or default_address or d.mail_from
        name = own.from_name or default_name
        own_from = bool(own.from_address or own.from_name)
        smtp = own.smtp
        webhook = bool(own.webhook_url and own.webhook_secret)
        return Effective(
            team_id=own.team_id,
            mail_from=format_from(address, name) if own_from else d.mail_from,
            smtp=smtp or d.smtp,
            own_smtp=smtp is not None,
            own_from=own_from,
            webhook_url=own.webhook_url if webhook else d.webhook_url,
            webhook_secret=own.webhook_secret if webhook else d.webhook_secret,
            own_webhook=webhook,
            senders_usergroup=own.senders_usergroup or d.senders_usergroup,
            recent_contact_days=(
                own.recent_contact_days if own.recent_contact_days is not None else d.recent_contact_days
            ),
            digest_time=own.digest_time or d.digest_time,
        )

    # -- saving ----------------------------------------------------------------------------------------------
    def save(
        self, form: WorkspaceSettings, user_id: str, *, is_admin: bool
    ) -> tuple[WorkspaceSettings, list[str]]:
        """Check, try a new SMTP server's login, then store ``form`` (the workspace's whole settings) and audit
        it. Returns the settings stored (secrets blanked) and the names of the fields that changed."""
        if not is_admin:
            raise NotAdmin(user_id)
        form = _cleaned(form)
        current = self._own(form.team_id)
        form = _keep_secrets(form, current)
        problems = check_settings(form)
        if (form.smtp_password or form.webhook_secret) and self._cipher is None:
            field_ = "smtp_password" if form.smtp_password else "webhook_secret"
            problems.append(Problem(field_, "not_available", "Saving a password needs SECRET_KEY to be set."))
        if form.webhook_url and not form.webhook_secret:
            problems.append(
                Problem(
                    "webhook_secret", "required", "The webhook's secret is required: messages are signed."
                )
            )
        if problems:
            raise ValidationFailed(problems)
        server = form.smtp
        if server is not None and server != current.smtp:
            from_address = form.from_address or parseaddr(self.defaults.mail_from)[1]
            try:
                self._tester(server, from_address)
            except DeliveryFailed as err:
                field_ = (
                    "smtp_password" if "login" in err.reason or "auth" in err.reason.lower() else "smtp_host"
                )
                raise ValidationFailed(
                    [
                        Problem(
                            field_,
                            "smtp_failed",
                            f"The SMTP server said no: {err.reason}",
                            (("reason", err.reason),),
                        )
                    ]
                ) from None
        changed = _changed(current, form)
        now = self._clock.now()
        stored = dataclasses.replace(
            form,
            smtp_password=self._encrypt(form.smtp_password),
            webhook_secret=self._encrypt(form.webhook_secret),
            updated_by=user_id,
            updated_at=now,
        )
        with self._uow() as uow:
            uow.workspace_settings.put(stored)
            if changed:
                uow.audit.record(
                    AuditEvent(form.team_id, user_id, SETTINGS_CHANGED, now, detail=", ".join(changed))
                )
            uow.commit()
        self._kept.forget(form.team_id)
        return dataclasses.replace(stored, smtp_password="", webhook_secret=""), changed

    def _encrypt(self, text: str) -> str:
        if not text:
            return ""
        assert self._cipher is not None  # checked before
        return self._cipher.encrypt(text)


_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(WorkspaceSettings)
    if f.name not in ("team_id", "updated_by", "updated_at")
)
_SECRETS = ("smtp_password", "webhook_secret")


def _cleaned(s: WorkspaceSettings) -> WorkspaceSettings:
    """Surrounding spaces gone, the address normalised; an SMTP server's fields only with its host."""
    address = s.from_address.strip()
    s = dataclasses.replace(
        s,
        from_address=check_email_address(address) or address,
        from_name=s.from_name.strip(),
        smtp_host=s.smtp_host.strip().lower(),
        smtp_username=s.smtp_username.strip(),
        webhook_url=s.webhook_url.strip(),
        senders_usergroup=s.senders_usergroup.strip().upper(),
        digest_time=s.digest_time.strip(),
    )
    if not s.smtp_host and not s.smtp_username and not s.smtp_password:
        s = dataclasses.replace(s, smtp_port=0, smtp_security="")
    return s


def _keep_secrets(form: WorkspaceSettings, current: WorkspaceSettings) -> WorkspaceSettings:
    """An empty password keeps the stored one while the server and user stay; an empty webhook secret keeps the
    stored one while the URL's host stays."""
    if (
        not form.smtp_password
        and form.smtp_host
        and (form.smtp_host, form.smtp_username) == (current.smtp_host, current.smtp_username)
    ):
        form = dataclasses.replace(form, smtp_password=current.smtp_password)
    if (
        not form.webhook_secret
        and form.webhook_url
        and current.webhook_url
        and _host(form.webhook_url) == _host(current.webhook_url)
    ):
        form = dataclasses.replace(form, webhook_secret=current.webhook_secret)
    return form


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _changed(before: WorkspaceSettings, after: WorkspaceSettings) -> list[str]:
    return [name for name in _FIELDS if getattr(before, name) != getattr(after, name)]
