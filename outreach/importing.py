"""Import partners and ads from CSV or JSON Lines into a workspace, upserting by mpid / adid.

Files
    CSV, UTF-8 with or without a BOM, comma- or semicolon-separated (judged from the header line), with a
    header row; quoted fields may span lines. JSON Lines (``.jsonl``/``.ndjson``, or any file whose first
    character is ``{``): one object per line with the same keys; lists are accepted for ``categories``.
    Column names are case-insensitive; spaces and hyphens count as underscores; unknown columns are ignored.

Partner columns
    ``mpid`` (required), ``mpname`` (required, the company), ``email`` and ``kind`` (required columns, the
    values may be empty: no address / ``partner``), ``first_name``, ``last_name``, ``messaging_enabled``,
    ``prospect`` (true/false, yes/no, 1/0, empty = false; true marks the partner as a prospect, false leaves
    an existing mark alone), ``country`` (two-letter ISO code), ``website``, ``categories`` (separated by
    ``;`` or ``|``), ``description``, ``timezone`` (an IANA time zone name such as ``Asia/Tokyo``, matched
    without regard to case; "send later at HH:MM in each partner's time zone" uses it).

Ad columns
    ``adid``, ``name``, ``ad_type`` (``text-link`` or ``banner``), ``landing_url`` (http/https) are required;
    ``creative``: for a text link the link text (the ad's name when empty); for a banner the image URL,
    optionally followed by its size, e.g. ``https://cdn.example.com/b.png 300x250``.

A row that cannot be used (missing or malformed value, unknown kind, duplicate key in the same file, wrong
field count, broken quoting, invalid JSON) is reported with its line number and reason; every other row is
kept. A file that cannot be read at all, or whose header lacks required columns, raises ImportFailed.
Rows are written through the unit of work in batches, one transaction per batch. Running the same file
twice changes nothing.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar
from urllib.parse import urlsplit

from email_validator import EmailNotValidError

from outreach.clock import SystemClock
from outreach.errors import ImportFailed
from outreach.models import Ad, AdType, AuditEvent, Partner, PartnerKind, UpsertCounts
from outreach.ports import Clock, UnitOfWork
from outreach.validation import control_characters, normalise_email_address

PARTNER_REQUIRED = ("mpid", "mpname", "email", "kind")
PARTNER_OPTIONAL = (
    "first_name",
    "last_name",
    "messaging_enabled",
    "prospect",
    "country",
    "website",
    "categories",
    "description",
    "timezone",
)
AD_REQUIRED = ("adid", "name", "ad_type", "landing_url")
AD_OPTIONAL = ("creative",)
BATCH_SIZE = 1000
MAX_RECORD_LINES = 50  # a quoted field open for longer than this is a broken quote, not a long description
SNIFF_BYTES = 64 * 1024
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f", ""}
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$", re.IGNORECASE)
_SURROGATE = re.compile("[\udc80-\udcff]")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: tuple[RowError, ...] = ()

    @property
    def complete(self) -> bool:
        """Every row went in."""
        return not self.rejected


class RowInvalid(ValueError):
    """A row that cannot be imported; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    values: dict[str, str]
    lines: int = 1  # physical lines it spans (for progress)


@dataclass(frozen=True, slots=True)
class _Spec(Generic[T]):
    what: str
    key: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    parse: Callable[[str, dict[str, str]], tuple[T, bool]]


# --- use cases -----------------------------------------------------------------------------------------


def import_partners(
    source: Path | bytes,
    team_id: str,
    uow_factory: Callable[[], UnitOfWork],
    *,
    filename: str = "",
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    clock: Clock | None = None,
) -> ImportReport:
    spec = _Spec("partners", "mpid", PARTNER_REQUIRED, PARTNER_OPTIONAL, parse_partner)

    def write(uow: UnitOfWork, batch: list[tuple[Partner, bool]]) -> UpsertCounts:
        marks = {partner.mpid for partner, prospect in batch if prospect}
        partners = [partner for partner, _ in batch]
        return uow.partners.upsert_many(team_id, partners, mark_prospects=marks, marked_by=actor)

    return _run(
        spec,
        source,
        filename=filename,
        team_id=team_id,
        uow_factory=uow_factory,
        write=write,
        actor=actor,
        progress=progress,
        batch_size=batch_size,
        clock=clock,
    )


def import_ads(
    source: Path | bytes,
    team_id: str,
    uow_factory: Callable[[], UnitOfWork],
    *,
    filename: str = "",
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    clock: Clock | None = None,
) -> ImportReport:
    spec = _Spec("ads", "adid", AD_REQUIRED, AD_OPTIONAL, parse_ad)

    def write(uow: UnitOfWork, batch: list[tuple[Ad, bool]]) -> UpsertCounts:
        return uow.ads.upsert_many(team_id, [ad for ad, _ in batch])

    return _run(
        spec,
        source,
        filename=filename,
        team_id=team_id,
        uow_factory=uow_factory,
        write=write,
        actor=actor,
        progress=progress,
        batch_size=batch_size,
        clock=clock,
    )


def _run(
    spec: _Spec[T],
    source: Path | bytes,
    *,
    filename: str,
    team_id: str,
    uow_factory: Callable[[], UnitOfWork],
    write: Callable[[UnitOfWork, list[tuple[T, bool]]], UpsertCounts],
    actor: str,
    progress: Callable[[int], None] | None,
    batch_size: int,
    clock: Clock | None,
) -> ImportReport:
    counts = UpsertCounts()
    rejected: list[RowError] = []
    seen: dict[str, int] = {}
    batch: list[tuple[T, bool]] = []

    def flush() -> None:
        nonlocal counts
        if batch:
            with uow_factory() as uow:
                counts += write(uow, batch)
                uow.commit()
            batch.clear()

    with _open(source) as stream:
        for item in read_records(stream, filename or _name(source), spec.required, spec.optional):
            if progress is not None:
                progress(item.lines if isinstance(item, Record) else 1)
            if isinstance(item, RowError):
                rejected.append(item)
                continue
            try:
                entity = spec.parse(team_id, item.values)
            except RowInvalid as exc:
                rejected.append(RowError(item.line, str(exc)))
                continue
            key = item.values[spec.key]
            if key in seen:
                rejected.append(
                    RowError(item.line, f"duplicate {spec.key} {key!r} (first on line {seen[key]})")
                )
                continue
            seen[key] = item.line
            batch.append(entity)
            if len(batch) >= batch_size:
                flush()
        flush()
    report = ImportReport(counts.inserted, counts.updated, counts.unchanged, tuple(rejected))
    _audit(
        uow_factory, team_id=team_id, actor=actor, what=spec.what, report=report, clock=clock or SystemClock()
    )
    return report


def _audit(
    uow_factory: Callable[[], UnitOfWork],
    *,
    team_id: str,
    actor: str,
    what: str,
    report: ImportReport,
    clock: Clock,
) -> None:
    detail = (
        f"inserted={report.inserted} updated={report.updated} "
        f"unchanged={report.unchanged} rejected={len(report.rejected)}"
    )
    with uow_factory() as uow:
        uow.audit.record(AuditEvent(team_id, actor, f"import.{what}", at=clock.now(), detail=detail))
        uow.commit()


# --- reading files -------------------------------------------------------------------------------------


def _name(source: Path | bytes) -> str:
    return source.name if isinstance(source, Path) else ""


def _open(source: Path | bytes) -> TextIO:
    try:
        raw = open(source, "rb") if isinstance(source, Path) else io.BytesIO(source)  # noqa: SIM115
    except OSError as exc:
        raise ImportFailed(f"cannot open {_name(source)}: {exc.strerror or exc}") from exc
    head = raw.read(SNIFF_BYTES)
    raw.seek(0)
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            raw.close()
            raise ImportFailed("the file is not UTF-8 text (save it as “CSV UTF-8” or JSON Lines)") from exc
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_records(
    stream: TextIO, filename: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[Record | RowError]:
    """Records of a CSV or JSON Lines stream, each with its first line number, or the error of a bad row."""
    first = stream.read(1)
    while first and first.isspace():
        first = stream.read(1)
    if not first:
        raise ImportFailed("the file is empty")
    stream.seek(0)
    suffix = Path(filename).suffix.lower()
    if suffix in (".jsonl", ".ndjson") or (suffix not in (".csv", ".txt") and first == "{"):
        return _jsonl_records(stream, required, optional)
    return _csv_records(stream, required, optional)


def normalise_column(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def _csv_records(
    stream: TextIO, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[Record | RowError]:
    lines = _physical_lines(stream)
    header_line, header_text = next(((n, t) for n, t in lines if t.strip()), (0, ""))
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    try:
        header = [normalise_column(c) for c in next(csv.reader([header_text], delimiter=delimiter))]
    except csv.Error as exc:
        raise ImportFailed(f"line {header_line}: the header cannot be read ({exc})") from exc
    _check_header(header, required)
    known = set(required) | set(optional)
    for start, text, span in _logical_records(lines):
        if not text.strip():
            continue
        if _SURROGATE.search(text):
            yield RowError(start, "not valid UTF-8 text")
            continue
        try:
            fields = next(csv.reader([text], delimiter=delimiter, strict=True))
        except (csv.Error, StopIteration) as exc:
            yield RowError(start, f"broken quoting ({exc})")
            continue
        if len(fields) != len(header):
            yield RowError(start, f"expected {len(header)} fields, found {len(fields)}")
            continue
        values = {name: value.strip() for name, value in zip(header, fields, strict=True) if name in known}
        yield Record(start, values, span)


def _check_header(header: list[str], required: tuple[str, ...]) -> None:
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    if duplicates:
        raise ImportFailed(f"the header repeats columns: {', '.join(duplicates)}")
    missing = [name for name in required if name not in header]
    if missing:
        found = ", ".join(h for h in header if h) or "nothing"
        raise ImportFailed(f"the header lacks required columns: {', '.join(missing)} (found: {found})")


def _physical_lines(stream: TextIO) -> Iterator[tuple[int, str]]:
    yield from enumerate(stream, start=1)


def _logical_records(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str, int]]:
    """Join physical lines while a quote is open. A quote still open after MAX_RECORD_LINES lines (or at the
    end of the file) is reported as that record alone; reading resumes at the line after it."""
    pending: deque[tuple[int, str]] = deque()
    buffer: list[tuple[int, str]] = []
    quotes = 0
    while True:
        if pending:
            number, line = pending.popleft()
        else:
            nxt = next(lines, None)
            if nxt is None:
                break
            number, line = nxt
        buffer.append((number, line))
        quotes += line.count('"')
        if quotes % 2 == 0:
            yield buffer[0][0], "".join(t for _, t in buffer), len(buffer)
            buffer, quotes = [], 0
        elif len(buffer) > MAX_RECORD_LINES:
            yield buffer[0][0], buffer[0][1], 1  # the strict parser reports the unclosed quote
            pending.extendleft(reversed(buffer[1:]))
            buffer, quotes = [], 0
    while buffer:  # a quote left open at the end of the file
        yield buffer[0][0], buffer[0][1], 1
        rest = buffer[1:]
        buffer, quotes = [], 0
        for number, line in rest:
            buffer.append((number, line))
            quotes += line.count('"')
            if quotes % 2 == 0:
                yield buffer[0][0], "".join(t for _, t in buffer), len(buffer)
                buffer, quotes = [], 0


def _jsonl_records(
    stream: TextIO, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[Record | RowError]:
    known = set(required) | set(optional)
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        if _SURROGATE.search(line):
            yield RowError(number, "not valid UTF-8 text")
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield RowError(number, f"invalid JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            yield RowError(number, "not a JSON object")
            continue
        try:
            values = {
                k: _json_value(k, v) for k, v in ((normalise_column(str(k)), v) for k, v in obj.items())
            }
        except RowInvalid as exc:
            yield RowError(number, str(exc))
            continue
        missing = [name for name in required if name not in values]
        if missing:
            yield RowError(number, f"missing fields: {', '.join(missing)}")
            continue
        yield Record(number, {k: v for k, v in values.items() if k in known})


def _json_value(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value).strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(v.strip() for v in value)
    raise RowInvalid(f"{key} must be a string, number or boolean")


# --- rows → domain objects -----------------------------------------------------------------------------


def parse_partner(team_id: str, values: dict[str, str]) -> tuple[Partner, bool]:
    """A partner and whether it is marked as prospect. Raises RowInvalid with the reason."""
    get = values.get
    kind_text = (get("kind") or "partner").casefold()
    if kind_text not in {k.value for k in PartnerKind}:
        raise RowInvalid(f"unknown kind {get('kind')!r} (expected partner or creator)")
    partner = Partner(
        team_id=team_id,
        mpid=_required(values, "mpid", 64),
        name=_required(values, "mpname", 300),
        first_name=_optional(values, "first_name", 200),
        last_name=_optional(values, "last_name", 200),
        email=_email(get("email") or ""),
        kind=PartnerKind(kind_text),
        messaging_enabled=_bool(values, "messaging_enabled"),
        country=_country(get("country") or ""),
        website=_optional(values, "website", 2048),
        categories=_categories(get("categories") or ""),
        description=get("description") or "",
        timezone=_timezone(get("timezone") or ""),
    )
    return partner, _bool(values, "prospect")


def parse_ad(team_id: str, values: dict[str, str]) -> tuple[Ad, bool]:
    adid = _required(values, "adid", 64)
    name = _required(values, "name", 300)
    type_text = (values.get("ad_type") or "").casefold().replace("_", "-").replace(" ", "-")
    if type_text not in {t.value for t in AdType}:
        raise RowInvalid(f"unknown ad_type {values.get('ad_type')!r} (expected text-link or banner)")
    ad_type = AdType(type_text)
    landing = _url(values.get("landing_url") or "", "landing_url")
    creative = values.get("creative") or ""
    width = height = None
    if ad_type is AdType.TEXT_LINK:
        creative = creative or name
    else:
        parts = creative.split()
        if not parts:
            raise RowInvalid(
                "a banner needs its image URL in creative (optionally followed by a size like 300x250)"
            )
        if len(parts) > 2 or (len(parts) == 2 and not _SIZE.match(parts[1])):
            raise RowInvalid(
                f"creative {creative!r} must be an image URL, optionally followed by WIDTHxHEIGHT"
            )
        creative = _url(parts[0], "creative")
        if len(parts) == 2:
            size = _SIZE.match(parts[1])
            assert size is not None
            width, height = int(size.group(1)), int(size.group(2))
    if len(creative) > 2048:
        raise RowInvalid("creative is longer than 2048 characters")
    ad = Ad(team_id, adid, name, ad_type, landing, creative, width, height)
    return ad, False


def _required(values: dict[str, str], name: str, limit: int) -> str:
    value = values.get(name) or ""
    if not value:
        raise RowInvalid(f"{name} is empty")
    return _limit(value, name, limit)


def _optional(values: dict[str, str], name: str, limit: int) -> str:
    return _limit(values.get(name) or "", name, limit)


def _limit(value: str, name: str, limit: int) -> str:
    if len(value) > limit:
        raise RowInvalid(f"{name} is longer than {limit} characters")
    controls = control_characters(value.replace("\n", "") if name == "description" else value)
    if controls:  # a bell, a NUL or a line break in a name would reach Slack screens and e-mail headers
        raise RowInvalid(f"{name} contains control characters ({', '.join(controls)})")
    return value


def _bool(values: dict[str, str], name: str) -> bool:
    text = (values.get(name) or "").casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowInvalid(f"{name} must be true or false (yes/no, 1/0), got {values.get(name)!r}")


def _email(text: str) -> str:
    """The address normalised (see :func:`~outreach.validation.normalise_email_address`), or empty: the column
    may be; raises RowInvalid."""
    if not text:
        return ""
    try:
        return normalise_email_address(text)
    except EmailNotValidError as exc:
        raise RowInvalid(f"bad email {text!r}: {exc}") from None


def _country(text: str) -> str:
    if not text:
        return ""
    if len(text) != 2 or not text.isascii() or not text.isalpha():
        raise RowInvalid(f"country must be a two-letter ISO code (like US or DE), got {text!r}")
    return text.upper()


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name this system knows, by its casefolded form."""
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def _timezone(text: str) -> str:
    name = text.strip()
    if not name:
        return ""
    found = _zone_names().get(name.casefold())
    if found is None:
        raise RowInvalid(f"timezone must be an IANA time zone name (like Europe/Berlin), got {text!r}")
    return found


def _categories(text: str) -> tuple[str, ...]:
    parts = (p.strip() for p in re.split(r"[;|]", text))
    return tuple(dict.fromkeys(p for p in parts if p))


def _url(text: str, name: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise RowInvalid(f"{name} must be an http(s) URL, got {text!r}")
    return _limit(text, name, 2048)
