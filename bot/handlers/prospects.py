"""/prospects: the list of prospects, ticks, filters, paging, and the row and bulk actions.

The list is an ephemeral message, and Slack sends no ``message`` with an action on one (SLACK.md §8.1): every
action reads the list's state from what it carries itself — a button's ``value`` (Previous/Next: the page they
lead to) or the render key its ``block_id`` ends with (a tick, a filter, Select all, Clear), which
``ProspectService.recall`` turns back into the search, filters and page that render showed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.matching import (
    MatchingScreen,
    build_matching_notice,
    build_select_matching_view,
    matching_metadata,
    read_matching_metadata,
)
from bot.blocks.prospects import build_prospect_list, filters_named
from bot.handlers.parsing import Command
from bot.modals import Modals
from bot.users import UserProfiles
from outreach.models import Channel, PartnerKind, ProspectQuery
from outreach.prospecting import PageRequest, ProspectPage, ProspectService, decode_state

OpenCompose = Callable[[WebClient, str, str, str, Channel, Callable[[], Sequence[str]]], None]
OpenCard = Callable[[WebClient, str, str, str, str], None]


class ProspectHandlers:
    def __init__(
        self,
        profiles: UserProfiles,
        prospects: ProspectService,
        open_compose: OpenCompose,
        open_card: OpenCard,
        modals: Modals,
    ) -> None:
        self._profiles = profiles
        self._prospects = prospects
        self._open_compose = open_compose
        self._open_card = open_card
        self._modals = modals

    # -- showing the list ---------------------------------------------------------------------------
    def command(self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        query = ProspectQuery(text=parsed.text)
        self._show(
            client,
            respond,
            command["team_id"],
            command["user_id"],
            query,
            PageRequest(),
            replace_original=False,
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
        replace_original: bool = True,
        recount: bool = True,
    ) -> None:
        page, key = self._prospects.show(team_id, user_id, query, req, recount=recount)
        self._render(client, respond, team_id, user_id, page, key, replace_original=replace_original)

    def _render(
        self,
        client: WebClient,
        respond: Respond,
        team_id: str,
        user_id: str,
        page: ProspectPage,
        key: str,
        *,
        replace_original: bool = True,
    ) -> None:
        t = self._profiles.get(client, team_id, user_id).t
        blocks = build_prospect_list(page, self._prospects.countries(team_id), t, key)
        text = t("list.showing", first=page.first_index, last=page.last_index, total=page.total)
        if replace_original:
            respond(replace_original=True, text=text, blocks=blocks)
        else:
            respond(response_type="ephemeral", text=text, blocks=blocks)

    def _state(self, body: dict[str, Any], action: dict[str, Any]) -> tuple[ProspectQuery, PageRequest]:
        """The search, filters and page of the render the action was taken on (page 1 if it is forgotten)."""
        key = ids.render_of(str(action.get("block_id", "")))
        found = self._prospects.recall(body["team"]["id"], body["user"]["id"], key)
        if found is None and action.get("value"):
            return decode_state(str(action["value"]))
        return found or (ProspectQuery(), PageRequest())

    def _again(
        self,
        body: dict[str, Any],
        client: WebClient,
        respond: Respond,
        query: ProspectQuery,
        req: PageRequest,
    ) -> None:
        # A click inside a list already shown: its total may be one counted a moment ago (COUNT_REUSE).
        self._show(client, respond, body["team"]["id"], body["user"]["id"], query, req, recount=False)

    # -- ticks ------------------------------------------------------------------------------------------
    def pick(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        _, _, rest = str(action.get("block_id", "")).partition("~")  # picks~<mpid>~<render key>
        mpid = rest.rsplit("~", 1)[0]
        if not mpid:
            return
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        key = ids.render_of(str(action.get("block_id", "")))
        picked = bool(action.get("selected_options"))
        page, shown = self._prospects.tick(
            team_id, user_id, key, mpid, picked=picked, fallback=str(action.get("value") or "")
        )
        self._render(client, respond, team_id, user_id, page, shown)

    def select_all(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        query, req = self._state(body, action)
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        page = self._prospects.page(team_id, user_id, query, req)
        self._prospects.set_picked(team_id, user_id, [p.partner.mpid for p in page.items], True)
        self._show(client, respond, team_id, user_id, query, req)

    def select_matching(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """ "Select all 1,234 matching": a modal says what that would tick; nothing is ticked until it is sent."""
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        key = ids.render_of(str(action.get("block_id", "")))
        opened = self._modals.open(client, body["trigger_id"], team_id, user_id)
        if opened is None:
            return
        t = self._profiles.get(client, team_id, user_id).t
        found = self._prospects.recall(team_id, user_id, key)
        if found is None:
            view = build_matching_notice(t("matching.gone"), t)
        else:
            query = found[0]
            screen = MatchingScreen(
                self._prospects.match_counts(team_id, user_id, query),
                filters_named(query, t),
                self._prospects.picked_count(team_id, user_id),
                self._prospects.recent_days(team_id),
                matching_metadata(key, str(body.get("response_url", ""))),
            )
            view = build_select_matching_view(screen, t)
        self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash)

    def select_matching_sent(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        """Tick every match (in the database), then show the list again where it was, with the ticks."""
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._profiles.get(client, team_id, user_id).t
        meta = read_matching_metadata(str(view.get("private_metadata", "")))
        found = self._prospects.recall(team_id, user_id, meta[0]) if meta else None
        if meta is None or found is None:
            ack(response_action="update", view=build_matching_notice(t("matching.gone"), t))
            return
        query, req = found
        ack(response_action="update", view=build_matching_notice(t("matching.working", count="…"), t))
        count = self._prospects.pick_matching(team_id, user_id, query)
        done = build_matching_notice(t("matching.done", count=t.number(count)), t)
        self._modals.show(client, str(view["id"]), done, user_id=user_id)
        if meta[1]:  # the list's own response_url: the list shows the ticks, on the page it was on
            self._show(client, Respond(response_url=meta[1]), team_id, user_id, query, req)

    def clear(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        self._prospects.clear(body["team"]["id"], body["user"]["id"])
        self._again(body, client, respond, *self._state(body, action))

    def page(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        query, req = decode_state(str(action.get("value", "")))  # the page the button leads to
        self._again(body, client, respond, query, req)

    # -- filters ----------------------------------------------------------------------------------------
    def filter(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        chosen = str((action.get("selected_option") or {}).get("value", "any"))
        action_id = action.get("action_id")

        def change(query: ProspectQuery) -> ProspectQuery:
            if action_id == ids.ACTION_FILTER_KIND:
                return replace(query, kind=PartnerKind(chosen) if chosen in ("partner", "creator") else None)
            if action_id == ids.ACTION_FILTER_MESSAGING:
                return replace(query, messaging_enabled={"on": True, "off": False}.get(chosen))
            if action_id == ids.ACTION_FILTER_COUNTRY:
                return replace(query, country="" if chosen == "any" else chosen)
            if action_id == ids.ACTION_FILTER_NOT_CONTACTED:
                return replace(query, not_contacted=bool(action.get("selected_options")))
            return query

        team_id, user_id = body["team"]["id"], body["user"]["id"]
        key = ids.render_of(str(action.get("block_id", "")))
        page, shown = self._prospects.refilter(
            team_id, user_id, key, change, fallback=str(action.get("value") or "")
        )
        self._render(client, respond, team_id, user_id, page, shown)

    # -- actions on recipients ------------------------------------------------------------------------
    def more(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        verb, _, mpid = str((action.get("selected_option") or {}).get("value", "")).partition(":")
        team_id, user_id, trigger = body["team"]["id"], body["user"]["id"], body["trigger_id"]
        if verb == "details":
            self._open_card(client, trigger, team_id, user_id, mpid)
        elif verb in ("email", "message"):
            self._open_compose(client, trigger, team_id, user_id, Channel(verb), lambda: [mpid])

    def email_picked(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        self._compose_picked(body, client, Channel.EMAIL)

    def message_picked(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        self._compose_picked(body, client, Channel.MESSAGE)

    def _compose_picked(self, body: dict[str, Any], client: WebClient, channel: Channel) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        picked = self._prospects.picked_ids  # read once the form is open: the trigger lasts 3 s

        self._open_compose(
            client, body["trigger_id"], team_id, user_id, channel, lambda: picked(team_id, user_id)
        )


def register(app: App, handlers: ProspectHandlers) -> None:
    app.action(ids.ACTION_PICK)(handlers.pick)
    app.action(ids.ACTION_SELECT_ALL)(handlers.select_all)
    app.action(ids.ACTION_SELECT_MATCHING)(handlers.select_matching)
    app.view(ids.CALLBACK_SELECT_MATCHING)(handlers.select_matching_sent)
    app.action(ids.ACTION_CLEAR)(handlers.clear)
    app.action(ids.ACTION_PAGE_PREV)(handlers.page)
    app.action(ids.ACTION_PAGE_NEXT)(handlers.page)
    for filter_id in (
        ids.ACTION_FILTER_KIND,
        ids.ACTION_FILTER_MESSAGING,
        ids.ACTION_FILTER_COUNTRY,
        ids.ACTION_FILTER_NOT_CONTACTED,
    ):
        app.action(filter_id)(handlers.filter)
    app.action(ids.ACTION_ROW_MORE)(handlers.more)
    app.action(ids.ACTION_EMAIL_PICKED)(handlers.email_picked)
    app.action(ids.ACTION_MESSAGE_PICKED)(handlers.message_picked)


__all__ = ["ProspectHandlers", "register"]
