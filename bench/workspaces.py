"""`/prospects` latency with 50 workspaces × 2,000 prospects in one process and one PostgreSQL, against one
workspace of 100,000 (the same machinery as list.py: end to end through the HTTP endpoint, the clock stopped when
the stand-in for Slack holds the answer).

The many-workspace app installs from a link (SLACK_CLIENT_ID/SECRET): each workspace is installed through the
real OAuth redirect against the stand-in, so every request goes through what a real install adds — the gate's
look-up of the workspace, Bolt's authorize reading (and decrypting) that workspace's token from the store, the
token's own ``auth.test`` kept per token — and each user's request goes with its own workspace's token. The
requests go round the workspaces in turn. The single workspace is today's app with SLACK_BOT_TOKEN. Figures:
page 1, page 2 (a Next click) and a search, p50 and p95 over ``--repeat`` runs each; target: the many-workspace
p95 within 10 ms of the single workspace's, and under 100 ms.

    .venv/bin/python bench/workspaces.py [--workspaces 50] [--rows 2000] [--repeat 100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _slackside import CHANNEL, acked, percentiles, seed, shown_after, slack_client, wait
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import FullApp, button, full_app
from bot.devtools.slack_standin import SlackUser
from bot.settings import Settings


def user_of(team: str) -> str:
    return "U" + team[1:]


def ask(app: FullApp, team: str, text: str = "") -> tuple[float, dict[str, Any]]:
    """/prospects from the workspace ``team``'s own user: milliseconds until the stand-in holds the answer."""
    client = slack_client(app, team)
    before = len(app.standin.writes)
    answer = client.command(user_of(team), ids.COMMAND, text, channel_id=CHANNEL)
    message = wait(lambda: shown_after(app, before, CHANNEL, user_of(team), None), what="the list")
    elapsed = (time.perf_counter() - client.sent) * 1000
    acked(answer, "/prospects")
    return elapsed, message


def next_page(app: FullApp, team: str, message: dict[str, Any]) -> float:
    client = slack_client(app, team)
    before = len(app.standin.writes)
    answer = client.click(user_of(team), message, button(message, ids.ACTION_PAGE_NEXT))
    clicked = (message["channel"], message["ts"])
    wait(lambda: shown_after(app, before, message["channel"], user_of(team), clicked), what="page 2")
    elapsed = (time.perf_counter() - client.sent) * 1000
    acked(answer, "Next")
    return elapsed


def measure(app: FullApp, teams: list[str], repeat: int) -> dict[str, list[float]]:
    for team in teams:
        ask(app, team)  # warm up: each workspace's users.info, its token's auth.test
    samples: dict[str, list[float]] = {"page1": [], "page2": [], "search": []}
    for i in range(repeat):
        team = teams[i % len(teams)]
        elapsed, message = ask(app, team)
        samples["page1"].append(elapsed)
        samples["page2"].append(next_page(app, team, message))
        samples["search"].append(ask(app, team, "Media 1042")[0])
    return samples


def many(url: str, workspaces: int, rows: int, repeat: int) -> dict[str, list[float]]:
    teams = [f"T{1000 + i}" for i in range(workspaces)]
    for team in teams:
        seed(url, rows, team)
    users = tuple(SlackUser(user_of(t), t.lower(), f"User {t}", team_id=t) for t in teams)
    settings = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    with full_app(settings, users, from_a_link=True) as app:
        for team in teams:
            app.install(team, user_of(team))
        samples = measure(app, teams, repeat)
        if app.standin.foreign:
            raise AssertionError(
                f"a workspace's token was used for another's objects: {app.standin.foreign[:3]}"
            )
    return samples


def single(url: str, rows: int, repeat: int) -> dict[str, list[float]]:
    seed(url, rows, "T0001")
    settings = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    with full_app(settings) as app:
        return measure(app, ["T0001"], repeat)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workspaces", type=int, default=50)
    parser.add_argument("--rows", type=int, default=2000, help="prospects per workspace")
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    results = {}
    for label, run in (
        (f"{args.workspaces}x{args.rows}", lambda url: many(url, args.workspaces, args.rows, args.repeat)),
        (
            f"1x{args.workspaces * args.rows}",
            lambda url: single(url, args.workspaces * args.rows, args.repeat),
        ),
    ):
        made = _postgres_database(args.postgres)
        if made is None:
            return 1
        url, drop = made
        try:
            results[label] = run(url)
        finally:
            drop()
    (many_label, many_samples), (one_label, one_samples) = results.items()
    for name in ("page1", "page2", "search"):
        for label, samples in ((many_label, many_samples[name]), (one_label, one_samples[name])):
            p50, p95 = percentiles(samples)
            print(f"workspaces_{label}_{name}_p50 {p50:.1f} ms")
            print(f"workspaces_{label}_{name}_p95 {p95:.1f} ms <100")
        gap = percentiles(many_samples[name])[1] - percentiles(one_samples[name])[1]
        print(f"workspaces_{name}_p95_gap {gap:.1f} ms <10")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
