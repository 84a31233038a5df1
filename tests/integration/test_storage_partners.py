"""Partners and prospects on both databases: upserts, workspace isolation, keyset paging, filters, search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from outreach.models import Partner, PartnerKind, ProspectQuery
from storage.db import analyze
from tests.fixtures.db import statements

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


def partner(mpid: str, name: str, team: str = T1, **kw: object) -> Partner:
    return Partner(team_id=team, mpid=mpid, name=name, **kw)  # type: ignore[arg-type]


def store(uow_factory, partners, *, prospects=True, team=T1):
    with uow_factory() as uow:
        counts = uow.partners.upsert_many(
            team, partners, mark_prospects={p.mpid for p in partners} if prospects else (), marked_by="U1"
        )
        uow.commit()
    return counts


def mpids(page) -> list[str]:
    return [p.partner.mpid for p in page.items]


def test_upserting_the_same_partners_twice_changes_nothing(uow_factory):
    rows = [
        partner(f"m{i}", f"Company {i}", email=f"c{i}@example.com", categories=("a", "b")) for i in range(5)
    ]
    first = store(uow_factory, rows)
    second = store(uow_factory, rows)
    assert (first.inserted, first.updated, first.unchanged) == (5, 0, 0)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 5)
    with uow_factory() as uow:
        assert uow.partners.get(T1, "m3") == rows[3]


def test_a_changed_partner_is_updated_and_keeps_its_prospect_mark(uow_factory):
    store(uow_factory, [partner("m1", "Acme")])
    with uow_factory() as uow:
        marked_at = uow.prospects.get(T1, "m1").marked_at
    counts = store(uow_factory, [partner("m1", "Acme Corp", country="DE")])
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, 0)
    with uow_factory() as uow:
        prospect = uow.prospects.get(T1, "m1")
    assert prospect.partner.name == "Acme Corp"
    assert prospect.partner.country == "DE"
    assert prospect.marked_at == marked_at
    assert prospect.marked_at.tzinfo is not None


def test_leaving_a_unit_of_work_without_commit_rolls_back(uow_factory):
    with uow_factory() as uow:
        uow.partners.upsert_many(T1, [partner("m1", "Acme")])
    with uow_factory() as uow:
        assert uow.partners.get(T1, "m1") is None


def test_a_second_workspace_never_sees_the_first_ones_rows(uow_factory):
    store(uow_factory, [partner("m1", "Acme", email="a@example.com")], team=T1)
    store(uow_factory, [partner("m1", "Other", team=T2)], team=T2)
    with uow_factory() as uow:
        assert uow.partners.get(T2, "m1").name == "Other"
        assert uow.partners.get(T1, "m1").name == "Acme"
        page = uow.prospects.page(T2, ProspectQuery(text="acme"))
        assert page.items == ()
        assert uow.prospects.count(T2, ProspectQuery()) == 1
        assert [p.partner.name for p in uow.prospects.page(T2, ProspectQuery()).items] == ["Other"]
        assert uow.partners.get_many(T2, ["m1"])["m1"].name == "Other"


def test_pages_go_forward_and_back_through_ties_in_name_order(uow_factory):
    # Three companies share one name: mpid breaks the tie.
    names = ["beta", "Alpha", "alpha", "ALPHA", "delta", "Gamma", "epsilon"]
    rows = [partner(f"m{i:02}", name) for i, name in enumerate(names)]
    store(uow_factory, rows)
    with uow_factory() as uow:
        repo, query = uow.prospects, ProspectQuery()
        first = repo.page(T1, query, size=3)
        assert mpids(first) == ["m01", "m02", "m03"]
        assert (first.has_prev, first.has_next) == (False, True)
        second = repo.page(T1, query, after=first.last_cursor, size=3)
        assert mpids(second) == ["m00", "m04", "m06"]
        assert (second.has_prev, second.has_next) == (True, True)
        third = repo.page(T1, query, after=second.last_cursor, size=3)
        assert mpids(third) == ["m05"]
        assert (third.has_prev, third.has_next) == (True, False)
        back = repo.page(T1, query, before=third.first_cursor, size=3)
        assert mpids(back) == mpids(second)
        assert (back.has_prev, back.has_next) == (True, True)
        start = repo.page(T1, query, before=back.first_cursor, size=3)
        assert mpids(start) == mpids(first)
        assert (start.has_prev, start.has_next) == (False, True)
        again = repo.page(T1, query, at=second.first_cursor, size=3)
        assert mpids(again) == mpids(second)
        assert (again.has_prev, again.has_next) == (True, True)  # asked with the rows


def test_a_page_shown_again_asks_with_its_rows_whether_rows_lie_before_it_on_the_list_searched(uow_factory):
    rows = [partner(f"m{i:02}", f"Media {i:02}") for i in range(6)] + [partner("a1", "Abacus")]
    store(uow_factory, rows)
    with uow_factory() as uow:
        repo, query = uow.prospects, ProspectQuery(text="media", not_contacted=True)
        first = repo.page(T1, query, size=2)
        second = repo.page(T1, query, after=first.last_cursor, size=2)
        again = repo.page(T1, query, at=second.first_cursor, size=2)
        assert (mpids(again), again.has_prev, again.has_next) == (["m02", "m03"], True, True)
        # "Abacus" sorts before them but is not on the searched list
        top = repo.page(T1, query, at=first.first_cursor, size=2)
        assert (mpids(top), top.has_prev) == (["m00", "m01"], False)
        uow.prospects.mark_contacted(T1, ["m00", "m01"], AT)  # the rows before the second page leave the list
        alone = repo.page(T1, query, at=second.first_cursor, size=2)
        assert (mpids(alone), alone.has_prev) == (["m02", "m03"], False)
        back = repo.page(T1, query, before=second.first_cursor, size=2)  # no row: asked on its own
        assert (back.items, back.has_prev, back.has_next) == ((), False, True)


def test_a_page_says_which_of_its_rows_one_user_picked_in_its_own_workspace(uow_factory):
    rows = [partner(f"m{i:02}", f"Company {i:02}") for i in range(6)]
    store(uow_factory, rows)
    store(uow_factory, [partner("m01", "Company 01", team=T2)], team=T2)
    with uow_factory() as uow:
        uow.picks.add(T1, "U1", ["m01", "m04", "m99"])  # m99: no such prospect, left out
        uow.picks.add(T1, "U2", ["m02"])
        uow.picks.add(T2, "U1", ["m01"])
        uow.commit()
    with uow_factory() as uow:
        repo, query = uow.prospects, ProspectQuery()
        first = repo.page(T1, query, size=3, picked_by="U1")
        assert (mpids(first), first.picked) == (["m00", "m01", "m02"], frozenset({"m01"}))
        second = repo.page(T1, query, after=first.last_cursor, size=3, picked_by="U1")
        assert (mpids(second), second.picked) == (["m03", "m04", "m05"], frozenset({"m04"}))
        back = repo.page(T1, query, before=second.first_cursor, size=3, picked_by="U2")
        assert (mpids(back), back.picked) == (["m00", "m01", "m02"], frozenset({"m02"}))
        assert repo.page(T1, query, size=3).picked == frozenset()  # nobody asked about
        assert repo.page(T2, query, picked_by="U2").picked == frozenset()
        assert uow.picks.all(T1, "U1") == ["m01", "m04"]


def test_a_partner_without_company_name_sorts_by_contact_name(uow_factory):
    store(uow_factory, [partner("m1", "Zeta"), partner("m2", "", first_name="Bob", last_name="Able")])
    with uow_factory() as uow:
        assert mpids(uow.prospects.page(T1, ProspectQuery())) == ["m2", "m1"]


def test_an_unknown_cursor_starts_at_the_first_page(uow_factory):
    store(uow_factory, [partner("m1", "Acme")])
    with uow_factory() as uow:
        assert mpids(uow.prospects.page(T1, ProspectQuery(), after="not-a-cursor")) == ["m1"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acme", ["mp-001"]),  # company
        ("ANN", ["mp-001"]),  # first name, any case
        ("ann lee", ["mp-001"]),  # contact name
        ("@beta.example", ["mp-002"]),  # e-mail
        ("MP-00", ["mp-001", "mp-002"]),  # mpid
        ("Zürich", ["zz-3"]),  # non-ASCII, case-insensitive
        ("50%", []),  # LIKE wildcards are literal
        ("a_e", []),
        ("  acme  ", ["mp-001"]),  # surrounding spaces do not count
    ],
)
def test_search_matches_name_company_email_and_mpid(uow_factory, text, expected):
    store(
        uow_factory,
        [
            partner("mp-001", "Acme", first_name="Ann", last_name="Lee", email="x@acme.example"),
            partner("mp-002", "Beta", email="bob@beta.example"),
            partner("zz-3", "ZÜRICH Media", email="z@zm.example"),
        ],
    )
    with uow_factory() as uow:
        found = sorted(mpids(uow.prospects.page(T1, ProspectQuery(text=text), size=10)))
        count = uow.prospects.count(T1, ProspectQuery(text=text))
    assert found == expected
    assert count == len(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ProspectQuery(kind=PartnerKind.CREATOR), ["m2", "m4"]),
        (ProspectQuery(kind=PartnerKind.PARTNER), ["m1", "m3"]),
        (ProspectQuery(messaging_enabled=True), ["m1", "m2"]),
        (ProspectQuery(messaging_enabled=False), ["m3", "m4"]),
        (ProspectQuery(country="de"), ["m1", "m4"]),
        (ProspectQuery(not_contacted=True), ["m2", "m3", "m4"]),
        (ProspectQuery(kind=PartnerKind.CREATOR, country="DE"), ["m4"]),
        (ProspectQuery(prospects_only=False), ["m1", "m2", "m3", "m4", "m5"]),
        (ProspectQuery(prospects_only=False, country="FR"), ["m5"]),
    ],
)
def test_each_filter_narrows_the_list(uow_factory, query, expected):
    store(
        uow_factory,
        [
            partner("m1", "A", kind=PartnerKind.PARTNER, messaging_enabled=True, country="DE"),
            partner("m2", "B", kind=PartnerKind.CREATOR, messaging_enabled=True, country="US"),
            partner("m3", "C", kind=PartnerKind.PARTNER, messaging_enabled=False, country="US"),
            partner("m4", "D", kind=PartnerKind.CREATOR, messaging_enabled=False, country="DE"),
        ],
    )
    store(uow_factory, [partner("m5", "E", country="FR")], prospects=False)
    with uow_factory() as uow:
        uow.prospects.mark_contacted(T1, ["m1"], AT)
        uow.commit()
    with uow_factory() as uow:
        assert mpids(uow.prospects.page(T1, query, size=10)) == expected
        assert uow.prospects.count(T1, query) == len(expected)


def test_marking_prospects(uow_factory):
    store(uow_factory, [partner("m1", "A"), partner("m2", "B"), partner("m3", "C")], prospects=False)
    with uow_factory() as uow:
        assert uow.prospects.count(T1, ProspectQuery()) == 0
        assert uow.prospects.mark(T1, ["m1", "m2", "nope"], by="U7", at=AT) == 2
        assert uow.prospects.mark(T1, ["m1"], by="U8", at=AT) == 0
        assert uow.prospects.mark(T2, ["m1"], by="U8", at=AT) == 0
        uow.commit()
    with uow_factory() as uow:
        prospect = uow.prospects.get(T1, "m1")
        assert (prospect.marked_by, prospect.marked_at, prospect.status) == ("U7", AT, "new")
        assert uow.prospects.get(T1, "m3") is None  # a partner never marked is no prospect
        assert uow.partners.get(T1, "m3") is not None
        assert mpids(uow.prospects.page(T1, ProspectQuery())) == ["m1", "m2"]


def test_search_follows_renames(uow_factory):
    store(uow_factory, [partner("m1", "Old Name Media")])
    store(uow_factory, [partner("m1", "Brand New Media")])
    with uow_factory() as uow:
        assert mpids(uow.prospects.page(T1, ProspectQuery(text="old name"))) == []
        assert mpids(uow.prospects.page(T1, ProspectQuery(text="brand new"))) == ["m1"]


def test_a_common_search_term_gives_the_same_page_either_way(uow_factory, monkeypatch):
    # On SQLite a term with many matches skips the trigram index and walks the sorted list instead.
    from storage import partner_repository

    store(uow_factory, [partner(f"m{i}", f"Media {i:02}") for i in range(12)] + [partner("x", "Other")])
    query = ProspectQuery(text="media")
    with uow_factory() as uow:
        indexed = uow.prospects.page(T1, query, size=5)
        counted = uow.prospects.count(T1, query)
    monkeypatch.setattr(partner_repository, "FTS_CANDIDATES", 3)
    with uow_factory() as uow:
        walked = uow.prospects.page(T1, query, size=5)
        assert uow.prospects.count(T1, query) == counted == 12
        following = uow.prospects.page(T1, query, after=walked.last_cursor, size=5)
    assert mpids(walked) == mpids(indexed) == ["m0", "m1", "m2", "m3", "m4"]
    assert mpids(following) == ["m5", "m6", "m7", "m8", "m9"]


def test_after_a_load_the_search_index_holds_every_new_row_merged_and_keeps_its_pending_list_short(
    uow_factory, db_engine
):
    """PostgreSQL: the rows a load wrote wait in the trigram index's pending list, which every search reads in
    full; the load's closing step (storage.db.analyze, as `prospects-bot import` runs it) merges them, and the
    list is capped at 512 kB (migration 0022). SQLite has no such list: ANALYZE only."""
    store(uow_factory, [partner(f"m{i:04}", f"Company {i:04} Media") for i in range(400)])
    if db_engine.dialect.name != "postgresql":
        analyze(db_engine, "partners")
        with uow_factory() as uow:
            assert uow.prospects.count(T1, ProspectQuery(text="0042 media")) == 1
        return
    with db_engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
        options = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'ix_partners_search_trgm'")
        ).scalar_one()
        pending = "SELECT pending_tuples FROM pgstatginindex('ix_partners_search_trgm')"
        assert conn.execute(text(pending)).scalar_one() > 0
    assert options == ["gin_pending_list_limit=512"]
    analyze(db_engine, "partners")
    with db_engine.connect() as conn:
        assert conn.execute(text(pending)).scalar_one() == 0
    with uow_factory() as uow:
        assert uow.prospects.count(T1, ProspectQuery(text="0042 media")) == 1


def test_a_term_too_common_to_look_up_is_walked_for_without_asking_again_for_a_minute(
    uow_factory, db_engine, monkeypatch
):
    """Only which plan serves a search depends on this, never which rows it finds."""
    from storage import partner_repository

    monkeypatch.setattr(partner_repository, "FTS_CANDIDATES", 3)
    store(uow_factory, [partner(f"s{i}", f"Studio {i:02}") for i in range(5)])
    query = ProspectQuery(text="studio")

    def lookups(seen: list[str]) -> int:
        flat = [" ".join(s.split()) for s in seen]
        return sum("MATCH" in s or ("LIKE" in s and "ORDER BY" not in s and "count(" not in s) for s in flat)

    with statements(db_engine) as seen:
        with uow_factory() as uow:
            assert mpids(uow.prospects.page(T1, query, size=3)) == ["s0", "s1", "s2"]
        assert lookups(seen) == 1  # 5 matches > 3: looked up once, then walked
        store(uow_factory, [partner("s9", "Studio 99")])
        with uow_factory() as uow:
            assert mpids(uow.prospects.page(T1, query, size=3)) == ["s0", "s1", "s2"]
            assert uow.prospects.count(T1, query) == 6
        assert lookups(seen) == 1  # not again: the walk, which finds the new row
        monkeypatch.setattr(partner_repository, "COMMON_KEPT", 0.0)
        with uow_factory() as uow:
            assert uow.prospects.count(T1, query) == 6
        assert lookups(seen) == 2  # the verdict is old: asked again
