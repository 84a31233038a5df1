"""/prospects drafts (Open, Send, Delete) and "Retry failed" on a send's summary."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.drafts import build_drafts
from bot.handlers.compose import ComposeHandlers
from bot.handlers.parsing import Command
from bot.problems import describe
from bot.wiring import Services
from outreach.errors import DraftNotEditable, NotFound, ValidationFailed


def _draft_id(action: dict[str, Any]) -> int | None:
    value = str(action.get("value", ""))
    return int(value) if value.isdigit() else None


class DraftHandlers:
    def __init__(self, services: Services, compose: ComposeHandlers) -> None:
        self._s = services
        self._compose = compose

    def command(self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        team_id, user_id = command["team_id"], command["user_id"]
        t = self._s.profiles.get(client, team_id, user_id).t
        blocks = build_drafts(self._s.compose.drafts(team_id, user_id), t)
        respond(response_type="ephemeral", text=t("drafts.title"), blocks=blocks)

    def _refresh(self, body: dict[str, Any], client: WebClient, respond: Respond, notice: str) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._s.profiles.get(client, team_id, user_id).t
        respond(
            replace_original=True,
            text=t("drafts.title"),
            blocks=build_drafts(self._s.compose.drafts(team_id, user_id), t, notice),
        )

    def open(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        draft_id = _draft_id(action)
        if draft_id is None:
            return
        in_view = (body.get("view") or {}).get("id", "")  # from a modal (a verdict): the form replaces it
        self._compose.open_draft(
            client, body["trigger_id"], body["team"]["id"], body["user"]["id"], draft_id, in_view=in_view
        )

    def send(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        t = self._s.profiles.get(client, team_id, user_id).t
        if draft_id is None:
            return
        if not self._s.senders.may_send(client, team_id, user_id):
            self._refresh(body, client, respond, self._compose.refusal(t))
            return
        try:
            plan = self._s.compose.submit(team_id, user_id, draft_id)
        except ValidationFailed as err:
            problems = "\n".join(f"• {describe(p, t)}" for p in err.problems)
            self._refresh(body, client, respond, t("drafts.cannot_send", problems=problems))
            return
        except NotFound:
            self._refresh(body, client, respond, t("compose.gone"))
            return
        self._s.wake.set()
        notice = (
            t("compose.already_sending")
            if plan.already_submitted
            else t("drafts.sending", count=plan.recipients)
        )
        self._refresh(body, client, respond, notice)

    def delete(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        t = self._s.profiles.get(client, team_id, user_id).t
        if draft_id is None:
            return
        try:
            self._s.compose.delete(team_id, user_id, draft_id)
        except (NotFound, DraftNotEditable):
            self._refresh(body, client, respond, t("compose.gone"))
            return
        self._refresh(body, client, respond, t("drafts.deleted"))

    def retry_failed(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        if draft_id is None:
            return
        t = self._s.profiles.get(client, team_id, user_id).t
        channel = (body.get("channel") or body.get("container") or {}).get("id") or body.get(
            "container", {}
        ).get("channel_id")
        if not self._s.senders.may_send(client, team_id, user_id):
            if channel:
                client.chat_postMessage(channel=channel, text=self._compose.refusal(t))
            return
        try:
            count = self._s.compose.retry_failed(team_id, user_id, draft_id)
        except NotFound:
            return
        self._s.wake.set()
        if channel:
            client.chat_postMessage(channel=channel, text=t("drafts.retrying", count=count))


def register(app: App, handlers: DraftHandlers) -> None:
    app.action(ids.ACTION_DRAFT_OPEN)(handlers.open)
    app.action(ids.ACTION_DRAFT_SEND)(handlers.send)
    app.action(ids.ACTION_DRAFT_DELETE)(handlers.delete)
    app.action(ids.ACTION_RETRY_FAILED)(handlers.retry_failed)
