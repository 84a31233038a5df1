"""Shared by bulk.py, memory.py and submit.py: a counting SMTP sink on 127.0.0.1 (a process of its own) and
the real send pipeline on a fresh DB.

Not a benchmark itself (run_all.py only runs the scripts it lists).
"""

from __future__ import annotations

import multiprocessing
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import SystemClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import DeliveryWorker, Progress
from outreach.layouts import Layouts
from outreach.models import Ad, AdType, Channel, Partner, PartnerKind, ScanStatus, ScanVerdict
from outreach.rendering import TrackingConfig
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.unit_of_work import SqlUnitOfWork, UowFactory

HOST = "127.0.0.1"
TEAM, AUTHOR = "TBENCH", "UBENCH"
MAIL_FROM = "Outreach <outreach@brand.example>"
TRACKING = TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77")
SUBJECT = "A partnership for {mpname}, {firstName}"
BODY = (
    "Hi {firstName} {lastName},\n\n"
    "We love what {mpname} publishes and think your audience would like our spring collection: free "
    "shipping over $50 and a 12% commission for new partners. Here is our best performer:\n\n"
    "{adcode_42}\n\n"
    "Offer valid from {currentDay}. Reply to this e-mail and we will set it up for you (partner id {mpid}).\n\n"
    "Thanks!\nAnn Lee, Brand Partnerships"
)
FIRST = ["Ana", "Ben", "Chloé", "Dev", "Eun", "伟", "Fatima", "Gus", "Hana", "Ivo"]
LAST = ["Díaz", "Okafor", "Schmidt", "张", "Nguyen", "Rossi", "Kowalski", "Silva", "Tanaka", "Brown"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class CountingSink:
    """aiosmtpd handler: accepts everything, keeps nothing but a count (shared with the parent process)."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def _serve(port: int, counter: Any, ready: Any, stop: Any) -> None:
    controller = Controller(
        CountingSink(counter), hostname=HOST, port=port, server_hostname="sink.local", ready_timeout=10
    )
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SinkServer:
    """A plain SMTP server (aiosmtpd) on 127.0.0.1 in a process of its own, as a real mail server is: its
    work does not compete with the sender's for one Python interpreter."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")  # started before any thread of this process
        self._counter = ctx.Value("q", 0)
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self.host, self.port = HOST, free_port()
        self._process = ctx.Process(
            target=_serve, args=(self.port, self._counter, self._ready, self._stop), daemon=True
        )

    def __enter__(self) -> SinkServer:
        self._process.start()
        if not self._ready.wait(20):
            self._process.kill()
            raise RuntimeError("the SMTP sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    @property
    def count(self) -> int:
        return int(self._counter.value)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count >= count


class PassSniffer:
    def sniff(self, data: bytes) -> str:
        return "application/octet-stream"


class CleanScanner:
    """Never called when a draft has no attachments; here to satisfy the pipeline's constructor."""

    def __init__(self) -> None:
        self.scans = 0

    def scan(self, data: bytes) -> ScanVerdict:
        self.scans += 1
        return ScanVerdict(ScanStatus.CLEAN)


class ProgressCounter:
    """Stands in for the app's progress DM (which itself updates Slack at most every 2 s): counts events."""

    def __init__(self) -> None:
        self.events = 0
        self.last: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.events += 1
        self.last = progress


def partner(i: int, team: str = TEAM) -> Partner:
    return Partner(
        team,
        f"mp{i:07}",
        f"{LAST[i % 10]} Media {i}",
        FIRST[i % 10],
        LAST[(i // 10) % 10],
        f"p{i}@partner{i % 97}.example.com",
        PartnerKind.CREATOR if i % 3 == 0 else PartnerKind.PARTNER,
        i % 2 == 0,
        "US",
    )


def partners(count: int, team: str = TEAM) -> Iterator[Partner]:
    return (partner(i, team) for i in range(count))


@dataclass
class Pipeline:
    uow: UowFactory
    compose: ComposeService
    mailer: SmtpMailer
    scanner: CleanScanner
    cache: InMemoryScanCache
    layouts: Layouts

    def worker(
        self, on_progress: ProgressCounter | None, name: str = "bench", group: int | None = None
    ) -> DeliveryWorker:
        """A worker built as bot.wiring builds one (default batch size, lease, retry policy, in-flight group;
        no throttle)."""
        options = {} if group is None else {"in_flight_group": group}
        return DeliveryWorker(
            uow=self.uow,
            clock=SystemClock(),
            mailer=self.mailer,
            transport=None,
            sniffer=PassSniffer(),
            scanner=self.scanner,
            scan_cache=self.cache,
            policy=AttachmentPolicy(),
            tracking=TRACKING,
            layouts=self.layouts,
            worker_id=name,
            on_progress=on_progress,
            **options,
        )


def pipeline(url: str, smtp_host: str, smtp_port: int) -> Pipeline:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    uow = UowFactory(sessions)
    assert isinstance(uow(), SqlUnitOfWork)
    scanner, cache, layouts = CleanScanner(), InMemoryScanCache(), Layouts()
    mailer = SmtpMailer(smtp_host, smtp_port, "", "", "none", MAIL_FROM, 30)
    compose = ComposeService(
        uow=uow,
        clock=SystemClock(),
        sniffer=PassSniffer(),
        scanner=scanner,
        scan_cache=cache,
        policy=AttachmentPolicy(),
        tracking=TRACKING,
        layouts=layouts,
        mailer=mailer,
    )
    return Pipeline(uow, compose, mailer, scanner, cache, layouts)


def seed(p: Pipeline, count: int, batch: int = 5000) -> None:
    """``count`` partners (all prospects) and the ad the body names, in batches of ``batch`` per transaction."""
    chunk: list[Partner] = []
    for item in partners(count):
        chunk.append(item)
        if len(chunk) == batch:
            _store(p, chunk)
            chunk = []
    if chunk:
        _store(p, chunk)
    with p.uow() as uow:
        uow.ads.upsert_many(
            TEAM, [Ad(TEAM, "42", "Spring collection", AdType.TEXT_LINK, "https://shop.example.com/spring")]
        )
        uow.commit()


def _store(p: Pipeline, chunk: list[Partner]) -> None:
    with p.uow() as uow:
        uow.partners.upsert_many(TEAM, chunk, mark_prospects={x.mpid for x in chunk}, marked_by=AUTHOR)
        uow.commit()


def plan(p: Pipeline, mpids: list[str]) -> int:
    """Store the send plan as the app does: start a draft, save its fields, submit it. Returns its id."""
    state = p.compose.start(
        TEAM, AUTHOR, Channel.EMAIL, mpids, sender_name="Ann Lee", reply_to="ann@brand.example"
    )
    draft_id = state.draft_id
    del state
    p.compose.save(TEAM, AUTHOR, draft_id, DraftFields("Ann Lee", "ann@brand.example", SUBJECT, BODY))
    sent = p.compose.submit(TEAM, AUTHOR, draft_id)
    assert sent.recipients == len(mpids), sent
    return draft_id
