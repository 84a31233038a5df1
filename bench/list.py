"""`/prospects` latency end to end, through the HTTP endpoint, with 100,000 prospects (SQLite and PostgreSQL).

The real app is served over HTTP; a signed slash command or click goes in, and the clock stops when the app's
answer (posted to the response URL) arrives at the local stand-in for Slack. Figures: page 1, page 50 (the
Next button of page 49) and a search, p50 and p95 over ``--repeat`` runs each. Target: p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sendkit import partners
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import full_app
from bot.settings import Settings
from storage.migrate import upgrade

TEAM = "T0001"


def seed(url: str, count: int) -> None:
    from storage.db import analyze, make_engine, make_session_factory
    from storage.unit_of_work import SqlUnitOfWork

    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    chunk = []
    for item in partners(count, TEAM):
        chunk.append(item)
        if len(chunk) == 5000:
            with SqlUnitOfWork(factory) as uow:
                uow.partners.upsert_many(
                    TEAM, chunk, mark_prospects={p.mpid for p in chunk}, marked_by="U0001"
                )
                uow.commit()
            chunk = []
    if chunk:
        with SqlUnitOfWork(factory) as uow:
            uow.partners.upsert_many(TEAM, chunk, mark_prospects={p.mpid for p in chunk}, marked_by="U0001")
            uow.commit()
    analyze(engine, "partners")  # as `prospects-bot import` does after a bulk load
    engine.dispose()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def answered(app: Any, before: int) -> dict[str, Any]:
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        if len(app.standin.responses) > before:
            return dict(app.standin.responses[-1][1])
        time.sleep(0.0005)
    raise TimeoutError("no answer")


def command(app: Any, text: str) -> tuple[float, dict[str, Any]]:
    before = len(app.standin.responses)
    start = time.perf_counter()
    app.sim.command("U0001", ids.COMMAND, text, response_url=app.standin.response_url())
    message = answered(app, before)
    return (time.perf_counter() - start) * 1000, message


def click_next(app: Any, message: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    nav = next(b for b in message["blocks"] if b.get("block_id", "").startswith("nav~"))
    element = next(e for e in nav["elements"] if e["action_id"] == ids.ACTION_PAGE_NEXT)
    action = {
        "type": "button",
        "action_id": ids.ACTION_PAGE_NEXT,
        "block_id": nav["block_id"],
        "value": element["value"],
    }
    before = len(app.standin.responses)
    start = time.perf_counter()
    app.sim.block_actions(
        "U0001",
        [action],
        container={"type": "message", "is_ephemeral": True},
        message=message,
        response_url=app.standin.response_url(),
    )
    reply = answered(app, before)
    return (time.perf_counter() - start) * 1000, reply


def run(label: str, url: str, rows: int, repeat: int) -> None:
    seed(url, rows)
    settings = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    with full_app(settings) as app:
        command(app, "")  # warm up (users.info, caches)
        page1 = [command(app, "")[0] for _ in range(repeat)]
        _, message = command(app, "")
        for _ in range(48):  # to page 49
            _, message = click_next(app, message)
        page50 = [click_next(app, message)[0] for _ in range(repeat)]
        search = [command(app, "Media 4242")[0] for _ in range(repeat)]
    for name, samples in (("page1", page1), ("page50", page50), ("search", search)):
        p50, p95 = percentiles(samples)
        print(f"list_{label}_{name}_p50 {p50:.1f} ms")
        print(f"list_{label}_{name}_p95 {p95:.1f} ms <100")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prospects-list-") as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'list.db'}", args.rows, args.repeat)
    if not args.no_postgres:
        made = _postgres_database(args.postgres)
        if made is not None:
            url, drop = made
            try:
                run("postgres", url, args.rows, args.repeat)
            finally:
                drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
