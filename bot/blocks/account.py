"""The form for a user's own e-mail account (/prospects connect-email)."""

from __future__ import annotations

from typing import Any

from bot import ids
from bot.blocks.common import Block, check_limits, context, option, plain, section
from bot.i18n import Translator


def _input(block_id: str, label: str, element: Block, hint: str = "") -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text(initial: str = "", placeholder: str = "") -> Block:
    element: Block = {"type": "plain_text_input", "action_id": ids.ACTION_INPUT}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def _optional(block: Block) -> Block:
    block["optional"] = True
    return block


def build_account_view(t: Translator, email: str, connected: str = "") -> dict[str, Any]:
    imap_securities = [
        option(t("account.imap_security_tls"), "tls"),
        option(t("account.imap_security_starttls"), "starttls"),
    ]
    imap_security: Block = {
        "type": "static_select",
        "action_id": ids.ACTION_INPUT,
        "options": imap_securities,
        "initial_option": imap_securities[0],
    }
    securities = [
        option(t("account.security_starttls"), "starttls"),
        option(t("account.security_tls"), "tls"),
        option(t("account.security_none"), "none"),
    ]
    security: Block = {
        "type": "static_select",
        "action_id": ids.ACTION_INPUT,
        "options": securities,
        "initial_option": securities[0],
    }
    from_address: Block = {"type": "email_text_input", "action_id": ids.ACTION_INPUT}
    if email:
        from_address["initial_value"] = email
    blocks: list[Block] = [section(t("account.intro"))]
    if connected:
        blocks.append(context(t("account.connected_now", account=connected)))
    blocks += [
        _input(ids.BLOCK_ACCOUNT_FROM, t("account.from"), from_address),
        _input(ids.BLOCK_ACCOUNT_HOST, t("account.host"), _text(placeholder="smtp.gmail.com")),
        _input(ids.BLOCK_ACCOUNT_PORT, t("account.port"), _text("587")),
        _input(ids.BLOCK_ACCOUNT_SECURITY, t("account.security"), security),
        _input(ids.BLOCK_ACCOUNT_USERNAME, t("account.username"), _text(email)),
        _input(ids.BLOCK_ACCOUNT_PASSWORD, t("account.password"), _text(), t("account.password_hint")),
        _optional(
            _input(
                ids.BLOCK_ACCOUNT_IMAP_HOST,
                t("account.imap_host"),
                _text(placeholder="imap.gmail.com"),
                t("account.imap_host_hint"),
            )
        ),
        _optional(
            _input(ids.BLOCK_ACCOUNT_IMAP_PORT, t("account.imap_port"), _text(), t("account.imap_port_hint"))
        ),
        _input(ids.BLOCK_ACCOUNT_IMAP_SECURITY, t("account.imap_security"), imap_security),
    ]
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_CONNECT_EMAIL,
        "title": plain(t("account.title"), 24),
        "submit": plain(t("account.connect"), 24),
        "close": plain(t("common.cancel"), 24),
        "blocks": check_limits(blocks, surface="modal"),
    }
