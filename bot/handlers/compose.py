"""The compose modals: open, submit (check, scan, send or schedule), close (keep), preview, send a test, save,
add or remove a follow-up step.

Each listener parses the payload, calls one use case of :class:`outreach.compose_flow.ComposeFlow` and shows
what came of it (:mod:`bot.blocks.compose_flow`). What only Slack can do stays here: opening and writing
modals (:class:`bot.modals.Modals`), asking who may send (:class:`bot.permissions.SenderPolicy`), the user's
profile, downloading the uploaded files, DMs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import ids
from bot.blocks.compose import (
    CheckingScreen,
    FileLine,
    build_checking_view,
    build_compose_view,
    build_notice_view,
)
from bot.blocks.compose_flow import (
    FormKeys,
    build_gone_view,
    build_opened_view,
    build_preview,
    build_sent_view,
    closed_dm,
    refusal_text,
    screen_of,
    self_test_text,
    submission_answer,
    with_new_step,
)
from bot.files import DownloadFailed, SlackFiles
from bot.handlers.parsing import ComposeForm, files_key_of, fill_of, parse_compose_form
from bot.i18n import Translator
from bot.modals import Dm, Modals, Opened
from bot.permissions import SenderPolicy
from bot.users import UserProfiles
from outreach.compose import ComposeState
from outreach.compose_flow import (
    ComposeFlow,
    Editable,
    FilesToFetch,
    Gone,
    MaySend,
    Submission,
)
from outreach.models import Channel

log = logging.getLogger(__name__)


class ComposeHandlers:
    def __init__(
        self,
        flow: ComposeFlow,
        profiles: UserProfiles,
        senders: SenderPolicy,
        files: SlackFiles,
        modals: Modals,
    ) -> None:
        self._flow = flow
        self._profiles = profiles
        self._senders = senders
        self._files = files
        self._modals = modals

    def _t(self, client: WebClient, team_id: str, user_id: str) -> Translator:
        return self._profiles.get(client, team_id, user_id).t

    def _may_send(self, client: WebClient, team_id: str, user_id: str) -> MaySend:
        return partial(self._senders.may_send, client, team_id, user_id)

    def refusal(self, t: Translator, team_id: str) -> str:
        """Why this user may not send (for the other screens that offer a send)."""
        return refusal_text(t, self._senders.usergroup(team_id))

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
        opened: Opened | None = None,
        fill: Callable[[ComposeState], ComposeState] | None = None,
    ) -> None:
        """The form for the mpids ``recipients()`` gives: opened at once (``push``: on top of a partner card;
        ``opened``: a modal the caller opened already), then filled — the recipients are read, the user looked up
        and the draft made after the modal is open. ``fill``: what the new draft starts with (a template)."""
        opened = opened or self._modals.open(client, trigger_id, team_id, user_id, push=push)
        if opened is None:
            return
        profile = self._profiles.get(client, team_id, user_id)
        may_send = self._may_send(client, team_id, user_id)
        outcome = self._flow.start(
            team_id,
            user_id,
            channel,
            recipients,
            may_send,
            sender_name=profile.real_name,
            reply_to=profile.email,
        )
        if fill is not None and isinstance(outcome, Editable):
            outcome = Editable(fill(outcome.state))
        view = build_opened_view(outcome, 0, profile.t, self._senders.usergroup(team_id))
        if not isinstance(outcome, Editable):
            self._modals.show(client, opened.view_id, view, user_id=user_id)
        elif not self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash):
            # Closed while it was being prepared: nothing was typed, so no draft is kept.
            self._flow.abandon(team_id, user_id, outcome.state.draft_id)

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
        outcome = self._flow.open(team_id, user_id, draft_id, self._may_send(client, team_id, user_id))
        view = build_opened_view(outcome, draft_id, t, self._senders.usergroup(team_id))
        self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash or None)

    # -- submitting ------------------------------------------------------------------------------------
    def submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        form = parse_compose_form(view)
        if form is None:
            ack(response_action="errors", errors={ids.BLOCK_CONTENT: t("compose.gone")})
            return
        submission = Submission(team_id, user_id, form.draft_id, form.fields(t.tz.key), form.confirmed)
        uploads = form.values.uploads
        outcome = self._flow.submit(
            submission, self._may_send(client, team_id, user_id), uploads=bool(uploads)
        )
        if not isinstance(outcome, FilesToFetch):
            # Nothing slow to do: the send plan (if any) is stored before Slack gets its answer.
            present = {b.get("block_id", "") for b in view.get("blocks", [])}
            answer = submission_answer(
                outcome,
                form.draft_id,
                form.channel,
                t,
                usergroup=self._senders.usergroup(team_id),
                present=present,
                form=FormKeys(form.followup_keys, form.next_key),
            )
            ack(**answer)
            return
        files = tuple(FileLine(str(f.get("name") or f.get("id")), "checking") for f in uploads)
        checking = CheckingScreen(form.draft_id, form.channel, files)
        ack(response_action="update", view=build_checking_view(checking, t))
        # After the ack: download, then check, attach and send; the verdict goes to the view with views.update —
        # or, when the user closed the modal meanwhile, to a DM (the verdict and the send do not depend on it).
        self._fetch_and_send(client, view["id"], submission, form, t)

    def _fetch_and_send(
        self, client: WebClient, view_id: str, submission: Submission, form: ComposeForm, t: Translator
    ) -> None:
        not_fetched: list[FileLine] = []
        fetched: list[tuple[str, bytes]] = []
        token = client.token or ""
        for upload in form.values.uploads:
            try:
                got = self._files.download(upload, token)
                fetched.append((got.name, got.data))
            except DownloadFailed as err:
                log.info("download of %s failed: %s", err.name, err.detail)
                not_fetched.append(FileLine(err.name, "rejected", t(err.reason)))
        outcome = self._flow.attach_and_send(submission, fetched, all_fetched=not not_fetched)
        keys = FormKeys(form.followup_keys, form.next_key)
        after = build_sent_view(outcome, form.draft_id, form.channel, t, tuple(not_fetched), form=keys)
        dm = Dm(*closed_dm(after, form.draft_id, t))
        self._modals.show(client, view_id, after, user_id=submission.author_id, dm=dm)

    # -- closing and buttons ----------------------------------------------------------------------------
    def closed(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Closing the form keeps what was typed; an untouched new draft is not kept."""
        ack()
        form = parse_compose_form(view)
        if form is not None:
            team_id, user_id = body["team"]["id"], body["user"]["id"]
            known = self._profiles.known(team_id, user_id)  # no Web API call for a close
            self._flow.close(team_id, user_id, form.draft_id, form.fields(known.tz if known else "UTC"))

    def save_draft(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        form = parse_compose_form(body.get("view") or {})
        if form is None or self._flow.save(team_id, user_id, form.draft_id, form.fields(t.tz.key)) is None:
            return
        notice = build_notice_view(
            t("compose.saved_title"), t("compose.saved"), form.draft_id, form.channel, t
        )
        self._modals.show(client, body["view"]["id"], notice, user_id=user_id)

    def preview(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        opened = self._modals.open(client, body["trigger_id"], team_id, user_id, push=True)
        if opened is None:
            return
        form = parse_compose_form(body.get("view") or {})
        t = self._t(client, team_id, user_id)
        found = (
            self._flow.preview(team_id, user_id, form.draft_id, fields=form.fields(t.tz.key))
            if form
            else None
        )
        view = build_preview(found, t) if found else build_gone_view(t, title="compose.preview")
        self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash)

    def preview_for(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        form = parse_compose_form(view)
        if form is None:
            return
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        mpid = str((action.get("selected_option") or {}).get("value", ""))
        found = self._flow.preview(team_id, user_id, form.draft_id, mpid=mpid)
        if found is not None:
            self._modals.show(
                client, view["id"], build_preview(found, t), user_id=user_id, hash=view.get("hash")
            )

    def send_test(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        profile = self._profiles.get(client, team_id, user_id)
        form = parse_compose_form(body.get("view") or {})
        if form is None:
            return
        may_send = self._may_send(client, team_id, user_id)
        outcome = self._flow.send_test(
            team_id, user_id, form.draft_id, form.fields(profile.tz), may_send=may_send, address=profile.email
        )
        if isinstance(outcome, Gone):
            return
        dm = client.conversations_open(users=user_id)["channel"]["id"]
        client.chat_postMessage(
            channel=dm, text=self_test_text(outcome, profile.t, self._senders.usergroup(team_id))
        )

    # -- follow-up steps ----------------------------------------------------------------------------------
    def add_followup(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """One more step in the form: what was typed is saved, then the form is written again with the same
        block ids (Slack keeps what is typed in them, SLACK.md §2.5) and an empty step under a new key."""
        self._rewrite_steps(ack, body, client, removed=None)

    def remove_followup(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """A step taken out of the form: saved without it, the form written again without its blocks."""
        value = str(action.get("value", ""))
        self._rewrite_steps(ack, body, client, removed=int(value) if value.isdigit() else -1)

    def _rewrite_steps(
        self, ack: Ack, body: dict[str, Any], client: WebClient, *, removed: int | None
    ) -> None:
        ack()
        view = body.get("view") or {}
        form = parse_compose_form(view)
        if form is None:
            return
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        fields, keys = form.fields(t.tz.key), form.followup_keys
        if removed is not None:
            if removed not in keys:
                return
            at = keys.index(removed)
            fields = replace(fields, followups=fields.followups[:at] + fields.followups[at + 1 :])
            keys = keys[:at] + keys[at + 1 :]
        state = self._flow.save(team_id, user_id, form.draft_id, fields)
        if state is None:  # sent or deleted meanwhile
            return
        keys_of = FormKeys(keys, form.next_key)
        screen = screen_of(
            state, form=keys_of, zone=t.tz.key, fill=fill_of(view), files_key=files_key_of(view)
        )
        if removed is None:
            screen = with_new_step(screen)
        shown = build_compose_view(screen, t)  # the warnings shown before are not confirmed by this
        self._modals.show(client, view["id"], shown, user_id=user_id, hash=view.get("hash"))


def register(app: App, handlers: ComposeHandlers) -> None:
    for callback in (ids.CALLBACK_COMPOSE_EMAIL, ids.CALLBACK_COMPOSE_MESSAGE):
        app.view(callback)(handlers.submit)
        app.view_closed(callback)(handlers.closed)
    app.action(ids.ACTION_COMPOSE_SAVE_DRAFT)(handlers.save_draft)
    app.action(ids.ACTION_COMPOSE_PREVIEW)(handlers.preview)
    app.action(ids.ACTION_PREVIEW_FOR)(handlers.preview_for)
    app.action(ids.ACTION_COMPOSE_SEND_TEST)(handlers.send_test)
    app.action(ids.ACTION_FOLLOWUP_ADD)(handlers.add_followup)
    app.action(ids.ACTION_FOLLOWUP_REMOVE)(handlers.remove_followup)
