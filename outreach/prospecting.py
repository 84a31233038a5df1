"""Browsing prospects and the marketplace, and the recipients a user has picked.

Pages use keyset cursors (opaque strings made by storage): a page is asked for ``at`` a cursor (inclusive,
to show the same page again), ``after`` one (the next page) or ``before`` one (the previous page).
Picks are kept server-side per (workspace, user), so ticks survive paging, searching and filtering.
Every id that comes from a client (an mpid in a button value) is checked against the requesting workspace.

A list shown in Slack is an ephemeral message, and Slack's actions on an ephemeral message carry no ``message``
(SLACK.md §8.1): nothing of what the list showed comes back with a tick or a filter change. So each render's
state — its search, filters and page — is stored (:meth:`ProspectService.remember`) under a fresh key that the
render's block ids carry, and read back (:meth:`ProspectService.recall`) only for the user it was shown to.
States older than a day are forgotten (a response_url lives 30 minutes). The same state, as text
(:func:`encode_state`), rides on the buttons that need it (Previous/Next carry the page they lead to).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from outreach.cache import StampedCache
from outreach.errors import NotFound
from outreach.models import MatchCounts, PartnerKind, Prospect, ProspectQuery
from outreach.ports import Clock, UnitOfWork
from outreach.recent_contact import recent_window

PAGE_SIZE = 10  # Slack's checkbox limit (SLACK.md §1.3)
MAX_SEARCH = 200  # characters of search text kept; longer text is cut and the user is told
COUNTRIES_TTL = 60.0  # seconds
TOTAL_SHOWN = 10_000  # a list counts its matches up to here, then says "more than 10,000"
STATE_KEPT = timedelta(days=1)  # how long a list's state can be read back
PURGE_EVERY = 3600.0  # seconds between two purges of old list states (per process)
# A click inside a list (a tick, Next, Previous) shows the same search and filters as the render it was taken on:
# a count of them made in this process less than this long ago is shown again rather than made anew (counting up
# to TOTAL_SHOWN rows is most of a click's database time: bench/list_load.py). A new /prospects, a changed
# filter or search, and anything older always count afresh; so a total is at most this stale, on a list the
# user is paging through, while the rows shown are always read now.
COUNT_REUSE = 5.0  # seconds


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
    def shown(self) -> PageRequest:
        """The request that shows this page again (at its first row)."""
        return PageRequest(at=self.first_cursor, number=self.number)

    @property
    def total_is_lower_bound(self) -> bool:
        return self.total > TOTAL_SHOWN

    @property
    def first_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0


def encode_state(flt: ProspectQuery, req: PageRequest) -> str:
    """A list's state as compact text (for a button value, at most 2,000 characters: the search is cut to 200)."""
    state: dict[str, Any] = {"n": req.number}
    if flt.text:
        state["q"] = flt.text
    if flt.kind:
        state["k"] = flt.kind.value
    if flt.messaging_enabled is not None:
        state["m"] = int(flt.messaging_enabled)
    if flt.country:
        state["c"] = flt.country
    if flt.not_contacted:
        state["nc"] = 1
    if not flt.prospects_only:
        state["all"] = 1
    for key, cursor in (("at", req.at), ("af", req.after), ("bf", req.before)):
        if cursor:
            state[key] = cursor
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False)


def decode_state(value: str) -> tuple[ProspectQuery, PageRequest]:
    """Inverse of :func:`encode_state`; a tampered or broken value gives the first page, unfiltered."""
    try:
        state = json.loads(value)
        kind = PartnerKind(state["k"]) if state.get("k") else None
        messaging = bool(state["m"]) if "m" in state else None
        flt = ProspectQuery(
            str(state.get("q", "")),
            kind,
            messaging,
            str(state.get("c", "")),
            bool(state.get("nc")),
            prospects_only=not state.get("all"),
        )
        cursors = {key: str(state[key]) if state.get(key) else None for key in ("at", "af", "bf")}
        req = PageRequest(cursors["at"], cursors["af"], cursors["bf"], max(1, int(state.get("n", 1))))
        return normalise(flt)[0], req
    except (ValueError, TypeError, KeyError, AttributeError):
        return ProspectQuery(), PageRequest()


class ProspectService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        recent_contact: timedelta | Callable[[str], timedelta | None] | None = None,
    ) -> None:
        """``recent_contact``: how long a teammate's contact counts as recent (RECENT_CONTACT_DAYS, or each
        workspace's own window: a function of its team id; None: off)."""
        self._uow = uow
        self._clock = clock
        self._recent_contact = recent_window(recent_contact)
        self._countries = StampedCache[str, list[str]](COUNTRIES_TTL)  # by team
        # (team, its marks made here, query) -> total: marking a prospect here makes the team's totals new
        self._totals = StampedCache[tuple[str, int, ProspectQuery], int](
            COUNT_REUSE, max_entries=1024, lru=True
        )
        self._marks: dict[str, int] = {}
        self._purged = 0.0  # monotonic time of the last purge of old list states

    # -- a list's state, between two clicks ------------------------------------------------------------------
    def remember(self, team_id: str, user_id: str, query: ProspectQuery, req: PageRequest) -> str:
        """Store what a render shows; returns the key its blocks carry (12 URL-safe characters, no ``~``)."""
        with self._uow() as uow:
            key = self._remember(uow, team_id, user_id, query, req)
            uow.commit()
        return key

    def _remember(
        self, uow: UnitOfWork, team_id: str, user_id: str, query: ProspectQuery, req: PageRequest
    ) -> str:
        key = secrets.token_urlsafe(9)
        now = self._clock.now()
        uow.list_states.add(key, team_id, user_id, encode_state(query, req), now)
        if time.monotonic() - self._purged > PURGE_EVERY:
            self._purged = time.monotonic()
            uow.list_states.purge(now - STATE_KEPT)
        return key

    def recall(self, team_id: str, user_id: str, key: str) -> tuple[ProspectQuery, PageRequest] | None:
        """The state stored under ``key`` for this user of this workspace; None when unknown or forgotten."""
        if not key:
            return None
        with self._uow() as uow:
            found = uow.list_states.get(key, team_id, user_id)
        return decode_state(found) if found is not None else None

    # -- showing a list ---------------------------------------------------------------------------------------
    def show(
        self, team_id: str, user_id: str, query: ProspectQuery, req: PageRequest, *, recount: bool = True
    ) -> tuple[ProspectPage, str]:
        """The page ``req`` of ``query`` (as :meth:`page`) and the key its render carries (as :meth:`remember`:
        the page as shown, at its first row), in one transaction."""
        with self._uow() as uow:
            page = self._page(uow, team_id, user_id, query, req, recount=recount)
            key = self._remember(uow, team_id, user_id, page.query, page.shown)
            uow.commit()
        return page, key

    def tick(
        self, team_id: str, user_id: str, key: str, mpid: str, *, picked: bool, fallback: str = ""
    ) -> tuple[ProspectPage, str]:
        """A tick (``picked``) or untick of ``mpid`` on the render stored under ``key``, and that list shown again
        (the render's search, filters and page; ``fallback``, an encoded state, when the key is forgotten): one
        transaction where :meth:`set_picked`, :meth:`recall` and :meth:`show` would take three."""
        with self._uow() as uow:
            self._pick(uow, team_id, user_id, [mpid], picked)
            query, req = self._recalled(uow, team_id, user_id, key, fallback)
            page = self._page(uow, team_id, user_id, query, req, recount=False)
            # A new key even for the same page: the render's block ids carry it, and Slack wants new block ids
            # each time a message is updated (SLACK.md §1.1: a client may keep an element's old state otherwise).
            new_key = self._remember(uow, team_id, user_id, page.query, page.shown)
            uow.commit()
        return page, new_key

    def refilter(
        self,
        team_id: str,
        user_id: str,
        key: str,
        change: Callable[[ProspectQuery], ProspectQuery],
        *,
        fallback: str = "",
    ) -> tuple[ProspectPage, str]:
        """A filter changed on the render stored under ``key`` (``fallback``, an encoded state, when the key is
        forgotten): its search and filters as ``change`` makes them, shown from the first page (a click inside a
        list: its total may be one counted up to COUNT_REUSE seconds ago), and the new render's key; one
        transaction where :meth:`recall` and :meth:`show` would take two."""
        with self._uow() as uow:
            query, _ = self._recalled(uow, team_id, user_id, key, fallback)
            page = self._page(uow, team_id, user_id, change(query), PageRequest(), recount=False)
            new_key = self._remember(uow, team_id, user_id, page.query, page.shown)
            uow.commit()
        return page, new_key

    @staticmethod
    def _recalled(
        uow: UnitOfWork, team_id: str, user_id: str, key: str, fallback: str
    ) -> tuple[ProspectQuery, PageRequest]:
        """The state stored under ``key`` for this user, else ``fallback`` (encoded), else the first page."""
        found = uow.list_states.get(key, team_id, user_id) if key else None
        state = found if found is not None else fallback
        return decode_state(state) if state else (ProspectQuery(), PageRequest())

    def page(
        self, team_id: str, user_id: str, query: ProspectQuery, req: PageRequest, *, recount: bool = True
    ) -> ProspectPage:
        """The page ``req`` of the matches of ``query``. ``recount`` False (a click inside a list already
        shown): the total may be one counted up to COUNT_REUSE seconds ago."""
        with self._uow() as uow:
            return self._page(uow, team_id, user_id, query, req, recount=recount)

    def _page(
        self,
        uow: UnitOfWork,
        team_id: str,
        user_id: str,
        query: ProspectQuery,
        req: PageRequest,
        *,
        recount: bool,
    ) -> ProspectPage:
        query, cut = normalise(query)
        totals_key = (team_id, self._marks.get(team_id, 0), query)
        asked = self._totals.now()
        total = None if recount else self._totals.fresh(totals_key)
        picker = user_id if query.prospects_only else None  # only prospects are ever picked
        # Previous leads from the page after it and Next from the page before it: rows lie behind the cursor,
        # seen a moment ago (if they are gone since, Previous finds no rows and shows the first page, as below).
        # A page shown again (a tick) asks: rows before it may have left the list since it was shown.
        known_behind = bool(req.before) or (req.number > 1 and bool(req.after))
        found = uow.prospects.page(
            team_id,
            query,
            after=req.after,
            before=req.before,
            at=req.at,
            size=PAGE_SIZE,
            picked_by=picker,
            known_behind=known_behind,
        )
        if not found.items and (req.at or req.after or req.before):
            # The page's rows are gone (filters changed, rows removed): show the first page instead.
            found = uow.prospects.page(team_id, query, size=PAGE_SIZE, picked_by=picker)
            req = PageRequest()
        if total is None:
            total = self._totals.put(
                totals_key, uow.prospects.count(team_id, query, cap=TOTAL_SHOWN + 1), at=asked
            )
        picked = found.picked
        # Read with the page's rows when it has any (a statement less a click); else asked.
        picked_count = found.picked_count
        if picked_count is None:
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
        now = self._countries.now()
        fresh = self._countries.fresh(team_id)
        if fresh is not None:
            return fresh
        with self._uow() as uow:
            found = uow.partners.countries(team_id)
        return self._countries.put(team_id, found, at=now)

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
            self._pick(uow, team_id, user_id, mpids, picked)
            count = uow.picks.count(team_id, user_id)
            uow.commit()
        return count

    @staticmethod
    def _pick(uow: UnitOfWork, team_id: str, user_id: str, mpids: Collection[str], picked: bool) -> None:
        if picked:
            uow.picks.add(team_id, user_id, mpids)  # only the workspace's prospects
        else:
            uow.picks.remove(team_id, user_id, mpids)

    def clear(self, team_id: str, user_id: str) -> None:
        with self._uow() as uow:
            uow.picks.clear(team_id, user_id)
            uow.commit()

    # -- every match at once ---------------------------------------------------------------------------------
    def match_counts(self, team_id: str, user_id: str, query: ProspectQuery) -> MatchCounts:
        """What picking every prospect ``query`` matches would pick (shown before the user confirms)."""
        query = replace(normalise(query)[0], prospects_only=True)
        window = self._recent_contact(team_id)
        recent = self._clock.now() - window if window else None
        with self._uow() as uow:
            return uow.prospects.match_counts(team_id, query, user_id=user_id, recent_since=recent)

    def recent_days(self, team_id: str) -> int:
        """The workspace's window of a teammate's recent contact, in days (0: not watched)."""
        window = self._recent_contact(team_id)
        return window.days if window else 0

    def picked_count(self, team_id: str, user_id: str) -> int:
        with self._uow() as uow:
            return uow.picks.count(team_id, user_id)

    def pick_matching(self, team_id: str, user_id: str, query: ProspectQuery) -> int:
        """Tick every prospect ``query`` matches (in the database, whatever their number); returns how many
        are ticked now, in all."""
        query = replace(normalise(query)[0], prospects_only=True)
        with self._uow() as uow:
            uow.picks.add_matching(team_id, user_id, query, self._clock.now())
            count = uow.picks.count(team_id, user_id)
            uow.commit()
        return count

    def picked_ids(self, team_id: str, user_id: str) -> list[str]:
        """The mpids this user ticked, in the order ticked (one query, whatever their number)."""
        with self._uow() as uow:
            return uow.picks.all(team_id, user_id)

    def picked(self, team_id: str, user_id: str) -> list[Prospect]:
        """The ticked prospects, in the order ticked (one query, whatever their number)."""
        with self._uow() as uow:
            return uow.picks.prospects(team_id, user_id)

    # -- marketplace ---------------------------------------------------------------------------------
    def mark(self, team_id: str, user_id: str, mpid: str) -> bool:
        """Mark a marketplace partner as prospect; True when it was not one yet (doing it twice changes nothing)."""
        with self._uow() as uow:
            if uow.partners.get(team_id, mpid) is None:
                raise NotFound("partner", mpid)
            changed = uow.prospects.mark(team_id, [mpid], by=user_id, at=self._clock.now())
            uow.commit()
        if changed:
            self._marks[team_id] = self._marks.get(team_id, 0) + 1
        return changed > 0


def marketplace_query(kind: PartnerKind, text: str = "") -> ProspectQuery:
    return ProspectQuery(text=text, kind=kind, prospects_only=False)
