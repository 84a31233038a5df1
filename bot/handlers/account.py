"""/prospects connect-email and disconnect-email: the user's own mailbox for their e-mails."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.account import build_account_view
from bot.blocks.common import context
from bot.blocks.compose import build_notice_view
from bot.handlers.parsing import Command
from bot.modals import Dm, Modals
from bot.problems import describe
from bot.users import UserProfiles
from outreach.accounts import AccountService, check_account
from outreach.errors import ValidationFailed
from outreach.models import Channel, MailAccount

FIELD_BLOCKS = {
    "host": ids.BLOCK_ACCOUNT_HOST,
    "port": ids.BLOCK_ACCOUNT_PORT,
    "security": ids.BLOCK_ACCOUNT_SECURITY,
    "username": ids.BLOCK_ACCOUNT_USERNAME,
    "password": ids.BLOCK_ACCOUNT_PASSWORD,
    "from_address": ids.BLOCK_ACCOUNT_FROM,
    "imap_host": ids.BLOCK_ACCOUNT_IMAP_HOST,
    "imap_port": ids.BLOCK_ACCOUNT_IMAP_PORT,
    "imap_security": ids.BLOCK_ACCOUNT_IMAP_SECURITY,
}


def read_account(team_id: str, user_id: str, values: dict[str, Any]) -> MailAccount:
    def value(block: str) -> str:
        field = (values.get(block) or {}).get(ids.ACTION_INPUT) or {}
        chosen = field.get("selected_option") or {}
        return str(field.get("value") or chosen.get("value") or "")

    port = value(ids.BLOCK_ACCOUNT_PORT).strip()
    imap_port = value(ids.BLOCK_ACCOUNT_IMAP_PORT).strip()
    return MailAccount(
        team_id,
        user_id,
        value(ids.BLOCK_ACCOUNT_HOST),
        int(port) if port.isdigit() else 0,
        value(ids.BLOCK_ACCOUNT_SECURITY),
        value(ids.BLOCK_ACCOUNT_USERNAME),
        value(ids.BLOCK_ACCOUNT_PASSWORD),
        value(ids.BLOCK_ACCOUNT_FROM).strip(),
        value(ids.BLOCK_ACCOUNT_IMAP_HOST).strip(),
        (int(imap_port) if imap_port.isdigit() else -1) if imap_port else 0,
        value(ids.BLOCK_ACCOUNT_IMAP_SECURITY) or "tls",
    )


class AccountHandlers:
    def __init__(self, profiles: UserProfiles, accounts: AccountService, modals: Modals) -> None:
        self._profiles = profiles
        self._accounts = accounts
        self._modals = modals

    def connect(self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        team_id, user_id = command["team_id"], command["user_id"]
        if not self._accounts.available:
            t = self._profiles.get(client, team_id, user_id).t
            respond(response_type="ephemeral", text=t("account.unavailable"))
            return
        opened = self._modals.open(client, command["trigger_id"], team_id, user_id)
        if opened is None:
            return
        profile = self._profiles.get(client, team_id, user_id)
        current = self._accounts.get(team_id, user_id)
        shown = f"{current.username}@{current.host}" if current else ""
        form = build_account_view(profile.t, profile.email, shown)
        self._modals.show(client, opened.view_id, form, user_id=user_id, hash=opened.hash)

    def disconnect(
        self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        team_id, user_id = command["team_id"], command["user_id"]
        t = self._profiles.get(client, team_id, user_id).t
        removed = self._accounts.disconnect(team_id, user_id)
        respond(response_type="ephemeral", text=t("account.disconnected") if removed else t("account.none"))

    def submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        profile = self._profiles.get(client, team_id, user_id)
        t = profile.t
        account = read_account(team_id, user_id, view.get("state", {}).get("values", {}))
        problems = check_account(account)
        if problems:
            ack(
                response_action="errors",
                errors={FIELD_BLOCKS.get(p.field, ids.BLOCK_ACCOUNT_HOST): describe(p, t) for p in problems},
            )
            return
        ack(
            response_action="update",
            view=build_notice_view(t("account.title"), t("compose.preparing"), 0, Channel.EMAIL, t),
        )
        try:  # after the ack: the login is tried against the user's server, which may take a while
            connected = self._accounts.connect(account)
        except ValidationFailed as err:
            why = ":warning: " + " ".join(describe(p, t) for p in err.problems)
            form = build_account_view(t, account.from_address)
            form["blocks"].insert(0, context(why))
            self._modals.show(client, view["id"], form, user_id=user_id, dm=Dm(why, []))
            return
        text = t(
            "account.connected",
            account=f"{connected.username}@{connected.host}",
            address=connected.from_address,
        )
        if connected.reads_mail:
            text += "\n" + t("account.reading", mailbox=f"{connected.username}@{connected.imap_host}")
        notice = build_notice_view(t("account.title"), text, 0, Channel.EMAIL, t)
        self._modals.show(client, view["id"], notice, user_id=user_id, dm=Dm(text, []))


def register(app: App, handlers: AccountHandlers) -> None:
    app.view(ids.CALLBACK_CONNECT_EMAIL)(handlers.submit)
