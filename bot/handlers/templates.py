"""Shared templates: the menu at the top of the compose form (its options, and what picking one does), "Save as
template", the template form's submission, and ``/prospects templates`` with Use, Edit and Delete.

* **The menu** is an ``external_select``: Slack asks for its options (``block_suggestion``) as the user types, and
  :meth:`TemplateHandlers.options` answers from one indexed query, limited to Slack's 100 options — well within the
  3 seconds Slack waits (bench/templates.py). Picking one saves what the form holds, puts the template's subject,
  content and files on the draft and writes the form again with ``views.update`` and the view's hash; the subject
  and content blocks get new block ids so Slack shows the template's text (bot/blocks/compose.py,
  ``filled_block``), every other block keeps what was typed.
* **Use** in the list opens the form with the prospects picked in ``/prospects`` as recipients — what a user who
  ticked prospects and then chose a message expects. With nobody picked, the form would have nobody to send to:
  the modal says so and how to pick them (the menu at the top of the form does the rest).
* **Edit and Delete** are for the template's author or a workspace admin or owner (users.info ``is_admin`` /
  ``is_owner``); anyone else is told so, plainly. Delete asks first (a confirm dialog on the button).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.compose import build_compose_view, read_metadata
from bot.blocks.compose_flow import FormKeys, file_lines, screen_of
from bot.blocks.templates import (
    TemplateScreen,
    build_template_list,
    build_template_notice,
    build_template_view,
    menu_options,
    read_template_metadata,
)
from bot.files import DownloadFailed, SlackFiles
from bot.handlers.compose import ComposeHandlers
from bot.handlers.parsing import Command, files_key_of, fill_of, parse_compose_form, parse_template_form
from bot.i18n import Translator
from bot.modals import Modals
from bot.problems import block_errors
from bot.users import UserProfiles
from outreach.compose import ComposeState
from outreach.compose_flow import ComposeFlow
from outreach.errors import DraftNotEditable, NotFound, NotYours, ValidationFailed
from outreach.templates import TemplateFields, TemplateService

TEMPLATE_BLOCKS = {
    "name": ids.BLOCK_TEMPLATE_NAME,
    "subject": ids.BLOCK_TEMPLATE_SUBJECT,
    "content": ids.BLOCK_TEMPLATE_CONTENT,
}
Picked = Callable[[str, str], Sequence[str]]


def _int(raw: object) -> int:
    text = str(raw or "")
    return int(text) if text.isdigit() else 0


class TemplateHandlers:
    def __init__(
        self,
        templates: TemplateService,
        flow: ComposeFlow,
        forms: ComposeHandlers,
        profiles: UserProfiles,
        modals: Modals,
        picked: Picked,
        files: SlackFiles,
    ) -> None:
        self._files = files
        self._templates = templates
        self._flow = flow
        self._forms = forms
        self._profiles = profiles
        self._modals = modals
        self._picked = picked

    def _t(self, client: WebClient, team_id: str, user_id: str) -> Translator:
        return self._profiles.get(client, team_id, user_id).t

    # -- the menu in the compose form -------------------------------------------------------------------
    def options(self, ack: Ack, body: dict[str, Any]) -> None:
        """Slack's ``block_suggestion``: the workspace's templates of the form's channel whose name has the typed
        text, at most 100 (answered at once: no Web API call)."""
        meta = read_metadata(str((body.get("view") or {}).get("private_metadata", "")))
        channel = meta[1] if meta else None
        team_id = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")
        found = self._templates.search(str(team_id), str(body.get("value") or ""), channel)
        ack(options=menu_options(found))

    def pick(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        form = parse_compose_form(view)
        template_id = _int((action.get("selected_option") or {}).get("value"))
        if form is None or not template_id:
            return
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        fields = form.fields(t.tz.key)
        notes: tuple[str, ...] = ()
        state: ComposeState | None
        try:
            state = self._templates.apply(team_id, user_id, form.draft_id, template_id, fields)
        except NotFound:  # deleted meanwhile (or the draft is gone): what was typed is kept
            state = self._flow.save(team_id, user_id, form.draft_id, fields)
            notes = (t("templates.gone"),)
        except DraftNotEditable:
            return
        if state is None:
            return
        keys = FormKeys(form.followup_keys, form.next_key)
        screen = screen_of(state, notes, form=keys, zone=t.tz.key, fill=fill_of(view) + 1)
        shown = build_compose_view(screen, t)
        self._modals.show(client, view["id"], shown, user_id=user_id, hash=view.get("hash"))

    # -- saving and editing -------------------------------------------------------------------------------
    def save_as(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """ "Save as template": the template form is pushed on top of the compose form (its Back returns there);
        what the form holds is saved to the draft, and files in its upload box are fetched and checked as a send
        checks them (type, structure, virus scan) and attached — the template keeps checked files only. The form
        underneath is then written again with those files under "Files already attached" (a new block id for the
        upload box: Slack would otherwise keep them there and a send would attach them twice)."""
        ack()
        view = body.get("view") or {}
        form = parse_compose_form(view)
        if form is None:
            return
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        opened = self._modals.open(client, body["trigger_id"], team_id, user_id, push=True)
        if opened is None:
            return
        t = self._t(client, team_id, user_id)
        fields = form.fields(t.tz.key)
        state = self._flow.save(team_id, user_id, form.draft_id, fields)
        refused: tuple[str, ...] = ()
        if state is not None and form.values.uploads:
            refused = self._attach_uploads(client, team_id, user_id, form.draft_id, form.values.uploads, t)
            every_file = replace(fields, keep_attachment_ids=None)  # those kept and those just attached
            state = self._flow.save(team_id, user_id, form.draft_id, every_file)
            if state is not None:
                keys = FormKeys(form.followup_keys, form.next_key)
                under = screen_of(
                    state, form=keys, zone=t.tz.key, fill=fill_of(view), files_key=files_key_of(view) + 1
                )
                shown = build_compose_view(under, t)
                self._modals.show(client, view["id"], shown, user_id=user_id)
        if state is None:
            notice = build_template_notice(t("compose.gone"), t)
            self._modals.show(client, opened.view_id, notice, user_id=user_id, hash=opened.hash)
            return
        d = state.draft
        screen = TemplateScreen(
            d.channel,
            draft_id=form.draft_id,
            subject=d.subject,
            content=d.content,
            files=d.attachments,
            refused=refused,
        )
        self._modals.show(
            client, opened.view_id, build_template_view(screen, t), user_id=user_id, hash=opened.hash
        )

    def _attach_uploads(
        self,
        client: WebClient,
        team_id: str,
        user_id: str,
        draft_id: int,
        uploads: Sequence[dict[str, Any]],
        t: Translator,
    ) -> tuple[str, ...]:
        """The uploads fetched, checked and the good ones attached; a line for each one refused (or not fetched)."""
        fetched, refused = self._fetch(client, uploads, t)
        verdicts = self._flow.attach(team_id, user_id, draft_id, fetched) or ()
        refused += [
            f"{line.name} — {line.detail}" for line in file_lines(verdicts, t) if line.state == "rejected"
        ]
        return tuple(refused)

    def _fetch(
        self, client: WebClient, uploads: Sequence[dict[str, Any]], t: Translator
    ) -> tuple[list[tuple[str, bytes]], list[str]]:
        """The uploads' bytes fetched from Slack (name, data), and a line for each one that could not be."""
        fetched: list[tuple[str, bytes]] = []
        refused: list[str] = []
        for upload in uploads:
            try:
                got = self._files.download(upload, client.token or "")
                fetched.append((got.name, got.data))
            except DownloadFailed as err:
                refused.append(f"{err.name} — {t(err.reason)}")
        return fetched, refused

    def edit(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        opened = self._modals.open(client, body["trigger_id"], team_id, user_id)
        if opened is None:
            return
        profile = self._profiles.get(client, team_id, user_id)
        t = profile.t
        try:
            tpl = self._templates.get(team_id, _int(action.get("value")))
        except NotFound:
            view = build_template_notice(t("templates.gone"), t)
        else:
            if self._templates.may_change(tpl, user_id, is_admin=profile.is_admin):
                screen = TemplateScreen(
                    tpl.channel,
                    template_id=tpl.id or 0,
                    name=tpl.name,
                    subject=tpl.subject,
                    content=tpl.content,
                    files=tpl.attachments,
                )
                view = build_template_view(screen, t)
            else:
                view = build_template_notice(t("templates.not_yours_edit", author=f"<@{tpl.author_id}>"), t)
        self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash)

    def submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        profile = self._profiles.get(client, team_id, user_id)
        t = profile.t
        meta = read_template_metadata(str(view.get("private_metadata", "")))
        if meta is None:  # a notice (no fields): nothing to save
            ack()
            return
        _, draft_id, template_id = meta
        values = parse_template_form(view)
        fields = TemplateFields(values.name, values.subject, values.content, values.file_ids)
        try:
            if template_id:
                tpl = self._templates.update(team_id, user_id, template_id, fields, is_admin=profile.is_admin)
            else:
                tpl = self._templates.create_from_draft(team_id, user_id, draft_id, fields)
        except ValidationFailed as err:
            present = {str(b.get("block_id", "")) for b in view.get("blocks", [])}
            errors = block_errors(err.problems, t, present | {ids.BLOCK_CONTENT}, TEMPLATE_BLOCKS)
            errors = {(k if k in present else ids.BLOCK_TEMPLATE_NAME): v for k, v in errors.items()}
            ack(response_action="errors", errors=errors)
            return
        except NotYours as err:
            text = t("templates.not_yours_edit", author=f"<@{err.author_id}>")
            ack(response_action="errors", errors={ids.BLOCK_TEMPLATE_NAME: text})
            return
        except NotFound:
            ack(response_action="errors", errors={ids.BLOCK_TEMPLATE_NAME: t("templates.gone")})
            return
        if not (template_id and values.uploads):
            ack(response_action="update", view=build_template_notice(t("templates.saved", name=tpl.name), t))
            return
        # New files: fetched, checked and scanned after the answer (Slack waits 3 seconds, a scan may take more);
        # the notice says so, then what came of each file.
        checking = t("templates.checking", name=tpl.name, count=len(values.uploads))
        ack(response_action="update", view=build_template_notice(checking, t))
        fetched, refused = self._fetch(client, values.uploads, t)
        try:
            check = self._templates.add_files(
                team_id, user_id, template_id, fetched, is_admin=profile.is_admin
            )
        except (NotFound, NotYours):
            notice = build_template_notice(t("templates.gone"), t)
        else:
            refused += [
                f"{line.name} — {line.detail}"
                for line in file_lines(check.files, t)
                if line.state == "rejected"
            ]
            done = t("templates.saved_files", name=tpl.name, added=len(check.accepted))
            notice = build_template_notice(done, t, tuple(refused))
        self._modals.show(client, str(view.get("id", "")), notice, user_id=user_id)

    # -- /prospects templates -------------------------------------------------------------------------------
    def command(self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        team_id, user_id = command["team_id"], command["user_id"]
        t = self._t(client, team_id, user_id)
        page = self._templates.page(team_id, max(0, _int(parsed.text) - 1))
        text, blocks = build_template_list(page, t)
        respond(response_type="ephemeral", text=text, blocks=blocks)

    def page(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        self._list_again(body, client, respond, _int(action.get("value")))

    def _list_again(
        self, body: dict[str, Any], client: WebClient, respond: Respond, page: int, notice: str = ""
    ) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        t = self._t(client, team_id, user_id)
        text, blocks = build_template_list(self._templates.page(team_id, page), t, notice)
        respond(replace_original=True, text=text, blocks=blocks)

    def delete(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        """Confirmed in the button's dialog; refused, with who may, for anyone but its author or an admin."""
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        profile = self._profiles.get(client, team_id, user_id)
        t = profile.t
        try:
            gone = self._templates.delete(
                team_id, user_id, _int(action.get("value")), is_admin=profile.is_admin
            )
        except NotYours as err:
            text = t("templates.not_yours_delete", author=f"<@{err.author_id}>")
            respond(replace_original=False, response_type="ephemeral", text=text)
            return
        except NotFound:
            self._list_again(body, client, respond, 0, t("templates.gone"))
            return
        self._list_again(body, client, respond, 0, t("templates.deleted", name=gone.name))

    def use(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        opened = self._modals.open(client, body["trigger_id"], team_id, user_id)
        if opened is None:
            return
        t = self._t(client, team_id, user_id)
        try:
            tpl = self._templates.get(team_id, _int(action.get("value")))
        except NotFound:
            self._modals.show(
                client, opened.view_id, build_template_notice(t("templates.gone"), t), user_id=user_id
            )
            return
        picked = list(self._picked(team_id, user_id))
        if not picked:
            notice = build_template_notice(t("templates.pick_first", name=tpl.name), t)
            self._modals.show(client, opened.view_id, notice, user_id=user_id, hash=opened.hash)
            return
        template_id = tpl.id or 0

        def fill(state: ComposeState) -> ComposeState:
            try:
                return self._templates.fill_new(team_id, user_id, state.draft_id, template_id)
            except NotFound:  # deleted this very moment: the form opens empty
                return state

        self._forms.open_new(
            client, "", team_id, user_id, tpl.channel, lambda: picked, opened=opened, fill=fill
        )


def register(app: App, handlers: TemplateHandlers) -> None:
    app.options(ids.ACTION_TEMPLATE_MENU)(handlers.options)
    app.action(ids.ACTION_TEMPLATE_MENU)(handlers.pick)
    app.action(ids.ACTION_COMPOSE_SAVE_TEMPLATE)(handlers.save_as)
    app.view(ids.CALLBACK_TEMPLATE)(handlers.submit)
    app.action(ids.ACTION_TEMPLATE_USE)(handlers.use)
    app.action(ids.ACTION_TEMPLATE_EDIT)(handlers.edit)
    app.action(ids.ACTION_TEMPLATE_DELETE)(handlers.delete)
    app.action(ids.ACTION_TEMPLATES_PAGE)(handlers.page)
