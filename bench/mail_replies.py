"""Inbound e-mail replies matched and threaded: 10,000 partners' replies, each a real RFC 822 message naming the
e-mail we sent it (In-Reply-To, References), handed one by one to the inbound service as ``POST /mail/inbound``
does (parse, match by Message-ID, store in the partner's e-mail thread, publish the event), on a SQLite file.

The sends are stored as the pipeline leaves them (a plan made by ComposeService, then every delivery SENT with
its Message-ID, in one statement: the send itself is what bulk.py measures). The replies carry text only (files
are checked and scanned as outgoing ones are: scan.py). Prints ``name value unit [target]``.

    .venv/bin/python bench/mail_replies.py [--replies 10000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bot.devtools.mail_samples import reply
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.bounce_address import BounceAddresses
from outreach.clock import SystemClock
from outreach.compose import ComposeService, DraftFields
from outreach.layouts import Layouts
from outreach.mail_inbound import MailInboundService, Outcome
from outreach.models import Channel, ConversationEvent, Partner, ScanStatus, ScanVerdict
from outreach.rendering import TrackingConfig
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.unit_of_work import make_uow_factory

TEAM, AUTHOR = "TBENCH", "UBENCH"


class CleanScanner:
    def scan(self, data: bytes) -> ScanVerdict:
        return ScanVerdict(ScanStatus.CLEAN)


class Events:
    def __init__(self) -> None:
        self.count = 0

    def publish(self, event: ConversationEvent) -> None:
        self.count += 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=10_000)
    args = parser.parse_args()
    n = args.replies
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'replies.db'}"
        upgrade(url)
        engine = make_engine(url)
        uow = make_uow_factory(make_session_factory(engine))
        partners = [
            Partner(TEAM, f"m{i}", f"Media {i}", "Al", email=f"al{i}@partner{i % 97}.example")
            for i in range(n)
        ]
        with uow() as unit:
            unit.partners.upsert_many(
                TEAM, partners, mark_prospects={p.mpid for p in partners}, marked_by=AUTHOR
            )
            unit.commit()
        parts = dict(
            sniffer=MagicSniffer(),
            scanner=CleanScanner(),
            scan_cache=InMemoryScanCache(),
            policy=AttachmentPolicy(),
        )
        compose = ComposeService(
            uow=uow,
            clock=SystemClock(),
            tracking=TrackingConfig("https://t.example/{mpid}", "1"),
            layouts=Layouts(),
            **parts,
        )
        state = compose.start(TEAM, AUTHOR, Channel.EMAIL, [p.mpid for p in partners])
        compose.save(
            TEAM, AUTHOR, state.draft_id, DraftFields("Ann", "ann@brand.example", "A partnership", "Hello")
        )
        compose.submit(TEAM, AUTHOR, state.draft_id)
        with (
            engine.begin() as conn
        ):  # every delivery sent, with the Message-ID the SMTP adapter would have made
            conn.execute(
                text(
                    "UPDATE deliveries SET status = 'sent', sent_at = created_at, "
                    "provider_message_id = '<' || id || '.bench@brand.example>' WHERE draft_id = :d"
                ),
                {"d": state.draft_id},
            )
            ids = dict(
                conn.execute(
                    text("SELECT mpid, provider_message_id FROM deliveries WHERE draft_id = :d"),
                    {"d": state.draft_id},
                ).all()
            )
        raws = [
            reply(
                in_reply_to=ids[p.mpid],
                references=f"<thread-{i}@partner.example> {ids[p.mpid]}",
                sender=f"Al <{p.email}>",
                text=f"Thanks for reaching out, {i}. We would love to hear more about the programme.",
                quoted="Hello Al,\nwe love what you publish.",
            )
            for i, p in enumerate(partners)
        ]
        events = Events()
        service = MailInboundService(
            uow=uow,
            clock=SystemClock(),
            events=events,
            bounces=BounceAddresses(b"k", "outreach@brand.example"),
            **parts,
        )
        latencies = []
        started = time.perf_counter()
        for raw in raws:
            t0 = time.perf_counter()
            outcome = service.receive(raw)
            latencies.append(time.perf_counter() - t0)
            assert outcome.outcome is Outcome.REPLY and not outcome.duplicate
        elapsed = time.perf_counter() - started
        assert events.count == n
        with uow() as unit:
            stored = len(unit.threads.for_partner(TEAM, "m0")) + len(
                unit.threads.for_partner(TEAM, f"m{n - 1}")
            )
        assert stored == 2
        again = time.perf_counter()
        for raw in raws[:1000]:  # replays: answered as duplicates
            assert service.receive(raw).duplicate
        replay = (time.perf_counter() - again) / min(1000, n)
        engine.dispose()
    p95 = statistics.quantiles(latencies, n=20)[18]
    print(f"mail_replies_{n}_rate {n / elapsed:.0f} replies/s >=100")
    print(f"mail_reply_p95 {p95 * 1000:.1f} ms <50")
    print(f"mail_reply_duplicate {replay * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
