"""The compose modals (email and message), the "checking attachments" view and the verdict view.

Follow-ups and send later sit under the message. Steps are added with an **Add a follow-up** button (and taken
away with each step's **Remove**), which rewrites the form with ``views.update``: a modal holds 100 blocks, so
the three steps (4 blocks each) are shown only when asked for rather than always, and a button needs no
``dispatch_action`` — which ``file_input`` does not allow in the same form anyway (SLACK.md §1.4). Every block
keeps its ``block_id``/``action_id`` across that update, each step's carrying a key of its own (kept in
``private_metadata``, never reused), so Slack keeps what was typed in the other blocks, the uploads included
(SLACK.md §2.5, "Preserving input entry"), and a removed step's text never lands in another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import ids
from bot.blocks.common import (
    ALLOWED_FILETYPES,
    Block,
    actions,
    button,
    check_limits,
    clip,
    context,
    escape,
    option,
    plain,
    section,
)
from bot.blocks.help import token_lines
from bot.blocks.templates import template_menu
from bot.i18n import Translator
from outreach.models import Attachment, Channel, OutgoingEmail, OutgoingMessage

CONTENT_MAX = 3000  # plain_text_input's own limit
SUBJECT_MAX = 250
SENDER_MAX = 100
SHOWN_RECIPIENTS = 10


@dataclass(frozen=True)
class RecipientLine:
    mpid: str
    label: str  # "Ann Lee (Acme Media)"


DEFAULT_DAYS = 3
MAX_FOLLOWUPS = 3
MAX_DAYS = 90
LOCAL = "local"  # the value of the "in each partner's time zone" option


@dataclass(frozen=True)
class FollowupLine:
    """A follow-up step in the form; ``key`` names its blocks (``ids.followup_block``)."""

    key: int
    days: int = DEFAULT_DAYS
    subject: str = ""
    content: str = ""


@dataclass(frozen=True)
class ComposeScreen:
    """Everything the compose modal shows; made by the handler from a draft."""

    draft_id: int
    channel: Channel
    recipients: tuple[RecipientLine, ...]  # the first of them (all of them when recipient_count is None)
    skipped: tuple[tuple[RecipientLine, str], ...] = ()  # (who, reason key) left out of this send
    recipient_count: int | None = None  # how many in all, when more than the lines given
    skipped_count: int | None = None
    sender_name: str = ""
    reply_to: str = ""
    subject: str = ""
    content: str = ""
    kept_files: tuple[Attachment, ...] = ()
    warnings: tuple[str, ...] = ()  # already translated notes shown above the form
    followups: tuple[FollowupLine, ...] = ()
    next_key: int = 1  # the key the next step added gets
    send_at: datetime | None = None
    send_local: bool = False
    zoned: int = 0  # recipients with a time zone of their own
    zone: str = "UTC"  # the author's, named under the picker
    fill: int = (
        0  # how many times a template filled the form (the render key of its subject and content blocks)
    )
    files_key: int = 0  # how many times its uploads were checked and attached (the upload box's render key)


def filled_block(base: str, fill: int) -> str:
    """The block id of a field a template fills: ``subject``, then ``subject~1``, ``subject~2`` …

    Slack keeps what the user typed in an input across ``views.update`` as long as its block_id and action_id stay
    the same (https://docs.slack.dev/reference/views/modal-views, "Preserving input entry"; SLACK.md §2.5) — and
    then shows that, not a new ``initial_value``: github.com/slackapi/bolt-python/issues/1064 ("views_update not
    updating initial_value of text area when initial_value was set while generating the initial view") reports
    exactly this. So a template's subject and content go in under a block id the form has not shown (Slack then
    renders the new input with its initial value), and every other block keeps its id: what was typed there stays.
    """
    return ids.block_id(base, fill) if fill else base


def metadata(
    draft_id: int, channel: Channel, confirm: str = "", keys: tuple[int, ...] = (), next_key: int = 0
) -> str:
    """``confirm``: the digest of the warnings the user was shown; submitting again with it sends anyway.
    ``keys``: the follow-up steps shown, in order; ``next_key``: the key of the next one added."""
    data: dict[str, Any] = {"d": draft_id, "c": channel.value}
    if confirm:
        data["w"] = confirm
    if keys:
        data["f"] = list(keys)
    if next_key > max(keys, default=0) + 1:
        data["n"] = next_key
    return json.dumps(data, separators=(",", ":"))


def read_followup_keys(raw: str) -> tuple[tuple[int, ...], int]:
    """(the keys of the steps a form shows, the key of the next one) from its private_metadata."""
    try:
        data = json.loads(raw)
        keys = tuple(int(k) for k in data.get("f", ()) if int(k) > 0)[:MAX_FOLLOWUPS]
        return keys, max(int(data.get("n", 0)), max(keys, default=0) + 1)
    except (ValueError, TypeError, AttributeError):
        return (), 1


def read_confirmation(raw: str) -> str:
    try:
        return str(json.loads(raw).get("w", ""))
    except (ValueError, AttributeError):
        return ""


def read_metadata(raw: str) -> tuple[int, Channel] | None:
    try:
        data = json.loads(raw)
        return int(data["d"]), Channel(data["c"])
    except (ValueError, TypeError, KeyError):
        return None


def _input(block_id: str, label: str, element: Block, *, optional: bool = False, hint: str = "") -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text(initial: str, max_length: int, *, multiline: bool = False, placeholder: str = "") -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_INPUT,
        "max_length": max_length,
        "multiline": multiline,
    }
    if initial:
        element["initial_value"] = clip(initial, max_length)
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def _followup_blocks(screen: ComposeScreen, t: Translator) -> list[Block]:
    email = screen.channel is Channel.EMAIL
    blocks: list[Block] = []
    for n, step in enumerate(screen.followups[:MAX_FOLLOWUPS], 1):
        remove = button(t("compose.followup_remove"), ids.ACTION_FOLLOWUP_REMOVE, str(step.key))
        blocks.append(
            section(
                f"*{t('compose.followup_title', step=n)}*",
                block_id=ids.followup_block(step.key, "head"),
                accessory=remove,
            )
        )
        days: Block = {
            "type": "number_input",
            "action_id": ids.ACTION_INPUT,
            "is_decimal_allowed": False,
            "min_value": "1",
            "max_value": str(MAX_DAYS),
        }
        if 1 <= step.days <= MAX_DAYS:
            days["initial_value"] = str(step.days)
        blocks.append(_input(ids.followup_block(step.key, "days"), t("compose.followup_days"), days))
        if email:
            blocks.append(
                _input(
                    ids.followup_block(step.key, "subject"),
                    t("compose.subject"),
                    _text(step.subject, SUBJECT_MAX),
                    optional=True,
                    hint=t("compose.followup_subject_hint"),
                )
            )
        blocks.append(
            _input(
                ids.followup_block(step.key, "content"),
                t("compose.followup_content"),
                _text(step.content, CONTENT_MAX, multiline=True),
                hint=t("compose.followup_content_hint"),
            )
        )
    if len(screen.followups) < MAX_FOLLOWUPS:
        add = button(t("compose.followup_add"), ids.ACTION_FOLLOWUP_ADD, str(screen.draft_id))
        blocks.append(actions(add, block_id=ids.BLOCK_FOLLOWUP_ADD))
    blocks.append(context(t("compose.followup_rules")))
    return blocks


def _send_later_blocks(screen: ComposeScreen, t: Translator) -> list[Block]:
    picker: Block = {"type": "datetimepicker", "action_id": ids.ACTION_INPUT}
    if screen.send_at is not None:
        picker["initial_date_time"] = int(screen.send_at.timestamp())
    blocks = [
        _input(
            ids.BLOCK_SEND_AT,
            t("compose.send_at"),
            picker,
            optional=True,
            hint=t("compose.send_at_hint", zone=screen.zone),
        )
    ]
    if screen.zoned or screen.send_local:
        local = option(t("compose.send_local", count=t.number(screen.zoned)), LOCAL)
        element: Block = {"type": "checkboxes", "action_id": ids.ACTION_INPUT, "options": [local]}
        if screen.send_local:
            element["initial_options"] = [local]
        blocks.append(
            _input(
                ids.BLOCK_SEND_LOCAL,
                t("compose.send_local_label"),
                element,
                optional=True,
                hint=t("compose.send_local_hint"),
            )
        )
    return blocks


def recipients_text(screen: ComposeScreen, t: Translator) -> str:
    shown = [escape(r.label) for r in screen.recipients[:SHOWN_RECIPIENTS]]
    total = len(screen.recipients) if screen.recipient_count is None else screen.recipient_count
    more = total - len(shown)
    text = t("compose.to", names=", ".join(shown)) if shown else t("compose.no_recipients")
    if more > 0:
        text += " " + t("compose.and_more", count=t.number(more))
    return text


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def build_compose_view(screen: ComposeScreen, t: Translator, *, confirm: str = "") -> dict[str, Any]:
    email = screen.channel is Channel.EMAIL
    blocks: list[Block] = [template_menu(t)]
    for note in screen.warnings:
        blocks.append(context(f":warning: {note}"))
    blocks.append(section(recipients_text(screen, t), block_id=ids.BLOCK_RECIPIENTS))
    if screen.skipped:
        lines = [f"{escape(r.label)} — {t(reason)}" for r, reason in screen.skipped[:SHOWN_RECIPIENTS]]
        skipped = len(screen.skipped) if screen.skipped_count is None else screen.skipped_count
        if skipped > len(lines):
            lines.append(t("compose.and_more", count=t.number(skipped - len(lines))))
        blocks.append(context(t("compose.skipped", count=t.number(skipped)) + "\n" + "\n".join(lines)))
    if email:
        blocks.append(
            _input(
                ids.BLOCK_SENDER_NAME,
                t("compose.sender_name"),
                _text(screen.sender_name, SENDER_MAX),
                hint=t("compose.sender_name_hint"),
            )
        )
        reply: Block = {"type": "email_text_input", "action_id": ids.ACTION_INPUT}
        if screen.reply_to:
            reply["initial_value"] = screen.reply_to
        blocks.append(
            _input(ids.BLOCK_REPLY_TO, t("compose.reply_to"), reply, hint=t("compose.reply_to_hint"))
        )
        subject = filled_block(ids.BLOCK_SUBJECT, screen.fill)
        blocks.append(_input(subject, t("compose.subject"), _text(screen.subject, SUBJECT_MAX)))
    blocks.append(
        _input(
            filled_block(ids.BLOCK_CONTENT, screen.fill),
            t("compose.content"),
            _text(screen.content, CONTENT_MAX, multiline=True, placeholder=t("compose.content_ph")),
            hint=t("compose.content_hint"),
        )
    )
    blocks.append(context(t("help.tokens") + "\n" + token_lines(t)))
    if screen.kept_files:
        kept = [option(clip(f"{a.filename} ({_size(a.size)})", 75), str(a.id)) for a in screen.kept_files]
        element: Block = {
            "type": "checkboxes",
            "action_id": ids.ACTION_INPUT,
            "options": kept[:10],
            "initial_options": kept[:10],
        }
        blocks.append(
            _input(
                filled_block(ids.BLOCK_KEPT_FILES, screen.fill + screen.files_key),
                t("compose.kept_files"),
                element,
                optional=True,
                hint=t("compose.kept_files_hint"),
            )
        )
    files: Block = {
        "type": "file_input",
        "action_id": ids.ACTION_INPUT,
        "filetypes": ALLOWED_FILETYPES,
        "max_files": max(1, 10 - len(screen.kept_files)),
    }
    blocks.append(
        _input(
            filled_block(ids.BLOCK_ATTACHMENTS, screen.files_key),
            t("compose.attachments"),
            files,
            optional=True,
            hint=t("compose.attachments_hint"),
        )
    )
    blocks += _followup_blocks(screen, t)
    blocks += _send_later_blocks(screen, t)
    buttons = [button(t("compose.preview"), ids.ACTION_COMPOSE_PREVIEW, str(screen.draft_id))]
    if email:
        buttons.append(button(t("compose.send_test"), ids.ACTION_COMPOSE_SEND_TEST, str(screen.draft_id)))
    buttons.append(button(t("compose.save_draft"), ids.ACTION_COMPOSE_SAVE_DRAFT, str(screen.draft_id)))
    buttons.append(button(t("templates.save_as"), ids.ACTION_COMPOSE_SAVE_TEMPLATE, str(screen.draft_id)))
    blocks.append(actions(*buttons, block_id="compose_actions"))
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_COMPOSE_EMAIL if email else ids.CALLBACK_COMPOSE_MESSAGE,
        "title": plain(t("compose.title_email" if email else "compose.title_message"), 24),
        "submit": plain(t("compose.send"), 24),
        "close": plain(t("common.cancel"), 24),
        "private_metadata": metadata(
            screen.draft_id,
            screen.channel,
            confirm,
            tuple(f.key for f in screen.followups),
            screen.next_key,
        ),
        "notify_on_close": True,
        "blocks": check_limits(blocks, surface="modal"),
    }


@dataclass(frozen=True)
class FileLine:
    name: str
    state: str  # "checking" | "ok" | "rejected"
    detail: str = ""  # translated reason for rejected files


@dataclass(frozen=True)
class CheckingScreen:
    draft_id: int
    channel: Channel
    files: tuple[FileLine, ...] = field(default_factory=tuple)
    done: bool = False
    sent_count: int = 0
    scheduled: str = ""  # a scheduled send: what to say instead of "sending" (translated)
    followups: int = 0  # follow-up steps planned with the send


def build_checking_view(screen: CheckingScreen, t: Translator) -> dict[str, Any]:
    """Shown while files are downloaded, sniffed and scanned, then with a verdict per file."""
    icon = {"checking": ":hourglass_flowing_sand:", "ok": ":white_check_mark:", "rejected": ":no_entry:"}
    lines = [
        f"{icon[f.state]} *{escape(clip(f.name, 100))}*" + (f" — {escape(f.detail)}" if f.detail else "")
        for f in screen.files
    ]
    rejected = [f for f in screen.files if f.state == "rejected"]
    if not screen.done:
        head = t("compose.checking")
    elif rejected:
        head = t("compose.rejected_files", count=len(rejected))
    elif screen.scheduled:
        head = screen.scheduled
    else:
        head = t("compose.sending_started", count=t.number(screen.sent_count))
    blocks: list[Block] = [section(head)]
    if lines:
        blocks.append(section("\n".join(lines)))
    if screen.done and not rejected and screen.followups:
        blocks.append(context(t("compose.followups_planned", count=screen.followups)))
    if screen.done and rejected:
        blocks.append(context(t("compose.draft_kept")))
        blocks.append(
            actions(
                button(t("drafts.open"), ids.ACTION_DRAFT_OPEN, str(screen.draft_id), style="primary"),
                block_id="checking_actions",
            )
        )
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_CHECKING,
        "title": plain(
            t("compose.title_email" if screen.channel is Channel.EMAIL else "compose.title_message"), 24
        ),
        "close": plain(t("common.close"), 24),
        "private_metadata": metadata(screen.draft_id, screen.channel),
        "blocks": check_limits(blocks, surface="modal"),
    }


def build_preview_view(
    draft_id: int,
    rendered: OutgoingEmail | OutgoingMessage,
    recipients: tuple[RecipientLine, ...],
    chosen: str,
    t: Translator,
) -> dict[str, Any]:
    """The message as one recipient gets it; a menu picks another recipient."""
    blocks: list[Block] = []
    opts = [option(clip(r.label, 75), r.mpid) for r in recipients[:100]]
    if opts:
        menu: Block = {"type": "static_select", "action_id": ids.ACTION_PREVIEW_FOR, "options": opts}
        current = [o for o in opts if o["value"] == chosen]
        if current:
            menu["initial_option"] = current[0]
        blocks.append(section(t("preview.for"), block_id=ids.BLOCK_PREVIEW_FOR, accessory=menu))
    if isinstance(rendered, OutgoingEmail):
        head = [
            t("preview.from", name=escape(rendered.sender_name)),
            t("preview.reply_to", address=escape(rendered.reply_to)),
            t("preview.to", address=escape(rendered.to)),
            t("preview.subject", subject=escape(rendered.subject)),
        ]
        blocks.append(section("\n".join(head)))
    body = rendered.text
    for chunk_start in range(0, min(len(body), 2900 * 5), 2900):
        blocks.append(section("```" + escape(body[chunk_start : chunk_start + 2900]) + "```"))
    if rendered.attachments:
        names = ", ".join(escape(a.filename) for a in rendered.attachments)
        blocks.append(context(t("preview.attachments", names=names)))
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_PREVIEW,
        "title": plain(t("compose.preview"), 24),
        "close": plain(t("common.back"), 24),
        "private_metadata": metadata(
            draft_id, Channel.EMAIL if isinstance(rendered, OutgoingEmail) else Channel.MESSAGE
        ),
        "blocks": check_limits(blocks, surface="modal"),
    }


def build_preparing_view(t: Translator) -> dict[str, Any]:
    """Opened at once on a click, while the real view is made (a trigger works for 3 seconds only)."""
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_PREPARING,
        "title": plain(t("modal.preparing_title"), 24),
        "close": plain(t("common.close"), 24),
        "blocks": check_limits([section(t("compose.preparing"))], surface="modal"),
    }


def verdict_message(view: dict[str, Any]) -> tuple[str, list[Block]]:
    """A verdict view (files checked, sending started) as a DM, for when its modal was closed: the same blocks
    (sections, context and buttons read the same in a message) and its first line as the notification."""
    blocks = list(view.get("blocks", []))
    first = next((b["text"]["text"] for b in blocks if b.get("type") == "section"), "")
    return first, blocks


def build_notice_view(
    title: str, text: str, draft_id: int, channel: Channel, t: Translator
) -> dict[str, Any]:
    """A modal that only tells something (draft saved, nothing to send …)."""
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_CHECKING,
        "title": plain(title, 24),
        "close": plain(t("common.close"), 24),
        "private_metadata": metadata(draft_id, channel),
        "blocks": check_limits([section(text)], surface="modal"),
    }
