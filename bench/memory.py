"""Peak memory (RSS) of a 100,000-recipient send through the real pipeline. Target: < 200 MB.

This process stores 100,000 partners (uow.partners.upsert_many, in batches) in a fresh SQLite file and runs
the sink SMTP server (aiosmtpd on 127.0.0.1, counting only, a process of its own). The send runs in child
processes, so each figure is the send's own: one child stores the plan as the app does (ComposeService start,
save, submit to all 100,000), then worker children (built as bot.wiring builds one) run until every delivery
is done. Each child reports its peak RSS (VmHWM of /proc/self/status) and its RSS after its imports alone.
One worker by default (about 8 minutes on two cores); a worker's memory does not depend on how many run.

``--attachment-mb M`` attaches a PDF of M MB to the send (the draft holds it once, and so does the worker: its
encoded form is one object all messages of the send share; the target is the same). aiosmtpd would take about
0.2 s to read each message of about 7 MB, so with an attachment the sink is a raw-socket SMTP server instead
(``_sendkit._serve_wire``: commands answered, DATA read in 1 MB blocks up to its end and dropped), and all
100,000 messages (about 700 GB over loopback) are sent. ``--batches B`` stops each worker after B batches of 100
for a shorter run: the plan is still stored for every recipient, and a worker's memory, which is held per batch
and group (not per recipient), is measured on the messages it did send.

    .venv/bin/python bench/memory.py [--recipients 100000] [--workers 1] [--plan-only]
        [--attachment-mb 5 --batches 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's code (the venv may have been installed from another)
sys.path.insert(0, str(HERE))

from _sendkit import ProgressCounter, SinkServer, partners, pipeline, plan, seed  # noqa: E402

from bot.devtools.samples import pdf  # noqa: E402
from outreach.adapters.magic_sniffer import MagicSniffer  # noqa: E402

TARGET = "<200"


def peak_mb() -> float:
    """This process's peak RSS: VmHWM, which belongs to the program it runs. (``ru_maxrss`` would not do: on
    Linux it keeps the high-water mark of the memory a child had before ``exec``, a copy of its parent's.)"""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> int:
    """One phase of the send, in this (child) process; prints one JSON line."""
    imported = peak_mb()
    p = pipeline(args.url, "127.0.0.1", args.port, MagicSniffer() if args.attachment_mb else None)
    started = time.perf_counter()
    if args.child == "plan":
        files = [("offer.pdf", document(args.attachment_mb))] if args.attachment_mb else []
        draft_id = plan(p, [x.mpid for x in partners(args.recipients)], files)
        result = {"draft_id": draft_id}
    else:
        progress = ProgressCounter()
        worker = p.worker(progress, name=f"bench-{args.child}")
        handled = worker.run_until_idle(args.draft, max_batches=args.batches or 1_000_000)
        result = {"handled": handled, "progress_events": progress.events}
    result.update(seconds=time.perf_counter() - started, imported_mb=imported, peak_mb=peak_mb())
    print(json.dumps(result), flush=True)
    return 0


class RssTrail:
    """The worker processes' peak RSS so far (VmHWM; the highest of them) read twice a second, each reading with
    the number of messages the sink had by then: does the peak level off or keep growing with the send?"""

    def __init__(self, pids: list[int], sent: Callable[[], int]) -> None:
        self._pids, self._sent = pids, sent
        self.readings: list[tuple[int, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.5):
            sizes = [peak_of(pid) for pid in self._pids]
            self.readings.append((self._sent(), max(sizes, default=0.0)))

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def upto(self, messages: int) -> float | None:
        """The highest reading taken before more than ``messages`` had been sent (None: no reading that soon)."""
        return max((mb for count, mb in self.readings if count <= messages), default=None)


def peak_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # ended meanwhile
        pass
    return 0.0


def document(mb: float) -> bytes:
    """A valid PDF of about ``mb`` MB."""
    return pdf(b"Spring collection, partner terms", filler=int(mb * 1024 * 1024))


def spawn(args: argparse.Namespace, phase: str, url: str, port: int, draft: int = 0) -> subprocess.Popen[str]:
    cmd = [sys.executable, __file__, "--child", phase, "--url", url, "--port", str(port)]
    cmd += ["--recipients", str(args.recipients), "--draft", str(draft)]
    cmd += ["--attachment-mb", str(args.attachment_mb), "--batches", str(args.batches)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def result_of(proc: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"a send process failed ({proc.returncode})")
    parsed: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return parsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--plan-only", action="store_true", help="store the plan, send nothing")
    parser.add_argument("--attachment-mb", type=float, default=0.0, help="attach a PDF of this many MB")
    parser.add_argument("--batches", type=int, default=0, help="each worker stops after this many batches")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--draft", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    n = args.recipients
    with (
        tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp,
        SinkServer(wire=bool(args.attachment_mb)) as sink,
    ):
        url = f"sqlite:///{Path(tmp) / 'memory.db'}"
        started = time.perf_counter()
        seed(pipeline(url, sink.host, sink.port), n)
        print(f"memory_seed_{n}_partners {time.perf_counter() - started:.1f} s", flush=True)
        suffix = f"_attach_{args.attachment_mb:g}mb" if args.attachment_mb else ""
        planned = result_of(spawn(args, "plan", url, sink.port))
        print(f"memory_plan_{n}{suffix}_seconds {planned['seconds']:.1f} s", flush=True)
        print(f"memory_plan_peak_rss_{n}{suffix} {planned['peak_mb']:.0f} MB {TARGET}", flush=True)
        if args.plan_only:
            return 0
        started = time.perf_counter()
        workers = [
            spawn(args, f"w{i}", url, sink.port, int(planned["draft_id"])) for i in range(args.workers)
        ]
        trail = RssTrail([w.pid for w in workers], lambda: sink.count)
        done = [result_of(w) for w in workers]
        trail.stop()
        elapsed = time.perf_counter() - started
        sent = sum(int(d["handled"]) for d in done)
        assert sent == n or (args.batches and sent == min(n, args.batches * 100 * args.workers)), done
        assert sink.wait_for(sent), sink.count
        assert sink.count == sent, sink.count
    worst = max(d["peak_mb"] for d in done)
    print(f"memory_send_{sent}_of_{n}{suffix}_seconds {elapsed:.1f} s")
    print(f"memory_send_rate{suffix} {sent / elapsed:.1f} messages/s ({args.workers} workers)")
    print(f"memory_after_imports_mb {planned['imported_mb']:.0f} MB")
    for share in (
        1,
        10,
        25,
        50,
        75,
        100,
    ):  # the workers' peak RSS by the time this share of the messages went
        if (so_far := trail.upto(sent * share // 100)) is not None:
            print(f"memory_worker_peak_rss_{n}{suffix}_after_{share}pct {so_far:.0f} MB")
    print(f"memory_worker_peak_rss_{n}{suffix} {worst:.0f} MB {TARGET}")
    print(f"memory_send_peak_rss_{n}{suffix} {max(worst, planned['peak_mb']):.0f} MB {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
