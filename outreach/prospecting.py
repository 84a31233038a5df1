"""Browsing prospects and the marketplace, and the recipients a user has picked.

Pages use keyset cursors (opaque strings made by storage): a page is asked for ``at`` a cursor (inclusive,
to show the same page again), ``after`` one (the next page) or ``before`` one (the previous page).
Picks are kept server-side per (workspace, user), so ticks survive paging, searching and filtering.
Every id that comes from a client (an mpid in a button value) is checked against the requesting workspace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace

from outreach.errors import NotFound
from outreach.models import PartnerKind, Prospect
from outreach.ports import Clock, ProspectQuery, UnitOfWork

PAGE_SIZE = 10  # Slack's checkbox limit (SLACK.md §1.3)
MAX_SEARCH = 200  # characters of search text kept; longer text is cut and the user is told
COUNTRIES_TTL = 60.0  # seconds
TOTAL_SHOWN = 10_000  # a list counts its matches up to here, then says "more than 10,000"


def normalise(query: ProspectQuery) -> tuple[ProspectQuery, bool]:
    """Fold white space, cut the search text to MAX_SEARCH; the flag says whether it was cut."""
    text = " ".join(query.text.split())
    cut = len(text) > MAX_SEARCH
    country = query.country.strip().upper()
    return replace(query, text=text[:MAX_SEARCH], country=country[:2] if len(country) <= 3 else ""), cut


@dataclass(frozen=True, slots=True)
class PageRequest:
    at: str | None = None
    after: str | None = None
    before: str | None = None
    number: int = 1  # 1-based page number shown to the user


@dataclass(frozen=True, slots=True)
class ProspectPage:
    items: tuple[Prospect, ...]
    total: int
    number: int
    picked_on_page: frozenset[str]  # mpids ticked on this page
    picked_count: int  # all ticks of this user, on any page
    first_cursor: str | None
    last_cursor: str | None
    has_prev: bool
    has_next: bool
    query: ProspectQuery = field(default_factory=ProspectQuery)
    search_cut: bool = False  # the search text was longer than MAX_SEARCH and was cut

    @property
    def total_is_lower_bound(self) -> bool:
        return self.total > TOTAL_SHOWN

    @property
    def first_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0


class ProspectService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._countries: dict[str, tuple[float, list[str]]] = {}

    def page(self, team_id: str, user_id: str, query: ProspectQuery, req: PageRequest) -> ProspectPage:
        query, cut = normalise(query)
        with self._uow() as uow:
            found = uow.prospects.page(
                team_id, query, after=req.after, before=req.before, at=req.at, size=PAGE_SIZE
            )
            if not found.items and (req.at or req.after or req.before):
                # The page's rows are gone (filters changed, rows removed): show the first page instead.
                found = uow.prospects.page(team_id, query, size=PAGE_SIZE)
                req = PageRequest()
            total = uow.prospects.count(team_id, query, cap=TOTAL_SHOWN + 1)
            on_page = [p.partner.mpid for p in found.items]
            picked = uow.picks.among(team_id, user_id, on_page) if query.prospects_only else frozenset()
            picked_count = uow.picks.count(team_id, user_id)
        number = 1 if not found.has_prev else max(req.number, 2)
        return ProspectPage(
            found.items,
            total,
            number,
            picked,
            picked_count,
            found.first_cursor,
            found.last_cursor,
            found.has_prev,
            found.has_next,
            query,
            cut,
        )

    def countries(self, team_id: str) -> list[str]:
        """The countries for the list's filter; kept a minute (a distinct over every partner is not free)."""
        now = time.monotonic()
        hit = self._countries.get(team_id)
        if hit is not None and now - hit[0] < COUNTRIES_TTL:
            return hit[1]
        with self._uow() as uow:
            found = uow.partners.countries(team_id)
        self._countries[team_id] = (now, found)
        return found

    def get(self, team_id: str, mpid: str) -> Prospect:
        """A partner of this workspace (a prospect or not); NotFound for another workspace's mpid."""
        with self._uow() as uow:
            found = uow.prospects.get(team_id, mpid)
            if found is None:
                partner = uow.partners.get(team_id, mpid)
                found = Prospect(partner) if partner is not None else None
        if found is None:
            raise NotFound("partner", mpid)
        return found

    # -- picks -------------------------------------------------------------------------------------------
    def set_picked(self, team_id: str, user_id: str, mpids: Collection[str], picked: bool) -> int:
        """Tick or untick; only prospects of this workspace can be ticked. Returns the new pick count."""
        with self._uow() as uow:
            if picked:
                known = uow.partners.get_many(team_id, mpids)
                prospects = [m for m in known if uow.prospects.get(team_id, m) is not None]
                uow.picks.add(team_id, user_id, prospects)
            else:
                uow.picks.remove(team_id, user_id, mpids)
            count = uow.picks.count(team_id, user_id)
            uow.commit()
        return count

    def clear(self, team_id: str, user_id: str) -> None:
        with self._uow() as uow:
            uow.picks.clear(team_id, user_id)
            uow.commit()

    def picked(self, team_id: str, user_id: str) -> list[Prospect]:
        with self._uow() as uow:
            mpids = uow.picks.all(team_id, user_id)
            partners = uow.partners.get_many(team_id, mpids)
            return [p for m in mpids if m in partners and (p := uow.prospects.get(team_id, m)) is not None]

    # -- marketplace ---------------------------------------------------------------------------------
    def mark(self, team_id: str, user_id: str, mpid: str) -> bool:
        """Mark a marketplace partner as prospect; True when it was not one yet (doing it twice changes nothing)."""
        with self._uow() as uow:
            if uow.partners.get(team_id, mpid) is None:
                raise NotFound("partner", mpid)
            changed = uow.prospects.mark(team_id, [mpid], by=user_id, at=self._clock.now())
            uow.commit()
        return changed > 0


def marketplace_query(kind: PartnerKind, text: str = "") -> ProspectQuery:
    return ProspectQuery(text=text, kind=kind, prospects_only=False)
