"""POST /mail/inbound over real HTTP (waitress on 127.0.0.1): raw e-mail signed like /messages/inbound, with the
whole app built from Settings (a real SMTP server for the send, the real clamd and libmagic, a temp SQLite
database) and a stand-in Slack that records what the author is told."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import make_client
from bot.conversations import ConversationThreads
from bot.devtools.harness import wait_for
from bot.devtools.mail_samples import dsn, reply
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.http import HttpServer, WsgiApp
from bot.inbound import body_limit
from bot.mail_inbound import PATH
from bot.routes import extra_routes
from bot.settings import Settings
from bot.wiring import build_services
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.clock import FixedClock
from outreach.compose import DraftFields
from outreach.models import Channel, DeliveryStatus, Partner
from outreach.webhook_signing import sign
from tests.attachment_samples import pdf
from tests.fixtures.services import unavailable

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

SECRET = "inbound-test-secret"  # a test value
TOKEN = "xoxb-mail-inbound"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
NOW = int(AT.timestamp())


@pytest.fixture
def app(tmp_path, clamd, smtp_server):
    with SlackStandIn(bot_token=TOKEN) as standin:
        standin.add_user(SlackUser("U_ANN", "ann", "Ann Lee", tz="Europe/London"))
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'mail.db'}",
            slack_bot_token=TOKEN,
            slack_api_url=standin.api_url,
            messages_webhook_secret=SECRET,
            clamd_socket=clamd.socket_path,
            smtp_host=smtp_server.host,
            smtp_port=smtp_server.port,
            mail_from="Outreach <outreach@brand.example>",
            max_message_bytes=1024 * 1024,
        )
        services = build_services(settings, clock=FixedClock(AT))
        with services.uow() as uow:
            uow.partners.upsert_many("T1", [Partner("T1", "m1", "Acme Media", "Al", email="al@acme.example")])
            uow.commit()
        state = services.compose.start("T1", "U_ANN", Channel.EMAIL, ["m1"])
        fields = DraftFields("Ann Lee", "ann@brand.example", "A partnership", "Hello {firstName}")
        services.compose.save("T1", "U_ANN", state.draft_id, fields)
        services.compose.submit("T1", "U_ANN", state.draft_id)
        assert services.make_worker(None).run_until_idle() == 1
        (sent,) = smtp_server.received
        client = make_client(settings)
        server = HttpServer(WsgiApp(None, routes=extra_routes(services, client))).start()
        threads = ConversationThreads(services, client, sweep_seconds=0.2).start()
        try:
            yield server, standin, services, sent, state.draft_id
        finally:
            threads.stop()
            server.stop()
            services.close()


def post(
    server,
    body: bytes,
    *,
    timestamp: int = NOW,
    secret: str = SECRET,
    content_type="message/rfc822",
    headers=None,
):
    ts = str(timestamp)
    request = urllib.request.Request(
        server.url + PATH,
        data=body,
        method="POST",
        headers={
            "Content-Type": content_type,
            "X-Outreach-Timestamp": ts,
            "X-Outreach-Signature": sign(secret, ts, body),
            **(headers or {}),
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            body = exc.read()
            return exc.code, (json.loads(body) if body.startswith(b"{") else body.decode())


def in_thread(standin):
    """What the author was shown in the conversation's thread in their DM: (its parent, its replies)."""
    parents = [m for (c, _), m in sorted(standin.messages.items()) if c == "D_ANN" and not m.thread_ts]
    if not parents:
        return None, []
    return parents[0], standin.thread("D_ANN", parents[0].ts)


def shown(standin, replies):
    """The replies in the conversation's thread, once there are ``replies`` of them."""
    return wait_for(
        lambda: len(in_thread(standin)[1]) >= replies and in_thread(standin)[1], what="the thread"
    )


def test_a_signed_reply_is_stored_and_its_author_is_told_with_the_files_kept_and_held(app):
    server, standin, services, sent, _ = app
    message_id = sent.parsed()["Message-ID"]
    files = (
        ("rates.pdf", "application/pdf", pdf()),
        ("invoice.pdf", "application/pdf", pdf(eicar_test_bytes())),
    )
    status, answer = post(
        server, reply(in_reply_to=message_id, text="Interested! Rates attached.", files=files)
    )
    assert status == 200 and answer["outcome"] == "reply" and answer["duplicate"] is False
    assert answer["kept"] == ["rates.pdf"] and answer["quarantined"] == [
        {"name": "invoice.pdf", "code": "infected"}
    ]
    said, uploaded = shown(standin, 2)
    parent, _ = in_thread(standin)
    assert parent.text == "Conversation with Acme Media"
    text = json.dumps(said.blocks, ensure_ascii=False)
    assert "Interested! Rates attached." in text
    assert "invoice.pdf" in text and "the virus scanner found Outreach.Test.EICAR" in text
    (file_id,) = uploaded.files  # the clean file, uploaded into the thread, byte-identical
    assert standin.files[file_id].name == "rates.pdf" and standin.files[file_id].data == pdf()
    with services.uow() as uow:
        (thread,) = uow.threads.for_partner("T1", "m1")
        (message,) = uow.threads.get("T1", thread.id).messages
    assert message.id == answer["id"] and thread.channel is Channel.EMAIL
    assert [f.attachment.filename for f in message.files] == ["rates.pdf", "invoice.pdf"]


def test_a_replay_is_answered_as_a_duplicate_and_told_once(app):
    server, standin, _, sent, _ = app
    raw = reply(in_reply_to=sent.parsed()["Message-ID"])
    first, again = post(server, raw), post(server, raw, timestamp=NOW + 60)
    assert first[0] == again[0] == 200 and again[1]["duplicate"] is True and again[1]["id"] == first[1]["id"]
    shown(standin, 1)
    without_id = reply(in_reply_to=sent.parsed()["Message-ID"], message_id="", text="no id here")
    keyed = {"Idempotency-Key": "mta-queue-4711"}
    assert post(server, without_id, headers=keyed)[1]["duplicate"] is False
    assert post(server, without_id, headers=keyed)[1]["duplicate"] is True
    shown(standin, 2)
    assert len(in_thread(standin)[1]) == 2  # each reply shown once, in the same thread


def test_a_hard_bounce_suppresses_the_address_and_tells_the_author(app):
    server, standin, services, sent, draft_id = app
    raw = dsn("al@acme.example", returned="none", to=sent.mail_from)  # matched by its VERP address alone
    status, answer = post(server, raw)
    assert status == 200 and answer["outcome"] == "bounce" and answer["hard"] is True
    (said,) = shown(standin, 1)
    assert "An e-mail to Acme Media bounced: 5.1.1 smtp; 550" in said.blocks[0]["text"]["text"]
    with services.uow() as uow:
        assert uow.deliveries.get("T1", draft_id, "m1").status is DeliveryStatus.FAILED
        assert uow.suppressions.among("T1", ["al@acme.example"]) == {"al@acme.example": "bounced"}


def test_unmatched_mail_is_answered_ignored_and_shown_to_nobody(app):
    server, standin, _, _, _ = app
    status, answer = post(server, reply(in_reply_to="<not-ours@x.example>"))
    assert status == 200 and answer == {
        "ok": True,
        "outcome": "ignored",
        "duplicate": False,
        "ignored": "unmatched",
    }
    status, answer = post(server, dsn("nobody@acme.example", original_id="<not-ours@x.example>"))
    assert status == 200 and answer["ignored"] == "unmatched"
    assert in_thread(standin) == (None, [])  # nothing shown


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"secret": "not-the-secret"}, 401, "invalid_signature"),
        ({"timestamp": NOW - 301}, 401, "stale_request"),
        ({"content_type": "application/json"}, 415, "unsupported_media_type"),
        ({"headers": {"Idempotency-Key": "k" * 201}}, 400, "bad_idempotency_key"),
    ],
)
def test_forged_stale_or_malformed_requests_are_refused_and_nothing_is_stored(app, change, status, error):
    server, standin, services, sent, _ = app
    got = post(server, reply(in_reply_to=sent.parsed()["Message-ID"]), **change)
    assert got[0] == status and got[1]["error"] == error
    with services.uow() as uow:
        assert uow.threads.for_partner("T1", "m1") == []
    assert in_thread(standin) == (None, [])  # nothing shown


def test_a_body_that_is_not_an_email_is_refused(app):
    server, *_ = app
    status, answer = post(server, b"hello, this is not a message")
    assert status == 400 and answer["error"] == "invalid_message"


def test_a_body_larger_than_the_largest_acceptable_message_is_refused_before_it_is_read(app):
    server, _, services, _, _ = app
    limit = body_limit(services.settings.max_message_bytes)
    status, answer = post(server, b"X-Filler: " + b"a" * limit)
    assert status == 413 and str(limit) in answer


def readme_pipe_script() -> str:
    """The MTA pipe script of README's Operations, as printed there."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("  #!/bin/sh\n")
    end = readme.index("  ```", start)
    return "\n".join(line[2:] for line in readme[start:end].splitlines()) + "\n"


def test_the_readmes_pipe_script_delivers_a_bounce_and_asks_the_mta_to_retry_or_give_up(app, tmp_path):
    if shutil.which("curl") is None or shutil.which("openssl") is None:
        unavailable("the README's pipe script needs curl and openssl")
    server, _, services, sent, draft_id = app
    script = tmp_path / "outreach-inbound"
    script.write_text(readme_pipe_script())
    env = {"PATH": os.environ["PATH"], "MESSAGES_WEBHOOK_SECRET": SECRET, "PUBLIC_URL": server.url}
    services.clock.set(datetime.now(UTC))  # the script signs with the real time
    bounce = dsn("al@acme.example", returned="none", to=sent.mail_from)

    def pipe(body: bytes, **changes: str) -> int:
        return subprocess.run(["sh", str(script)], input=body, env={**env, **changes}, check=False).returncode

    assert pipe(bounce) == 0
    with services.uow() as uow:
        assert uow.deliveries.get("T1", draft_id, "m1").status is DeliveryStatus.FAILED
    assert pipe(b"not an e-mail") == 65  # refused for good: the MTA bounces it
    assert (
        pipe(bounce, MESSAGES_WEBHOOK_SECRET="wrong") == 75
    )  # a misconfiguration: the MTA keeps it and retries
