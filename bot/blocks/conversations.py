"""A conversation with a partner in its author's DM: the thread's parent (with whom, how a reply goes), each event
as a reply in the thread (the partner's words, a bounce, an unsubscribe, a follow-up), and what a reply written
there came to (sending, refused and why, not allowed)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.common import Block, check_limits, clip, context, escape, header, section
from bot.i18n import Translator
from bot.problems import describe
from outreach.conversations import ConversationHeader
from outreach.errors import Problem
from outreach.models import Channel, ConversationEvent, EventKind

MAX_QUOTE = 2900  # within a section's 3000 characters, with the quote marks
MAX_FILES_SHOWN = 10
HELD_CODES = ("infected", "unscannable")


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """Someone's words as a mrkdwn quote (escaped: they are not markup)."""
    lines = escape(clip(text.strip(), limit)).splitlines() or [""]
    return "\n".join(f"> {line}" for line in lines)


def held_line(name: str, why: str, t: Translator) -> str:
    """One file held back: ``why`` is a problem code (``infected: <signature>`` for a virus), or a reason."""
    filename = escape(name)
    code, _, detail = why.partition(":")
    if code == "infected":
        return t("inbound.held.infected", filename=filename, signature=escape(detail.strip()))
    if code == "unscannable":
        return t("inbound.held.unscannable", filename=filename)
    return t("inbound.held.other", filename=filename)


def build_parent(about: ConversationHeader, t: Translator) -> tuple[str, list[Block]]:
    """The thread's parent: (fallback text, blocks)."""
    name = escape(about.name)
    if about.channel is Channel.EMAIL:
        line = t("conversation.about.email", email=escape(about.email or "—"))
        if about.subject:
            line += "\n" + t("conversation.about.subject", subject=escape(clip(about.subject, 200)))
    else:
        line = t("conversation.about.message", mpid=escape(about.mpid))
    if about.replies_by is Channel.MESSAGE:
        hint = t("conversation.hint.message", name=name)
    elif about.replies_by is Channel.EMAIL:
        hint = t("conversation.hint.email", name=name, email=escape(about.email))
    else:
        hint = t("conversation.hint.none", name=name)
    title = t("conversation.title", name=clip(about.name, 100))
    return title, check_limits([header(title), section(line), context(hint)])


def build_event(event: ConversationEvent, partner: str, t: Translator) -> tuple[str, list[Block]]:
    """An event as a reply in the thread: (fallback text, blocks). ``partner``: the partner's name."""
    name, when = escape(partner), t.when(event.at)
    if event.kind is EventKind.REPLY:
        return _reply(event, partner, t)
    if event.kind is EventKind.BOUNCE:
        # A DSN's status comes first in ``detail`` (outreach/mail_inbound.py): 4.x.x is a delay, the rest a bounce.
        key = "conversation.delayed" if event.detail.startswith("4.") else "conversation.bounce"
        text = t(key, name=name, detail=escape(clip(event.detail or "—", 300)))
        blocks = [section(text), context(when)]
        if event.text.strip():
            blocks.insert(1, section(quote(event.text, 1500)))
        return t("conversation.bounce_notice", name=partner), check_limits(blocks)
    if event.kind is EventKind.UNSUBSCRIBED:
        address = escape(event.detail or event.text or "—")
        text = t("conversation.unsubscribed", name=name, email=address)
        return text, check_limits([section(text), context(when)])
    if event.kind is EventKind.FOLLOWUP_SENT:
        text = t("conversation.followup_sent", name=name)
        blocks = [section(text), context(when)]
        if event.text.strip():
            blocks.insert(1, section(quote(event.text)))
        return text, check_limits(blocks)
    # A skipped step's ``detail`` is the catalog key of its reason (outreach/followups.py REASONS).
    reason = (
        t(event.detail)
        if event.detail.startswith("compose.skip.")
        else escape(clip(event.detail or "—", 500))
    )
    text = t("conversation.followup_skipped", name=name, reason=reason)
    return text, check_limits([section(text), context(when)])


def _reply(event: ConversationEvent, partner: str, t: Translator) -> tuple[str, list[Block]]:
    blocks: list[Block] = [
        section(t("conversation.replied", name=escape(partner))),
        section(quote(event.text) if event.text.strip() else t("inbound.no_text")),
    ]
    notes = [t.when(event.at)]
    if event.files:
        notes.append(t("conversation.files_below", count=len(event.files)))
    blocks.append(context(*notes))
    if event.held:
        lines = [f"• {held_line(name, why, t)}" for name, why in event.held[:MAX_FILES_SHOWN]]
        if len(event.held) > MAX_FILES_SHOWN:
            lines.append(t("compose.and_more", count=len(event.held) - MAX_FILES_SHOWN))
        blocks.append(section(t("inbound.held_title") + "\n" + "\n".join(lines)))
    return t("inbound.notice", name=partner), check_limits(blocks)


def build_reply_sending(partner: str, channel: Channel, t: Translator) -> tuple[str, list[Block]]:
    """A reply written in the thread is on its way (this message then shows its progress and result)."""
    key = (
        "conversation.reply.sending_email"
        if channel is Channel.EMAIL
        else "conversation.reply.sending_message"
    )
    text = t(key, name=escape(partner))
    return text, check_limits([section(text)])


def build_reply_refused(
    partner: str, problems: Sequence[Problem], not_fetched: Sequence[tuple[str, str]], t: Translator
) -> tuple[str, list[Block]]:
    """The reply was not sent, and why: each problem, each file that could not be fetched (name, catalog key)."""
    lines = [f"• {escape(name)} {t(reason)}" for name, reason in not_fetched]
    lines += [f"• {escape(describe(p, t))}" for p in problems]
    shown = lines[: MAX_FILES_SHOWN * 2]
    if len(lines) > len(shown):
        shown.append(t("compose.and_more", count=len(lines) - len(shown)))
    title = t("conversation.reply.refused", name=escape(partner))
    return title, check_limits([section(title + "\n" + "\n".join(shown))])


def build_reply_not_allowed(t: Translator) -> tuple[str, list[Block]]:
    text = t("conversation.reply.not_allowed")
    return text, check_limits([section(text)])


def build_hint(t: Translator) -> tuple[str, list[Block]]:
    """A message written in the DM outside a conversation's thread: it goes nowhere; how to answer a partner."""
    text = t("conversation.hint.outside")
    return text, check_limits([context(text)])
