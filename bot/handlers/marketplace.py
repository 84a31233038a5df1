"""/prospects marketplace: All partners / All creators, the partner card, Email it, mark it as prospect."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.marketplace import build_marketplace, build_partner_card
from bot.handlers.compose import ComposeHandlers
from bot.handlers.parsing import Command
from bot.modals import Modals
from bot.users import UserProfiles
from outreach.errors import NotFound
from outreach.models import Channel, PartnerKind, ProspectQuery
from outreach.prospecting import PageRequest, ProspectService, decode_state, marketplace_query


class MarketplaceHandlers:
    def __init__(
        self, profiles: UserProfiles, prospects: ProspectService, compose: ComposeHandlers, modals: Modals
    ) -> None:
        self._profiles = profiles
        self._prospects = prospects
        self._compose = compose
        self._modals = modals

    def command(self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        query = marketplace_query(parsed.kind or PartnerKind.PARTNER, parsed.text)
        self._show(
            client, respond, command["team_id"], command["user_id"], query, PageRequest(), replace=False
        )

    def _show(
        self,
        client: WebClient,
        respond: Respond,
        team_id: str,
        user_id: str,
        query: ProspectQuery,
        req: PageRequest,
        *,
        replace: bool = True,
    ) -> None:
        t = self._profiles.get(client, team_id, user_id).t
        query = ProspectQuery(text=query.text, kind=query.kind or PartnerKind.PARTNER, prospects_only=False)
        page = self._prospects.page(team_id, user_id, query, req)
        shown = PageRequest(at=page.first_cursor, number=page.number)
        blocks = build_marketplace(page, t, self._prospects.remember(team_id, user_id, page.query, shown))
        text = t("market.title")
        if replace:
            respond(replace_original=True, text=text, blocks=blocks)
        else:
            respond(response_type="ephemeral", text=text, blocks=blocks)

    def navigate(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        """Tabs and paging: the target state rides on the button."""
        ack()
        query, req = decode_state(str(action.get("value", "")))
        self._show(client, respond, body["team"]["id"], body["user"]["id"], query, req)

    def open_card(self, client: WebClient, trigger_id: str, team_id: str, user_id: str, mpid: str) -> None:
        try:
            partner = self._prospects.get(team_id, mpid)
        except NotFound:
            return  # an mpid of another workspace (or none): nothing to show
        opened = self._modals.open(client, trigger_id, team_id, user_id)
        if opened is not None:
            t = self._profiles.get(client, team_id, user_id).t
            card = build_partner_card(partner, t)
            self._modals.show(client, opened.view_id, card, user_id=user_id, hash=opened.hash)

    def open(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        self.open_card(
            client, body["trigger_id"], body["team"]["id"], body["user"]["id"], str(action.get("value"))
        )

    def email(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id, mpid = body["team"]["id"], body["user"]["id"], str(action.get("value", ""))
        # An mpid of another workspace is dropped by the draft: the form then has no recipient.
        trigger = body["trigger_id"]
        self._compose.open_new(client, trigger, team_id, user_id, Channel.EMAIL, lambda: [mpid], push=True)

    def mark(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id, mpid = body["team"]["id"], body["user"]["id"], str(action.get("value", ""))
        try:
            self._prospects.mark(team_id, user_id, mpid)
            partner = self._prospects.get(team_id, mpid)
        except NotFound:
            return
        t = self._profiles.get(client, team_id, user_id).t
        view = body.get("view") or {}
        self._modals.show(client, str(view.get("id", "")), build_partner_card(partner, t), user_id=user_id)


def register(app: App, handlers: MarketplaceHandlers) -> None:
    for action_id in (ids.ACTION_MARKET_TAB, ids.ACTION_MARKET_PREV, ids.ACTION_MARKET_NEXT):
        app.action(action_id)(handlers.navigate)
    app.action(ids.ACTION_MARKET_OPEN)(handlers.open)
    app.action(ids.ACTION_MARKET_EMAIL)(handlers.email)
    app.action(ids.ACTION_MARKET_MARK)(handlers.mark)
