"""The compose modals: open, submit (check, scan, send), close (keep), preview, send a test, save."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import ids
from bot.blocks.common import actions, button, section
from bot.blocks.compose import (
    CheckingScreen,
    ComposeScreen,
    FileLine,
    RecipientLine,
    build_checking_view,
    build_compose_view,
    build_notice_view,
    build_preview_view,
    read_confirmation,
    read_metadata,
    verdict_message,
)
from bot.files import DownloadFailed
from bot.handlers.parsing import ComposeValues, parse_compose
from bot.i18n import Translator
from bot.modals import Dm, Modals, Opened
from bot.problems import block_errors, describe
from bot.wiring import Services
from outreach.compose import ComposeState, DraftFields
from outreach.errors import DeliveryFailed, DraftNotEditable, NotFound, Problem, ValidationFailed
from outreach.models import Channel, DraftStatus, Recipient

log = logging.getLogger(__name__)
PREVIEW_CHOICES = 100  # a static menu's limit


def label(r: Recipient) -> str:
    who = r.contact_name
    return f"{who} ({r.mpname})" if who else r.mpname


def screen_of(state: ComposeState, warnings: tuple[str, ...] = ()) -> ComposeScreen:
    d = state.draft
    return ComposeScreen(
        draft_id=state.draft_id,
        channel=d.channel,
        recipients=tuple(RecipientLine(p.mpid, label(p)) for p in state.recipients),
        skipped=tuple((RecipientLine(p.mpid, label(p)), why) for p, why in state.skipped),
        recipient_count=state.recipient_count,
        skipped_count=state.skipped_count,
        sender_name=d.sender_name,
        reply_to=d.reply_to,
        subject=d.subject,
        content=d.content,
        kept_files=d.attachments,
        warnings=warnings,
    )


def warnings_digest(problems: list[Problem]) -> str:
    text = "|".join(f"{p.field}:{p.code}:{dict(p.params).get('key', '')}" for p in problems)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fields_of(values: ComposeValues) -> DraftFields:
    return DraftFields(values.sender_name, values.reply_to, values.subject, values.content, values.kept_ids)


class ComposeHandlers:
    def __init__(self, services: Services, modals: Modals) -> None:
        self._s = services
        self._modals = modals

    def _t(self, client: WebClient, team_id: str, user_id: str) -> Translator:
        return self._s.profiles.get(client, team_id, user_id).t

    # -- opening ---------------------------------------------------------------------------------------
    def open_new(
        self,
        client: WebClient,
        trigger_id: str,
        team_id: str,
        user_id: str,
        channel: Channel,
        recipients: Callable[[], Sequence[str]],
        *,
        push: bool = False,
    ) -> None:
        """The form for the mpids ``recipients()`` gives: opened at once (``push``: on top of a partner card),
        then filled — the recipients are read, the user looked up and the draft made after the modal is open."""
        opened = self._modals.open(client, trigger_id, team_id, user_id, push=push)
        if opened is None:
            return
        profile = self._s.profiles.get(client, team_id, user_id)
        if not self._s.senders.may_send(client, team_id, user_id):
            self._modals.show(client, opened.view_id, self.refusal_view(profile.t, channel), user_id=user_id)
            return
        state = self._s.compose.start(
            team_id, user_id, channel, recipients(), sender_name=profile.real_name, reply_to=profile.email
        )
        view = build_compose_view(screen_of(state), profile.t)
        if not self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash):
            # Closed while it was being prepared: nothing was typed, so no draft is kept.
            self._s.compose.delete(team_id, user_id, state.draft_id)

    def open_draft(
        self,
        client: WebClient,
        trigger_id: str,
        team_id: str,
        user_id: str,
        draft_id: int,
        *,
        in_view: str = "",
    ) -> None:
        """A saved draft's form: in place of the view ``in_view`` (an "Open" button in a modal: nothing is
        stacked), else in a new modal opened at once."""
        opened = Opened(in_view, "") if in_view else self._modals.open(client, trigger_id, team_id, user_id)
        if opened is None:
            return
        t = self._t(client, team_id, user_id)
        try:
            state = self._s.compose.load(team_id, user_id, draft_id)
        except NotFound:
            state = None
        if state is None:
            view = build_notice_view(t("compose.title_email"), t("compose.gone"), draft_id, Channel.EMAIL, t)
        elif state.draft.status is not DraftStatus.DRAFT:
            view = build_notice_view(
                t("compose.title_email"), t("compose.already_sending"), draft_id, state.draft.channel, t
            )
        elif not self._s.senders.may_send(client, team_id, user_id):
            view = self.refusal_view(t, state.draft.channel)
        else:
            view = build_compose_view(screen_of(state), t)
        self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash or None)

    def refusal_view(self, t: Translator, channel: Channel) -> dict[str, Any]:
        return build_notice_view(t("perm.title"), self.refusal(t), 0, channel, t)

    def refusal(self, t: Translator) -> str:
        group = self._s.settings.senders_usergroup
        return t("perm.refused_group", group=f"<!subteam^{group}>") if group else t("perm.refused")

    # -- submitting ------------------------------------------------------------------------------------
    def submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        meta = read_metadata(view.get("private_metadata", ""))
        if meta is None:
            ack(response_action="errors", errors={ids.BLOCK_CONTENT: t("compose.gone")})
            return
        draft_id, channel = meta
        values = parse_compose(view.get("state", {}).get("values", {}))
        try:
            state = self._s.compose.save(
                team_id, user_id, draft_id, fields_of(values)
            )  # nothing typed is lost
        except NotFound:
            ack(response_action="errors", errors={ids.BLOCK_CONTENT: t("compose.gone")})
            return
        except DraftNotEditable:  # the same submission again (a Slack retry, a double click): sent once
            ack(
                response_action="update",
                view=build_notice_view(
                    t("compose.title_email"), t("compose.already_sending"), draft_id, channel, t
                ),
            )
            return
        if not self._s.senders.may_send(client, team_id, user_id):
            ack(response_action="errors", errors={ids.BLOCK_CONTENT: self.refusal(t)})
            return
        problems = self._s.compose.check(state)
        if problems:
            present = {b.get("block_id", "") for b in view.get("blocks", [])}
            ack(response_action="errors", errors=block_errors(problems, t, present))
            return
        if not values.uploads:
            # Nothing slow to do: the send plan is stored before Slack gets its answer.
            ack(response_action="update", view=self._next_view(view, state, t))
            return
        files = tuple(FileLine(str(f.get("name") or f.get("id")), "checking") for f in values.uploads)
        ack(response_action="update", view=build_checking_view(CheckingScreen(draft_id, channel, files), t))
        # After the ack: download, sniff and scan, then show the verdict with views.update — or, when the user
        # closed the modal meanwhile, in a DM (the verdict and the send do not depend on the view).
        if self._attach(client, view["id"], team_id, user_id, draft_id, channel, values, t):
            state = self._s.compose.load(team_id, user_id, draft_id)  # with its new files
            after = self._next_view(view, state, t)
            self._modals.show(client, view["id"], after, user_id=user_id, dm=self._dm_of(after, draft_id, t))

    def _next_view(self, view: dict[str, Any], state: ComposeState, t: Translator) -> dict[str, Any]:
        """Warnings not yet confirmed: the form again, with them on top. Otherwise: store the plan and say so."""
        draft = state.draft
        warnings = self._s.compose.warnings(state)
        digest = warnings_digest(warnings) if warnings else ""
        if warnings and not self._confirmed(view, digest):
            notes = (t("compose.warnings_confirm"), *(describe(w, t) for w in warnings))
            return build_compose_view(screen_of(state, notes), t, confirm=digest)
        return self._send(draft.team_id, draft.author_id, state.draft_id, draft.channel, t)

    @staticmethod
    def _confirmed(view: dict[str, Any], digest: str) -> bool:
        return bool(digest) and read_confirmation(view.get("private_metadata", "")) == digest

    def _attach(
        self,
        client: WebClient,
        view_id: str,
        team_id: str,
        user_id: str,
        draft_id: int,
        channel: Channel,
        values: ComposeValues,
        t: Translator,
    ) -> bool:
        lines: list[FileLine] = []
        downloaded: list[tuple[str, bytes]] = []
        token = client.token or ""
        for upload in values.uploads:
            try:
                got = self._s.files.download(upload, token)
                downloaded.append((got.name, got.data))
            except DownloadFailed as err:
                log.info("download of %s failed: %s", err.name, err.detail)
                lines.append(FileLine(err.name, "rejected", t(err.reason)))
        result = self._s.compose.attach(team_id, user_id, draft_id, downloaded)
        for verdict in result.files:
            if verdict.problem is None:
                lines.append(FileLine(verdict.filename, "ok"))
            else:
                reason = describe(verdict.problem, t).removeprefix(f"{verdict.filename}: ")
                lines.append(FileLine(verdict.filename, "rejected", reason))
        rejected = any(line.state == "rejected" for line in lines)
        if rejected:
            refused = build_checking_view(CheckingScreen(draft_id, channel, tuple(lines), done=True), t)
            self._modals.show(client, view_id, refused, user_id=user_id, dm=self._dm_of(refused, draft_id, t))
        return not rejected

    @staticmethod
    def _dm_of(view: dict[str, Any], draft_id: int, t: Translator) -> Dm:
        """What the user is told in a DM when the modal showing ``view`` was closed."""
        if view.get("callback_id") == ids.CALLBACK_CHECKING:  # a verdict: the same blocks read well in a DM
            return Dm(*verdict_message(view))
        notes = [b["elements"][0]["text"] for b in view.get("blocks", []) if b.get("type") == "context"]
        warnings = "\n".join(
            n for n in notes if n.startswith(":warning:")
        )  # warnings waiting for "Send again"
        text = t("compose.unconfirmed_dm", warnings=warnings)
        open_button = actions(
            button(t("drafts.open"), ids.ACTION_DRAFT_OPEN, str(draft_id), style="primary"),
            block_id="dm_open",
        )
        return Dm(text, [section(text), open_button])

    def _send(
        self, team_id: str, user_id: str, draft_id: int, channel: Channel, t: Translator
    ) -> dict[str, Any]:
        try:
            plan = self._s.compose.submit(team_id, user_id, draft_id)
        except ValidationFailed as err:
            lines = tuple(FileLine(p.field, "rejected", describe(p, t)) for p in err.problems)
            return build_checking_view(CheckingScreen(draft_id, channel, lines, done=True), t)
        self._s.wake.set()
        draft = self._s.compose.draft(team_id, user_id, draft_id)  # the draft alone: any number of recipients
        files = tuple(FileLine(a.filename, "ok") for a in draft.attachments)
        return build_checking_view(
            CheckingScreen(draft_id, channel, files, done=True, sent_count=plan.recipients), t
        )

    # -- closing and buttons ----------------------------------------------------------------------------
    def closed(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Closing the form keeps what was typed; an untouched new draft is not kept."""
        ack()
        meta = read_metadata(view.get("private_metadata", ""))
        if meta is None:
            return
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        values = parse_compose(view.get("state", {}).get("values", {}))
        try:
            state = self._s.compose.save(team_id, user_id, meta[0], fields_of(values))
            if not (state.draft.subject.strip() or state.draft.content.strip() or state.draft.attachments):
                self._s.compose.delete(team_id, user_id, meta[0])
        except (NotFound, DraftNotEditable):
            return

    def _save_from(self, body: dict[str, Any]) -> tuple[int, Channel, ComposeState] | None:
        view = body.get("view") or {}
        meta = read_metadata(view.get("private_metadata", ""))
        if meta is None:
            return None
        values = parse_compose(view.get("state", {}).get("values", {}))
        try:
            state = self._s.compose.save(body["team"]["id"], body["user"]["id"], meta[0], fields_of(values))
        except (NotFound, DraftNotEditable):
            return None
        return meta[0], meta[1], state

    def save_draft(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        t = self._t(client, body["team"]["id"], body["user"]["id"])
        saved = self._save_from(body)
        if saved is None:
            return
        notice = build_notice_view(t("compose.saved_title"), t("compose.saved"), saved[0], saved[1], t)
        self._modals.show(client, body["view"]["id"], notice, user_id=body["user"]["id"])

    def preview(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        opened = self._modals.open(client, body["trigger_id"], team_id, user_id, push=True)
        if opened is None:
            return
        saved = self._save_from(body)
        t = self._t(client, team_id, user_id)
        view = self._preview_view(team_id, user_id, saved[2], None, t) if saved else None
        if view is None:
            view = build_notice_view(t("compose.preview"), t("compose.gone"), 0, Channel.EMAIL, t)
        self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash)

    def preview_for(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        meta = read_metadata(view.get("private_metadata", ""))
        if meta is None:
            return
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        try:
            state = self._s.compose.load(team_id, user_id, meta[0])
        except NotFound:
            return
        mpid = str((action.get("selected_option") or {}).get("value", ""))
        new = self._preview_view(team_id, user_id, state, mpid, t)
        if new is not None:
            self._modals.show(client, view["id"], new, user_id=user_id, hash=view.get("hash"))

    def _preview_view(
        self, team_id: str, user_id: str, state: ComposeState, mpid: str | None, t: Translator
    ) -> dict[str, Any] | None:
        try:
            rendered = self._s.compose.preview(team_id, user_id, state.draft_id, mpid)
        except NotFound:
            return None
        pool = self._s.compose.first_recipients(team_id, user_id, state.draft_id, PREVIEW_CHOICES)
        lines = tuple(RecipientLine(p.mpid, label(p)) for p in pool)
        chosen = mpid or (state.recipients[0].mpid if state.recipients else "")
        return build_preview_view(state.draft_id, rendered, lines, chosen, t)

    def send_test(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        profile = self._s.profiles.get(client, team_id, user_id)
        saved = self._save_from(body)
        if saved is None:
            return
        dm = client.conversations_open(users=user_id)["channel"]["id"]
        if not self._s.senders.may_send(client, team_id, user_id):
            client.chat_postMessage(channel=dm, text=self.refusal(profile.t))
            return
        if not profile.email:
            client.chat_postMessage(channel=dm, text=profile.t("compose.no_own_address"))
            return
        try:
            self._s.compose.send_test(team_id, user_id, saved[0], profile.email)
        except (DeliveryFailed, ValidationFailed, NotFound) as err:
            client.chat_postMessage(channel=dm, text=profile.t("compose.test_failed", reason=str(err)))
            return
        client.chat_postMessage(channel=dm, text=profile.t("compose.test_sent", address=profile.email))


def register(app: App, handlers: ComposeHandlers) -> None:
    for callback in (ids.CALLBACK_COMPOSE_EMAIL, ids.CALLBACK_COMPOSE_MESSAGE):
        app.view(callback)(handlers.submit)
        app.view_closed(callback)(handlers.closed)
    app.action(ids.ACTION_COMPOSE_SAVE_DRAFT)(handlers.save_draft)
    app.action(ids.ACTION_COMPOSE_PREVIEW)(handlers.preview)
    app.action(ids.ACTION_PREVIEW_FOR)(handlers.preview_for)
    app.action(ids.ACTION_COMPOSE_SEND_TEST)(handlers.send_test)
