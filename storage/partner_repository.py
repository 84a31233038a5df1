"""Partners and prospects: bulk upserts, keyset-paginated lists, filters and substring search.

Lists are sorted by ``sort_name`` (the casefolded company name, or the contact name when there is none)
then ``mpid``, and paged by keyset: a cursor is that pair, opaque to callers (base64 of JSON). Search is a
``LIKE '%text%'`` on ``search_text`` (casefolded mpid, company, contact name and e-mail, one per line). A trigram
index (GIN on PostgreSQL; FTS5, migration 0003, on SQLite) lists the rows of a rare term, which are then read by
id and sorted; a common term is found by walking the sorted index (bench/list_db.py, bench/list_load.py).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
import operator
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    Table,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy import false as sql_false
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from outreach.cache import StampedCache
from outreach.models import (
    KeysetPage,
    MatchCounts,
    Partner,
    PartnerKind,
    Prospect,
    ProspectQuery,
    UpsertCounts,
)
from outreach.ports import Clock
from storage.models import PartnerRow, PickRow, SuppressionRow
from storage.upsert import chunks, insert_for

PARTNER_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "email",
    "kind",
    "messaging_enabled",
    "country",
    "website",
    "categories",
    "description",
    "timezone",
)
_T = cast(Table, PartnerRow.__table__)
_S = cast(Table, SuppressionRow.__table__)
_P = cast(Table, PickRow.__table__)
_BEHIND = _T.alias("behind")  # made once: an alias builds its column collection on first use (~1 ms)
_PARTNER_COLUMNS = [_T.c[name] for name in ("team_id", "mpid", *PARTNER_FIELDS)]


def sort_name_of(partner: Partner) -> str:
    return (partner.name or partner.contact_name).casefold()[:300]


def search_text_of(partner: Partner) -> str:
    return "\n".join((partner.mpid, partner.name, partner.contact_name, partner.email)).casefold()


def to_partner(row: Any) -> Partner:
    return Partner(
        team_id=row.team_id,
        mpid=row.mpid,
        name=row.name,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        kind=PartnerKind(row.kind),
        messaging_enabled=bool(row.messaging_enabled),
        country=row.country,
        website=row.website,
        categories=tuple(row.categories or ()),
        description=row.description,
        timezone=row.timezone,
    )


def to_prospect(row: Any) -> Prospect:
    return Prospect(
        partner=to_partner(row),
        status=row.prospect_status or ("new" if row.marked_at is not None else ""),
        marked_at=row.marked_at,
        marked_by=row.marked_by,
        last_contacted_at=row.last_contacted_at,
    )


def _values(team_id: str, partner: Partner) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "mpid": partner.mpid,
        "name": partner.name,
        "first_name": partner.first_name,
        "last_name": partner.last_name,
        "email": partner.email,
        "kind": partner.kind.value,
        "messaging_enabled": partner.messaging_enabled,
        "country": partner.country,
        "website": partner.website,
        "categories": list(partner.categories),
        "description": partner.description,
        "timezone": partner.timezone,
        "sort_name": sort_name_of(partner),
        "search_text": search_text_of(partner),
    }


class SqlPartnerRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def upsert_many(
        self,
        team_id: str,
        partners: Sequence[Partner],
        *,
        mark_prospects: Collection[str] = (),
        marked_by: str = "",
    ) -> UpsertCounts:
        marks = set(mark_prospects)
        total = UpsertCounts()
        for chunk in chunks(partners):
            total += self._upsert_chunk(team_id, chunk, marks, marked_by)
        return total

    def _upsert_chunk(
        self, team_id: str, chunk: Sequence[Partner], marks: set[str], marked_by: str
    ) -> UpsertCounts:
        existing = {
            row.mpid: row
            for row in self._session.execute(
                select(_T).where(_T.c.team_id == team_id, _T.c.mpid.in_([p.mpid for p in chunk]))
            )
        }
        now = self._clock.now()
        writes: list[dict[str, Any]] = []
        inserted = updated = unchanged = 0
        for partner in chunk:
            old = existing.get(partner.mpid)
            newly_marked = partner.mpid in marks and (old is None or old.marked_at is None)
            if old is None:
                inserted += 1
            elif newly_marked or to_partner(old) != _in_team(partner, team_id):
                updated += 1
            else:
                unchanged += 1
                continue
            values = _values(team_id, partner)
            values.update(created_at=now, updated_at=now, prospect_status="", marked_by="", marked_at=None)
            if newly_marked:
                values.update(marked_at=now, marked_by=marked_by, prospect_status="new")
            writes.append(values)
        if writes:
            self._session.execute(_upsert_statement(self._session), writes)
        return UpsertCounts(inserted, updated, unchanged)

    def get(self, team_id: str, mpid: str) -> Partner | None:
        row = self._session.execute(select(_T).where(_T.c.team_id == team_id, _T.c.mpid == mpid)).first()
        return None if row is None else to_partner(row)

    def get_many(self, team_id: str, mpids: Collection[str]) -> dict[str, Partner]:
        """Partners by mpid; only the columns a Partner holds are read (a send plan may ask for 100,000)."""
        found: dict[str, Partner] = {}
        team = sys.intern(team_id)  # one string for every partner of the workspace, not one each
        for chunk in chunks(sorted(set(mpids))):
            stmt = select(*_PARTNER_COLUMNS).where(_T.c.team_id == team_id, _T.c.mpid.in_(chunk))
            for row in self._session.execute(stmt):
                partner = to_partner(row)
                found[partner.mpid] = dataclasses.replace(
                    partner, team_id=team, country=sys.intern(row.country)
                )
        return found

    def known(self, team_id: str, mpids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(sorted(set(mpids))):
            stmt = select(_T.c.mpid).where(_T.c.team_id == team_id, _T.c.mpid.in_(chunk))
            found.update(self._session.scalars(stmt))
        return found

    def countries(self, team_id: str) -> list[str]:
        stmt = select(_T.c.country).where(_T.c.team_id == team_id, _T.c.country != "").distinct()
        return sorted(self._session.scalars(stmt))

    def with_email(self, team_id: str, email: str) -> list[Partner]:
        # Asked when an address unsubscribes (rare): a scan of the workspace's rows, no index of its own.
        address = email.strip().lower()
        if not address:
            return []
        stmt = (
            select(*_PARTNER_COLUMNS)
            .where(_T.c.team_id == team_id, func.lower(_T.c.email) == address)
            .order_by(_T.c.mpid)
        )
        return [to_partner(row) for row in self._session.execute(stmt)]


def _in_team(partner: Partner, team_id: str) -> Partner:
    if partner.team_id == team_id:
        return partner
    return Partner(**{**{f: getattr(partner, f) for f in (*PARTNER_FIELDS, "mpid")}, "team_id": team_id})


def _upsert_statement(session: Session) -> Any:
    stmt = insert_for(session, _T)
    excluded = stmt.excluded
    keep_mark = _T.c.marked_at.is_not(None)
    assignments: dict[str, Any] = {
        name: excluded[name] for name in (*PARTNER_FIELDS, "sort_name", "search_text", "updated_at")
    }
    assignments["marked_at"] = func.coalesce(_T.c.marked_at, excluded.marked_at)
    assignments["marked_by"] = case((keep_mark, _T.c.marked_by), else_=excluded.marked_by)
    assignments["prospect_status"] = case((keep_mark, _T.c.prospect_status), else_=excluded.prospect_status)
    return stmt.on_conflict_do_update(index_elements=[_T.c.team_id, _T.c.mpid], set_=assignments)


# --- listing ---------------------------------------------------------------------------------------------


def encode_cursor(sort_name: str, mpid: str) -> str:
    raw = json.dumps([sort_name, mpid], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str] | None:
    """The (sort_name, mpid) of a cursor, or None for one that was not made here."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    return None


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# A list's WHERE is built from its shape (which filters it has) with named parameters, and the values go with
# each execution: a statement of a given shape is built once (functools.lru_cache) and SQLAlchemy's cache key,
# memoized on it, is not made again at each click (building and keying the page's statement was about a third
# of what a click cost the server: bench/list_load.py).
class Shape(NamedTuple):
    prospects_only: bool
    kind: bool
    messaging: bool
    country: bool
    not_contacted: bool
    text: bool
    candidates: str | None  # "any" (PostgreSQL), "in" (SQLite) or None: the search's rows listed by id


@dataclass(frozen=True, slots=True)
class Matching:
    """What a query matches: the shape of its WHERE and the values it takes."""

    shape: Shape
    params: dict[str, Any]

    def where(self, table: FromClause = _T) -> list[ColumnElement[bool]]:
        return _conditions(self.shape, table)


def _conditions(shape: Shape, table: FromClause) -> list[ColumnElement[bool]]:
    c = table.c
    where: list[ColumnElement[bool]] = [c.team_id == bindparam("f_team")]
    if shape.prospects_only:
        where.append(c.marked_at.is_not(None))
    if shape.kind:
        where.append(c.kind == bindparam("f_kind"))
    if shape.messaging:
        where.append(c.messaging_enabled == bindparam("f_messaging"))
    if shape.country:
        where.append(c.country == bindparam("f_country"))
    if shape.not_contacted:
        where.append(c.last_contacted_at.is_(None))
    if shape.text:
        where.append(c.search_text.like(bindparam("f_pattern"), escape="\\"))
    if shape.candidates == "any":
        where.append(c.id == any_(bindparam("f_ids", type_=ARRAY(BigInteger()))))
    elif shape.candidates == "in":
        where.append(c.id.in_(bindparam("f_ids", expanding=True)))
    return where


def _matching(team_id: str, query: ProspectQuery, candidates: Candidates) -> Matching:
    text = search_words(query.text)
    kind, ids = candidates
    shape = Shape(
        query.prospects_only,
        query.kind is not None,
        query.messaging_enabled is not None,
        bool(query.country),
        query.not_contacted,
        bool(text),
        kind,
    )
    params: dict[str, Any] = {"f_team": team_id}
    if query.kind is not None:
        params["f_kind"] = query.kind.value
    if query.messaging_enabled is not None:
        params["f_messaging"] = query.messaging_enabled
    if query.country:
        params["f_country"] = query.country.strip().upper()
    if text:
        params["f_pattern"] = like_pattern(text)
    if kind is not None:
        params["f_ids"] = ids
    return Matching(shape, params)


def matching(session: Session, team_id: str, query: ProspectQuery) -> Matching:
    """What ``query`` matches: ``.where()`` on the partners table or an alias of it, executed with ``.params``.
    A search that few partners match is first looked up in the trigram index (:func:`_candidates`): the same
    rows, found without the planner's guess."""
    return _matching(team_id, query, _candidates(session, team_id, query))


# The ids a search matches: how the WHERE lists them ("any", "in") and the ids, or (None, []) to search as such.
Candidates = tuple[str | None, list[int]]
_NO_CANDIDATES: Candidates = (None, [])


def search_words(text: str) -> str:
    return " ".join(text.split()).casefold()


# A search term matching at most this many partners is looked up in the trigram index first, and the page, its
# count and "rows behind?" read those rows by id; a more common term is found quickly by walking the sorted index.
FTS_CANDIDATES = 2000


def _candidates(session: Session, team_id: str, query: ProspectQuery) -> Candidates:
    """The rows a search matches, when there are at most FTS_CANDIDATES of them (none listed: no search, a term
    of fewer than three characters — trigrams need three —, or too many to list).

    PostgreSQL: left to itself, the planner guesses how many rows a ``LIKE '%…%'`` matches from the 100 values
    of its histogram, and a rare term that one of them happens to contain is guessed at 1% of the table: the page
    is then read by walking the whole sorted index (190 ms at 100,000 partners, where the trigram index takes 3
    ms), at random, after each ANALYZE. Asked without an order, the index serves it either way, and the rows are
    then read by id. SQLite: the FTS5 trigram table (partners_search)."""
    text = search_words(query.text)
    if len(text) < 3:
        return _NO_CANDIDATES
    engine = session.get_bind()
    common = _common_terms.setdefault(engine, StampedCache(None, max_entries=1024, lru=True))
    if common.fresh((team_id, text), COMMON_KEPT):
        return _NO_CANDIDATES
    if engine.dialect.name == "sqlite":
        found = _sqlite_candidates(session, text)
        kind = "in"
    else:
        found = [
            int(i)
            for i in session.execute(_LOOKUP, {"team": team_id, "pattern": like_pattern(text)}).scalars()
        ]
        found = None if len(found) > FTS_CANDIDATES else found
        kind = "any"
    if found is None:
        common.put((team_id, text), True)
        return _NO_CANDIDATES
    return kind, found


_LOOKUP = (
    select(_T.c.id)
    .where(_T.c.team_id == bindparam("team"), _T.c.search_text.like(bindparam("pattern"), escape="\\"))
    .limit(FTS_CANDIDATES + 1)
)

# A term found too common to look up (a list of a few thousand ids costs more than the walk it spares) is not
# looked up again for this long: each click on its list would pay the lookup (6–8 ms at 100,000 partners) for
# nothing. Only which plan serves it depends on this, never which rows: a term grown rare meanwhile is walked for.
COMMON_KEPT = 60.0  # seconds
_common_terms: WeakKeyDictionary[Engine | Connection, StampedCache[tuple[str, str], bool]] = (
    WeakKeyDictionary()
)


def _sqlite_candidates(session: Session, text: str) -> list[int] | None:
    """Row ids of partners (of any workspace) whose search text contains ``text``, or None when there are too
    many to list."""
    phrase = '"' + text.replace('"', '""') + '"'
    ids = (
        session.execute(
            sql_text("SELECT rowid FROM partners_search WHERE partners_search MATCH :phrase LIMIT :cap"),
            {"phrase": phrase, "cap": FTS_CANDIDATES + 1},
        )
        .scalars()
        .all()
    )
    return None if len(ids) > FTS_CANDIDATES else [int(i) for i in ids]


def _cursor_side(table: FromClause, side: str) -> ColumnElement[bool]:
    """The rows of ``table`` on one side of the cursor (parameters ``k_name``, ``k_mpid``)."""
    sort_key = tuple_(table.c.sort_name, table.c.mpid)
    mark = tuple_(bindparam("k_name", type_=String()), bindparam("k_mpid", type_=String()))
    compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[side]
    return cast(ColumnElement[bool], compare(sort_key, mark))


# The page's own side of each cursor, and the side it asks about ("rows behind?").
_SIDES = {"before": ("<", ">="), "after": (">", "<="), "at": (">=", "<")}


def _behind(shape: Shape, cursor: str) -> ColumnElement[bool]:
    """EXISTS: a row of the list on the other side of the cursor (on an alias of the table: not correlated with
    the page's rows, so the database computes it once for the page)."""
    behind = _BEHIND
    side = _cursor_side(behind, _SIDES[cursor][1])
    return select(behind.c.id).where(*_conditions(shape, behind), side).exists()


@functools.lru_cache(maxsize=1024)
def _page_statement(shape: Shape, cursor: str | None, picked: bool, ask_behind: bool) -> Select[Any]:
    """The page of a list of ``shape``: from ``cursor`` ("before", "after", "at" or None: the first page), with
    the ticks and the pick count of a user (``p_user``) when ``picked``, and whether rows lie behind the cursor
    when ``ask_behind``. Parameters: the shape's, ``k_name``/``k_mpid`` (the cursor), ``p_user``, ``size``."""
    stmt = select(_T).where(*_conditions(shape, _T))
    if picked:  # which rows this user picked and how many in all, read with the rows
        user = bindparam("p_user", type_=String())
        stmt = stmt.add_columns(
            exists()
            .where(_P.c.team_id == _T.c.team_id, _P.c.user_id == user, _P.c.mpid == _T.c.mpid)
            .label("picked_by_user"),
            select(func.count())
            .select_from(_P)
            .where(_P.c.team_id == bindparam("f_team"), _P.c.user_id == user)
            .scalar_subquery()
            .label("picks_in_all"),
        )
    if cursor is not None:
        stmt = stmt.where(_cursor_side(_T, _SIDES[cursor][0]))
        if ask_behind:  # computed once, with the rows
            stmt = stmt.add_columns(_behind(shape, cursor).label("rows_behind"))
    forward = cursor != "before"
    order = (_T.c.sort_name, _T.c.mpid) if forward else (_T.c.sort_name.desc(), _T.c.mpid.desc())
    return stmt.order_by(*order).limit(bindparam("size", type_=Integer()))


@functools.lru_cache(maxsize=256)
def _count_statement(shape: Shape, capped: bool) -> Select[Any]:
    """How many rows a list of ``shape`` has, up to ``cap`` when ``capped`` (counting stops there)."""
    if not capped:
        return select(func.count()).select_from(_T).where(*_conditions(shape, _T))
    # A constant, not a column: the database may count from an index alone.
    counted: Select[Any] = select(literal_column("1")).select_from(_T).where(*_conditions(shape, _T))
    return select(func.count()).select_from(counted.limit(bindparam("cap", type_=Integer())).subquery())


class SqlProspectRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock
        # A search's rows, looked up once a unit of work (a click reads its page and its total with them).
        self._looked_up: dict[tuple[str, str], Candidates] = {}

    def _matching(self, team_id: str, query: ProspectQuery) -> Matching:
        key = (team_id, search_words(query.text))
        if key not in self._looked_up:
            self._looked_up[key] = _candidates(self._session, team_id, query)
        return _matching(team_id, query, self._looked_up[key])

    def page(
        self,
        team_id: str,
        query: ProspectQuery,
        *,
        after: str | None = None,
        before: str | None = None,
        at: str | None = None,
        size: int = 10,
        picked_by: str | None = None,
        known_behind: bool = False,
    ) -> KeysetPage:
        found = self._matching(team_id, query)
        params = dict(found.params, size=size + 1, p_user=picked_by)
        cursor, key = next(
            (
                (name, k)
                for name, c in (("before", before), ("after", after), ("at", at))
                if c and (k := decode_cursor(c))
            ),
            (None, None),
        )
        if key is not None:
            params.update(k_name=key[0], k_mpid=key[1])
        ask_behind = cursor is not None and not known_behind
        stmt = _page_statement(found.shape, cursor, picked_by is not None, ask_behind)
        rows = list(self._session.execute(stmt, params))
        has_more_behind = cursor is not None and known_behind
        if ask_behind and cursor is not None:
            # No row, no column: asked on its own (rare: the cursor's rows are gone).
            has_more_behind = (
                bool(rows[0].rows_behind)
                if rows
                else bool(self._session.execute(select(_behind(found.shape, cursor)), params).scalar_one())
            )
        forward = cursor != "before"
        more_ahead = len(rows) > size
        rows = rows[:size] if forward else rows[:size][::-1]
        items = tuple(to_prospect(row) for row in rows)
        picked = frozenset(row.mpid for row in rows if picked_by is not None and row.picked_by_user)
        picks_in_all = int(rows[0].picks_in_all) if picked_by is not None and rows else None
        first = encode_cursor(rows[0].sort_name, rows[0].mpid) if rows else None
        last = encode_cursor(rows[-1].sort_name, rows[-1].mpid) if rows else None
        has_prev, has_next = (has_more_behind, more_ahead) if forward else (more_ahead, has_more_behind)
        return KeysetPage(
            items, first, last, has_prev=has_prev, has_next=has_next, picked=picked, picked_count=picks_in_all
        )

    def match_counts(
        self, team_id: str, query: ProspectQuery, *, user_id: str, recent_since: datetime | None
    ) -> MatchCounts:
        has_email = func.coalesce(_T.c.email, "") != ""
        recent = (
            (_T.c.last_contacted_at >= recent_since)
            & (func.coalesce(_T.c.last_contacted_by, "") != "")
            & (_T.c.last_contacted_by != user_id)
            if recent_since is not None
            else sql_false()
        )
        suppressed = _S.c.email.is_not(None)

        def tally(condition: ColumnElement[bool]) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        found = self._matching(team_id, query)
        stmt = (
            select(
                func.count(),
                tally(_T.c.messaging_enabled.is_(True)),
                tally(has_email),
                tally(suppressed),
                tally(recent),
            )
            .select_from(
                _T.outerjoin(_S, (_S.c.team_id == _T.c.team_id) & (_S.c.email == func.lower(_T.c.email)))
            )
            .where(*found.where())
        )
        total, messageable, emailable, blocked, teammates = self._session.execute(stmt, found.params).one()
        return MatchCounts(int(total), int(messageable), int(emailable), int(blocked), int(teammates))

    def count(self, team_id: str, query: ProspectQuery, cap: int | None = None) -> int:
        found = self._matching(team_id, query)
        stmt = _count_statement(found.shape, cap is not None)
        return int(self._session.execute(stmt, dict(found.params, cap=cap)).scalar_one())

    def get(self, team_id: str, mpid: str) -> Prospect | None:
        row = self._session.execute(
            select(_T).where(_T.c.team_id == team_id, _T.c.mpid == mpid, _T.c.marked_at.is_not(None))
        ).first()
        return None if row is None else to_prospect(row)

    def mark(self, team_id: str, mpids: Collection[str], *, by: str, at: datetime) -> int:
        changed = 0
        for chunk in chunks(sorted(set(mpids))):
            result = self._session.execute(
                update(_T)
                .where(_T.c.team_id == team_id, _T.c.mpid.in_(chunk), _T.c.marked_at.is_(None))
                .values(marked_at=at, marked_by=by, prospect_status="new", updated_at=self._clock.now())
            )
            changed += _rowcount(result)
        return changed

    def mark_contacted(self, team_id: str, mpids: Collection[str], at: datetime, by: str = "") -> int:
        changed = 0
        for chunk in chunks(sorted(set(mpids))):
            result = self._session.execute(
                _MARK_CONTACTED, {"w_team_id": team_id, "w_mpids": chunk, "at": at, "by": by}
            )
            changed += _rowcount(result)
        return changed

    def contacts(self, team_id: str, mpids: Collection[str]) -> dict[str, tuple[datetime, str]]:
        found: dict[str, tuple[datetime, str]] = {}
        for chunk in chunks(sorted(set(mpids))):
            stmt = select(_T.c.mpid, _T.c.last_contacted_at, _T.c.last_contacted_by).where(
                _T.c.team_id == team_id, _T.c.mpid.in_(chunk), _T.c.last_contacted_at.is_not(None)
            )
            for mpid, at, by in self._session.execute(stmt):
                found[mpid] = (at, by)
        return found


# Built once: the send pipeline marks a partner contacted for every message sent.
_MARK_CONTACTED = (
    update(_T)
    .where(
        _T.c.team_id == bindparam("w_team_id"),
        _T.c.mpid.in_(bindparam("w_mpids", expanding=True)),
        _T.c.last_contacted_at.is_(None) | (_T.c.last_contacted_at < bindparam("at")),
    )
    .values(last_contacted_at=bindparam("at"), last_contacted_by=bindparam("by"))
)


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)
