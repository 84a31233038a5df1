"""Slack screens as readable terminal text, with a link that opens each in Slack's Block Kit Builder."""

from __future__ import annotations

import json
import re
import textwrap
import urllib.parse
from typing import Any

BUILDER = "https://app.slack.com/block-kit-builder/#"
WIDTH = 78


def builder_link(surface: dict[str, Any]) -> str:
    """A Block Kit Builder URL showing ``surface`` (a message ``{"blocks": …}`` or a modal view)."""
    keep = {k: v for k, v in surface.items() if k in ("type", "title", "submit", "close", "blocks")}
    return BUILDER + urllib.parse.quote(json.dumps(keep, ensure_ascii=False, separators=(",", ":")), safe="")


def _text(obj: Any) -> str:
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)  # *bold* → bold
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r":([a-z0-9_+-]+):", lambda m: _EMOJI.get(m.group(1), m.group(0)), text)


_EMOJI = {
    "ballot_box_with_check": "☑",
    "white_check_mark": "✅",
    "no_entry": "⛔",
    "warning": "⚠️",
    "rocket": "🚀",
    "hourglass_flowing_sand": "⏳",
    "outbox_tray": "📤",
    "x": "❌",
    "heavy_minus_sign": "➖",
    "star": "★",
    "paperclip": "📎",
    "floppy_disk": "💾",
    "test_tube": "🧪",
    "repeat": "🔁",
    "wastebasket": "🗑",
}


def _element(el: dict[str, Any]) -> str:
    kind = el.get("type")
    if kind == "button":
        return f"[ {_text(el.get('text'))} ]"
    if kind == "checkboxes":
        ticked = {o.get("value") for o in el.get("initial_options", [])}
        return "  ".join(
            f"[{'x' if o.get('value') in ticked else ' '}] {_text(o.get('text'))}"
            + (f" — {_text(o.get('description'))}" if o.get("description") else "")
            for o in el.get("options", [])
        )
    if kind in ("static_select", "overflow"):
        current = _text((el.get("initial_option") or {}).get("text")) or _text(el.get("placeholder"))
        if kind == "overflow":
            return "[ ⋯ " + " | ".join(_text(o.get("text")) for o in el.get("options", [])) + " ]"
        return f"<{current} ▾>"
    if kind in ("plain_text_input", "email_text_input"):
        value = str(el.get("initial_value", ""))
        return "________" if not value else value.replace("\n", "\n    ")
    if kind == "file_input":
        return "[ Upload files: " + ", ".join(el.get("filetypes", [])) + " ]"
    return f"<{kind}>"


def render(surface: dict[str, Any]) -> str:
    """Blocks (of a message or a modal) as lines of text."""
    lines: list[str] = []
    if surface.get("type") == "modal":
        title = _text(surface.get("title"))
        lines.append(f"┌─ {title} " + "─" * max(0, WIDTH - len(title) - 4))
    for block in surface.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            lines.append(_text(block.get("text")).upper())
        elif kind == "section":
            body = _text(block.get("text"))
            for field in block.get("fields", []):
                body += ("\n" if body else "") + _text(field).replace("\n", ": ", 1)
            if block.get("accessory"):
                body += "   " + _element(block["accessory"])
            lines.append(body)
        elif kind == "context":
            lines.append("  " + "  ".join(_text(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("─" * WIDTH)
        elif kind == "actions":
            lines.append("   ".join(_element(e) for e in block.get("elements", [])))
        elif kind == "input":
            label = _text(block.get("label"))
            lines.append(f"{label}{'' if not block.get('optional') else ' (optional)'}:")
            lines.append("    " + _element(block.get("element", {})))
    if surface.get("type") == "modal":
        buttons = [f"[ {_text(surface[k])} ]" for k in ("close", "submit") if surface.get(k)]
        lines.append("└" + "─" * (WIDTH - 30) + " " + "  ".join(buttons))
    out: list[str] = []
    for line in lines:
        for part in line.split("\n"):
            out.extend(textwrap.wrap(part, WIDTH, subsequent_indent="    ") or [""])
    return "\n".join(out)
