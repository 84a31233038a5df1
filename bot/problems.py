"""Showing core Problems to a user, in their language, next to the field they belong to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot import ids
from bot.i18n import Translator, catalog
from outreach.errors import Problem

FIELD_BLOCKS = {
    "sender_name": ids.BLOCK_SENDER_NAME,
    "reply_to": ids.BLOCK_REPLY_TO,
    "subject": ids.BLOCK_SUBJECT,
    "content": ids.BLOCK_CONTENT,
    "attachments": ids.BLOCK_ATTACHMENTS,
    "send_at": ids.BLOCK_SEND_AT,
}
MAX_ERROR_TEXT = 1900  # Slack shows a block error under its input; keep it readable


def describe(problem: Problem, t: Translator) -> str:
    """The problem in the user's language: a catalog text for its code when there is one, else the English."""
    if t.locale == "en":
        return problem.message
    params = dict(problem.params)
    params.setdefault("field", _field_label(problem.field, t))
    code = problem.code
    if code == "unknown_token" and not params.get("suggestion"):
        code = "unknown_token_none"
    for key in (f"problem.{problem.field}.{code}", f"problem.{code}"):
        if key in catalog(t.locale):
            return t(key, **params)
    return problem.message


def _field_label(field: str, t: Translator) -> str:
    """A field's name in the user's language: ``followup.2.content`` is "Follow-up 2: content"."""
    parts = field.split(".")
    if parts[0] == "followup" and len(parts) == 3 and f"field.followup_{parts[2]}" in catalog("en"):
        return t(f"field.followup_{parts[2]}", step=parts[1])
    return t(f"field.{field}") if f"field.{field}" in catalog("en") else ""


def block_errors(
    problems: Iterable[Problem], t: Translator, present: set[str], blocks: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``response_action: errors`` wants {input block_id: text}; problems of fields not in the form go to
    the content block so none is lost. ``blocks``: more fields' blocks (a form's follow-up steps)."""
    errors: dict[str, list[str]] = {}
    shown = {ids.base_of(b): b for b in present}  # a block a template filled is shown as ``subject~2``
    for p in problems:
        block = (blocks or {}).get(p.field) or FIELD_BLOCKS.get(p.field, ids.BLOCK_CONTENT)
        if block not in present:
            block = shown.get(block) or shown.get(ids.BLOCK_CONTENT, ids.BLOCK_CONTENT)
        errors.setdefault(block, []).append(describe(p, t))
    return {block: _join(texts) for block, texts in errors.items()}


def _join(texts: list[str]) -> str:
    text = " • ".join(dict.fromkeys(texts)) if len(texts) > 1 else texts[0]
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"
