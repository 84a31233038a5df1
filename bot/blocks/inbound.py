"""The DM that brings a partner's reply to its author: who, what they wrote, which files were kept and
which were held back (quarantined) and why."""

from __future__ import annotations

from bot.blocks.common import Block, check_limits, clip, context, escape, header, section
from bot.i18n import Translator
from outreach.inbound import InboundResult
from outreach.models import ReceivedFile

MAX_QUOTE = 2900  # within a section's 3000 characters, with the quote marks
MAX_FILES_SHOWN = 10


def reply_text(text: str) -> str:
    """The partner's words as a mrkdwn quote (escaped: they are not markup)."""
    lines = escape(clip(text.strip(), MAX_QUOTE)).splitlines() or [""]
    return "\n".join(f"> {line}" for line in lines)


def held_reason(held: ReceivedFile, t: Translator) -> str:
    filename = escape(held.attachment.filename)
    if held.quarantine == "infected":
        verdict = held.attachment.verdict
        return t(
            "inbound.held.infected", filename=filename, signature=escape(verdict.signature if verdict else "")
        )
    if held.quarantine == "unscannable":
        return t("inbound.held.unscannable", filename=filename)
    return t("inbound.held.other", filename=filename)


def build_inbound(result: InboundResult, t: Translator) -> list[Block]:
    name, message = result.partner.name or result.partner.mpid, result.message
    files = message.files
    blocks: list[Block] = [
        header(t("inbound.title", name=clip(name, 100))),
        context(
            t("inbound.from", name=escape(name), mpid=escape(result.partner.mpid), when=t.when(message.at))
        ),
        section(reply_text(message.body) if message.body.strip() else t("inbound.no_text")),
    ]
    kept = [escape(f.attachment.filename) for f in files if not f.quarantined]
    held = [f for f in files if f.quarantined]
    if kept:
        shown = ", ".join(kept[:MAX_FILES_SHOWN])
        if len(kept) > MAX_FILES_SHOWN:
            shown += " " + t("compose.and_more", count=len(kept) - MAX_FILES_SHOWN)
        blocks.append(context(t("inbound.kept", files=shown)))
    if held:
        lines = [f"• {held_reason(f, t)}" for f in held[:MAX_FILES_SHOWN]]
        if len(held) > MAX_FILES_SHOWN:
            lines.append(t("compose.and_more", count=len(held) - MAX_FILES_SHOWN))
        blocks.append(section(t("inbound.held_title") + "\n" + "\n".join(lines)))
    return check_limits(blocks)
