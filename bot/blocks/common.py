"""Small Block Kit pieces shared by every screen, and one validator for Slack's limits (SLACK.md §1)."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_BUTTON_VALUE = 2000
MAX_CHECKBOX_OPTIONS = 10
MAX_PRIVATE_METADATA = 3000

# What a file_input takes (Slack filters by these extensions; the content is sniffed and scanned anyway).
ALLOWED_FILETYPES = ["csv", "pdf", "jpg", "jpeg", "png", "gif"]


def escape(text: str) -> str:
    """Escape user text for mrkdwn: Slack reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, 150)}


def context(*texts: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "context", "elements": [mrkdwn(t, 2000) for t in texts[:10]]}
    if block_id:
        block["block_id"] = block_id
    return block


def divider() -> Block:
    return {"type": "divider"}


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def button(
    text: str,
    action_id: str,
    value: str = "",
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> Block:
    element: Block = {"type": "button", "text": plain(text, 75), "action_id": action_id}
    if value:
        if len(value) > MAX_BUTTON_VALUE:
            raise ValueError(f"button value longer than {MAX_BUTTON_VALUE} characters")
        element["value"] = value
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def option(text: str, value: str, description: str | None = None, *, markdown: bool = False) -> Block:
    if len(value) > MAX_OPTION_VALUE:
        raise ValueError(f"option value longer than {MAX_OPTION_VALUE} characters")
    opt: Block = {
        "text": mrkdwn(text, MAX_OPTION_TEXT) if markdown else plain(text, MAX_OPTION_TEXT),
        "value": value,
    }
    if description:
        opt["description"] = plain(description, MAX_OPTION_TEXT)
    return opt


def confirm_dialog(title: str, text: str, yes: str, no: str) -> dict[str, Any]:
    return {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain(no, 30),
    }


class BlockLimitError(ValueError):
    pass


def check_limits(blocks: list[Block], *, surface: str = "message") -> list[Block]:
    """Raise BlockLimitError when ``blocks`` break one of Slack's limits; return them unchanged otherwise."""
    cap = MAX_MESSAGE_BLOCKS if surface == "message" else MAX_VIEW_BLOCKS  # modal and home: 100
    if len(blocks) > cap:
        raise BlockLimitError(f"{len(blocks)} blocks in a {surface} (Slack allows {cap})")
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)):
        raise BlockLimitError("duplicate block_id")
    for b in blocks:
        text = b.get("text", {}).get("text", "") if isinstance(b.get("text"), dict) else ""
        if b["type"] == "section" and len(text) > MAX_SECTION_TEXT:
            raise BlockLimitError("section text longer than 3000 characters")
        elements = b.get("elements", []) if b["type"] == "actions" else []
        if b.get("accessory"):
            elements = [*elements, b["accessory"]]
        if b["type"] == "input":
            elements = [*elements, b["element"]]
        for el in elements:
            if el.get("type") == "checkboxes" and len(el.get("options", [])) > MAX_CHECKBOX_OPTIONS:
                raise BlockLimitError("more than 10 checkbox options")
    return blocks
