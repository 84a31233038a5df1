"""The prospect list under load: 50 users clicking at once against one ``prospects-bot serve`` on PostgreSQL.

A fresh PostgreSQL database holds 100,000 prospects (``--rows``). One ``prospects-bot serve --no-worker``
process (a real subprocess, from this checkout) serves Slack over HTTP; its Web API calls and response URLs go
to the strict Slack stand-in (bot/devtools/slack_standin.py) in this process. Each of ``--users`` users (50)
is a thread playing the user's Slack client (the harness's ``SlackClientSim``: signed requests, clicking only
what is on screen): /prospects once (untimed: the warm-up, users.info), then ``--steps`` actions in a cycle —
tick a row not ticked yet, Next, a filter (kind: creator, then back to any), tick, Next, a search
(``/prospects Media 42…``, a rare term of the user's own: eleven rows), tick, "not contacted" on and off — each
as soon as the answer to the one before is shown (no think time, all 50 at once: the load the server can take),
then again with a pause of 0.5 to 1.5 × 1 s between a user's clicks and before their first (people, out of step;
``--think-ms`` sets the runs).
Each action is timed from the signed request going out to the stand-in holding the message that answers it
(posted to the response URL). This process's garbage collector is off while the users click: its full
collections over the stand-in's messages are pauses of Slack's side, not of the app's.

Figures: requests per second over the whole load, p50/p95/p99 of every action (and p95, p50 of each kind), errors
(an HTTP answer other than 200, an answer after Slack's 3 seconds, no message within 30 s, a payload the
stand-in refused), and ticks lost: at the end every user's picks in the database must be exactly the rows
they ticked. Target: p95 < 100 ms, no error, no lost tick.

    .venv/bin/python bench/list_load.py [--rows 100000] [--users 50] [--steps 30] [--think-ms 0,1000]
        [--postgres URL] [--keep | --database URL]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _slackside import TimedSim, seed
from list_db import _postgres_database

from bot import ids
from bot.devtools.harness import BOT_TOKEN, SIGNING_SECRET, button, choose, mpid_of, rows, tick
from bot.devtools.slack_requests import HttpAnswer
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from storage.db import make_engine, make_session_factory
from storage.unit_of_work import SqlUnitOfWork

ROOT = Path(__file__).resolve().parent.parent
TEAM = "T0001"
ANSWER_SECONDS = 30.0
STEPS = ("tick", "next", "kind", "tick", "next", "search", "tick", "not_contacted")


class NotifyingStandIn(SlackStandIn):
    """The stand-in, telling a waiting user when a message of their channel was written (instead of their polling
    it, or every user waking at every write: 50 threads woken for each message cost this process more CPU than
    the stand-in's own checks, on the machine the app runs on)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.changed: dict[str, threading.Condition] = {}  # by channel; one user a channel

    def _handle_post(self, req: Any) -> None:
        before = len(self.writes)
        super()._handle_post(req)
        # Writes of other requests may land in between: their channels are told too (a spare wake-up, no loss).
        for channel in {channel for channel, _ in self.writes[before:]}:
            if (changed := self.changed.get(channel)) is not None:
                with changed:
                    changed.notify_all()


@dataclass
class User:
    id: str
    channel: str
    client: TimedSim
    ticked: set[str] = field(default_factory=set)
    samples: list[tuple[str, float]] = field(default_factory=list)  # (kind, ms)
    errors: list[str] = field(default_factory=list)


def shown_after(
    standin: SlackStandIn, before: int, user: User, clicked: tuple[str, str] | None
) -> dict[str, Any] | None:
    """The message ``user`` sees change after the stand-in had ``before`` writes (the clicked one replaced, or a
    new one of theirs in their channel)."""
    for key in standin.writes[before:]:
        message = standin.message(*key)
        if message is None:
            continue
        if key == clicked or (key[0] == user.channel and (not message.ephemeral or message.user == user.id)):
            return message.snapshot()
    return None


def act(
    standin: NotifyingStandIn,
    user: User,
    kind: str,
    send: Callable[[], HttpAnswer],
    clicked: tuple[str, str] | None,
) -> dict[str, Any] | None:
    """Send one request (on a thread: the answer can reach the response URL before the HTTP answer returns) and
    wait for the message that answers it; record its time, or the error."""
    before = len(standin.writes)
    answers: list[HttpAnswer] = []
    sender = threading.Thread(target=lambda: answers.append(send()), daemon=True)
    sender.start()
    deadline = time.monotonic() + ANSWER_SECONDS
    shown = None
    changed = standin.changed[user.channel]
    with changed:
        while shown is None and time.monotonic() < deadline:
            shown = shown_after(standin, before, user, clicked)
            if shown is None:
                changed.wait(0.05)
    elapsed = (time.perf_counter() - user.client.sent) * 1000
    sender.join(ANSWER_SECONDS)
    answer = answers[0] if answers else None
    if answer is None or answer.late or answer.status != 200:
        user.errors.append(f"{kind}: HTTP answer {answer}")
    elif shown is None:
        user.errors.append(f"{kind}: no message within {ANSWER_SECONDS:.0f} s")
    else:
        user.samples.append((kind, elapsed))
    return shown


def command(
    standin: NotifyingStandIn, user: User, text: str = "", kind: str = "list"
) -> dict[str, Any] | None:
    return act(
        standin,
        user,
        kind,
        lambda: user.client.command(user.id, ids.COMMAND, text, channel_id=user.channel),
        None,
    )


def click(
    standin: NotifyingStandIn, user: User, message: dict[str, Any], action: dict[str, Any], kind: str
) -> dict[str, Any] | None:
    clicked = (message["channel"], message["ts"])
    return act(standin, user, kind, lambda: user.client.click(user.id, message, action), clicked)


def step(
    standin: NotifyingStandIn, user: User, message: dict[str, Any], kind: str, i: int
) -> dict[str, Any] | None:
    """One action of the cycle on the message as shown; the message shown after it."""
    if kind == "tick":
        fresh = [r for r in rows(message) if mpid_of(r) not in user.ticked]
        if not fresh:  # all ticked here (a search's one row): on to the next page, or the list again
            return step(standin, user, message, "next", i)
        row = fresh[0]
        shown = click(standin, user, message, tick(row), "tick")
        if shown is not None:
            user.ticked.add(mpid_of(row))
        return shown
    if kind == "next":
        try:
            action = button(message, ids.ACTION_PAGE_NEXT)
        except LookupError:  # the last page: start again
            return command(standin, user)
        return click(standin, user, message, action, "next")
    if kind == "kind":
        value = "creator" if i % 2 == 0 else "any"
        return click(standin, user, message, choose(message, ids.ACTION_FILTER_KIND, value), "filter")
    if kind == "not_contacted":
        value = i % 2 == 0
        return click(
            standin, user, message, choose(message, ids.ACTION_FILTER_NOT_CONTACTED, value), "filter"
        )
    # Each user searches terms of their own (a rare one: eleven rows of 100,000 each), as people do.
    return command(standin, user, f"Media {4200 + (int(user.id[1:]) + i) % 100}", kind="search")


def play(standin: NotifyingStandIn, user: User, steps: int, think: float, start: threading.Barrier) -> None:
    pause = random.Random(user.id)  # a user's own pace
    message = command(standin, user, kind="warmup")
    start.wait()
    if think:  # people do not start at the same instant either
        time.sleep(think * pause.uniform(0.0, 1.0))
    for i in range(steps):
        try:
            if message is None:  # the last action failed: open the list again
                message = command(standin, user)
                continue
            message = step(standin, user, message, STEPS[i % len(STEPS)], i // len(STEPS))
        except Exception as exc:  # noqa: BLE001 (counted as an error; the user carries on from a fresh list)
            user.errors.append(f"{STEPS[i % len(STEPS)]}: {exc!r}")
            message = None
        if think:  # users are not in step: each pause is drawn from [0.5, 1.5] × think
            time.sleep(think * pause.uniform(0.5, 1.5))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, standin: SlackStandIn, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "bench secret key, long enough for the settings",
        "LOG_LEVEL": "WARNING",
        # LISTENER_THREADS, when set here, reaches the server (to compare thread counts)
        **{name: os.environ[name] for name in ("LISTENER_THREADS",) if name in os.environ},
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-worker",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"prospects-bot serve ended: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("prospects-bot serve did not start")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends(url: str) -> dict[int, float]:
    """CPU time so far of each PostgreSQL backend serving the database of ``url`` (by its process title)."""
    name = url.rsplit("/", 1)[-1].partition("?")[0]
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f" {name} " in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
            except OSError:  # gone meanwhile
                continue
    return found


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def lost_ticks(url: str, users: list[User]) -> int:
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        lost = 0
        with SqlUnitOfWork(factory) as uow:
            for user in users:
                stored = set(uow.picks.all(TEAM, user.id))
                lost += len(user.ticked - stored) + len(stored - user.ticked)
                uow.picks.clear(TEAM, user.id)  # for the next run
            uow.commit()
        return lost
    finally:
        engine.dispose()


def run(url: str, args: argparse.Namespace, think_ms: float, log: Path) -> int:
    with NotifyingStandIn(bot_token=BOT_TOKEN) as standin:
        port = free_port()
        users = []
        for i in range(args.users):
            user_id = f"U{1000 + i}"
            standin.add_user(SlackUser(user_id, f"user{i}", f"User {i}", f"user{i}@brand.example"))
            client = TimedSim(
                f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, team_id=TEAM, slack=standin
            )
            users.append(User(user_id, f"C{1000 + i}", client))
            standin.changed[users[-1].channel] = threading.Condition()
        process = serve(url, standin, port, log)
        try:
            start = threading.Barrier(len(users) + 1)
            threads = [
                threading.Thread(
                    target=play, args=(standin, u, args.steps, think_ms / 1000, start), daemon=True
                )
                for u in users
            ]
            # This process is Slack's side. Its full garbage collections walk every message the stand-in keeps
            # (100 to 230 ms by the end of a run, stalling all 50 users at once): a pause of the stand-in's, not of
            # the app's, so they wait until the load is over.
            gc.disable()
            for thread in threads:
                thread.start()
            start.wait()
            started, cpu, ours = time.perf_counter(), cpu_seconds(process.pid), cpu_seconds(os.getpid())
            database = backends(url)
            for thread in threads:
                thread.join()
            elapsed, cpu = time.perf_counter() - started, cpu_seconds(process.pid) - cpu
            ours = cpu_seconds(os.getpid()) - ours
            pg = sum(t - database.get(pid, 0.0) for pid, t in backends(url).items())
        finally:
            gc.enable()
            process.terminate()
            process.wait(30)
        refused = list(standin.refused)
        rate_limited = len(standin.rate_limited)
    samples = [ms for u in users for kind, ms in u.samples if kind != "warmup"]
    errors = [e for u in users for e in u.errors]
    lost = lost_ticks(url, users)
    ordered = sorted(samples)
    label = f"{args.users}_users" + (f"_paced_{think_ms:g}ms" if think_ms else "")
    print(
        f"list_load_{label}_requests {len(samples) + len([e for e in errors if 'warmup' not in e])} requests"
    )
    print(f"list_load_{label}_rate {len(samples) / elapsed:.1f} requests/s")
    print(f"list_load_{label}_server_cpu {cpu / max(1, len(samples)) * 1000:.1f} ms/request")
    print(f"list_load_{label}_postgres_cpu {pg / max(1, len(samples)) * 1000:.1f} ms/request")
    print(
        f"list_load_{label}_client_cpu {ours / max(1, len(samples)) * 1000:.1f} ms/request (Slack's side, here)"
    )
    print(f"list_load_{label}_p50 {percentile(ordered, 0.50):.1f} ms")
    print(f"list_load_{label}_p95 {percentile(ordered, 0.95):.1f} ms <100")
    print(f"list_load_{label}_p99 {percentile(ordered, 0.99):.1f} ms")
    for kind in ("tick", "next", "filter", "search", "list"):
        of_kind = sorted(ms for u in users for k, ms in u.samples if k == kind)
        if of_kind:
            print(
                f"list_load_{label}_{kind}_p95 {percentile(of_kind, 0.95):.1f} ms"
                f" ({len(of_kind)} requests, p50 {percentile(of_kind, 0.5):.1f} ms)"
            )
    print(f"list_load_{label}_errors {len(errors) + len(refused)} errors 0")
    print(f"list_load_{label}_ticks {sum(len(u.ticked) for u in users)} ticks")
    print(f"list_load_{label}_lost_ticks {lost} ticks 0")
    print(f"list_load_{label}_rate_limited {rate_limited} calls")
    for problem in (errors + [str(r) for r in refused])[:10]:
        print(f"error: {problem}", file=sys.stderr)
    return 0 if not errors and not refused and not lost else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--think-ms",
        default="0,1000",
        help="runs, one for each of these pauses between a user's clicks (0: all at once)",
    )
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--database",
        help="the URL of a database an earlier run seeded and left (--keep): used as it is, not seeded again",
    )
    parser.add_argument("--keep", action="store_true", help="leave the seeded database and print its URL")
    args = parser.parse_args()
    if args.database:
        url, drop = args.database, lambda: None
    else:
        made = _postgres_database(args.postgres)
        if made is None:
            return 1
        url, drop = made
        if args.keep:
            print(f"list_load_database {url} (kept)", flush=True)
            drop = lambda: None  # noqa: E731
    try:
        if not args.database:
            started = time.perf_counter()
            seed(url, args.rows)
            print(f"list_load_seed_{args.rows} {time.perf_counter() - started:.1f} s", flush=True)
        failed = 0
        with tempfile.TemporaryDirectory(prefix="list-load-") as tmp:
            for think in (float(t) for t in args.think_ms.split(",") if t):
                failed |= run(url, args, think, Path(tmp) / f"serve-{think:g}.log")
        return failed
    finally:
        drop()


if __name__ == "__main__":
    raise SystemExit(main())
