"""How long Slack waits for the answer to a compose form's Send, by number of recipients (target: < 3 s).

The real app over HTTP (SQLite file), a draft to N prospects, then the signed view_submission: the clock runs
from sending it to the app's HTTP answer, which comes after the send plan (one delivery row per recipient) is
stored. No files, so nothing is left for after the answer. The app's in-process worker starts sending at
once, as it does in production, to a counting SMTP sink on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sendkit import SinkServer, partners
from list import TEAM, seed

from bot import ids
from bot.devtools.harness import button, full_app, input_values
from bot.settings import Settings
from outreach.models import Channel


def measure(count: int, workdir: Path) -> float:
    url = f"sqlite:///{workdir / f'submit{count}.db'}"
    seed(url, count)
    with SinkServer() as sink:
        settings = Settings(
            database_url=url,
            clamd_socket="/nonexistent/clamd.sock",
            recent_contact_days=7,
            smtp_host=sink.host,
            smtp_port=sink.port,
        )
        return _measure(settings, count)


def _measure(settings: Settings, count: int) -> float:
    with full_app(settings) as app:
        mpids = [p.mpid for p in partners(count, TEAM)]
        app.services.compose.start(TEAM, "U0001", Channel.EMAIL, mpids, sender_name="Ann")
        # The form as a user opens it (/prospects drafts, Open): Slack takes a submission of an open view only.
        listing = app.command("U0001", "drafts")
        seen = len(app.standin.view_log)
        app.click("U0001", listing, button(listing, ids.ACTION_DRAFT_OPEN), expect_response=False)
        view = app.opened_after(seen)
        values = input_values(
            sender_name="Ann",
            reply_to="ann@brand.example",
            subject="Hi {firstName}",
            content="Hello {firstName} of {mpname}",
        )
        start = time.perf_counter()
        answer = app.submit("U0001", view, values)
        elapsed = time.perf_counter() - start
        assert answer.status == 200 and "Sending to" in json.dumps(answer.json()), answer
        app.services.wake.clear()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prospects-submit-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"submit_answer_{size} {measure(size, Path(tmp)):.2f} s <3")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
