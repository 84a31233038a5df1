"""What Slack refuses in the messages and views an app sends, checked the way Slack checks them.

Every message (``chat.postMessage``/``chat.update``/``chat.postEphemeral``, posts to a ``response_url``) and every
view (``views.*``, a ``view_submission`` answer with ``response_action`` ``update``/``push``) the app sends to the
stand-in goes through :func:`message_problems` or :func:`view_problems`; a non-empty answer is what Slack would
refuse (``invalid_blocks``, ``invalid_arguments``).

Two layers: slack_sdk's own models (``Block.parse(...).to_dict()``, ``View(...).to_dict()`` raise
``SlackObjectFormationError`` on most length limits — SLACK.md §4.3), and the limits those models do not check
(SLACK.md §1 and "Things the project should not assume" 3): 50 blocks in a message and 100 in a view, at most 10
checkbox options, 2–5 overflow options, at most 100 select options, option text ≤ 75 and value ≤ 150, unique
``block_id`` values, ``initial_options`` taken from ``options``, ``submit`` required on a modal with an input block,
``private_metadata`` ≤ 3,000 characters, a view ≤ 250 kB, ``file_input`` never with ``dispatch_action``, known block
types only, a ``datetimepicker``'s ``initial_date_time`` a UNIX time of 10 digits, a ``number_input``'s values numbers
written as strings (whole ones unless ``is_decimal_allowed``) with ``min_value`` ≤ ``initial_value`` ≤
``max_value``. Sources: https://docs.slack.dev/reference/block-kit/blocks (each block's page),
https://docs.slack.dev/reference/views/modal-views, https://docs.slack.dev/reference/block-kit/block-elements
(checkboxes, overflow, select, file input, datetime picker, number input),
https://api.slack.com/methods/chat.update (``msg_too_long``); that Slack refuses a number_input's values given as
numbers: github.com/davidcelis/block-kit release 1.0.3. Slack shows no error for an initial value outside
min/max that we know of: refusing it is the stricter reading.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
}
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000  # Slack truncates beyond this; chat.update refuses more than 4,000 (SLACK.md §1.2)
MAX_UPDATE_TEXT = 4_000
MAX_VIEW_BYTES = 250_000
MAX_PRIVATE_METADATA = 3_000


def message_problems(text: str, blocks: Any, *, update: bool = False) -> list[str]:
    """Why Slack would refuse a message with this ``text`` and ``blocks`` ([] when it would take it)."""
    problems: list[str] = []
    if not text and not blocks:
        problems.append("no_text: a message needs text or blocks")
    limit = MAX_UPDATE_TEXT if update else MAX_MESSAGE_TEXT
    if len(text or "") > limit:
        problems.append(f"msg_too_long: text of {len(text)} characters (at most {limit})")
    if blocks:
        problems += _blocks_problems(blocks, MAX_MESSAGE_BLOCKS, "message")
    return problems


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view (a modal or a Home tab) in ``views.open/push/update/publish``."""
    if not isinstance(view, dict):
        return ["invalid_arguments: view is not an object"]
    problems: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        problems.append(f"invalid_arguments: view type {kind!r}")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*problems, "invalid_arguments: view without blocks"]
    problems += _blocks_problems(blocks, MAX_VIEW_BLOCKS, "view")
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        problems.append("invalid_arguments: private_metadata longer than 3000 characters")
    if kind == "modal":
        if any(b.get("type") == "input" for b in blocks if isinstance(b, dict)) and not view.get("submit"):
            problems.append("invalid_arguments: a modal with an input block needs a submit button")
        try:
            View(**_view_fields(view)).to_dict()
        except (SlackObjectFormationError, TypeError, ValueError) as exc:
            problems.append(f"invalid_arguments: {exc}")
    if len(json.dumps(view).encode()) > MAX_VIEW_BYTES:
        problems.append("view_too_large")
    return problems


def options_problems(answer: Any) -> list[str]:
    """Why Slack would show nothing for an answer to a ``block_suggestion`` (an external select's options): it
    wants ``{"options": [...]}`` (or ``option_groups``) with at most 100 options, each with a text of 1–75
    characters and a value of 1–150 (https://docs.slack.dev/reference/block-kit/block-elements/select-menu-element
    #external_select; bolt-python ``ack(options=...)``)."""
    if not isinstance(answer, dict) or not isinstance(
        answer.get("options", answer.get("option_groups")), list
    ):
        return ["the answer has no options list"]
    options = answer.get("options") or []
    problems = [f"{len(options)} options (at most 100)"] if len(options) > 100 else []
    return problems + _element_problems({"type": "external_select", "options": options})


def _view_fields(view: dict[str, Any]) -> dict[str, Any]:
    """What the app writes in a view (Slack adds id, hash, state … to what it sends back)."""
    keep = (
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
        "submit_disabled",
    )
    return {k: view[k] for k in keep if k in view}


def _blocks_problems(blocks: Any, cap: int, surface: str) -> list[str]:
    if not isinstance(blocks, list):
        return ["invalid_blocks: blocks is not a list"]
    problems: list[str] = []
    if len(blocks) > cap:
        problems.append(f"invalid_blocks: {len(blocks)} blocks in a {surface} (at most {cap})")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.append(f"invalid_blocks: block {i} has an unknown type")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(f"invalid_blocks: duplicate block_id {block_id!r}")
            seen.add(block_id)
        # slack_sdk checks only a block_id's length (Block._validate_block_id_length), so its verdict is kept by
        # the block with the id's characters blanked: a list's block ids change at every render (SLACK.md §1.1),
        # most of its blocks do not. The ids themselves are checked above (unique) and by the models' length rule.
        keyed = dict(block, block_id="#" * len(block_id)) if isinstance(block_id, str) else block
        refused = _sdk_refusal(json.dumps(keyed, sort_keys=True, ensure_ascii=False))
        if refused is not None:
            problems.append(f"invalid_blocks: block {i}: {refused}")
        element_type = (block.get("element") or {}).get("type")
        if block.get("type") == "input" and block.get("dispatch_action") and element_type == "file_input":
            problems.append(f"invalid_blocks: block {i}: file_input cannot dispatch actions")
        for element in _elements(block):
            problems += [f"invalid_blocks: block {i}: {p}" for p in _element_problems(element)]
    return problems


@functools.lru_cache(maxsize=8192)
def _sdk_refusal(block_json: str) -> str | None:
    """What slack_sdk's models say against this block (its JSON, keys sorted, its block_id blanked), or None. Kept
    by that text: a list shown again repeats most of its blocks, and the models' checks cost about a millisecond a
    block (most of what a load test's Slack side spent)."""
    try:
        Block.parse(json.loads(block_json)).to_dict()  # type: ignore[union-attr]
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as exc:
        return str(exc)
    return None


def _elements(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if block.get("type") == "actions":
        yield from (e for e in block.get("elements") or [] if isinstance(e, dict))
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            yield block[key]


def _element_problems(element: dict[str, Any]) -> list[str]:
    kind = element.get("type", "")
    options = element.get("options") or []
    problems: list[str] = []
    caps = {"checkboxes": (1, 10), "radio_buttons": (1, 10), "overflow": (2, 5), "static_select": (1, 100)}
    if kind in caps:
        low, high = caps[kind]
        if not low <= len(options) <= high:
            problems.append(f"{kind} with {len(options)} options ({low} to {high})")
    for opt in options:
        text = (opt.get("text") or {}).get("text", "")
        if not 1 <= len(text) <= 75:
            problems.append(f"option text of {len(text)} characters (1 to 75)")
        if not 1 <= len(str(opt.get("value", ""))) <= 150:
            problems.append("option value empty or longer than 150 characters")
    initial = list(element.get("initial_options") or [])
    if element.get("initial_option"):
        initial.append(element["initial_option"])
    if any(o not in options for o in initial):  # Slack wants them identical to an option, text included
        problems.append("an initial option that is not exactly one of the options")
    if kind == "datetimepicker" and "initial_date_time" in element:
        when = element["initial_date_time"]
        if isinstance(when, bool) or not isinstance(when, int) or len(str(when)) != 10:
            problems.append(f"datetimepicker initial_date_time {when!r} is not a UNIX time of 10 digits")
    if kind == "number_input":
        problems += _number_input_problems(element)
    return problems


def _number_input_problems(element: dict[str, Any]) -> list[str]:
    decimal = element.get("is_decimal_allowed")
    if not isinstance(decimal, bool):
        return ["number_input without is_decimal_allowed (required)"]
    values: dict[str, float] = {}
    for name in ("min_value", "initial_value", "max_value"):
        if name not in element:
            continue
        raw = element[name]
        try:
            number = float(raw) if isinstance(raw, str) else None
        except ValueError:
            number = None
        if number is None or (not decimal and not raw.lstrip("-").isdigit()):
            return [f"number_input {name} {raw!r} is not a {'number' if decimal else 'whole number'} string"]
        values[name] = number
    ordered = [values[n] for n in ("min_value", "initial_value", "max_value") if n in values]
    if ordered != sorted(ordered):
        return ["number_input values out of order (min_value ≤ initial_value ≤ max_value)"]
    return []
