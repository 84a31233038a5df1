"""Latency-bound sending: how the send rate scales with worker processes (and threads) against a slow relay.

Real relays answer in tens of milliseconds, so one connection sends a message per few round trips whatever the
sender's speed. The sink (aiosmtpd on 127.0.0.1, a process of its own) answers each MAIL, RCPT and end of DATA
``--latency-ms`` later (20 by default). A fresh PostgreSQL database holds ``--recipients`` partners (800 by
default); for each row of the table a send to all of them is planned as the app does, then ``prospects-bot
worker`` processes (real subprocesses, as tests/integration/test_send_rate_processes.py starts them; no
throttle) send it; the rate is measured at the sink: (messages − 1) / (last arrival − first arrival).

Rows: K = 2, 4, 8 connections of one worker (``SMTP_CONNECTIONS=K``, target: ≥ 0.8 × K × the one-connection
rate); N = 1, 2, 4 processes of one worker each, one connection each (target: ≥ 0.8 × N × the one-process
rate); informational, T = 2, 4, 8 worker threads in one process (``prospects-bot worker --count T``: a
connection each, one interpreter). The one-connection, one-process row (K = N = T = 1) is the reference of all
three columns.

    .venv/bin/python bench/scale.py [--recipients 800] [--latency-ms 20] [--postgres URL]
        [--connections 2,4,8] [--processes 1,2,4] [--threads 2,4,8]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sendkit import MAIL_FROM, TEAM, Pipeline, SinkServer, partners, pipeline, plan, seed
from list_db import _postgres_database

from outreach.models import DraftStatus

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench secret key, long enough for the settings"
TARGET = ">=0.8"


def workers(
    url: str, host: str, port: int, processes: int, threads: int, connections: int, logs: Path
) -> list[subprocess.Popen[bytes]]:
    """``processes`` × ``prospects-bot worker --count threads`` with ``connections`` SMTP connections each, from
    this checkout, with no throttle."""
    env = {
        "DATABASE_URL": url,
        "SMTP_HOST": host,
        "SMTP_PORT": str(port),
        "MAIL_FROM": MAIL_FROM,
        "SECRET_KEY": SECRET,
        "SEND_RATE_PER_SECOND": "0",
        "SMTP_CONNECTIONS": str(connections),
        "LOG_LEVEL": "WARNING",
    }
    started = []
    for i in range(processes):
        with (logs / f"worker-{processes}-{threads}-{connections}-{i}.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "worker", "--count", str(threads)],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
    return started


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def one_row(
    p: Pipeline,
    sink: SinkServer,
    url: str,
    n: int,
    processes: int,
    threads: int,
    connections: int,
    logs: Path,
) -> float:
    """Plan a send to every partner, run the workers until it is closed; the rate the sink saw."""
    draft_id = plan(p, [x.mpid for x in partners(n)])
    before = sink.count
    sink.reset()
    running = workers(url, sink.host, sink.port, processes, threads, connections, logs)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with p.uow() as uow:
                draft = uow.drafts.get(TEAM, draft_id)
            if draft is not None and draft.status is DraftStatus.SENT:
                break
            if any(w.poll() is not None for w in running):
                raise SystemExit(f"a worker process ended early; see {logs}")
            time.sleep(0.2)
        else:
            raise SystemExit("the send did not finish in 10 minutes")
    finally:
        stop(running)
    assert sink.wait_for(before + n) and sink.count == before + n, (sink.count, before, n)
    first, last = sink.window()
    return (n - 1) / (last - first)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=800)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--connections", default="2,4,8", help="SMTP_CONNECTIONS of one worker; '' for none")
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument(
        "--threads", default="2,4,8", help="threads of one process (informational); '' for none"
    )
    args = parser.parse_args()
    n = args.recipients
    made = _postgres_database(args.postgres)
    if made is None:
        return 1
    url, drop = made
    rows: list[tuple[str, int, float]] = []
    try:
        with SinkServer(args.latency_ms) as sink, tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
            p = pipeline(url, sink.host, sink.port)
            seed(p, n)
            print(
                f"scale_latency {args.latency_ms:.0f} ms (each reply to MAIL, RCPT and end of DATA)",
                flush=True,
            )
            plan_ = [("processes", int(x), (int(x), 1, 1)) for x in args.processes.split(",") if x]
            plan_ += [("connections", int(x), (1, 1, int(x))) for x in args.connections.split(",") if x]
            plan_ += [("threads", int(x), (1, int(x), 1)) for x in args.threads.split(",") if x]
            for kind, count, (processes, threads, connections) in plan_:
                rate = one_row(p, sink, url, n, processes, threads, connections, Path(tmp))
                rows.append((kind, count, rate))
                print(f"scale_{kind}_{count}_rate_{n} {rate:.1f} messages/s", flush=True)
    finally:
        drop()
    one = next((rate for kind, count, rate in rows if kind == "processes" and count == 1), None)
    if one:
        for kind, count, rate in rows:
            if count > 1:
                target = f" {TARGET}" if kind != "threads" else ""
                print(f"scale_{kind}_{count}_ratio {rate / (count * one):.2f} rate/({count}×one){target}")
    print("\nrate (messages/s)   K connections   N processes   T threads", file=sys.stderr)
    for k in (1, 2, 4, 8):
        cells = [
            next((f"{r:.1f}" for kind, c, r in rows if kind == name and c == k), "-")
            for name in ("connections", "processes", "threads")
        ]
        if k == 1:
            cells = [cells[1]] * 3
        print(f"{k:>17}   {cells[0]:>13}   {cells[1]:>11}   {cells[2]:>9}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
