"""What the e-mail reply and bounce tests share: partners in two workspaces, the inbound service with its events
recorded, and real e-mail sends (compose, the delivery worker with VERP, a real SMTP server)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.bounce_address import BounceAddresses
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import DeliveryWorker
from outreach.layouts import Layouts
from outreach.mail_inbound import MailInboundService
from outreach.models import Channel, ConversationEvent, Partner
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
KEY = b"a-test-signing-key"
MAIL_FROM = "Outreach <outreach@brand.example>"


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[ConversationEvent] = []

    def publish(self, event: ConversationEvent) -> None:
        self.events.append(event)


@dataclasses.dataclass
class Sent:
    message_id: str
    envelope_from: str
    draft_id: int


def build_world(uow_factory, smtp_server, clamd, clock=None):
    with uow_factory() as uow:
        uow.partners.upsert_many(
            T1,
            [
                Partner(T1, "m1", "Acme Media", "Al", email="Al@Acme.example"),
                Partner(T1, "m2", "Beta Blog", "Bo", email="bo@beta.example"),
            ],
        )
        uow.partners.upsert_many(T2, [Partner(T2, "m9", "Acme elsewhere", email="al@acme.example")])
        uow.commit()
    events = RecordingEvents()
    bounces = BounceAddresses(KEY, "outreach@brand.example")
    service = MailInboundService(
        uow=uow_factory,
        clock=clock or FixedClock(AT),
        sniffer=MagicSniffer(),
        scanner=clamd.scanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
        events=events,
        bounces=bounces,
    )

    def send(team: str, author: str, mpids: list[str]) -> dict[str, Sent]:
        """A real e-mail send: compose, the delivery worker, the SMTP server; what each partner got."""
        clock, sniffer, scanner, cache = FixedClock(AT), MagicSniffer(), FakeScanner(), InMemoryScanCache()
        tracking = TrackingConfig("https://t.example/{mpid}/{adid}/{program_id}", "1")
        parts = dict(sniffer=sniffer, scanner=scanner, scan_cache=cache, policy=AttachmentPolicy())
        compose = ComposeService(uow=uow_factory, clock=clock, tracking=tracking, layouts=Layouts(), **parts)
        state = compose.start(team, author, Channel.EMAIL, mpids)
        fields = DraftFields("Ann Lee", "ann@brand.example", "A partnership", "Hello {firstName}")
        compose.save(team, author, state.draft_id, fields)
        compose.submit(team, author, state.draft_id)
        mailer = SmtpMailer(smtp_server.host, smtp_server.port, "", "", "none", MAIL_FROM, 10, verp=True)
        before = len(smtp_server.received)
        worker = DeliveryWorker(
            uow=uow_factory,
            clock=clock,
            mailer=mailer,
            transport=None,
            tracking=tracking,
            layouts=Layouts(),
            worker_id="w",
            bounces=bounces,
            **parts,
        )
        assert worker.run_until_idle() == len(mpids)
        with uow_factory() as uow:
            emails = {p.email.lower(): p.mpid for p in uow.partners.get_many(team, mpids).values()}
        got = {}
        for received in smtp_server.received[before:]:
            message = received.parsed()
            got[emails[received.rcpt_tos[0].lower()]] = Sent(
                str(message["Message-ID"]), received.mail_from, state.draft_id
            )
        return got

    return service, events, send
