"""Attachment checks per second for a 1 MB PDF (libmagic sniff + structure + clamd scan), with and without
the scan cache, and the number of clamd scans in a 1,000-recipient send with two attachments (target: 2).

Starts its own clamd (outreach.adapters.clamd_local) with a run-time signature database, as the tests do.
Prints ``name value unit [target]`` lines.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from outreach.adapters.clamd_local import ClamdUnavailable, demo_signatures, start_local_clamd
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.attachments import (
    AttachmentPolicy,
    InMemoryScanCache,
    check_attachments,
    recheck_for_send,
)
from outreach.models import ScanVerdict
from tests.attachment_samples import CountingScanner, pdf, png

RECIPIENTS = 1000
SECONDS = 2.0


class NoCache:
    def get(self, sha256: str) -> ScanVerdict | None:
        return None

    def put(self, sha256: str, verdict: ScanVerdict) -> None:
        return None


def rate(run, seconds: float = SECONDS) -> float:
    run()  # warm up
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        run()
        count += 1
    return count / elapsed


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="clamd-bench-"))
    try:
        clamd = start_local_clamd(workdir, demo_signatures(), stream_max_bytes=16 * 1024 * 1024)
    except ClamdUnavailable as exc:
        print(f"clamd unavailable: {exc}", file=sys.stderr)
        return 1
    try:
        sniffer, policy = MagicSniffer(), AttachmentPolicy()
        document = pdf(b"Offer", filler=1024 * 1024)
        files = [("offer.pdf", document)]

        def uncached() -> None:
            assert check_attachments(files, sniffer, clamd.scanner(), policy, NoCache()).ok

        cache = InMemoryScanCache()

        def cached() -> None:
            assert check_attachments(files, sniffer, clamd.scanner(), policy, cache).ok

        print(f"check_1mb_pdf_uncached {rate(uncached):.1f} checks/s")
        print(f"check_1mb_pdf_cached {rate(cached):.1f} checks/s")

        counting = CountingScanner(clamd.scanner())
        send_cache = InMemoryScanCache()
        attachments = [("offer.pdf", pdf(b"Offer 2038", filler=1024 * 1024)), ("logo.png", png(64, 64))]
        composed = check_attachments(attachments, sniffer, counting, policy, send_cache)
        assert composed.ok, composed.problems
        started = time.perf_counter()
        for _recipient in range(RECIPIENTS):
            assert recheck_for_send(composed.accepted, sniffer, counting, policy, send_cache).ok
        elapsed = time.perf_counter() - started
        print(f"scans_{RECIPIENTS}_recipients_2_attachments {counting.scans} scans =2")
        print(f"recheck_per_recipient {elapsed / RECIPIENTS * 1000:.2f} ms")
        return 0 if counting.scans == 2 else 1
    finally:
        clamd.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
