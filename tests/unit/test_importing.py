"""The import core with a fake unit of work: formats, validation, line numbers, batching."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType

import pytest

from outreach.errors import ImportFailed
from outreach.importing import import_ads, import_partners
from outreach.models import Ad, AdType, AuditEvent, Partner, PartnerKind, UpsertCounts

HEADER = "mpid,mpname,first_name,last_name,email,kind,messaging_enabled,prospect,country,website,categories\n"


class FakePartners:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Partner] = {}
        self.prospects: set[tuple[str, str]] = set()
        self.batches = 0

    def upsert_many(self, team_id, partners: Sequence[Partner], *, mark_prospects=(), marked_by=""):
        self.batches += 1
        counts = UpsertCounts()
        for p in partners:
            key = (team_id, p.mpid)
            newly = p.mpid in mark_prospects and key not in self.prospects
            old = self.rows.get(key)
            self.rows[key] = p
            if newly:
                self.prospects.add(key)
            if old is None:
                counts += UpsertCounts(inserted=1)
            elif old != p or newly:
                counts += UpsertCounts(updated=1)
            else:
                counts += UpsertCounts(unchanged=1)
        return counts


class FakeAds:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Ad] = {}

    def upsert_many(self, team_id, ads):
        counts = UpsertCounts()
        for ad in ads:
            old = self.rows.get((team_id, ad.adid))
            self.rows[(team_id, ad.adid)] = ad
            counts += UpsertCounts(
                inserted=old is None, updated=old is not None and old != ad, unchanged=old == ad
            )
        return counts


class FakeAudit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event):
        self.events.append(event)
        return event


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.partners, self.ads, self.audit = store.partners, store.ads, store.audit
        self.committed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb: TracebackType | None) -> None:
        pass

    def commit(self) -> None:
        self.committed = True


class FakeStore:
    def __init__(self) -> None:
        self.partners, self.ads, self.audit = FakePartners(), FakeAds(), FakeAudit()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def run(store: FakeStore, text: str | bytes, filename: str = "partners.csv", **kw):
    data = text.encode() if isinstance(text, str) else text
    return import_partners(data, "T1", store, filename=filename, **kw)


def test_a_plain_csv_imports_every_field(store):
    report = run(
        store,
        HEADER
        + "m1,Acme Media,Ann,Lee,Ann@Acme.example.com,creator,yes,true,de,https://acme.example,a; b|c\n",
    )
    assert (report.inserted, report.rejected) == (1, ())
    assert store.partners.rows[("T1", "m1")] == Partner(
        team_id="T1",
        mpid="m1",
        name="Acme Media",
        first_name="Ann",
        last_name="Lee",
        email="Ann@acme.example.com",
        kind=PartnerKind.CREATOR,
        messaging_enabled=True,
        country="DE",
        website="https://acme.example",
        categories=("a", "b", "c"),
    )
    assert store.partners.prospects == {("T1", "m1")}
    assert store.audit.events[0].action == "import.partners"


def test_a_bom_and_semicolons_are_understood(store):
    text = "\ufeff" + HEADER.replace(",", ";") + "m1;Acme;;;a@acme.example.com;partner;no;no;;;\n"
    report = run(store, text.encode("utf-8"))
    assert report.inserted == 1
    assert store.partners.rows[("T1", "m1")].name == "Acme"


def test_semicolon_files_may_hold_commas_in_values(store):
    text = "mpid;mpname;email;kind\nm1;Acme, Inc.;a@acme.example.com;partner\n"
    run(store, text)
    assert store.partners.rows[("T1", "m1")].name == "Acme, Inc."


def test_json_lines_are_read_by_extension_or_content(store):
    lines = [
        {"mpid": "m1", "mpname": "Acme", "email": "", "kind": "partner", "messaging_enabled": True},
        {"mpid": 2, "mpname": "Beta", "email": None, "kind": "creator", "categories": ["x", "y"]},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    assert run(store, text, filename="p.jsonl").inserted == 2
    assert store.partners.rows[("T1", "2")].categories == ("x", "y")
    assert store.partners.rows[("T1", "m1")].messaging_enabled is True
    assert run(store, text, filename="upload").unchanged == 2


def test_bad_rows_are_reported_with_their_line_numbers_and_the_good_ones_kept(store):
    text = (
        HEADER
        + "m1,Acme,,,a@acme.example.com,partner,,,,,\n"  # line 2 ok
        + ",NoId,,,,partner,,,,,\n"  # 3
        + "m3,Bad Mail,,,not-an-email,partner,,,,,\n"  # 4
        + "m4,Odd,,,,reseller,,,,,\n"  # 5
        + "m1,Again,,,,partner,,,,,\n"  # 6
        + "m6,Short,,\n"  # 7
        + 'm7,"Broken"quote,,,,partner,,,,,\n'  # 8
        + "m8,Flag,,,,partner,maybe,,,,\n"  # 9
        + "m9,Where,,,,partner,,,Germany,,\n"  # 10
        + 'm10,"Two\nlines",,,,partner,,,,,\n'  # 11-12: a line break in a name would reach e-mail headers
        + "m11,Last,,,,creator,,,,,\n"  # 13 ok
    )
    report = run(store, text)
    reasons = {error.line: error.reason for error in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert reasons[3] == "mpid is empty"
    assert reasons[4].startswith("bad email 'not-an-email'")
    assert reasons[5].startswith("unknown kind 'reseller'")
    assert reasons[6] == "duplicate mpid 'm1' (first on line 2)"
    assert reasons[7] == "expected 11 fields, found 4"
    assert reasons[8].startswith("broken quoting")
    assert "messaging_enabled" in reasons[9]
    assert "two-letter" in reasons[10]
    assert reasons[11] == "mpname contains control characters (U+000A)"
    assert sorted(mpid for _, mpid in store.partners.rows) == ["m1", "m11"]
    assert str(report.rejected[0]) == "line 3: mpid is empty"


def test_an_unclosed_quote_costs_only_its_own_line(store):
    text = HEADER + 'm1,"Never closed,,,,partner,,,,,\n' + "m2,Fine,,,,partner,,,,,\n"
    report = run(store, text)
    assert [e.line for e in report.rejected] == [2]
    assert ("T1", "m2") in store.partners.rows


def test_a_header_without_required_columns_fails_at_once_naming_them(store):
    with pytest.raises(ImportFailed, match="lacks required columns: email, kind"):
        run(store, "mpid,mpname,country\nm1,Acme,US\n")
    assert store.partners.rows == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"\xff\xfe\x00m\x00p\x00i\x00d" * 20, "not UTF-8"), (b"  \n\n", "empty")],
)
def test_an_unreadable_file_fails(store, data, message):
    with pytest.raises(ImportFailed, match=message):
        run(store, data)


def test_a_missing_file_fails(store, tmp_path):
    with pytest.raises(ImportFailed, match="cannot open"):
        import_partners(tmp_path / "nope.csv", "T1", store)


def test_rows_are_written_in_batches(store):
    rows = "".join(f"m{i},Name {i},,,,partner,,,,,\n" for i in range(25))
    report = run(store, HEADER + rows, batch_size=10)
    assert report.inserted == 25
    assert store.partners.batches == 3


def test_progress_counts_every_physical_line(store):
    seen: list[int] = []
    run(store, HEADER + 'm1,"a\nb",,,,partner,,,,,\nm2,x,,,,partner,,,,,\nbad\n', progress=seen.append)
    assert sum(seen) == 4


def test_ads_parse_text_links_and_banners_with_sizes(store):
    text = (
        "adid,name,ad_type,landing_url,creative\n"
        "a1,Spring sale,text-link,https://brand.example/s,Shop now\n"
        "a2,Banner,banner,https://brand.example/b,https://cdn.example/b.png 300x250\n"
        "a3,Plain,Text_Link,https://brand.example/p,\n"
        "a4,No image,banner,https://brand.example/b,\n"
        "a5,Bad url,text-link,ftp://brand.example,\n"
        "a6,Bad size,banner,https://brand.example/b,https://cdn.example/b.png big\n"
        "a7,Kind,popup,https://brand.example/b,\n"
    )
    report = import_ads(text.encode(), "T1", store, filename="ads.csv")
    assert report.inserted == 3
    assert [e.line for e in report.rejected] == [5, 6, 7, 8]
    assert store.ads.rows[("T1", "a2")] == Ad(
        "T1", "a2", "Banner", AdType.BANNER, "https://brand.example/b", "https://cdn.example/b.png", 300, 250
    )
    assert store.ads.rows[("T1", "a3")].creative == "Plain"
    assert store.ads.rows[("T1", "a1")].creative == "Shop now"


def test_a_timezone_column_takes_iana_names_whatever_their_case_and_refuses_others(store):
    text = (
        "mpid,mpname,email,kind,timezone\n"
        "m1,Tokyo Media,,partner,Asia/Tokyo\n"
        "m2,Berlin Shop,,partner,europe/berlin\n"
        "m3,No zone,,partner,\n"
        "m4,Offset,,partner,+02:00\n"
        "m5,Made up,,partner,Mars/Olympus\n"
    )
    report = run(store, text)
    assert report.inserted == 3
    assert [(e.line, "IANA" in e.reason) for e in report.rejected] == [(5, True), (6, True)]
    zones = {mpid: p.timezone for (_, mpid), p in store.partners.rows.items()}
    assert zones == {"m1": "Asia/Tokyo", "m2": "Europe/Berlin", "m3": ""}
