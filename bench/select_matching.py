""" "Select all N matching" at 100,000 matches, SQLite and PostgreSQL, end to end through the strict Slack stand-in.

Per run: /prospects, then (``--repeat`` times) the click on "Select all 100,000 matching" — timed to the stand-in's
``views.open`` (the modal opens before anything is counted; target p95 < 1 s, a trigger lasts 3 s) and to the
modal filled with the counts (informational) —, the confirmation submitted — timed to its HTTP answer (Slack waits
3 s: target < 3 s) and to the list shown again with every match ticked (informational) — and *Clear*. Last, the
"Email (100,000)" form: click → views.open (target p95 < 1 s) and the form filled (informational).

    .venv/bin/python bench/select_matching.py [--rows 100000] [--repeat 5] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _slackside import (
    TEAM,
    USER,
    acked,
    click,
    command,
    filled,
    opened,
    percentiles,
    seed,
    shown_after,
    slack_client,
    wait,
)
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import button, full_app
from bot.settings import Settings
from outreach.models import ProspectQuery


def run(label: str, url: str, rows: int, repeat: int) -> None:
    seed(url, rows)
    settings = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    opened_s, counted_s, answered_s, ticked_s = [], [], [], []
    with full_app(settings) as app:
        slack = slack_client(app)
        _, page = command(slack, app)
        for _ in range(repeat):
            seen = len(app.standin.view_log)
            slack.click(USER, page, button(page, ids.ACTION_SELECT_MATCHING))
            sent = slack.sent_at
            view = opened(app, seen)
            opened_s.append(app.standin.calls_to("views.open")[-1].at - sent)
            confirm = filled(app, seen)
            counted_s.append(time.time() - sent)
            assert f"*{rows:,} prospects* match" in str(confirm), "the modal does not count every match"
            before = len(app.standin.writes)
            answer = slack.submit(USER, view["id"], {})
            acked(answer, "the confirmation")
            answered_s.append(slack.answered - slack.sent)
            clicked = (page["channel"], page["ts"])
            page = wait(
                lambda: shown_after(app, before, page["channel"], USER, clicked),  # noqa: B023
                timeout=300,
                what="the list, ticked",
            )
            ticked_s.append(time.time() - sent)
            assert f"{rows:,} picked" in str(page), "not every match was ticked"
            _, page = click(slack, app, page, button(page, ids.ACTION_CLEAR))
        form_open, form_fill = [], []
        app.services.prospects.pick_matching(TEAM, USER, ProspectQuery())  # what the confirmation does
        _, page = command(slack, app)
        for _ in range(max(1, repeat // 2)):
            seen = len(app.standin.view_log)
            slack.click(USER, page, button(page, ids.ACTION_EMAIL_PICKED))
            sent = slack.sent_at
            opened(app, seen)
            form_open.append(app.standin.calls_to("views.open")[-1].at - sent)
            form = filled(app, seen)
            form_fill.append(time.time() - sent)
            app.close(USER, form)  # untouched: the app drops the draft
            wait(lambda: not app.services.compose.drafts(TEAM, USER), step=0.05, what="the draft dropped")
    for name, samples, target in (
        ("open", opened_s, "<1"),
        ("counted", counted_s, ""),
        ("submit_answer", answered_s, "<3"),
        ("ticked", ticked_s, ""),
        ("form_open", form_open, "<1"),
        ("form_filled", form_fill, ""),
    ):
        p50, p95 = percentiles(samples)
        print(f"select_matching_{label}_{name}_p50 {p50:.3f} s")
        print(f"select_matching_{label}_{name}_p95 {p95:.3f} s {target}".rstrip(), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prospects-select-") as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'select.db'}", args.rows, args.repeat)
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
