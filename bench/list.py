"""`/prospects` latency end to end, through the HTTP endpoint, with 100,000 prospects (SQLite and PostgreSQL).

The real app is served over HTTP; a signed slash command or click goes in, sent by the harness's simulated Slack
client (a user clicks the Next button of the message as it is shown; an action on that ephemeral message carries
no ``message``, as in Slack), and the clock stops when the stand-in for Slack holds the app's answer (posted to
the response URL). Figures: page 1, page 50 (the Next button of page 49; Previous, untimed, goes back to 49
between runs) and a search, p50 and p95 over ``--repeat`` runs each. Target: p95 < 100 ms.

    .venv/bin/python bench/list.py [--rows 100000] [--repeat 40] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _slackside import click, command, percentiles, seed, slack_client
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import button, full_app
from bot.settings import Settings


def run(label: str, url: str, rows: int, repeat: int) -> None:
    seed(url, rows)
    settings = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    with full_app(settings) as app:
        slack = slack_client(app)
        command(slack, app)  # warm up (users.info, caches)
        page1 = [command(slack, app)[0] for _ in range(repeat)]
        _, message = command(slack, app)
        for _ in range(48):  # to page 49, clicking Next on the message as shown
            _, message = click(slack, app, message, button(message, ids.ACTION_PAGE_NEXT))
        page50 = []
        for _ in range(repeat):  # Next from page 49 (timed), then Previous back to it
            elapsed, message = click(slack, app, message, button(message, ids.ACTION_PAGE_NEXT))
            page50.append(elapsed)
            _, message = click(slack, app, message, button(message, ids.ACTION_PAGE_PREV))
        search = [command(slack, app, "Media 4242")[0] for _ in range(repeat)]
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
