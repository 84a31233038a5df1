"""Shared by bulk.py, memory.py and submit.py: a counting SMTP sink on 127.0.0.1 (a process of its own) and
the real send pipeline on a fresh DB.

Not a benchmark itself (run_all.py only runs the scripts it lists).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from bot.settings import Settings
from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import SystemClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import DeliveryWorker, Progress
from outreach.layouts import Layouts
from outreach.models import Ad, AdType, Channel, Partner, PartnerKind, ScanStatus, ScanVerdict
from outreach.ports import Sniffer
from outreach.rendering import TrackingConfig
from outreach.unsubscribe import UnsubscribeLinks
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
    """aiosmtpd handler: accepts everything, keeps nothing but a count and the wall-clock times of the first and
    last message (shared with the parent process)."""

    def __init__(self, counter: Any, times: Any) -> None:
        self.counter = counter
        self.times = times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._count()
        return "250 OK"

    def _count(self) -> int:
        now = time.time()
        with self.counter.get_lock():
            self.counter.value += 1
            if not self.times[0]:
                self.times[0] = now
            self.times[1] = now
            return int(self.counter.value)


class SlowSink(CountingSink):
    """A relay that answers as real ones do, tens of milliseconds later: each reply to MAIL, RCPT and the end of
    DATA comes ``latency`` seconds late (the connection's other replies — greeting, EHLO, 354 — at once). It can
    also keep the messages sent to some addresses (``keep``: their raw bytes written to ``keep_dir``, numbered
    in arrival order) for a sender's output to be checked."""

    def __init__(self, counter: Any, times: Any, latency: float, keep: frozenset[str], keep_dir: str) -> None:
        super().__init__(counter, times)
        self.latency = latency
        self.keep = keep
        self.keep_dir = keep_dir

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        number = self._count()
        kept = [to for to in envelope.rcpt_tos if to in self.keep]
        if kept:
            name = f"{number:09d}-{kept[0]}.eml"
            with open(os.path.join(self.keep_dir, name), "wb") as out:
                out.write(envelope.original_content)
        return "250 OK"


def _wire_session(conn: socket.socket, count: Any) -> None:
    """One SMTP connection of :func:`_serve_wire`: every command answered 250 (EHLO with PIPELINING), DATA read
    in 1 MB blocks straight into one buffer and thrown away as soon as its end (CRLF.CRLF) is found."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(b"220 sink.local ESMTP\r\n")
    pending = bytearray()  # command bytes read but not handled yet (pipelined commands)
    block = bytearray(4 + (1 << 20))
    view = memoryview(block)
    while True:
        end = pending.find(b"\r\n")
        if end < 0:
            data = conn.recv(65536)
            if not data:
                return
            pending += data
            continue
        verb = bytes(pending[:4]).upper()
        del pending[: end + 2]
        if verb == b"EHLO":
            conn.sendall(b"250-sink.local\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 Bye\r\n")
            return
        elif verb != b"DATA":
            conn.sendall(b"250 OK\r\n")
        else:
            conn.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            # The block starts with the last 4 bytes seen (the DATA line's CRLF at first), so an end split
            # across two reads is found; what follows the end is the next commands.
            block[:4] = b"\0\0\r\n"
            held = 4
            if pending:
                block[4 : 4 + len(pending)] = pending
                held += len(pending)
                pending.clear()
            while (at := block.find(b"\r\n.\r\n", 0, held)) < 0:
                block[:4] = block[held - 4 : held]
                read = conn.recv_into(view[4:])
                if not read:
                    return
                held = 4 + read
            pending += block[at + 5 : held]
            count()
            conn.sendall(b"250 OK\r\n")


def _serve_wire(port: int, counter: Any, times: Any, ready: Any, stop: Any) -> None:
    """A mail server as fast as the wire: raw sockets, a thread per connection, nothing parsed but the commands'
    verbs and the end of DATA (aiosmtpd reads a 7 MB message line by line, about 0.2 s)."""
    sink = CountingSink(counter, times)
    listener = socket.create_server((HOST, port), backlog=128)
    listener.settimeout(0.2)
    ready.set()
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        threading.Thread(target=_wire_session, args=(conn, sink._count), daemon=True).start()
    listener.close()


def _serve(
    port: int,
    counter: Any,
    times: Any,
    ready: Any,
    stop: Any,
    latency: float,
    keep: frozenset[str],
    keep_dir: str,
) -> None:
    handler = (
        SlowSink(counter, times, latency, keep, keep_dir) if latency or keep else CountingSink(counter, times)
    )
    controller = Controller(handler, hostname=HOST, port=port, server_hostname="sink.local", ready_timeout=10)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SinkServer:
    """A plain SMTP server (aiosmtpd) on 127.0.0.1 in a process of its own, as a real mail server is: its
    work does not compete with the sender's for one Python interpreter.

    ``latency_ms``: each reply to MAIL, RCPT and the end of DATA that much later (a relay on a network, not on
    loopback). ``keep`` and ``keep_dir``: the raw messages to these addresses are written there (see
    :class:`SlowSink`). ``wire``: a raw-socket server instead (:func:`_serve_wire`), for messages of megabytes."""

    def __init__(
        self,
        latency_ms: float = 0.0,
        keep: frozenset[str] = frozenset(),
        keep_dir: str = "",
        *,
        wire: bool = False,
    ) -> None:
        ctx = multiprocessing.get_context("fork")  # started before any thread of this process
        self._counter = ctx.Value("q", 0)
        self._times = ctx.Array("d", 2)  # wall-clock time of the first and the last message since reset()
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self.host, self.port = HOST, free_port()
        shared = (self.port, self._counter, self._times, self._ready, self._stop)
        self._process = ctx.Process(
            target=_serve_wire if wire else _serve,
            args=shared if wire else (*shared, latency_ms / 1000, keep, keep_dir),
            daemon=True,
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

    def reset(self) -> None:
        """Start a new window: the next message is the first one."""
        with self._counter.get_lock():
            self._times[0] = self._times[1] = 0.0

    def window(self) -> tuple[float, float]:
        """Wall-clock times of the first and the last message since :meth:`reset` (0 for none)."""
        with self._counter.get_lock():
            return float(self._times[0]), float(self._times[1])

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
    sniffer: Sniffer

    def worker(
        self,
        on_progress: ProgressCounter | None,
        name: str = "bench",
        group: int | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
        connections: int | None = None,
    ) -> DeliveryWorker:
        """A worker built as bot.wiring builds one (default batch size, lease, retry policy, in-flight group,
        SMTP_CONNECTIONS unless ``connections`` says otherwise; no throttle; ``unsubscribe``: the links
        bot.wiring always gives it, else none)."""
        options: dict[str, int] = {} if group is None else {"in_flight_group": group}
        options["connections"] = Settings().smtp_connections if connections is None else connections
        return DeliveryWorker(
            uow=self.uow,
            clock=SystemClock(),
            mailer=self.mailer,
            transport=None,
            sniffer=self.sniffer,
            scanner=self.scanner,
            scan_cache=self.cache,
            policy=AttachmentPolicy(),
            tracking=TRACKING,
            layouts=self.layouts,
            worker_id=name,
            on_progress=on_progress,
            unsubscribe=unsubscribe,
            **options,
        )


def pipeline(url: str, smtp_host: str, smtp_port: int, sniffer: Sniffer | None = None) -> Pipeline:
    """The pipeline on a migrated database at ``url``; ``sniffer``: libmagic's to send attachments (the default
    calls every file application/octet-stream, which the type allow-list refuses)."""
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    uow = UowFactory(sessions)
    assert isinstance(uow(), SqlUnitOfWork)
    scanner, cache, layouts = CleanScanner(), InMemoryScanCache(), Layouts()
    sniffer = sniffer or PassSniffer()
    mailer = SmtpMailer(smtp_host, smtp_port, "", "", "none", MAIL_FROM, 30)
    compose = ComposeService(
        uow=uow,
        clock=SystemClock(),
        sniffer=sniffer,
        scanner=scanner,
        scan_cache=cache,
        policy=AttachmentPolicy(),
        tracking=TRACKING,
        layouts=layouts,
        mailer=mailer,
    )
    return Pipeline(uow, compose, mailer, scanner, cache, layouts, sniffer)


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


def plan(p: Pipeline, mpids: list[str], files: Sequence[tuple[str, bytes]] = ()) -> int:
    """Store the send plan as the app does: start a draft, attach ``files`` (checked: give the pipeline a real
    sniffer), save its fields, submit it. Returns its id."""
    state = p.compose.start(
        TEAM, AUTHOR, Channel.EMAIL, mpids, sender_name="Ann Lee", reply_to="ann@brand.example"
    )
    draft_id = state.draft_id
    del state
    if files:
        attached = p.compose.attach(TEAM, AUTHOR, draft_id, files)
        assert attached.ok, attached.problems
    p.compose.save(TEAM, AUTHOR, draft_id, DraftFields("Ann Lee", "ann@brand.example", SUBJECT, BODY))
    sent = p.compose.submit(TEAM, AUTHOR, draft_id)
    assert sent.recipients == len(mpids), sent
    return draft_id
