"""Pure parsing of Slack payloads into plain values: no client, no I/O, easy to test."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot import ids
from bot.blocks.compose import LOCAL, read_confirmation, read_followup_keys, read_metadata
from outreach.compose import DraftFields
from outreach.models import Channel, FollowUp, PartnerKind
from outreach.stats import bad_days, parse_days

SUBCOMMANDS = ("marketplace", "drafts", "templates", "stats", "help", "connect-email", "disconnect-email")


@dataclass(frozen=True, slots=True)
class Command:
    """``/prospects`` text, understood. ``name`` is ``search`` for text that is no subcommand."""

    name: str
    text: str = ""
    kind: PartnerKind | None = None


def unescape(text: str) -> str:
    """Slack's escaping of ``&``, ``<`` and ``>`` in text it sends (a slash command's), undone exactly once
    (https://api.slack.com/reference/surfaces/formatting#escaping; SLACK.md §8.2): ``H&amp;M`` → ``H&M``, and
    ``&amp;lt;`` — a user who typed ``&lt;`` — → ``&lt;``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_command(text: str) -> Command:
    """``/prospects`` text as Slack sends it (escaped), understood."""
    text = unescape(text)
    words = text.strip().split(maxsplit=1)
    if not words:
        return Command("search")
    first, rest = words[0].lower(), words[1] if len(words) > 1 else ""
    if first not in SUBCOMMANDS:
        return Command("search", text.strip())
    if first != "marketplace":
        return Command(first, rest.strip())
    tab = rest.split(maxsplit=1)
    kind = PartnerKind.PARTNER
    if tab and tab[0].lower() in ("partners", "partner", "creators", "creator"):
        kind = PartnerKind.CREATOR if tab[0].lower().startswith("creator") else PartnerKind.PARTNER
        rest = tab[1] if len(tab) > 1 else ""
    return Command("marketplace", rest.strip(), kind)


_DASHES = ("--", "\u2014", "\u2013")  # "--", or what typing it becomes with smart punctuation (— or –)


def stats_days(text: str, default: int) -> int:
    """``/prospects stats`` arguments: nothing (``default``), ``--days N``, ``--days=N`` or ``N``; a user whose
    keyboard turned ``--`` into a dash is understood too. ValidationFailed (field ``days``) for anything else."""
    words = text.replace("=", " ").split()
    if not words:
        return default
    flag = words[0]
    for dash in _DASHES:
        if flag.lower() == dash + "days":
            words = words[1:]
            break
    if len(words) != 1:
        raise bad_days(text.strip())
    return parse_days(words[0])


@dataclass(frozen=True, slots=True)
class ComposeValues:
    """What a compose modal holds when it is submitted (or a button in it is clicked)."""

    sender_name: str = ""
    reply_to: str = ""
    subject: str = ""
    content: str = ""
    uploads: tuple[dict[str, Any], ...] = ()  # Slack file objects from the file_input
    kept_ids: tuple[int, ...] | None = None  # ticked "already attached" files; None when there were none
    followups: tuple[FollowUp, ...] = ()  # the steps, in the form's order
    send_at: datetime | None = None  # the datetimepicker's instant (None: send now)
    send_local: bool = False  # "at that time in each partner's time zone" ticked


def _value(values: dict[str, Any], block: str) -> Any:
    return (values.get(block) or {}).get(ids.ACTION_INPUT) or {}


def _days(raw: Any) -> int:
    """A number_input's value (a string, SLACK.md §1.4); 0 when it is not a whole number."""
    text = raw.strip() if isinstance(raw, str) else ""
    return int(text) if text.isdigit() and len(text) <= 4 else 0


def _instant(raw: Any) -> datetime | None:
    """A datetimepicker's ``selected_date_time``: a UNIX time in seconds, or null when nothing was picked
    (https://docs.slack.dev/reference/block-kit/block-elements/datetime-picker-element; bolt-js
    ``ViewStateValue.selected_date_time?: number | null``)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_compose(state_values: dict[str, Any], followup_keys: tuple[int, ...] = ()) -> ComposeValues:
    """``view.state.values`` → ComposeValues; missing blocks (a message has no subject) read as empty.
    ``followup_keys``: the keys of the follow-up steps the form shows, in order."""

    def text(block: str) -> str:
        raw = _value(state_values, block).get("value")
        return raw if isinstance(raw, str) else ""

    uploads = tuple(
        f for f in _value(state_values, ids.BLOCK_ATTACHMENTS).get("files") or () if isinstance(f, dict)
    )
    kept: tuple[int, ...] | None = None
    if ids.BLOCK_KEPT_FILES in state_values:
        chosen = _value(state_values, ids.BLOCK_KEPT_FILES).get("selected_options") or []
        kept = tuple(int(o["value"]) for o in chosen if str(o.get("value", "")).isdigit())
    followups = tuple(
        FollowUp(
            _days(_value(state_values, ids.followup_block(key, "days")).get("value")),
            text(ids.followup_block(key, "content")),
            text(ids.followup_block(key, "subject")).strip(),
        )
        for key in followup_keys
    )
    local = _value(state_values, ids.BLOCK_SEND_LOCAL).get("selected_options") or []
    return ComposeValues(
        sender_name=text(ids.BLOCK_SENDER_NAME),
        reply_to=text(ids.BLOCK_REPLY_TO).strip(),
        subject=text(ids.BLOCK_SUBJECT),
        content=text(ids.BLOCK_CONTENT),
        uploads=uploads,
        kept_ids=kept,
        followups=followups,
        send_at=_instant(_value(state_values, ids.BLOCK_SEND_AT).get("selected_date_time")),
        send_local=any(isinstance(o, dict) and o.get("value") == LOCAL for o in local),
    )


@dataclass(frozen=True, slots=True)
class ComposeForm:
    """A compose modal as it comes back (submitted, closed, or a button in it clicked): its draft, what it holds,
    and the digest of the warnings it showed (submitting it again sends anyway)."""

    draft_id: int
    channel: Channel
    values: ComposeValues
    confirmed: str = ""
    followup_keys: tuple[int, ...] = ()  # the keys of the follow-up steps it shows, in order
    next_key: int = 1  # the key of the next step added

    def fields(self, zone: str = "UTC") -> DraftFields:
        """What the form holds, to save; ``zone``: the author's time zone (IANA), which "each partner's time
        zone" reads the picked time in."""
        v = self.values
        return DraftFields(
            v.sender_name,
            v.reply_to,
            v.subject,
            v.content,
            v.kept_ids,
            v.followups,
            v.send_at,
            (zone or "UTC") if v.send_local else "",
        )


# Blocks written again under a new block id so that Slack shows what the app puts in them (a template's text, files
# attached meanwhile) rather than what the user's client kept (bot/blocks/compose.py, ``filled_block``).
FILLED = (ids.BLOCK_SUBJECT, ids.BLOCK_CONTENT, ids.BLOCK_KEPT_FILES, ids.BLOCK_ATTACHMENTS)


def filled_values(state_values: dict[str, Any]) -> dict[str, Any]:
    """``state.values`` with the blocks a template filled (``subject~2``) under their plain ids."""
    return {ids.base_of(k) if ids.base_of(k) in FILLED else k: v for k, v in state_values.items()}


def render_key(view: dict[str, Any], base: str) -> int:
    """The render key the block ``base`` has in this form (``content~2`` → 2; 0 when it has none)."""
    for block in view.get("blocks", []):
        block_id = str(block.get("block_id", ""))
        if ids.base_of(block_id) == base:
            key = ids.render_of(block_id)
            return int(key) if key.isdigit() else 0
    return 0


def fill_of(view: dict[str, Any]) -> int:
    """How many times a template filled this form (the render key of its content block)."""
    return render_key(view, ids.BLOCK_CONTENT)


def files_key_of(view: dict[str, Any]) -> int:
    """How many times this form's uploads were attached before a send (the render key of its upload box)."""
    return render_key(view, ids.BLOCK_ATTACHMENTS)


def parse_compose_form(view: dict[str, Any]) -> ComposeForm | None:
    """A compose view → ComposeForm; None when its private_metadata names no draft."""
    raw = view.get("private_metadata", "")
    meta = read_metadata(raw)
    if meta is None:
        return None
    keys, next_key = read_followup_keys(raw)
    values = parse_compose(filled_values(view.get("state", {}).get("values", {})), keys)
    return ComposeForm(meta[0], meta[1], values, read_confirmation(raw), keys, next_key)


# Slack's markup in a message's text (https://api.slack.com/reference/surfaces/formatting#retrieving-messages):
# links ``<https://x|label>``, ``<mailto:a@b|a@b>``, mentions ``<@U123>``/``<@U123|name>``, channels
# ``<#C123|name>``, special mentions ``<!here>``, user groups ``<!subteam^S123|@team>``. Real ``<`` and ``>`` a user
# typed arrive escaped (``&lt;``), so a bracket here is always markup.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_REPLY_SUBTYPES = (
    None,
    "file_share",
    "thread_broadcast",
)  # a person's message: plain, with files, or broadcast


def plain_text(text: str) -> str:
    """A message's text as its writer meant it, for a partner: links as their address (or ``label (address)``),
    mentions as ``@name``, Slack's escaping of ``&``, ``<`` and ``>`` undone once."""

    def one(match: re.Match[str]) -> str:
        target, label = match[1], match[2]
        if target.startswith("mailto:"):
            return label or target.removeprefix("mailto:")
        if target.startswith(("@", "#")):
            return target[0] + (label.lstrip("@#") if label else target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        if label and label not in (target, target.split("://", 1)[-1]):
            return f"{label} ({target})"
        return target

    return unescape(_MARKUP.sub(one, text))


@dataclass(frozen=True, slots=True)
class DmMessage:
    """A person's message in their DM with the app (``message.im``), as a reply needs it."""

    team_id: str
    user: str
    channel: str
    ts: str
    thread_ts: str  # "" for a message outside any thread
    text: str  # plain_text() of what Slack sent
    files: tuple[dict[str, Any], ...] = ()  # Slack's file objects

    @property
    def in_thread(self) -> bool:
        return bool(self.thread_ts) and self.thread_ts != self.ts


def parse_dm_message(body: dict[str, Any], event: dict[str, Any]) -> DmMessage | None:
    """A ``message.im`` event as a person's message; None for anything else: the app's own messages (or any
    bot's), edits, deletions, joins and every other subtype (https://api.slack.com/events/message#subtypes)."""
    if event.get("type") != "message" or event.get("channel_type") != "im":
        return None
    if event.get("subtype") not in _REPLY_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (isinstance(user, str) and user and isinstance(channel, str) and isinstance(ts, str)):
        return None
    files = tuple(f for f in event.get("files") or () if isinstance(f, dict))
    return DmMessage(
        team_id=str(body.get("team_id") or event.get("team") or ""),
        user=user,
        channel=channel,
        ts=ts,
        thread_ts=str(event.get("thread_ts") or ""),
        text=plain_text(str(event.get("text") or "")),
        files=files,
    )


@dataclass(frozen=True, slots=True)
class TemplateValues:
    """What the template form holds when it is submitted."""

    name: str = ""
    subject: str = ""
    content: str = ""
    file_ids: tuple[int, ...] = ()
    uploads: tuple[dict[str, Any], ...] = ()  # new files (editing a template): Slack file objects


def parse_template_form(view: dict[str, Any]) -> TemplateValues:
    values = view.get("state", {}).get("values", {})

    def text(block: str) -> str:
        raw = _value(values, block).get("value")
        return raw if isinstance(raw, str) else ""

    chosen = _value(values, ids.BLOCK_TEMPLATE_FILES).get("selected_options") or []
    return TemplateValues(
        name=text(ids.BLOCK_TEMPLATE_NAME),
        subject=text(ids.BLOCK_TEMPLATE_SUBJECT),
        content=text(ids.BLOCK_TEMPLATE_CONTENT),
        file_ids=tuple(int(o["value"]) for o in chosen if str(o.get("value", "")).isdigit()),
        uploads=tuple(
            f for f in _value(values, ids.BLOCK_TEMPLATE_UPLOAD).get("files") or () if isinstance(f, dict)
        ),
    )
