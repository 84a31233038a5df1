"""/prospects drafts — Open, Send, Delete a draft; Send now or Cancel a scheduled send; Cancel a send's
follow-ups — and, on a send's DM, "Retry failed" and "Cancel follow-ups"."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.drafts import build_drafts, without_action
from bot.handlers.compose import ComposeHandlers
from bot.handlers.parsing import Command
from bot.permissions import SenderPolicy
from bot.problems import describe
from bot.users import UserProfiles
from outreach.compose import ComposeService, SendPlan
from outreach.compose_flow import ComposeFlow, Gone, NotAllowed, PlanRefused, Requeued
from outreach.errors import DraftNotEditable, NotFound, ValidationFailed
from outreach.followups import FollowupService
from outreach.outbox import Outbox

log = logging.getLogger(__name__)


def _draft_id(action: dict[str, Any]) -> int | None:
    value = str(action.get("value", ""))
    return int(value) if value.isdigit() else None


class DraftHandlers:
    def __init__(
        self,
        profiles: UserProfiles,
        compose: ComposeService,
        flow: ComposeFlow,
        senders: SenderPolicy,
        forms: ComposeHandlers,
        outbox: Outbox,
        followups: FollowupService,
    ) -> None:
        self._profiles = profiles
        self._compose = compose
        self._flow = flow
        self._senders = senders
        self._forms = forms
        self._outbox = outbox
        self._followups = followups

    def command(self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        team_id, user_id = command["team_id"], command["user_id"]
        t = self._profiles.get(client, team_id, user_id).t
        blocks = build_drafts(self._outbox.listing(team_id, user_id), t)
        respond(response_type="ephemeral", text=t("drafts.title"), blocks=blocks)

    def _refresh(self, body: dict[str, Any], client: WebClient, respond: Respond, notice: str) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._profiles.get(client, team_id, user_id).t
        respond(
            replace_original=True,
            text=t("drafts.title"),
            blocks=build_drafts(self._outbox.listing(team_id, user_id), t, notice),
        )

    def open(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        draft_id = _draft_id(action)
        if draft_id is None:
            return
        in_view = (body.get("view") or {}).get("id", "")  # from a modal (a verdict): the form replaces it
        self._forms.open_draft(
            client, body["trigger_id"], body["team"]["id"], body["user"]["id"], draft_id, in_view=in_view
        )

    def send(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        t = self._profiles.get(client, team_id, user_id).t
        if draft_id is None:
            return
        may_send = partial(self._senders.may_send, client, team_id, user_id)
        outcome = self._flow.send_draft(team_id, user_id, draft_id, may_send)
        if isinstance(outcome, NotAllowed):
            notice = self._forms.refusal(t, team_id)
        elif isinstance(outcome, PlanRefused):
            problems = "\n".join(f"• {describe(p, t)}" for p in outcome.problems)
            notice = t("drafts.cannot_send", problems=problems)
        elif isinstance(outcome, Gone):
            notice = t("compose.gone")
        else:
            assert isinstance(outcome, SendPlan)
            sending = t("drafts.sending", count=outcome.recipients)
            notice = t("compose.already_sending") if outcome.already_submitted else sending
        self._refresh(body, client, respond, notice)

    def delete(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        t = self._profiles.get(client, team_id, user_id).t
        if draft_id is None:
            return
        try:
            self._compose.delete(team_id, user_id, draft_id)
        except (NotFound, DraftNotEditable):
            self._refresh(body, client, respond, t("compose.gone"))
            return
        self._refresh(body, client, respond, t("drafts.deleted"))

    # -- a scheduled send ---------------------------------------------------------------------------------
    def unschedule(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        """Cancel a scheduled send: back to a draft (its time kept in the form)."""
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        if draft_id is None:
            return
        t = self._profiles.get(client, team_id, user_id).t
        try:
            moved = self._outbox.unschedule(team_id, user_id, draft_id)
        except NotFound:
            moved = False
        self._refresh(body, client, respond, t("drafts.unscheduled") if moved else t("drafts.not_scheduled"))

    def send_now(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        """A scheduled send, at once (a sender's: the same checks as Send)."""
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        if draft_id is None:
            return
        t = self._profiles.get(client, team_id, user_id).t
        if not self._senders.may_send(client, team_id, user_id):
            self._refresh(body, client, respond, self._forms.refusal(t, team_id))
            return
        try:
            plan = self._outbox.send_now(team_id, user_id, draft_id)
        except ValidationFailed as err:
            problems = "\n".join(f"• {describe(p, t)}" for p in err.problems)
            notice = t("drafts.cannot_send", problems=problems)
        except NotFound:
            notice = t("compose.gone")
        else:
            sending = t("drafts.sending", count=plan.recipients)
            notice = t("drafts.not_scheduled") if plan.already_submitted else sending
        self._refresh(body, client, respond, notice)

    # -- a send's follow-ups ----------------------------------------------------------------------------
    def cancel_followups(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        """Stop a send's remaining follow-ups, from the drafts list (which is shown again) or from the send's DM
        (its button taken away, and a line in its thread)."""
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        if draft_id is None:
            return
        t = self._profiles.get(client, team_id, user_id).t
        try:
            cancelled = self._followups.cancel(team_id, user_id, draft_id)
        except NotFound:
            cancelled = None
        if cancelled is None or not cancelled.steps:
            notice = t("followups.none_left")
        else:
            notice = t(
                "followups.cancelled", steps=len(cancelled.steps), count=t.number(cancelled.deliveries)
            )
        message = body.get("message")
        if (body.get("container") or {}).get("is_ephemeral") or message is None:
            self._refresh(body, client, respond, notice)
            return
        # The send's DM (or a step's message in its thread): the button goes, the news goes in the thread.
        respond(replace_original=True, text=message.get("text", ""), blocks=without_action(message, action))
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if channel:
            thread = message.get("thread_ts") or message.get("ts")
            client.chat_postMessage(channel=channel, thread_ts=thread, text=notice)

    def retry_failed(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id, draft_id = body["team"]["id"], body["user"]["id"], _draft_id(action)
        if draft_id is None:
            return
        t = self._profiles.get(client, team_id, user_id).t
        channel = (body.get("channel") or body.get("container") or {}).get("id") or body.get(
            "container", {}
        ).get("channel_id")
        may_send = partial(self._senders.may_send, client, team_id, user_id)
        outcome = self._flow.retry_failed(team_id, user_id, draft_id, may_send)
        if isinstance(outcome, Gone) or not channel:
            return
        if isinstance(outcome, NotAllowed):
            client.chat_postMessage(channel=channel, text=self._forms.refusal(t, team_id))
        elif isinstance(outcome, Requeued):
            client.chat_postMessage(channel=channel, text=t("drafts.retrying", count=outcome.count))


def register(app: App, handlers: DraftHandlers) -> None:
    app.action(ids.ACTION_DRAFT_OPEN)(handlers.open)
    app.action(ids.ACTION_DRAFT_SEND)(handlers.send)
    app.action(ids.ACTION_DRAFT_DELETE)(handlers.delete)
    app.action(ids.ACTION_RETRY_FAILED)(handlers.retry_failed)
    app.action(ids.ACTION_UNSCHEDULE)(handlers.unschedule)
    app.action(ids.ACTION_SEND_NOW)(handlers.send_now)
    app.action(ids.ACTION_FOLLOWUPS_CANCEL)(handlers.cancel_followups)
