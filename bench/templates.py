"""The template menu with 500 templates in the workspace, SQLite and PostgreSQL, end to end through the strict
Slack stand-in: the e-mail form opened as a user opens it, then (``--repeat`` times each) typing in the template
menu — Slack's ``block_suggestion`` signed and sent over HTTP to the app, timed to the HTTP answer holding the
options (Slack waits 3 s and then shows nothing) — for an empty query (the first 100 by name: Slack's limit), a
query matching all 500 ("pitch"), one matching ten ("pitch 49") and one matching none; then picking one and the
form filled with it (views.update, informational).

    .venv/bin/python bench/templates.py [--templates 500] [--repeat 50] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _slackside import TEAM, USER, acked, click, command, filled, percentiles, seed, slack_client, wait
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import FullApp, button, full_app, rows, tick
from bot.settings import Settings
from outreach.models import Channel, Template

QUERIES = {"empty": "", "all": "pitch", "ten": "pitch 49", "none": "zzz"}


def add_templates(app: FullApp, count: int) -> None:
    now = datetime.now(UTC)
    with app.services.uow() as uow:
        for n in range(count):
            name = f"Pitch {n:03d}"
            tpl = Template(
                TEAM, USER, name, Channel.EMAIL, f"Hello {{firstName}} {n}", "Hi", (), None, now, now
            )
            assert uow.templates.add(tpl) is not None
        uow.commit()


def run(label: str, url: str, count: int, repeat: int) -> None:
    seed(url, 20)
    settings = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    samples: dict[str, list[float]] = {name: [] for name in QUERIES}
    fill_s: list[float] = []
    with full_app(settings) as app:
        add_templates(app, count)
        slack = slack_client(app)
        _, page = command(slack, app)
        _, page = click(slack, app, page, tick(rows(page)[0]))
        seen = len(app.standin.view_log)
        slack.click(USER, page, button(page, ids.ACTION_EMAIL_PICKED))
        form = filled(app, seen)
        for _ in range(repeat):
            for name, query in QUERIES.items():
                shown = slack.suggest(
                    USER, form["id"], ids.BLOCK_TEMPLATE_MENU, ids.ACTION_TEMPLATE_MENU, query
                )
                samples[name].append(slack.answered - slack.sent)
                expected = {"empty": 100, "all": 100, "ten": 10, "none": 0}[name]
                assert len(shown) == expected, f"{name}: {len(shown)} options, expected {expected}"
        for _ in range(max(1, repeat // 5)):
            slack.suggest(USER, form["id"], ids.BLOCK_TEMPLATE_MENU, ids.ACTION_TEMPLATE_MENU, "pitch 49")
            updates = len(app.standin.calls_to("views.update"))
            pick = {
                "type": "external_select",
                "action_id": ids.ACTION_TEMPLATE_MENU,
                "block_id": ids.BLOCK_TEMPLATE_MENU,
                "selected_option": {"value": str(app.services.templates.search(TEAM, "pitch 499")[0].id)},
            }
            started = time.time()
            acked(slack.click_in_view(USER, form["id"], pick, {}), "the pick")
            wait(lambda: len(app.standin.calls_to("views.update")) > updates, what="the form filled")  # noqa: B023
            fill_s.append(app.standin.calls_to("views.update")[-1].at - started)
    for name, values in samples.items():
        p50, p95 = percentiles(values)
        print(f"templates_{label}_menu_{name}_p50 {p50 * 1000:.1f} ms")
        print(f"templates_{label}_menu_{name}_p95 {p95 * 1000:.1f} ms <300", flush=True)
    p50, p95 = percentiles(fill_s)
    print(f"templates_{label}_pick_filled_p50 {p50 * 1000:.1f} ms")
    print(f"templates_{label}_pick_filled_p95 {p95 * 1000:.1f} ms", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--templates", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prospects-templates-") as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'templates.db'}", args.templates, args.repeat)
    if not args.no_postgres:
        made = _postgres_database(args.postgres)
        if made is not None:
            url, drop = made
            try:
                run("postgres", url, args.templates, args.repeat)
            finally:
                drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
