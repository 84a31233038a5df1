"""Partners and prospects: bulk upserts, keyset-paginated lists, filters and substring search.

Lists are sorted by ``sort_name`` (the casefolded company name, or the contact name when there is none)
then ``mpid``, and paged by keyset: a cursor is that pair, opaque to callers (base64 of JSON). Search is a
``LIKE '%text%'`` on ``search_text`` (casefolded mpid, company, contact name and e-mail, one per line), served
by a GIN trigram index on PostgreSQL. On SQLite an FTS5 trigram index (migration 0003) lists the rows of a
rare term, which are then sorted; a common term is found by walking the sorted index (bench/list_db.py).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import sys
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, case, exists, func, select, tuple_, update
from sqlalchemy import false as sql_false
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

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


def _conditions(team_id: str, query: ProspectQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [_T.c.team_id == team_id]
    if query.prospects_only:
        where.append(_T.c.marked_at.is_not(None))
    if query.kind is not None:
        where.append(_T.c.kind == query.kind.value)
    if query.messaging_enabled is not None:
        where.append(_T.c.messaging_enabled == query.messaging_enabled)
    if query.country:
        where.append(_T.c.country == query.country.strip().upper())
    if query.not_contacted:
        where.append(_T.c.last_contacted_at.is_(None))
    text = search_words(query.text)
    if text:
        where.append(_T.c.search_text.like(like_pattern(text), escape="\\"))
    return where


def matching(session: Session, team_id: str, query: ProspectQuery) -> list[ColumnElement[bool]]:
    """The WHERE of every partner ``query`` matches (on SQLite a short search is first looked up in the trigram
    index: the same rows, found faster)."""
    where = _conditions(team_id, query)
    text = search_words(query.text)
    if text and session.get_bind().dialect.name == "sqlite":
        candidates = _sqlite_candidates(session, text)
        if candidates is not None:
            where.append(_T.c.id.in_(candidates))
    return where


def search_words(text: str) -> str:
    return " ".join(text.split()).casefold()


# SQLite: a search term matching at most this many partners (in any workspace) is looked up in the FTS5
# trigram index first and the matches sorted; a more common term is found quickly by walking the sorted index.
FTS_CANDIDATES = 2000


def _sqlite_candidates(session: Session, text: str) -> list[int] | None:
    """Row ids of partners whose search text contains ``text``, or None when there are too many to list."""
    if len(text) < 3:  # trigrams need three characters
        return None
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


class SqlProspectRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

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
        where = self._where(team_id, query)
        key = next((decode_cursor(c) for c in (before, after, at) if c), None)
        forward = not before or key is None
        stmt = select(_T).where(*where)
        if picked_by is not None:  # which rows this user picked, read with the rows (not a query of its own)
            stmt = stmt.add_columns(
                exists()
                .where(_P.c.team_id == _T.c.team_id, _P.c.user_id == picked_by, _P.c.mpid == _T.c.mpid)
                .label("picked_by_user")
            )
        has_more_behind = False
        if key is not None:
            mark = tuple_(*key)
            sort_key = tuple_(_T.c.sort_name, _T.c.mpid)
            if before:
                stmt = stmt.where(sort_key < mark)
                behind = sort_key >= mark
            elif after:
                stmt = stmt.where(sort_key > mark)
                behind = sort_key <= mark
            else:
                stmt = stmt.where(sort_key >= mark)
                behind = sort_key < mark
            # As costly as the page itself on a searched list: asked only when the caller cannot know.
            has_more_behind = known_behind or self._exists(where, behind)
        order = (_T.c.sort_name, _T.c.mpid) if forward else (_T.c.sort_name.desc(), _T.c.mpid.desc())
        rows = list(self._session.execute(stmt.order_by(*order).limit(size + 1)))
        more_ahead = len(rows) > size
        rows = rows[:size] if forward else rows[:size][::-1]
        items = tuple(to_prospect(row) for row in rows)
        picked = frozenset(row.mpid for row in rows if picked_by is not None and row.picked_by_user)
        first = encode_cursor(rows[0].sort_name, rows[0].mpid) if rows else None
        last = encode_cursor(rows[-1].sort_name, rows[-1].mpid) if rows else None
        if forward:
            return KeysetPage(
                items, first, last, has_prev=has_more_behind, has_next=more_ahead, picked=picked
            )
        return KeysetPage(items, first, last, has_prev=more_ahead, has_next=has_more_behind, picked=picked)

    def _exists(self, where: list[ColumnElement[bool]], extra: ColumnElement[bool]) -> bool:
        stmt: Select[Any] = select(_T.c.id).where(*where, extra).limit(1)
        return self._session.execute(stmt).first() is not None

    def _where(self, team_id: str, query: ProspectQuery) -> list[ColumnElement[bool]]:
        return matching(self._session, team_id, query)

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
            .where(*self._where(team_id, query))
        )
        total, messageable, emailable, blocked, teammates = self._session.execute(stmt).one()
        return MatchCounts(int(total), int(messageable), int(emailable), int(blocked), int(teammates))

    def count(self, team_id: str, query: ProspectQuery, cap: int | None = None) -> int:
        if cap is None:
            stmt = select(func.count()).select_from(_T).where(*self._where(team_id, query))
        else:  # counting stops at ``cap`` rows: a page shows "more than …" instead of paying for all of them
            capped = select(_T.c.id).where(*self._where(team_id, query)).limit(cap).subquery()
            stmt = select(func.count()).select_from(capped)
        return int(self._session.execute(stmt).scalar_one())

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
