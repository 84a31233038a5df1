"""How long Slack waits for the answer to a compose form's Send, by number of recipients (target: < 3 s), on
SQLite and PostgreSQL.

The real app over HTTP, N prospects ticked (through the service the tick button calls: Select all ticks a page,
nobody clicks 10,000 of them), then, as a user does it: /prospects, a click on "Email (N)", the form the app
opens ("Preparing…", then filled with views.update) and a press of Send on that open view, with the fields
typed in. The clock runs from sending the signed view_submission to the app's HTTP answer, which comes after
the send plan (one delivery row per recipient) is stored. No files, so nothing is left for after the answer.
The app's in-process worker starts sending at once, as it does in production, to a counting SMTP sink on
127.0.0.1.

    .venv/bin/python bench/submit.py [--sizes 1000,10000,100000] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sendkit import SinkServer
from _slackside import USER, acked, command, filled, seed, slack_client, tick_all
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import button, full_app, input_values
from bot.settings import Settings

FIELDS = input_values(
    sender_name="Ann",
    reply_to="ann@brand.example",
    subject="Hi {firstName}",
    content="Hello {firstName} of {mpname}",
)
DEADLINE = 120.0  # seconds the simulated client waits, so that a late answer is still measured (Slack: 3)


def measure(url: str, count: int) -> float:
    seed(url, count)
    with SinkServer() as sink:
        settings = Settings(
            database_url=url,
            clamd_socket="/nonexistent/clamd.sock",
            recent_contact_days=7,
            smtp_host=sink.host,
            smtp_port=sink.port,
        )
        assert tick_all(settings, count) == count
        return _measure(settings, count)


def _measure(settings: Settings, count: int) -> float:
    with full_app(settings) as app:
        slack = slack_client(app)
        slack.deadline = DEADLINE
        _, page = command(slack, app)
        bulk = button(page, ids.ACTION_EMAIL_PICKED)
        assert f"Email ({count})" in json.dumps(page), "the list does not offer the ticked prospects"
        seen = len(app.standin.view_log)
        acked(slack.click(USER, page, bulk), "Email (n)")
        form = filled(app, seen)
        answer = slack.submit(USER, form["id"], FIELDS)
        elapsed = slack.answered - slack.sent
        if answer.status != 200 or elapsed > 3:  # Bolt itself gives up on an ack after 3 s
            print(
                f"submit at {count}: {answer.status} after {elapsed:.2f} s: Slack shows an error",
                file=sys.stderr,
            )
        else:
            assert f"Sending to {count:,} " in json.dumps(answer.json()), answer
        app.services.wake.clear()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="prospects-submit-") as tmp:
        for size in sizes:
            url = f"sqlite:///{Path(tmp) / f'submit{size}.db'}"
            print(f"submit_answer_sqlite_{size} {measure(url, size):.2f} s <3", flush=True)
    if not args.no_postgres:
        for size in sizes:
            made = _postgres_database(args.postgres)
            if made is None:
                break
            url, drop = made
            try:
                print(f"submit_answer_postgres_{size} {measure(url, size):.2f} s <3", flush=True)
            finally:
                drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
