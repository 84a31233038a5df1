"""Pure parsing of Slack payloads into plain values: no client, no I/O, easy to test."""

from __future__ import annotations

from dataclasses import dataclass

from outreach.models import PartnerKind

SUBCOMMANDS = ("marketplace", "drafts", "help", "connect-email", "disconnect-email")


@dataclass(frozen=True, slots=True)
class Command:
    """``/prospects`` text, understood. ``name`` is ``search`` for text that is no subcommand."""

    name: str
    text: str = ""
    kind: PartnerKind | None = None


def parse_command(text: str) -> Command:
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
