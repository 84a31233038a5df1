"""Browsing prospects and picking recipients, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from outreach.clock import FixedClock
from outreach.errors import NotFound
from outreach.models import MatchCounts, Partner, PartnerKind, ProspectQuery
from outreach.prospecting import MAX_SEARCH, PageRequest, ProspectService, marketplace_query
from tests.fixtures.db import statements

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


@pytest.fixture
def service(uow_factory):
    with uow_factory() as uow:
        for team in (T1, T2):
            partners = [
                Partner(
                    team,
                    f"{i:04d}",
                    f"{team} Company {i:02d}",
                    f"First{i}",
                    "Last",
                    f"p{i}@x.example",
                    PartnerKind.CREATOR if i % 3 == 0 else PartnerKind.PARTNER,
                    i % 2 == 0,
                    "CN" if i % 4 == 0 else "US",
                )
                for i in range(25)
            ]
            # 0000–0022 are prospects; 0023 and 0024 are only in the marketplace
            uow.partners.upsert_many(
                team, partners, mark_prospects={p.mpid for p in partners[:23]}, marked_by="U9"
            )
        uow.commit()
    return ProspectService(uow_factory, FixedClock(AT))


def mpids(page):
    return [p.partner.mpid for p in page.items]


def test_pages_go_forward_and_back_by_ten(service):
    first = service.page(T1, "U1", ProspectQuery(), PageRequest())
    assert first.total == 23 and mpids(first) == [f"{i:04d}" for i in range(10)]
    assert (first.number, first.has_prev, first.has_next) == (1, False, True)
    second = service.page(T1, "U1", ProspectQuery(), PageRequest(after=first.last_cursor, number=2))
    assert mpids(second) == [f"{i:04d}" for i in range(10, 20)] and second.number == 2
    third = service.page(T1, "U1", ProspectQuery(), PageRequest(after=second.last_cursor, number=3))
    assert mpids(third) == ["0020", "0021", "0022"] and not third.has_next
    back = service.page(T1, "U1", ProspectQuery(), PageRequest(before=third.first_cursor, number=2))
    assert mpids(back) == mpids(second)
    again = service.page(T1, "U1", ProspectQuery(), PageRequest(at=second.first_cursor, number=2))
    assert mpids(again) == mpids(second)


def test_ticks_survive_paging_searching_and_filtering(service):
    service.set_picked(T1, "U1", ["0001", "0002"], True)
    service.set_picked(T1, "U1", ["0012"], True)
    page1 = service.page(T1, "U1", ProspectQuery(), PageRequest())
    assert page1.picked_on_page == {"0001", "0002"} and page1.picked_count == 3
    searched = service.page(T1, "U1", ProspectQuery(text="company 12"), PageRequest())
    assert mpids(searched) == ["0012"] and searched.picked_on_page == {"0012"} and searched.picked_count == 3
    filtered = service.page(T1, "U1", ProspectQuery(messaging_enabled=True), PageRequest())
    assert filtered.picked_on_page == {"0002", "0012"} and "0001" not in mpids(filtered)
    assert [p.partner.mpid for p in service.picked(T1, "U1")] == ["0001", "0002", "0012"]


def test_unticking_and_clearing(service):
    service.set_picked(T1, "U1", ["0001", "0002", "0003"], True)
    assert service.set_picked(T1, "U1", ["0002"], False) == 2
    service.clear(T1, "U1")
    assert service.picked(T1, "U1") == []


def test_picks_are_per_user(service):
    service.set_picked(T1, "U1", ["0001"], True)
    assert service.page(T1, "U2", ProspectQuery(), PageRequest()).picked_count == 0


def test_another_workspaces_mpids_cannot_be_picked_or_seen(service):
    # 0030 exists nowhere; a T2 partner's mpid is the same string in T1 but refers to T1's own row.
    assert (
        service.set_picked(T1, "U1", ["0030", "../0001", "0023"], True) == 0
    )  # unknown, junk, not a prospect
    with pytest.raises(NotFound):
        service.get(T1, "9999")
    assert all(p.partner.team_id == T1 for p in service.page(T1, "U1", ProspectQuery(), PageRequest()).items)
    assert all(p.partner.name.startswith("T1 ") for p in service.picked(T1, "U1"))


def test_a_cursor_from_a_page_that_no_longer_exists_shows_the_first_page(service):
    first = service.page(T1, "U1", ProspectQuery(), PageRequest())
    late = service.page(
        T1, "U1", ProspectQuery(text="company 0"), PageRequest(after=first.last_cursor, number=2)
    )
    assert late.number == 1 and mpids(late)[0] == "0000"


def test_long_search_text_is_cut_and_flagged(service):
    page = service.page(T1, "U1", ProspectQuery(text="x" * 10_000), PageRequest())
    assert page.search_cut and len(page.query.text) == MAX_SEARCH and page.total == 0


def test_marketplace_lists_partners_and_creators_and_marking_twice_changes_nothing(service):
    creators = service.page(T1, "U1", marketplace_query(PartnerKind.CREATOR), PageRequest())
    assert all(p.partner.kind is PartnerKind.CREATOR for p in creators.items)
    found = service.page(T1, "U1", marketplace_query(PartnerKind.PARTNER, "company 23"), PageRequest())
    assert mpids(found) == ["0023"] and found.items[0].marked_at is None  # in the marketplace, not a prospect
    assert service.mark(T1, "U1", "0023") is True
    assert service.mark(T1, "U1", "0023") is False
    assert service.page(T1, "U1", ProspectQuery(), PageRequest()).total == 24
    with pytest.raises(NotFound):
        service.mark(T1, "U1", "nope")


def test_countries_for_the_filter(service):
    assert service.countries(T1) == ["CN", "US"]


def test_past_the_shown_total_the_count_stops_and_says_more_than(service, monkeypatch):
    monkeypatch.setattr("outreach.prospecting.TOTAL_SHOWN", 20)
    page = service.page(T1, "U1", ProspectQuery(), PageRequest())
    assert page.total == 21 and page.total_is_lower_bound
    assert not service.page(T1, "U1", ProspectQuery(text="company 1"), PageRequest()).total_is_lower_bound


def test_ticking_and_reading_picks_take_as_many_queries_for_500_picks_as_for_one(uow_factory, db_engine):
    with uow_factory() as uow:
        partners = [Partner("T3", f"m{i:04d}", f"Company {i:04d}") for i in range(520)]
        # m0000–m0499 are prospects; m0500–m0519 are in the marketplace only (never picked)
        uow.partners.upsert_many(
            "T3", partners, mark_prospects={p.mpid for p in partners[:500]}, marked_by="U9"
        )
        uow.commit()
    service = ProspectService(uow_factory, FixedClock(AT))

    def cost(user: str, count: int) -> tuple[int, int]:
        wanted = [f"m{i:04d}" for i in range(count)]
        with statements(db_engine) as ticking:
            assert service.set_picked("T3", user, wanted, True) == count
        with statements(db_engine) as reading:
            assert [p.partner.mpid for p in service.picked("T3", user)] == wanted
        return len(ticking), len(reading)

    one, many = cost("U1", 1), cost("U2", 500)
    assert many == one, f"1 pick: {one} statements (tick, read); 500 picks: {many}"
    assert many[0] <= 4 and many[1] <= 2


def test_every_match_is_counted_then_picked_in_the_database_in_its_own_workspace(uow_factory, service):
    with uow_factory() as uow:
        uow.suppressions.add(T1, "P4@x.example", "unsubscribed")  # an upper-case address, lower-cased
        uow.prospects.mark_contacted(T1, ["0008"], AT, by="U2")  # by a teammate, just now
        uow.prospects.mark_contacted(T1, ["0012"], AT, by="U1")  # by the user themself
        uow.commit()
    service = ProspectService(uow_factory, FixedClock(AT), recent_contact=timedelta(days=7))
    query = ProspectQuery(country="CN")  # 0000, 0004, 0008, 0012, 0016, 0020 (0024 is no prospect)
    counts = service.match_counts(T1, "U1", query)
    assert counts == MatchCounts(
        total=6, messageable=6, emailable=6, suppressed=1, recent_by_teammate=1
    )  # every one of them has an even number: messaging on
    service.set_picked(T1, "U1", ["0004", "0001"], True)
    assert service.pick_matching(T1, "U1", query) == 7  # 0001 and the six; 0004 only once
    assert sorted(service.picked_ids(T1, "U1")) == ["0000", "0001", "0004", "0008", "0012", "0016", "0020"]
    assert service.picked_ids(T2, "U1") == [] and service.picked_ids(T1, "U2") == []
    searched = service.pick_matching(T1, "U3", ProspectQuery(text="company 1"))  # "Company 1x" (and "01")
    assert searched == len([i for i in range(23) if f"Company {i:02d}".lower().find("company 1") >= 0])
    assert service.pick_matching(T1, "U4", marketplace_query(PartnerKind.PARTNER)) == len(
        [i for i in range(23) if i % 3 != 0]
    )  # the marketplace's partners who are prospects: only prospects are ever picked


def test_a_click_inside_a_list_may_show_a_total_counted_a_moment_ago_a_new_list_counts_afresh(
    service, uow_factory
):
    assert service.page(T1, "U1", ProspectQuery(), PageRequest()).total == 23
    with uow_factory() as uow:  # another process (an import) makes 0023 a prospect
        uow.prospects.mark(T1, ["0023"], by="U9", at=AT)
        uow.commit()
    assert service.page(T1, "U1", ProspectQuery(), PageRequest(), recount=False).total == 23
    partners = ProspectQuery(kind=PartnerKind.PARTNER)  # a filter not counted before is counted now
    assert service.page(T1, "U1", partners, PageRequest(), recount=False).total == 16
    assert service.page(T1, "U1", ProspectQuery(), PageRequest()).total == 24  # /prospects: counted now
    assert service.page(T2, "U1", ProspectQuery(), PageRequest(), recount=False).total == 23  # per workspace
    assert service.mark(T1, "U2", "0024")  # marked here: the team's totals are counted again
    assert service.page(T1, "U1", ProspectQuery(), PageRequest(), recount=False).total == 25


def test_a_tick_saves_the_pick_and_shows_the_render_it_was_made_on_again_under_a_new_key(
    service, uow_factory
):
    """A new key each time, even for the same page: the render's block ids carry it, and Slack wants new block
    ids each time a message is updated. The page shown is the list as it is now: here its first row has left the
    "not contacted" list."""
    query = ProspectQuery(not_contacted=True)
    second = service.page(
        T1, "U1", query, PageRequest(after=service.page(T1, "U1", query, PageRequest()).last_cursor, number=2)
    )
    _, key = service.show(T1, "U1", query, second.shown)
    page, new_key = service.tick(T1, "U1", key, "0012", picked=True)
    assert mpids(page) == mpids(second) and page.number == 2 and page.picked_on_page == {"0012"}
    assert new_key != key and service.recall(T1, "U1", new_key) == (query, second.shown)
    page, _ = service.tick(T1, "U1", new_key, "0012", picked=False)
    assert page.picked_on_page == frozenset() and page.picked_count == 0
    with uow_factory() as uow:
        uow.prospects.mark_contacted(T1, ["0010"], AT)  # the page's first row leaves the list
        uow.commit()
    page, third_key = service.tick(T1, "U1", key, "0013", picked=True)
    assert mpids(page) == [f"{i:04d}" for i in range(11, 21)] and page.picked_on_page == {"0013"}
    assert third_key not in (key, new_key) and service.recall(T1, "U1", third_key) == (query, page.shown)
    assert service.recall(T1, "U1", key) == (query, second.shown)  # the old render still says what it showed
    # Another user's render (or a forgotten one) is not theirs to read: page 1, and the tick still counts
    page, _ = service.tick(T1, "U2", key, "0001", picked=True)
    assert page.number == 1 and page.picked_on_page == {"0001"}
    page, _ = service.tick(T1, "U2", "", "0030", picked=True)  # not a prospect of this workspace: not ticked
    assert page.picked_count == 1


def test_a_click_inside_a_list_reads_the_page_its_picks_and_counts_in_as_few_statements_as_it_can(
    service, db_engine
):
    """Next and Previous know the page they come from has rows, and a page's ticks and the pick count are read
    with its rows: Next is the page and the total; a tick is a pick, the render's state, the page with whether
    rows lie before it (they may have left the list since it was shown) as one statement, and the state it shows
    next (the total reused, COUNT_REUSE)."""
    service.set_picked(T1, "U1", ["0011"], True)
    first = service.page(T1, "U1", ProspectQuery(), PageRequest())
    with statements(db_engine) as seen:
        second = service.page(T1, "U1", ProspectQuery(), PageRequest(after=first.last_cursor, number=2))
    assert (second.has_prev, second.has_next, second.picked_on_page) == (True, True, {"0011"})
    assert second.picked_count == 1
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, selects  # the page with its ticks and the pick count, the total
    _, key = service.show(T1, "U1", ProspectQuery(), second.shown)
    with statements(db_engine) as ticking:
        page, _ = service.tick(T1, "U1", key, "0012", picked=True)
    assert (page.number, page.has_prev, page.picked_count) == (2, True, 2)
    assert page.picked_on_page == {"0011", "0012"}
    reads = [s for s in ticking if s.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))]
    assert len(reads) == 4, reads
    back = service.page(T1, "U1", ProspectQuery(), PageRequest(before=second.first_cursor, number=1))
    assert (mpids(back), back.has_prev, back.has_next) == (mpids(first), False, True)


def test_a_filter_changed_on_a_render_shows_its_search_so_filtered_from_page_one_in_one_transaction(
    service, db_engine, uow_factory
):
    """The render's state read back, the page, and the new render's state in one transaction (a filter change
    is a click inside the list: the total may be one counted a moment ago)."""
    query = ProspectQuery(text="company", not_contacted=True)
    first = service.page(T1, "U1", query, PageRequest())
    _, key = service.show(T1, "U1", query, PageRequest(after=first.last_cursor, number=2))
    began: list[object] = []

    def listen(conn: object) -> None:
        began.append(conn)

    event.listen(db_engine, "begin", listen)
    try:
        with statements(db_engine) as seen:
            page, new_key = service.refilter(T1, "U1", key, lambda q: replace(q, kind=PartnerKind.CREATOR))
    finally:
        event.remove(db_engine, "begin", listen)
    assert len(began) == 1
    # the render's state, the search's rows (looked up once), the page, its total (a filter not counted yet), the
    # new render's state
    assert len([s for s in seen if s.lstrip().upper().startswith(("SELECT", "INSERT"))]) == 5, seen
    creators = replace(query, kind=PartnerKind.CREATOR)
    assert page.query == creators and page.number == 1 and not page.has_prev
    assert page.items and all(p.partner.kind is PartnerKind.CREATOR for p in page.items)
    assert new_key != key and service.recall(T1, "U1", new_key) == (creators, page.shown)
    with uow_factory() as uow:  # another process makes a creator of the list a prospect
        uow.prospects.mark(T1, ["0024"], by="U9", at=AT)
        uow.commit()
    again, _ = service.refilter(T1, "U1", new_key, lambda q: q)
    assert again.total == page.total  # a click inside the list: the total counted a moment ago
    assert service.show(T1, "U1", creators, PageRequest())[0].total == page.total + 1  # a new list counts
    # Another user's key is not theirs to read: the fallback (the state the action carried), else no filter
    page, _ = service.refilter(T1, "U2", key, lambda q: q, fallback='{"n":1,"k":"partner"}')
    assert page.query == ProspectQuery(kind=PartnerKind.PARTNER)
    page, _ = service.refilter(T1, "U2", key, lambda q: replace(q, not_contacted=True))
    assert page.query == ProspectQuery(not_contacted=True)


def test_a_rare_search_is_looked_up_in_the_trigram_index_once_a_click_and_its_rows_read_by_id(
    service, db_engine
):
    """Left to guess how many rows a ``LIKE '%…%'`` matches, PostgreSQL's planner can take a rare term for a
    common one (a value of its histogram contains it) and walk the whole sorted list for it (190 ms at 100,000
    partners: bench/list_load.py). So a search few partners match is looked up in the trigram index once, with
    no order to tempt the planner, and the page, whether rows lie before it and the total read those rows by id."""
    query = ProspectQuery(text="company 1")  # "T1 Company 10" … "T1 Company 19"
    first = service.page(T1, "U1", query, PageRequest())
    _, key = service.show(T1, "U1", query, first.shown)
    with statements(db_engine) as ticking:
        page, _ = service.tick(T1, "U1", key, mpids(first)[1], picked=True)
    with statements(db_engine) as showing:
        shown = service.page(T1, "U1", query, PageRequest())
    assert mpids(page) == mpids(shown) == mpids(first) == [f"{i:04d}" for i in range(10, 20)]
    assert page.picked_on_page == {mpids(first)[1]}
    for seen in (ticking, showing):
        flat = [" ".join(s.split()) for s in seen]
        partners = [s for s in flat if " FROM partners " in s or "partners_search" in s]
        lookups = [
            s for s in partners if "MATCH" in s or ("LIKE" in s and "ANY" not in s and " IN (" not in s)
        ]
        assert len(lookups) == 1, partners  # the trigram index, once
        assert all("ANY" in s or " IN (" in s for s in partners if s not in lookups), partners  # by id
