"""Shared templates on screen: the menu at the top of the compose form, the template form ("Save as template"
and Edit), the notices after it, and the list of ``/prospects templates``. Pure builders, no client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import ids
from bot.blocks.common import (
    ALLOWED_FILETYPES,
    Block,
    actions,
    button,
    check_limits,
    clip,
    confirm_dialog,
    context,
    escape,
    option,
    plain,
    section,
)
from bot.i18n import Translator
from outreach.models import Attachment, Channel, TemplateSummary
from outreach.templates import NAME_MAX, TemplatePage

MENU_MIN_QUERY = 0  # the menu lists the first templates as soon as it is opened; typing narrows them
SUBJECT_MAX = 250
CONTENT_MAX = 3000  # plain_text_input's own limit (as the compose form)


def template_menu(t: Translator) -> Block:
    """The template menu: an external select in an input block that dispatches its choice at once (an input
    block's ``dispatch_action``; https://docs.slack.dev/reference/block-kit/blocks/input-block). Optional, so it
    never blocks a submission."""
    element: Block = {
        "type": "external_select",
        "action_id": ids.ACTION_TEMPLATE_MENU,
        "placeholder": plain(t("templates.menu_placeholder"), 150),
        "min_query_length": MENU_MIN_QUERY,
    }
    return {
        "type": "input",
        "block_id": ids.BLOCK_TEMPLATE_MENU,
        "dispatch_action": True,
        "optional": True,
        "label": plain(t("templates.menu_label"), 2000),
        "element": element,
        "hint": plain(t("templates.menu_hint"), 2000),
    }


def menu_options(found: list[TemplateSummary]) -> list[Block]:
    """The options an ``options`` request is answered with (at most 100: Slack's limit, MENU_LIMIT)."""
    return [
        option(clip(tpl.name, 75), str(tpl.id), clip(tpl.subject, 75) if tpl.subject else None)
        for tpl in found[:100]
    ]


# -- the template form ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemplateScreen:
    """The template form: new from a draft (``draft_id``) or an existing template edited (``template_id``)."""

    channel: Channel
    draft_id: int = 0
    template_id: int = 0
    name: str = ""
    subject: str = ""
    content: str = ""
    files: tuple[Attachment, ...] = ()
    refused: tuple[str, ...] = ()  # uploads of the form that were refused ("name — why"): not in the template


def template_metadata(screen: TemplateScreen) -> str:
    data: dict[str, Any] = {"c": screen.channel.value}
    if screen.template_id:
        data["t"] = screen.template_id
    else:
        data["d"] = screen.draft_id
    return json.dumps(data, separators=(",", ":"))


def read_template_metadata(raw: str) -> tuple[Channel, int, int] | None:
    """(channel, draft id, template id) of a template form; None when it names neither."""
    try:
        data = json.loads(raw)
        channel = Channel(data["c"])
        draft_id, template_id = int(data.get("d", 0)), int(data.get("t", 0))
    except (ValueError, TypeError, KeyError):
        return None
    return (channel, draft_id, template_id) if (draft_id or template_id) else None


def _text_input(
    block_id: str, label: str, initial: str, limit: int, *, multiline: bool = False, hint: str = ""
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_INPUT,
        "max_length": limit,
        "multiline": multiline,
    }
    if initial:
        element["initial_value"] = clip(initial, limit)
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def build_template_view(screen: TemplateScreen, t: Translator) -> dict[str, Any]:
    email = screen.channel is Channel.EMAIL
    kind = t("templates.channel_email" if email else "templates.channel_message")
    blocks: list[Block] = [
        context(t("templates.form_intro", channel=kind)),
        _text_input(
            ids.BLOCK_TEMPLATE_NAME,
            t("templates.name"),
            screen.name,
            NAME_MAX,
            hint=t("templates.name_hint", max=NAME_MAX),
        ),
    ]
    if email:
        blocks.append(
            _text_input(ids.BLOCK_TEMPLATE_SUBJECT, t("compose.subject"), screen.subject, SUBJECT_MAX)
        )
    blocks.append(
        _text_input(
            ids.BLOCK_TEMPLATE_CONTENT,
            t("compose.content"),
            screen.content,
            CONTENT_MAX,
            multiline=True,
            hint=t("compose.content_hint"),
        )
    )
    if screen.files:
        files = [option(clip(a.filename, 75), str(a.id)) for a in screen.files[:10]]
        blocks.append(
            {
                "type": "input",
                "block_id": ids.BLOCK_TEMPLATE_FILES,
                "optional": True,
                "label": plain(t("templates.files"), 2000),
                "element": {
                    "type": "checkboxes",
                    "action_id": ids.ACTION_INPUT,
                    "options": files,
                    "initial_options": files,
                },
                "hint": plain(t("templates.files_hint"), 2000),
            }
        )
    if screen.template_id and len(screen.files) < 10:
        # Editing: new files may join the template's (Save as template takes those of the form underneath).
        blocks.append(
            {
                "type": "input",
                "block_id": ids.BLOCK_TEMPLATE_UPLOAD,
                "optional": True,
                "label": plain(t("templates.upload"), 2000),
                "element": {
                    "type": "file_input",
                    "action_id": ids.ACTION_INPUT,
                    "filetypes": ALLOWED_FILETYPES,
                    "max_files": 10 - len(screen.files),
                },
                "hint": plain(t("templates.upload_hint"), 2000),
            }
        )
    if screen.refused:
        lines = "\n".join(f":no_entry: {escape(clip(line, 300))}" for line in screen.refused[:10])
        blocks.append(context(t("templates.uploads_refused") + "\n" + lines))
    title = "templates.title_edit" if screen.template_id else "templates.title_new"
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_TEMPLATE,
        "title": plain(t(title), 24),
        "submit": plain(t("templates.save"), 24),
        "close": plain(t("common.back") if screen.draft_id else t("common.cancel"), 24),
        "private_metadata": template_metadata(screen),
        "blocks": check_limits(blocks, surface="modal"),
    }


def build_template_notice(text: str, t: Translator, refused: tuple[str, ...] = ()) -> dict[str, Any]:
    blocks = [section(text)]
    if refused:
        lines = "\n".join(f":no_entry: {escape(clip(line, 300))}" for line in refused[:10])
        blocks.append(context(t("templates.uploads_refused") + "\n" + lines))
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_TEMPLATE,
        "title": plain(t("templates.title"), 24),
        "close": plain(t("common.close"), 24),
        "blocks": check_limits(blocks, surface="modal"),
    }


# -- /prospects templates --------------------------------------------------------------------------------------
def build_template_list(page: TemplatePage, t: Translator, notice: str = "") -> tuple[str, list[Block]]:
    """The workspace's templates, a page of them, each with Use, Edit and Delete (a confirm dialog first)."""
    title = t("templates.list_title", count=t.number(page.total))
    blocks: list[Block] = [section(f"*{title}*")]
    if notice:
        blocks.append(context(notice))
    if not page.items:
        blocks.append(section(t("templates.none")))
    for tpl in page.items:
        kind = t("templates.channel_email" if tpl.channel is Channel.EMAIL else "templates.channel_message")
        line = f"*{escape(tpl.name)}* · {kind} · <@{tpl.author_id}>"
        if tpl.subject:
            line += "\n" + escape(clip(tpl.subject, 200))
        if tpl.files:
            line += "\n" + t("templates.file_count", count=tpl.files)
        blocks.append(section(line))
        delete = button(
            t("templates.delete"),
            ids.ACTION_TEMPLATE_DELETE,
            str(tpl.id),
            style="danger",
            confirm=confirm_dialog(
                t("templates.delete_title"),
                clip(t("templates.delete_confirm", name=tpl.name), 300),
                t("templates.delete"),
                t("common.cancel"),
            ),
        )
        blocks.append(
            actions(
                button(t("templates.use"), ids.ACTION_TEMPLATE_USE, str(tpl.id), style="primary"),
                button(t("templates.edit"), ids.ACTION_TEMPLATE_EDIT, str(tpl.id)),
                delete,
                block_id=f"template~{tpl.id}",
            )
        )
    nav: list[Block] = []
    if page.page > 0:
        nav.append(button(t("list.prev"), ids.ACTION_TEMPLATES_PAGE, str(page.page - 1)))
    if page.page + 1 < page.pages:
        nav.append(button(t("list.next"), ids.ACTION_TEMPLATES_PAGE, str(page.page + 1)))
    if nav:
        blocks.append(context(t("templates.page", page=page.page + 1, pages=page.pages)))
        blocks.append(actions(*nav, block_id=f"templates_nav~{page.page}"))
    blocks.append(context(t("templates.list_hint")))
    return title, check_limits(blocks)
