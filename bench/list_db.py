"""Prospect list latency at 100,000 prospects per workspace (and at 100), SQLite and PostgreSQL; import rate.

Loads 100,000 partners (all prospects) with the real importer from a generated CSV into a fresh database
(a SQLite file in a temp dir; a temporary PostgreSQL database made from --postgres, dropped at the end),
plus a second workspace of 100, then times each list query (one unit of work per query, as the app does).
Prints one line per figure: ``name value unit [target]``.

    .venv/bin/python bench/list_db.py [--rows 100000] [--repeat 50] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import csv
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from outreach.importing import import_partners
from outreach.models import PartnerKind, ProspectQuery
from storage.db import make_engine, make_session_factory, normalise_url
from storage.migrate import upgrade
from storage.models import PartnerRow
from storage.partner_repository import encode_cursor
from storage.unit_of_work import make_uow_factory

BIG, SMALL = "TBIG", "TSMALL"
COUNTRIES = ["US", "DE", "FR", "GB", "CN", "JP", "BR", "IN", "ES", "IT", "NL", "SE", "PL", "CA", "AU"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "su", "ti", "vo", "ze", "ba", "do", "fu", "gi", "ha", "jo"]
HEADER = [
    "mpid",
    "mpname",
    "first_name",
    "last_name",
    "email",
    "kind",
    "messaging_enabled",
    "prospect",
    "country",
]


def word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(n)).capitalize()


def write_csv(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(rows):
            company = f"{word(rng, 3)} {rng.choice(['Media', 'Deals', 'Blog', 'Reviews', 'Coupons'])}"
            first, last = word(rng, 2), word(rng, 3)
            out.writerow(
                [
                    f"mp{seed}-{i:06}",
                    company,
                    first,
                    last,
                    f"{first.lower()}.{last.lower()}{i}@{company.split(maxsplit=1)[0].lower()}.example.com",
                    "creator" if rng.random() < 0.3 else "partner",
                    "yes" if rng.random() < 0.4 else "no",
                    "yes",
                    rng.choice(COUNTRIES),
                ]
            )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def bench(label: str, url: str, rows: int, repeat: int, workdir: Path) -> None:
    upgrade(url)
    engine = make_engine(url)
    factory = make_uow_factory(make_session_factory(engine))
    big, small = workdir / f"{label}-big.csv", workdir / f"{label}-small.csv"
    write_csv(big, rows, 1)
    write_csv(small, 100, 2)
    start = time.perf_counter()
    report = import_partners(big, BIG, factory)
    elapsed = time.perf_counter() - start
    assert report.inserted == rows and not report.rejected, report
    print(f"{label}_import_{rows}_partners {elapsed:.1f} s <60")
    print(f"{label}_import_rate {rows / elapsed:.0f} rows/s")
    start = time.perf_counter()
    again = import_partners(big, BIG, factory)
    assert again.unchanged == rows, again
    print(f"{label}_reimport_unchanged_{rows} {time.perf_counter() - start:.1f} s")
    import_partners(small, SMALL, factory)
    with factory() as uow:  # half of the prospects were contacted already
        contacted = [f"mp1-{i:06}" for i in range(0, rows, 2)]
        uow.prospects.mark_contacted(BIG, contacted, datetime.now(UTC))
        uow.commit()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    with engine.connect() as conn:
        mid = conn.execute(
            select(PartnerRow.sort_name, PartnerRow.mpid)
            .where(PartnerRow.team_id == BIG)
            .order_by(PartnerRow.sort_name, PartnerRow.mpid)
            .offset(rows // 2)
            .limit(1)
        ).one()
    deep = encode_cursor(mid.sort_name, mid.mpid)

    def page(team: str, query: ProspectQuery, **kw: str) -> Callable[[], object]:
        def run() -> object:
            with factory() as uow:
                return uow.prospects.page(team, query, size=10, **kw)

        return run

    def count(team: str, query: ProspectQuery) -> Callable[[], object]:
        def run() -> object:
            with factory() as uow:
                return uow.prospects.count(team, query)

        return run

    filtered = ProspectQuery(
        kind=PartnerKind.CREATOR, messaging_enabled=True, country="DE", not_contacted=True
    )
    cases: list[tuple[str, Callable[[], object]]] = []
    for team, size in ((SMALL, 100), (BIG, rows)):
        cases += [
            (f"page1_{size}", page(team, ProspectQuery())),
            (f"search_rare_{size}", page(team, ProspectQuery(text="kalomi"))),
            (f"search_common_{size}", page(team, ProspectQuery(text="media"))),
            (f"search_none_{size}", page(team, ProspectQuery(text="zzzqqq"))),
            (f"search_email_{size}", page(team, ProspectQuery(text="1234@"))),
            (f"filtered_{size}", page(team, filtered)),
            (f"count_{size}", count(team, ProspectQuery())),
            (f"count_search_{size}", count(team, ProspectQuery(text="kalomi"))),
        ]
    cases.insert(8, (f"deep_page_{rows}", page(BIG, ProspectQuery(), after=deep)))
    cases.insert(9, (f"deep_page_back_{rows}", page(BIG, ProspectQuery(), before=deep)))
    for name, fn in cases:
        p50, p95 = timed(fn, repeat)
        print(f"{label}_{name}_p50 {p50:.2f} ms")
        print(f"{label}_{name}_p95 {p95:.2f} ms <100")
    engine.dispose()


def _postgres_database(admin_url: str) -> tuple[str, Callable[[], None]] | None:
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"prospects_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        print(f"PostgreSQL unavailable, skipped: {exc.orig}", file=sys.stderr)
        admin.dispose()
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, drop


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prospects-bench-") as tmp:
        workdir = Path(tmp)
        bench("sqlite", f"sqlite:///{workdir / 'bench.db'}", args.rows, args.repeat, workdir)
        if not args.no_postgres:
            made = _postgres_database(args.postgres)
            if made is not None:
                url, drop = made
                try:
                    bench("postgres", url, args.rows, args.repeat, workdir)
                finally:
                    drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
