"""Bulk e-mail throughput: the real send pipeline vs a bare smtplib loop, 10,000 recipients, one run each.

Both send to the same local SMTP server (aiosmtpd on 127.0.0.1, in a thread of this process, a sink that
only counts). The pipeline: ComposeService stores the plan (start, save, submit) in a fresh SQLite file,
then one DeliveryWorker (built as bot.wiring builds it) runs until idle: claim batches, render, build,
send, record each result. The baseline: the same messages, rendered beforehand with rendering.email_for,
then in a loop built with mailmsg.build_message and sent on one reused smtplib.SMTP connection — what any
script must do to send them, without the stored plan. Target: pipeline rate / baseline rate >= 0.8.

Building a MIME message with the standard library's email package (about 5 ms here, most of it header
parsing) costs more than its SMTP transaction with this local server, so a second, informational baseline
sends bytes built before the clock starts: SMTP alone, which no pipeline can match.
Prints ``name value unit [target]`` lines.

    .venv/bin/python bench/bulk.py [--recipients 10000] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import smtplib
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sendkit import (
    MAIL_FROM,
    TEAM,
    TRACKING,
    ProgressCounter,
    SinkServer,
    partners,
    pipeline,
    plan,
    seed,
)

from outreach.layouts import Layouts
from outreach.mailmsg import MAIL_POLICY, build_message, mail_from_address
from outreach.models import Ad, AdType, Channel, Draft, OutgoingEmail
from outreach.rendering import email_for, prepare

TARGET = ">=0.8"
DOMAIN = "brand.example"  # the Message-ID domain SmtpMailer derives from MAIL_FROM


def rendered(count: int) -> list[OutgoingEmail]:
    """Every recipient's e-mail, rendered as the pipeline renders it."""
    from _sendkit import BODY, SUBJECT

    draft = Draft(
        TEAM,
        "U",
        Channel.EMAIL,
        sender_name="Ann Lee",
        reply_to="ann@brand.example",
        subject=SUBJECT,
        content=BODY,
        id=1,
    )
    ad = Ad(TEAM, "42", "Spring collection", AdType.TEXT_LINK, "https://shop.example.com/spring")
    prepared = prepare(draft, {"42": ad}, TRACKING, datetime.now(UTC))
    layouts = Layouts()
    return [email_for(prepared, p, layouts) for p in partners(count)]


def bare_loop(host: str, port: int, emails: list[OutgoingEmail]) -> float:
    """Seconds to build and send every message over one reused smtplib connection."""
    sender = mail_from_address(MAIL_FROM)
    started = time.perf_counter()
    smtp = smtplib.SMTP(host, port, timeout=30)
    smtp.ehlo()
    for email in emails:
        msg = build_message(email, MAIL_FROM, DOMAIN)
        smtp.sendmail(sender, [email.to], msg.as_bytes(policy=MAIL_POLICY))
    smtp.quit()
    return time.perf_counter() - started


def bare_prebuilt_loop(host: str, port: int, messages: list[tuple[str, bytes]]) -> float:
    """Seconds to send message bytes built beforehand over one reused smtplib connection (SMTP alone)."""
    sender = mail_from_address(MAIL_FROM)
    started = time.perf_counter()
    smtp = smtplib.SMTP(host, port, timeout=30)
    smtp.ehlo()
    for to, data in messages:
        smtp.sendmail(sender, [to], data)
    smtp.quit()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--profile", help="write a cProfile of the pipeline's send to this file")
    parser.add_argument(
        "--group", type=int, default=None, help="e-mails committed in flight together (IN_FLIGHT_GROUP)"
    )
    args = parser.parse_args()
    n = args.recipients
    with tempfile.TemporaryDirectory(prefix="bulk-bench-") as tmp, SinkServer() as sink:
        p = pipeline(f"sqlite:///{Path(tmp) / 'bulk.db'}", sink.host, sink.port)
        seed(p, n)
        started = time.perf_counter()
        draft_id = plan(p, [x.mpid for x in partners(n)])
        print(f"bulk_store_plan_{n} {time.perf_counter() - started:.2f} s", flush=True)

        progress = ProgressCounter()
        worker = p.worker(progress, group=args.group)
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        handled = worker.run_until_idle(draft_id)
        if profiler:
            profiler.disable()
        pipeline_s = time.perf_counter() - started
        if profiler:
            profiler.dump_stats(args.profile)
        assert handled == n, handled
        assert sink.wait_for(n), sink.count
        assert progress.last is not None and progress.last.finished and progress.last.counts_sent == n

        emails = rendered(n)
        before = sink.count
        bare_s = bare_loop(sink.host, sink.port, emails)
        assert sink.wait_for(before + n), sink.count

        started = time.perf_counter()
        prebuilt = [(e.to, build_message(e, MAIL_FROM, DOMAIN).as_bytes(policy=MAIL_POLICY)) for e in emails]
        build_s = time.perf_counter() - started
        del emails
        before = sink.count
        smtp_only_s = bare_prebuilt_loop(sink.host, sink.port, prebuilt)
        assert sink.wait_for(before + n), sink.count

    pipeline_rate, bare_rate = n / pipeline_s, n / bare_s
    print(f"bulk_pipeline_rate_{n} {pipeline_rate:.0f} messages/s")
    print(f"bulk_bare_smtplib_rate_{n} {bare_rate:.0f} messages/s")
    print(f"bulk_ratio {pipeline_rate / bare_rate:.2f} pipeline/bare {TARGET}")
    print(f"bulk_build_message_ms {build_s / n * 1000:.2f} ms/message")
    print(f"bulk_smtp_only_rate_{n} {n / smtp_only_s:.0f} messages/s")
    print(f"bulk_ratio_to_smtp_only {smtp_only_s / pipeline_s:.2f} pipeline/smtp-only")
    print(f"bulk_progress_events {progress.events} events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
