"""`prospects-bot audit --team T [--since DATE]`: every send of a workspace as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main
from bot.devtools.samples import pdf
from outreach.adapters.smtp import SmtpMailer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.delivery import DeliveryWorker
from outreach.layouts import Layouts
from outreach.models import Channel, Partner
from outreach.rendering import TrackingConfig
from tests.attachment_samples import FakeScanner, FakeSniffer

pytestmark = pytest.mark.smtp
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


def test_the_audit_trail_names_who_sent_what_to_whom_when_and_the_result(
    database_url, uow_factory, smtp_server, monkeypatch, capsys
):
    with uow_factory() as uow:
        uow.partners.upsert_many(
            "T1",
            [
                Partner("T1", "m1", "Acme", "A", "B", "a@acme.example"),
                Partner("T1", "m2", "Bolt", "C", "D", "c@bolt.example"),
            ],
        )
        uow.partners.upsert_many("T2", [Partner("T2", "m9", "Other", "E", "F", "e@other.example")])
        uow.commit()
    clock = FixedClock(AT)
    parts = dict(
        clock=clock,
        sniffer=FakeSniffer(),
        scanner=FakeScanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
        tracking=TrackingConfig("https://t/{mpid}", "1"),
        layouts=Layouts(),
    )
    compose = ComposeService(uow=uow_factory, **parts)
    state = compose.start("T1", "U1", Channel.EMAIL, ["m1", "m2"])
    compose.save("T1", "U1", state.draft_id, DraftFields("Ann", "ann@brand.example", 'Offer, "2038"', "Hi"))
    compose.attach("T1", "U1", state.draft_id, [("deck.pdf", pdf())])
    compose.submit("T1", "U1", state.draft_id)
    smtp_server.refuse("c@bolt.example")
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "", "", "none", "o@brand.example", 10)
    DeliveryWorker(uow=uow_factory, mailer=mailer, transport=None, worker_id="w", **parts).run_until_idle()

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["audit", "--team", "T1"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["mpid"], r["result"]) for r in rows) == [("m1", "sent"), ("m2", "failed")]
    sent = next(r for r in rows if r["mpid"] == "m1")
    assert sent["author"] == "U1" and sent["email"] == "a@acme.example" and sent["subject"] == 'Offer, "2038"'
    assert sent["attachments"].startswith("deck.pdf:") and len(sent["attachments"].split(":")[1]) == 64
    assert sent["detail"].startswith("<") and sent["at"].startswith("2038-01-19")
    assert "550" in next(r for r in rows if r["mpid"] == "m2")["detail"]

    assert main(["audit", "--team", "T1", "--since", (AT + timedelta(days=1)).date().isoformat()]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == []
    assert main(["audit", "--team", "T2"]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == []  # nothing crosses workspaces
