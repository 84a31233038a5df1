"""The workspace's settings: the Home tab's **Settings** button, the admins' form and everyone else's read-only view.

Every field shows the workspace's own value; an empty field is the deployment's default, named in its placeholder
(or hint). The SMTP password and the webhook secret are never shown: the form says whether one is stored, and an
empty field keeps it.
"""

from __future__ import annotations

from typing import Any

from bot import ids
from bot.blocks.common import Block, actions, button, check_limits, context, divider, option, plain, section
from bot.i18n import Translator
from outreach.workspace_settings import Shown

FIELD_BLOCKS = {
    "from_address": ids.BLOCK_WS_FROM_ADDRESS,
    "from_name": ids.BLOCK_WS_FROM_NAME,
    "smtp_host": ids.BLOCK_WS_SMTP_HOST,
    "smtp_port": ids.BLOCK_WS_SMTP_PORT,
    "smtp_security": ids.BLOCK_WS_SMTP_SECURITY,
    "smtp_username": ids.BLOCK_WS_SMTP_USERNAME,
    "smtp_password": ids.BLOCK_WS_SMTP_PASSWORD,
    "webhook_url": ids.BLOCK_WS_WEBHOOK_URL,
    "webhook_secret": ids.BLOCK_WS_WEBHOOK_SECRET,
    "senders_usergroup": ids.BLOCK_WS_USERGROUP,
    "recent_contact_days": ids.BLOCK_WS_RECENT_DAYS,
    "digest_time": ids.BLOCK_WS_DIGEST_TIME,
}


def settings_blocks(t: Translator) -> list[Block]:
    """What the Home tab shows for the settings: appended to its blocks."""
    return [
        divider(),
        section(t("ws.home_intro")),
        actions(button(t("ws.open"), ids.ACTION_HOME_SETTINGS), block_id=ids.BLOCK_WS_HOME),
    ]


def _input(block_id: str, label: str, element: Block, hint: str = "") -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": True,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text(kind: str, initial: str, placeholder: str) -> Block:
    element: Block = {"type": kind, "action_id": ids.ACTION_INPUT}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def _default(t: Translator, value: str) -> str:
    return t("ws.default", value=value) if value else t("ws.default_none")


def build_settings_view(t: Translator, shown: Shown, *, editable: bool, notice: str = "") -> dict[str, Any]:
    """The admins' form (``editable``) or the read-only view everyone else gets."""
    if not editable:
        return build_settings_read_view(t, shown)
    own, d = shown.own, shown.defaults
    securities = [
        option(t("account.security_starttls"), "starttls"),
        option(t("account.security_tls"), "tls"),
        option(t("account.security_none"), "none"),
    ]
    security: Block = {"type": "static_select", "action_id": ids.ACTION_INPUT, "options": securities}
    chosen = [o for o in securities if o["value"] == own.smtp_security]
    if chosen:
        security["initial_option"] = chosen[0]
    days: Block = {
        "type": "number_input",
        "action_id": ids.ACTION_INPUT,
        "is_decimal_allowed": False,
        "min_value": "0",
        "max_value": "365",
        "placeholder": plain(_default(t, str(d.recent_contact_days)), 150),
    }
    if own.recent_contact_days is not None:
        days["initial_value"] = str(own.recent_contact_days)
    password_hint = t("ws.password_kept") if shown.has_password else t("ws.password_hint")
    secret_hint = t("ws.secret_kept") if shown.has_webhook_secret else t("ws.secret_hint")
    blocks: list[Block] = [section(t("ws.intro"))]
    if notice:
        blocks.append(context(notice))
    blocks += [
        section(f"*{t('ws.sender')}*"),
        _input(
            ids.BLOCK_WS_FROM_ADDRESS,
            t("ws.from_address"),
            _text("email_text_input", own.from_address, _default(t, d.mail_from)),
        ),
        _input(ids.BLOCK_WS_FROM_NAME, t("ws.from_name"), _text("plain_text_input", own.from_name, "")),
        section(f"*{t('ws.smtp')}*"),
        _input(
            ids.BLOCK_WS_SMTP_HOST,
            t("account.host"),
            _text("plain_text_input", own.smtp_host, _default(t, f"{d.smtp.host}:{d.smtp.port}")),
            t("ws.smtp_hint"),
        ),
        _input(
            ids.BLOCK_WS_SMTP_PORT,
            t("account.port"),
            _text("plain_text_input", str(own.smtp_port) if own.smtp_port else "", "587"),
        ),
        _input(ids.BLOCK_WS_SMTP_SECURITY, t("account.security"), security),
        _input(
            ids.BLOCK_WS_SMTP_USERNAME,
            t("account.username"),
            _text("plain_text_input", own.smtp_username, ""),
        ),
        _input(
            ids.BLOCK_WS_SMTP_PASSWORD, t("ws.password"), _text("plain_text_input", "", ""), password_hint
        ),
        section(f"*{t('ws.messages')}*"),
        _input(
            ids.BLOCK_WS_WEBHOOK_URL,
            t("ws.webhook_url"),
            _text("url_text_input", own.webhook_url, _default(t, d.webhook_url)),
        ),
        _input(
            ids.BLOCK_WS_WEBHOOK_SECRET,
            t("ws.webhook_secret"),
            _text("plain_text_input", "", ""),
            secret_hint,
        ),
        section(f"*{t('ws.team')}*"),
        _input(
            ids.BLOCK_WS_USERGROUP,
            t("ws.usergroup"),
            _text("plain_text_input", own.senders_usergroup, _default(t, d.senders_usergroup)),
            t("ws.usergroup_hint"),
        ),
        _input(ids.BLOCK_WS_RECENT_DAYS, t("ws.recent_days"), days, t("ws.recent_days_hint")),
        _input(
            ids.BLOCK_WS_DIGEST_TIME,
            t("ws.digest_time"),
            _text("plain_text_input", own.digest_time, _default(t, d.digest_time)),
            t("ws.digest_time_hint"),
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_WORKSPACE_SETTINGS,
        "title": plain(t("ws.title"), 24),
        "submit": plain(t("ws.save"), 24),
        "close": plain(t("common.cancel"), 24),
        "blocks": check_limits(blocks, surface="modal"),
    }


def build_settings_read_view(t: Translator, shown: Shown) -> dict[str, Any]:
    """Everyone else's view: each setting's value in force and whether it is the workspace's own; no submit, and
    never a secret."""
    own, d = shown.own, shown.defaults

    def line(label: str, value: str, default: str) -> str:
        if value:
            return f"*{label}:* {value} _({t('ws.own')})_"
        return f"*{label}:* {default or '—'} _({t('ws.from_default')})_"

    smtp_own = f"{own.smtp_host}:{own.smtp_port} ({own.smtp_security})" if own.smtp_host else ""
    if own.smtp_host and own.smtp_username:
        smtp_own += " · " + t("ws.login_as", username=own.smtp_username)
    days = str(own.recent_contact_days) if own.recent_contact_days is not None else ""
    lines = [
        line(t("ws.from_address"), own.from_address, d.mail_from),
        line(t("ws.from_name"), own.from_name, ""),
        line(t("ws.smtp"), smtp_own, f"{d.smtp.host}:{d.smtp.port}"),
        line(t("ws.webhook_url"), own.webhook_url, d.webhook_url),
        line(t("ws.usergroup"), own.senders_usergroup, d.senders_usergroup),
        line(t("ws.recent_days"), days, str(d.recent_contact_days)),
        line(t("ws.digest_time"), own.digest_time, d.digest_time),
    ]
    blocks: list[Block] = [
        section(t("ws.read_only")),
        divider(),
        section("\n".join(lines)),
    ]
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_WORKSPACE_SETTINGS_READ,
        "title": plain(t("ws.title"), 24),
        "close": plain(t("common.close"), 24),
        "blocks": check_limits(blocks, surface="modal"),
    }
