"""From a click to the modal opening, with 100,000 prospects ticked (SQLite and PostgreSQL). Target: p95 < 1 s.

Slack's trigger lasts 3 seconds, so the app opens a "Preparing…" view before anything else — no users.info, no
user-group lookup, no pass over the recipients — and fills it with views.update after (bot/modals.py). This
measures that promise: the real app over HTTP, ``--rows`` prospects all ticked (through the service the tick
button calls), the list shown by /prospects, then clicks as the harness's simulated Slack client sends them
(``--repeat``, 20 by default; ``--repeat-429`` in the cases with a 429, 10: a form for 100,000 recipients takes
seconds to fill, and each click waits for it), on

* ``bulk``: the "Email (100000)" button (the form for every ticked prospect), and
* ``row``: a row's More menu → Email (the form for that one prospect),

in three conditions: ``plain``; ``users429``: the user's profile not known (as after a restart) and users.info
answering 429 once per click (``Retry-After: 1``); ``group429``: ``SENDERS_USERGROUP`` set, the members the app
read last too old to use as they are and usergroups.users.list answering 429 once per click. The clock runs from
just before the signed click is sent to the stand-in's record of the views.open call (``Call.at``, at receipt).
Also printed, without a target: the time to the views.update that fills the form (``…_filled_p95``), which is where
the lookups, the draft of N recipients and any wait on a 429 go.

Between clicks the form is closed (the app then drops the untouched draft), a 429 case waits out its
``Retry-After``, and the stand-in's rate tiers are reset: each click is measured as a user's first in its minute,
so that the only 429 is the one injected (a person does not open 100 forms a minute; the benchmark would).

    .venv/bin/python bench/open.py [--rows 100000] [--repeat 20] [--repeat-429 10]
        [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _slackside import (
    TEAM,
    USER,
    TimedSim,
    acked,
    command,
    filled,
    percentiles,
    seed,
    slack_client,
    tick_all,
    wait,
)
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import FullApp, button, full_app, more, rows
from bot.devtools.slack_limits import RateLimiter
from bot.permissions import SenderPolicy
from bot.settings import Settings

GROUP = "S0SEND"
RETRY_AFTER = 1  # seconds, in the injected 429


@dataclass
class Samples:
    opened: list[float] = field(default_factory=list)
    filled: list[float] = field(default_factory=list)


def click_once(
    app: FullApp, slack: TimedSim, page: dict[str, Any], action: dict[str, Any], lookup: str
) -> Samples:
    """One click on ``page``; ``lookup``: the Web API method made to answer 429 once (empty: none)."""
    standin = app.standin
    standin.limiter = (
        RateLimiter()
    )  # a fresh minute of Slack's tiers for this click (see the module docstring)
    if lookup == "users.info":
        app.services.profiles._cache.clear()  # not known in this process: the app must ask Slack
    if lookup:
        standin.fail(lookup, status=429, times=1, retry_after=RETRY_AFTER)
    calls, views = len(standin.calls), len(standin.view_log)
    acked(slack.click(USER, page, action), action["action_id"])
    sent = slack.sent_at

    def open_call() -> Any:
        return next((c for c in standin.calls[calls:] if c.method == "views.open"), None)

    opened_at = wait(open_call, 30, "views.open").at
    form = filled(app, views)
    assert form["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL, form["callback_id"]
    later = standin.calls[calls:]
    methods = [c.method for c in later]
    if lookup:  # the 429 really happened, and after the modal was open
        assert lookup in methods and methods.index("views.open") < methods.index(lookup), methods
    fill_at = max(c.at for c in later if c.method == "views.update" and c.args.get("view_id") == form["id"])
    slack.close(USER, form["id"])
    wait(lambda: not app.services.compose.drafts(TEAM, USER), 120, "the untouched draft dropped", step=0.02)
    if lookup:
        time.sleep(max(0.0, sent + RETRY_AFTER + 0.05 - time.time()))  # the app's pause after the 429 ends
    return Samples([opened_at - sent], [fill_at - sent])


def measure(
    app: FullApp, kinds: dict[str, Any], lookup: str, repeat: int, *, warm_up: bool = False
) -> dict[str, Samples]:
    slack = slack_client(app)
    _, page = command(slack, app)
    found: dict[str, Samples] = {}
    for kind, action_of in kinds.items():
        if warm_up:  # the first click of a new app (imports, caches, the first draft, the group read once)
            click_once(app, slack, page, action_of(page), "")
        samples = Samples()
        for _ in range(repeat):
            one = click_once(app, slack, page, action_of(page), lookup)
            samples.opened += one.opened
            samples.filled += one.filled
        found[kind] = samples
    return found


def run(label: str, url: str, rows_count: int, repeat: int, repeat_429: int) -> None:
    seed(url, rows_count)
    base = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    assert tick_all(base, rows_count) == rows_count
    kinds = {
        "bulk": lambda page: button(page, ids.ACTION_EMAIL_PICKED),
        "row": lambda page: more(rows(page)[0], "email"),
    }
    results: dict[str, dict[str, Samples]] = {}
    with full_app(base) as app:
        page = command(slack_client(app), app)[1]
        assert f"Email ({rows_count})" in str(page), "the list does not offer the ticked prospects"
        results["plain"] = measure(app, kinds, "", repeat, warm_up=True)
        results["users429"] = measure(app, kinds, "users.info", repeat_429)
    with full_app(replace(base, senders_usergroup=GROUP)) as app:
        app.standin.usergroups[GROUP] = [USER]
        # Members read before are always too old (the app's default keeps them 5 minutes): every click asks
        # Slack, and on a 429 the app goes on with the members it read last.
        app.services.senders = SenderPolicy((), GROUP, ttl_seconds=0)
        results["group429"] = measure(app, kinds, "usergroups.users.list", repeat_429, warm_up=True)
    for case, by_kind in results.items():
        for kind, samples in by_kind.items():
            name = f"open_{label}_{kind}" + ("" if case == "plain" else f"_{case}")
            p50, p95 = percentiles(samples.opened)
            print(f"{name}_p50 {p50:.3f} s")
            print(f"{name}_p95 {p95:.3f} s <1")
            print(f"{name}_filled_p95 {percentiles(samples.filled)[1]:.2f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="clicks per figure (default 20)")
    parser.add_argument(
        "--repeat-429", type=int, default=10, help="clicks per figure with a 429 (default 10)"
    )
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prospects-open-") as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'open.db'}", args.rows, args.repeat, args.repeat_429)
    if not args.no_postgres:
        made = _postgres_database(args.postgres)
        if made is not None:
            url, drop = made
            try:
                run("postgres", url, args.rows, args.repeat, args.repeat_429)
            finally:
                drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
