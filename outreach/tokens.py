"""Parse, check and render the ``{tokens}`` of a message: user text is data, never a template.

The tokens, exactly and case-sensitive::

    {mpid} {mpname} {firstName} {lastName}        the recipient
    {currentDay}        January 19, 2038         the send time, in UTC, English month names
    {currentTime}       19-Jan-2038 03:14:08 UTC
    {currentMonthYear}  January, 2038
    {adcode_<adid>}     the ad's listing with the recipient's tracking link

How braces are read (the same rules for :meth:`Template.parse` and :func:`check`):

* ``{name}`` where ``name`` is a word (a letter, then letters, digits, ``_`` or ``-``) is a token. A known
  token is rendered; ``{adcode_<adid>}`` needs the adid to exist (``unknown_adid``); any other word is an
  ``unknown_token`` (with the closest valid token as a suggestion when there is one) and stays as written.
* A word that is, or is very close to, a token name (``firstName``, ``FirstName``, ``first_name``,
  ``firstNam``, ``adcode…``) written in any other brace form is a ``broken_token``: ``{firstName`` (no closing
  brace), ``firstName}`` (no opening brace), ``{ firstName }`` (spaces inside), ``{{firstName}}`` or
  ``{{ firstName }}`` (doubled braces), ``${firstName}`` (a ``$`` in front). It stays as written.
* Everything else is text, left exactly as written and never an error: ``{ }``, ``{}``, ``{{``, ``}}``,
  JSON such as ``{"a": 1}``, ``${x}``, ``{{ 7*7 }}``, ``{% if %}``, ``{10% off}``, ``{{ user }}``.

Problems are grouped: one per (kind, text as written), naming every line it occurs on. ``params`` carry
``token`` (as written), ``suggestion``, ``adid``, ``position`` (offset of the first occurrence), ``line``,
``lines`` and ``count``; empty ones are left out.

Rendering (:func:`render_text`, :func:`render_html`) is a join of the parsed pieces. An empty value, or an
adcode whose ad is not in the :class:`RenderContext`, renders as empty text (check first). In HTML, literal
text and values are escaped with line breaks as ``<br>``; an adcode is our own markup: a link for a text
link (its link text, else its name), a linked ``<img>`` for a banner. In plain text an adcode is
``<ad name>: <tracking link>``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from markupsafe import Markup, escape

from outreach.errors import Problem
from outreach.models import Ad, AdType, Recipient

__all__ = [
    "DEFAULT_TRACKING_LINK_TEMPLATE",
    "RECIPIENT_TOKENS",
    "TIME_TOKENS",
    "TOKEN_NAMES",
    "MissingValues",
    "RenderContext",
    "Template",
    "check",
    "render_html",
    "render_text",
    "tracking_link",
]

RECIPIENT_TOKENS: tuple[str, ...] = ("mpid", "mpname", "firstName", "lastName")
TIME_TOKENS: tuple[str, ...] = ("currentDay", "currentTime", "currentMonthYear")
TOKEN_NAMES: tuple[str, ...] = (*RECIPIENT_TOKENS, *TIME_TOKENS)
ADCODE_PREFIX = "adcode_"
DEFAULT_TRACKING_LINK_TEMPLATE = "https://track.example.com/c/{mpid}/{adid}/{program_id}"

_KNOWN = frozenset(TOKEN_NAMES)
_NAME = r"[A-Za-z][A-Za-z0-9_-]*+"
# Either a word with at least an opening brace (and maybe a ``$``, spaces, closing braces), or a bare word
# followed by closing braces. Anything the pattern does not match is literal text. A run of braces is only
# tried from its first brace and quantifiers are possessive, so scanning stays linear on any input.
_CANDIDATE = re.compile(
    rf"(?P<dollar>\$?)(?<!\{{)(?P<open>\{{++)(?P<lsp>[ \t]*+)"
    rf"(?P<name>{_NAME})(?P<rsp>[ \t]*+)(?P<close>\}}*+)"
    rf"|(?<![A-Za-z0-9_{{-])(?P<bare>{_NAME})(?P<brsp>[ \t]*+)(?P<bclose>\}}++)"
)
_EXACT_ADCODE = re.compile(rf"{ADCODE_PREFIX}(?P<adid>[A-Za-z0-9_-]+)")
_HTML_SPECIAL = re.compile(r"[&<>\"'\r\n]")
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------- scanning


@dataclass(frozen=True, slots=True)
class _Found:
    """One brace construct found in the text; ``kind`` is token, adcode, unknown or broken."""

    kind: str
    start: int
    end: int
    written: str
    name: str = ""
    suggestion: str = ""
    reason: str = ""


def _normalize(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


_NORMALIZED = {_normalize(n): n for n in TOKEN_NAMES}


def _closest(name: str, cutoff: float) -> str:
    """The valid token name closest to ``name`` ('' if none is close): case and ``_``/``-`` first."""
    norm = _normalize(name)
    if norm.startswith("adcode") and len(norm) > len("adcode"):
        rest = name[len("adcode") :].lstrip("_-")
        return ADCODE_PREFIX + rest if rest else ""
    if norm in _NORMALIZED:
        return _NORMALIZED[norm]
    match = difflib.get_close_matches(norm, list(_NORMALIZED), n=1, cutoff=cutoff)
    return _NORMALIZED[match[0]] if match else ""


def _broken_reason(m: re.Match[str]) -> str:
    if m["bare"] is not None:
        return "the opening brace is missing"
    if m["dollar"]:
        return "tokens have no $ in front"
    if len(m["open"]) > 1 or len(m["close"]) > 1:
        return "tokens use single braces"
    if not m["close"]:
        return "the closing brace is missing"
    return "there are spaces inside the braces"


def _classify(m: re.Match[str]) -> _Found | None:
    start, end, written = m.start(), m.end(), m.group()
    exact = m["bare"] is None and not (m["dollar"] or m["lsp"] or m["rsp"]) and m["open"] == "{"
    exact = exact and m["close"] == "}"
    name = m["name"] if m["bare"] is None else m["bare"]
    if exact:
        if name in _KNOWN:
            return _Found("token", start, end, written, name)
        if _EXACT_ADCODE.fullmatch(name):
            return _Found("adcode", start, end, written, name)
        return _Found("unknown", start, end, written, name, _closest(name, 0.6))
    exact_name = name if name in _KNOWN or _EXACT_ADCODE.fullmatch(name) else ""
    suggestion = exact_name or _closest(name, 0.85)
    if not suggestion:
        return None
    return _Found("broken", start, end, written, name, suggestion, _broken_reason(m))


def _scan(text: str) -> list[_Found]:
    return [f for f in map(_classify, _CANDIDATE.finditer(text)) if f is not None]


# ---------------------------------------------------------------------------------------------- template


def _html_literal(text: str) -> str:
    """Plain user text as HTML: escaped, line breaks kept as ``<br>``."""
    return str(escape(text.replace("\r\n", "\n"))).replace("\n", "<br>\n")


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed text: ``literals[i]`` comes before ``slots[i]``; one more literal than slots.

    Only known tokens and well-formed ``{adcode_<adid>}`` become slots; everything else is literal text.
    ``html_literals`` are the literals escaped for HTML; ``adids`` the distinct adids used, in order.
    """

    text: str
    literals: tuple[str, ...]
    slots: tuple[str, ...]
    html_literals: tuple[str, ...] = field(repr=False, compare=False)
    adids: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Template:
        literals: list[str] = []
        slots: list[str] = []
        pos = 0
        for found in _scan(text):
            if found.kind in ("token", "adcode"):
                literals.append(text[pos : found.start])
                slots.append(found.name)
                pos = found.end
        literals.append(text[pos:])
        adids = tuple(dict.fromkeys(s[len(ADCODE_PREFIX) :] for s in slots if s.startswith(ADCODE_PREFIX)))
        return cls(text, tuple(literals), tuple(slots), tuple(map(_html_literal, literals)), adids)

    @property
    def tokens(self) -> frozenset[str]:
        """The token names used (``firstName``, ``adcode_12`` …)."""
        return frozenset(self.slots)

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------- checking


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _lines_phrase(lines: Sequence[int]) -> str:
    if len(lines) == 1:
        return f"on line {lines[0]}"
    return "on lines " + ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"


def _problem(text: str, field_name: str, group: list[_Found]) -> Problem:
    first = group[0]
    lines = sorted({_line(text, f.start) for f in group})
    where = _lines_phrase(lines)
    sugg = "{" + first.suggestion + "}" if first.suggestion else ""
    adid = ""
    if first.kind == "unknown":
        code = "unknown_token"
        valid = ", ".join("{" + n + "}" for n in (*TOKEN_NAMES, ADCODE_PREFIX + "<adid>"))
        hint = f"did you mean {sugg}?" if sugg else f"valid tokens are {valid}."
        message = f"Unknown token {first.written} {where} — {hint}"
    elif first.kind == "adcode":
        code = "unknown_adid"
        adid = first.name[len(ADCODE_PREFIX) :]
        message = f"Unknown ad {first.written} {where} — there is no ad {adid} in this workspace."
    else:
        code = "broken_token"
        message = f"Broken token {first.written} {where} — {first.reason}: write {sugg}."
    params = {
        "token": first.written,
        "suggestion": sugg,
        "adid": adid,
        "position": str(first.start),
        "line": str(lines[0]),
        "lines": ",".join(map(str, lines)),
        "count": str(len(group)),
    }
    return Problem(field_name, code, message, tuple((k, v) for k, v in params.items() if v))


def check(text: str, known_adids: Set[str], *, field: str = "content") -> list[Problem]:
    """Every token problem in ``text`` at once, in order of first appearance (see the module docstring)."""
    groups: dict[tuple[str, str], list[_Found]] = {}
    for found in _scan(text):
        if found.kind == "token":
            continue
        if found.kind == "adcode" and found.name[len(ADCODE_PREFIX) :] in known_adids:
            continue
        groups.setdefault((found.kind, found.written), []).append(found)
    return [_problem(text, field, group) for group in groups.values()]


_RECIPIENT_ATTRIBUTES = {
    "mpid": "mpid",
    "mpname": "mpname",
    "firstName": "first_name",
    "lastName": "last_name",
}


def _recipient_values(recipient: Recipient) -> dict[str, str]:
    return {
        "mpid": recipient.mpid,
        "mpname": recipient.mpname,
        "firstName": recipient.first_name,
        "lastName": recipient.last_name,
    }


class MissingValues:
    """Tallies, one recipient at a time, the recipient tokens of a template that are empty for some of them
    (a send may have 100,000 recipients: only counts, the first few names and a digest of the mpids are kept).
    """

    SHOWN = 5

    def __init__(self, template: Template, *, field: str = "content") -> None:
        self._field = field
        self._tokens = tuple(dict.fromkeys(s for s in template.slots if s in RECIPIENT_TOKENS))
        self._empty = {token: 0 for token in self._tokens}
        self._names: dict[str, list[str]] = {token: [] for token in self._tokens}
        self._mpids: dict[str, list[str]] = {token: [] for token in self._tokens}
        self._digests = {token: hashlib.sha256() for token in self._tokens}
        self.total = 0

    def add(self, recipient: Recipient) -> None:
        self.total += 1
        if not self._tokens:
            return
        for token in self._tokens:
            if getattr(recipient, _RECIPIENT_ATTRIBUTES[token]).strip():
                continue
            self._empty[token] += 1
            self._digests[token].update(recipient.mpid.encode() + b"\0")
            if len(self._names[token]) < self.SHOWN:
                self._names[token].append(f"{recipient.mpname or recipient.mpid} ({recipient.mpid})")
                self._mpids[token].append(recipient.mpid)

    def problems(self) -> list[Problem]:
        """One ``missing_value`` problem per recipient token that is empty for some recipients, in text order.

        ``params``: token, count, total, names (``mpname (mpid)`` of the first five, then ``… +N``), mpids
        (the first five) and key (a digest of all of their mpids: the same recipients give the same key).
        """
        found: list[Problem] = []
        for token in self._tokens:
            count = self._empty[token]
            if not count:
                continue
            names = self._names[token]
            more = count - len(names)
            shown = ", ".join(names) + (f" and {more} more" if more else "")
            message = (
                f"{{{token}}} is empty for {count} of {self.total} recipients: {shown}"
                " — sent as is, it will be left blank for them."
            )
            params = (
                ("token", "{" + token + "}"),
                ("count", str(count)),
                ("total", str(self.total)),
                ("mpids", ",".join(self._mpids[token])),
                ("names", "; ".join(names) + (f"; … +{more}" if more else "")),
                ("key", self._digests[token].hexdigest()[:16]),
            )
            found.append(Problem(self._field, "missing_value", message, params))
        return found


# ---------------------------------------------------------------------------------------------- rendering


def _time_values(now: datetime) -> dict[str, str]:
    month = _MONTHS[now.month - 1]
    return {
        "currentDay": f"{month} {now.day}, {now.year}",
        "currentTime": f"{now.day:02d}-{month[:3]}-{now.year} {now:%H:%M:%S} UTC",
        "currentMonthYear": f"{month}, {now.year}",
    }


@dataclass(frozen=True, slots=True)
class _AdParts:
    """An ad's rendering with only the recipient's mpid left to fill in (computed once per context)."""

    link: str  # the tracking link template with adid and program id filled in
    text_prefix: str
    html_prefix: str
    html_suffix: str


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What rendering needs besides the recipient: the workspace's ads, the tracking link shape, the time.

    ``now`` comes from the injected clock (converted to UTC). Make one per send, share it across recipients.
    """

    now: datetime
    ads: Mapping[str, Ad] = field(default_factory=dict)
    tracking_link_template: str = DEFAULT_TRACKING_LINK_TEMPLATE
    program_id: str = ""
    _times: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _ad_parts: dict[str, _AdParts | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("RenderContext needs a timezone-aware datetime")
        object.__setattr__(self, "now", self.now.astimezone(UTC))
        object.__setattr__(self, "_times", _time_values(self.now))
        object.__setattr__(self, "_ad_parts", {})

    @property
    def times(self) -> Mapping[str, str]:
        """The time tokens' values."""
        return self._times

    def ad_parts(self, adid: str) -> _AdParts | None:
        parts = self._ad_parts.get(adid)
        if parts is None and adid not in self._ad_parts:
            ad = self.ads.get(adid)
            parts = None if ad is None else _ad_parts(ad, self.tracking_link_template, self.program_id)
            self._ad_parts[adid] = parts  # a race only computes the same value twice
        return parts


def _fill(link_template: str, **values: str) -> str:
    for key, value in values.items():
        link_template = link_template.replace("{" + key + "}", quote(value, safe=""))
    return link_template


def tracking_link(ctx: RenderContext, mpid: str, adid: str) -> str:
    """The tracking link template with ``{mpid}``, ``{adid}`` and ``{program_id}`` filled in, URL-quoted."""
    return _fill(ctx.tracking_link_template, adid=adid, program_id=ctx.program_id, mpid=mpid)


def _is_web_url(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def _ad_parts(ad: Ad, link_template: str, program_id: str) -> _AdParts:
    # Quoted values contain no braces, so filling adid and program id first leaves only {mpid} to fill.
    link = _fill(link_template, adid=ad.adid, program_id=program_id)
    if ad.ad_type is AdType.BANNER and _is_web_url(ad.creative):
        size = "".join(f' {k}="{v}"' for k, v in (("width", ad.width), ("height", ad.height)) if v)
        suffix = (
            f'"><img src="{escape(ad.creative)}" alt="{escape(ad.name)}"{size}'
            ' style="border:0;display:block;max-width:100%;height:auto"></a>'
        )
    else:
        label = ad.creative if ad.ad_type is AdType.TEXT_LINK and ad.creative else ad.name
        suffix = f'">{escape(label)}</a>'
    return _AdParts(link, f"{ad.name}: ", '<a href="', suffix)


def _html_value(value: str) -> str:
    """Like :func:`_html_literal`, with a fast path for the usual value that needs no escaping."""
    return _html_literal(value) if _HTML_SPECIAL.search(value) else value


def _url_value(value: str) -> str:
    return value if _URL_SAFE.fullmatch(value) else quote(value, safe="")


def _values(template: Template, recipient: Recipient, ctx: RenderContext, html: bool) -> dict[str, str]:
    if html:
        values = {
            "mpid": _html_value(recipient.mpid),
            "mpname": _html_value(recipient.mpname),
            "firstName": _html_value(recipient.first_name),
            "lastName": _html_value(recipient.last_name),
        }
    else:
        values = _recipient_values(recipient)
    values.update(ctx.times)
    for adid in template.adids:
        parts = ctx.ad_parts(adid)
        if parts is None:
            value = ""  # an unknown ad: check() reports it before anything is sent
        else:
            link = parts.link.replace("{mpid}", _url_value(recipient.mpid))
            value = (
                parts.html_prefix + _html_value(link) + parts.html_suffix
                if html
                else parts.text_prefix + link
            )
        values[ADCODE_PREFIX + adid] = value
    return values


def _join(literals: tuple[str, ...], slots: tuple[str, ...], values: Mapping[str, str]) -> str:
    parts = [literals[0]]
    for slot, literal in zip(slots, literals[1:], strict=False):
        parts.append(values[slot])
        parts.append(literal)
    return "".join(parts)


def render_text(template: Template, recipient: Recipient, ctx: RenderContext) -> str:
    """The plain-text rendering; an empty value or an unknown ad renders as empty text."""
    if not template.slots:
        return template.text
    return _join(template.literals, template.slots, _values(template, recipient, ctx, html=False))


def render_html(template: Template, recipient: Recipient, ctx: RenderContext) -> Markup:
    """The HTML rendering: literal text and values escaped (newlines become ``<br>``), adcodes as markup."""
    values = _values(template, recipient, ctx, html=True) if template.slots else {}
    return Markup(_join(template.html_literals, template.slots, values))  # noqa: S704 - every part escaped
