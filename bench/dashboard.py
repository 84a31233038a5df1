"""The App Home dashboard over a busy workspace, SQLite and PostgreSQL: ``--deliveries`` e-mails (100,000 by
default) sent over the last 60 days in sends of 2,000 by two authors, a reply to one in twenty, a few
unsubscribes; then, ``--repeat`` times, a user opening the Home tab — ``app_home_opened`` signed and posted to the
app over HTTP, timed to the ``views.publish`` call reaching the strict Slack stand-in (which then downloads the
chart from the app, ``image_url``, before it takes the view) — for the author and for an admin (whose tab holds
the workspace's numbers and chart too); and the parts alone: the author's report, the workspace's report,
drawing one chart (what each chart download costs the app).

    .venv/bin/python bench/dashboard.py [--deliveries 100000] [--repeat 20] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _slackside import TEAM, USER, partners, percentiles, seed, wait
from list_db import _postgres_database
from sqlalchemy import update

from bot.charts import chart_labels
from bot.devtools.harness import DEFAULT_USERS, FullApp, full_app
from bot.devtools.slack_standin import SlackUser
from bot.i18n import Translator
from bot.settings import Settings
from outreach.models import Channel, Direction, Draft, DraftStatus, ThreadMessage
from storage.models import DeliveryRow

ADMIN = SlackUser("U0003", "boss", "Bo Ss", "bo@brand.example", is_admin=True)
SEND = 2000


def fill(app: FullApp, deliveries: int) -> None:
    """Sends of SEND recipients each, every other one by the admin, spread over 60 days; replies to one in 20."""
    now = app.services.clock.now()
    mpids = [p.mpid for p in partners(SEND, TEAM)]
    sends = max(1, deliveries // SEND)
    for n in range(sends):
        author = USER if n % 2 == 0 else ADMIN.id
        sent_at = now - timedelta(days=60 * (n + 0.5) / sends)
        with app.services.uow() as uow:
            draft = uow.drafts.add(Draft(TEAM, author, Channel.EMAIL, subject=f"Send {n}"), mpids)
            uow.deliveries.plan(TEAM, draft.id, {})
            uow.drafts.set_status(TEAM, draft.id, DraftStatus.SENT)
            uow._require().execute(  # a worker's results, written at once
                update(DeliveryRow)
                .where(DeliveryRow.draft_id == draft.id)
                .values(status="sent", sent_at=sent_at, attempts=1)
            )
            for mpid in mpids[n % 20 :: 20]:
                thread = uow.threads.open(TEAM, mpid, Channel.EMAIL)
                reply = ThreadMessage(Direction.IN, "Interested!", at=sent_at + timedelta(hours=5))
                uow.threads.add_message(TEAM, thread.id, reply)
            uow.commit()
    with app.services.uow() as uow:
        for mpid in mpids[:30]:
            uow.suppressions.add(TEAM, f"{mpid}@example.com", "unsubscribed", "page")
        uow.commit()


def home_event(user: str, n: int) -> str:
    return json.dumps(
        {
            "token": "x",
            "team_id": TEAM,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"EvBench{user}{n:05d}",
            "event_time": 1,
            "event": {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"},
        }
    )


def run(label: str, url: str, deliveries: int, repeat: int) -> None:
    seed(url, SEND)
    settings = Settings(database_url=url, clamd_socket="/nonexistent/clamd.sock")
    with full_app(settings, (*DEFAULT_USERS, ADMIN)) as app:
        started = time.time()
        fill(app, deliveries)
        print(f"dashboard_{label}_fill {time.time() - started:.1f} s", flush=True)
        for who, user in (("author", USER), ("admin", ADMIN.id)):
            samples = []
            for n in range(repeat):
                before = len(app.standin.calls_to("views.publish"))
                sent = time.time()
                answer = app.sim.post(home_event(user, n), content_type="application/json")
                assert answer.status == 200, answer
                wait(lambda: len(app.standin.calls_to("views.publish")) > before, what="the home tab")  # noqa: B023
                samples.append(app.standin.calls_to("views.publish")[-1].at - sent)
            view = json.dumps(app.standin.calls_to("views.publish")[-1].args["view"])
            assert "*Sent:*" in view and "image_url" in view, view[:500]
            p50, p95 = percentiles(samples)
            print(f"dashboard_{label}_home_{who}_p50 {p50 * 1000:.0f} ms")
            print(f"dashboard_{label}_home_{who}_p95 {p95 * 1000:.0f} ms <1000", flush=True)
        stats = app.services.stats
        for who, author in (("own", USER), ("workspace", None)):
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                report = stats.report(TEAM, author)
                times.append(time.perf_counter() - t0)
            p50, _ = percentiles(times)
            print(f"dashboard_{label}_report_{who}_p50 {p50 * 1000:.0f} ms (sent {report.outcomes.sent})")
        labels = chart_labels(Translator("en"))
        t0 = time.perf_counter()
        for _ in range(repeat):
            app.services.draw_chart(report, labels)
        print(f"dashboard_{label}_chart_draw {(time.perf_counter() - t0) / repeat * 1000:.0f} ms", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prospects-dashboard-") as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'dashboard.db'}", args.deliveries, args.repeat)
    if not args.no_postgres:
        made = _postgres_database(args.postgres)
        if made is not None:
            url, drop = made
            try:
                run("postgres", url, args.deliveries, args.repeat)
            finally:
                drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
