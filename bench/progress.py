"""Progress DMs against Slack's rate tiers: do they cost the e-mails anything, and does every author get a right
summary? Target: e-mail throughput with Slack enforcing its tiers >= 0.95 of the same with Slack answering at once.

Five concurrent sends of 2,000 recipients each (five authors), each by a delivery worker of its own (built as
bot.wiring builds one; all five at once, so all five DMs are updated at once), in a fresh SQLite file, to an SMTP
sink on 127.0.0.1 in a process of its own (aiosmtpd, counting only). The progress DMs go through the app's
ProgressDM (PROGRESS_UPDATE_SECONDS default) to a SlackStandIn on 127.0.0.1: once with ``rate_limits=True``
(chat.update tier 3, 50 a minute; 429 with Retry-After over it), once with ``rate_limits=False``. No send
throttle (SEND_RATE_PER_SECOND=0): the e-mails go as fast as the pipeline goes. Each run also checks that every
author got one DM (one chat.postMessage) whose final content is the correct summary, and counts the
chat.update calls and the 429s. ``--budget 400`` lets the app exceed tier 3 on purpose (its own limit of updates
a minute, 40 by default), with ``--interval 0.5``: Slack's 429s and the pauses they cause are then measured too.
Prints ``name value unit [target]`` lines.

    .venv/bin/python bench/progress.py [--recipients 2000] [--sends 5] [--rounds 1] [--budget 40] [--interval S]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sendkit import BODY, MAIL_FROM, SUBJECT, SinkServer, partner

from bot.app import make_client
from bot.blocks.progress import build_summary
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.sending import ProgressDM
from bot.settings import Settings
from bot.users import Profile
from bot.wiring import Services, build_services
from outreach.compose import DraftFields
from outreach.models import Ad, AdType, Channel, DraftStatus

TEAM, TOKEN = "TBENCH", "xoxb-bench"
TARGET = ">=0.95"


@dataclass
class Run:
    seconds: float
    emails: int
    correct: int
    updates: int
    limited: int
    summary_wait: float


def authors(sends: int) -> list[str]:
    return [f"U{i + 1:04d}" for i in range(sends)]


def seed(services: Services, sends: int, n: int) -> dict[str, int]:
    """``n`` partners per author, the ad the body names, and each author's draft submitted: {author: draft}."""
    with services.uow() as uow:
        uow.ads.upsert_many(
            TEAM, [Ad(TEAM, "42", "Spring collection", AdType.TEXT_LINK, "https://shop.example.com/spring")]
        )
        uow.commit()
    drafts = {}
    counter = itertools.count()
    for author in authors(sends):
        chunk = [partner(next(counter), TEAM) for _ in range(n)]
        with services.uow() as uow:
            uow.partners.upsert_many(TEAM, chunk, mark_prospects={p.mpid for p in chunk}, marked_by=author)
            uow.commit()
        compose = services.compose
        state = compose.start(TEAM, author, Channel.EMAIL, [p.mpid for p in chunk])
        compose.save(TEAM, author, state.draft_id, DraftFields("Ann Lee", "ann@brand.example", SUBJECT, BODY))
        assert compose.submit(TEAM, author, state.draft_id).recipients == n
        drafts[author] = state.draft_id
    return drafts


def summary(services: Services, author: str, draft_id: int) -> list[dict[str, Any]]:
    report = services.compose.report(TEAM, author, draft_id, unsent_only=True)
    return json.loads(json.dumps(build_summary(report, Profile(author).t)))


def correct_dms(standin: SlackStandIn, expected: dict[str, list[dict[str, Any]]]) -> int:
    """Authors with exactly one DM posted whose message shows, now, their summary."""
    good = 0
    for author, blocks in expected.items():
        channel = "D" + author.removeprefix("U")
        posts = [c for c in standin.calls_to("chat.postMessage") if c.args.get("channel") == channel]
        shown = [m for (ch, _), m in list(standin.messages.items()) if ch == channel]
        good += len(posts) == 1 and len(shown) == 1 and shown[0].blocks == blocks
    return good


def run(sink: SinkServer, limited: bool, args: argparse.Namespace) -> Run:
    sends, n = args.sends, args.recipients
    with (
        tempfile.TemporaryDirectory(prefix="progress-bench-") as tmp,
        SlackStandIn(bot_token=TOKEN, team_id=TEAM, rate_limits=limited) as standin,
    ):
        for author in authors(sends):
            standin.add_user(SlackUser(author, author.lower(), f"Author {author}", team_id=TEAM))
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'progress.db'}",
            smtp_host=sink.host,
            smtp_port=sink.port,
            mail_from=MAIL_FROM,
            slack_bot_token=TOKEN,
            slack_api_url=standin.api_url,
            send_rate_per_second=0,
            log_level="WARNING",
        )
        services = build_services(settings)
        try:
            drafts = seed(services, sends, n)
            client = make_client(settings)
            progress = ProgressDM(services, client, args.interval, per_minute=args.budget).start()
            before, total = sink.count, sends * n
            workers = [
                threading.Thread(target=services.make_worker(progress).run_until_idle, args=(d,))
                for d in drafts.values()
            ]
            started = time.perf_counter()
            for w in workers:
                w.start()
            while sink.count < before + total and any(w.is_alive() for w in workers):
                time.sleep(0.005)
            seconds = time.perf_counter() - started
            for w in workers:
                w.join()
            emails = sink.count - before
            expected = {a: summary(services, a, d) for a, d in drafts.items()}
            assert all(_status(services, d) is not DraftStatus.SENDING for d in drafts.values())
            waited = time.perf_counter()
            deadline = waited + 120
            while correct_dms(standin, expected) < sends and time.perf_counter() < deadline:
                time.sleep(0.1)
            summary_wait = time.perf_counter() - waited
            progress.stop()
            return Run(
                seconds,
                emails,
                correct_dms(standin, expected),
                len(standin.calls_to("chat.update")),
                len(standin.rate_limited),
                summary_wait,
            )
        finally:
            services.close()


def _status(services: Services, draft_id: int) -> DraftStatus | None:
    with services.uow() as uow:
        draft = uow.drafts.get(TEAM, draft_id)
    return draft.status if draft else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=2000, help="per send")
    parser.add_argument("--sends", type=int, default=5)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each kind, alternated; the best counts"
    )
    parser.add_argument("--budget", type=int, default=40, help="the app's chat.update budget a minute")
    parser.add_argument("--interval", type=float, default=None, help="PROGRESS_UPDATE_SECONDS (default 3)")
    args = parser.parse_args()
    n, sends = args.recipients, args.sends
    runs: dict[bool, list[Run]] = {True: [], False: []}
    with SinkServer() as sink:  # before any thread: the sink's process is forked
        for _ in range(args.rounds):
            for limited in (False, True):
                runs[limited].append(run(sink, limited, args))
    total = sends * n
    for limited, label in ((True, "limited"), (False, "unlimited")):
        best = min(runs[limited], key=lambda r: r.seconds)
        assert all(r.emails == total for r in runs[limited]), [r.emails for r in runs[limited]]
        print(f"progress_email_rate_{label} {total / best.seconds:.0f} messages/s")
        print(f"progress_chat_updates_{label} {best.updates} calls")
        print(f"progress_429s_{label} {sum(r.limited for r in runs[limited])} calls")
        print(f"progress_summary_after_last_email_{label} {best.summary_wait:.1f} s")
        print(f"progress_summaries_correct_{label} {min(r.correct for r in runs[limited])} of {sends}")
    limited_s = min(r.seconds for r in runs[True])
    unlimited_s = min(r.seconds for r in runs[False])
    print(f"progress_email_ratio {unlimited_s / limited_s:.2f} limited/unlimited {TARGET}")
    correct = min(r.correct for r in runs[True] + runs[False])
    print(f"progress_summaries_correct {correct} of {sends}")
    return 0 if correct == sends else 1  # a wrong or missing summary is a failure, not a slow figure


if __name__ == "__main__":
    raise SystemExit(main())
