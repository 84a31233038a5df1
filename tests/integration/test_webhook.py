"""WebhookTransport against a local http.server on 127.0.0.1, and verify_signature on its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from outreach.adapters.webhook import WebhookTransport
from outreach.errors import DeliveryFailed
from outreach.models import Attachment, OutgoingMessage
from outreach.webhook_signing import sign, verify_signature
from tests.fixtures.smtp import free_port

SECRET = "webhook-secret-for-tests"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"id": "msg-123"}'
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the test ends)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A tiny HTTP endpoint recording every request and answering with ``reply``."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.reply = Reply()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(Seen(self.path, dict(self.headers.items()), body))
                reply = receiver.reply
                if reply.hang:
                    receiver.release.wait(30)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/messages"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def message(**changes):
    values = {
        "team_id": "T1",
        "mpid": "mp-42",
        "author_id": "U123",
        "text": "你好 Bob, here is our offer: https://brand.example/o/42",
        "attachments": (Attachment("提议.png", "image/png", hashlib.sha256(PNG).hexdigest(), PNG),),
        "idempotency_key": "draft-7-mp-42",
    }
    values.update(changes)
    return OutgoingMessage(**values)


def transport(url, timeout=5.0):
    return WebhookTransport(url, SECRET, timeout)


def test_the_post_is_signed_json_that_the_receiver_can_verify(receiver):
    provider_id = transport(receiver.url).send(message())

    assert provider_id == "msg-123"
    (seen,) = receiver.requests
    assert seen.path == "/hooks/messages"
    assert seen.headers["Content-Type"].startswith("application/json")
    assert seen.headers["X-Outreach-Signature"].startswith("v1=")
    assert verify_signature(
        SECRET,
        seen.headers["X-Outreach-Timestamp"],
        seen.body,
        seen.headers["X-Outreach-Signature"],
        time.time(),
    )
    assert seen.headers["Idempotency-Key"] == "draft-7-mp-42"

    payload = json.loads(seen.body)
    assert {k: payload[k] for k in ("team_id", "mpid", "author", "text", "idempotency_key")} == {
        "team_id": "T1",
        "mpid": "mp-42",
        "author": "U123",
        "text": "你好 Bob, here is our offer: https://brand.example/o/42",
        "idempotency_key": "draft-7-mp-42",
    }
    (sent,) = payload["attachments"]
    assert (sent["name"], sent["mime"], sent["size"]) == ("提议.png", "image/png", len(PNG))
    assert base64.b64decode(sent["data"]) == PNG
    assert hashlib.sha256(base64.b64decode(sent["data"])).hexdigest() == sent["sha256"]


def test_a_tampered_body_no_longer_verifies(receiver):
    transport(receiver.url).send(message())
    (seen,) = receiver.requests
    tampered = seen.body.replace(b"mp-42", b"mp-43")
    ts, sig = seen.headers["X-Outreach-Timestamp"], seen.headers["X-Outreach-Signature"]
    assert not verify_signature(SECRET, ts, tampered, sig, time.time())


def test_without_its_own_key_a_message_gets_the_same_derived_key_on_every_attempt(receiver):
    first = transport(receiver.url)
    first.send(message(idempotency_key=""))
    first.send(message(idempotency_key=""))
    first.send(message(idempotency_key="", text="something else"))
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert keys[0] == keys[1] != keys[2]
    assert keys[0] == json.loads(receiver.requests[0].body)["idempotency_key"]


def test_the_provider_id_may_come_from_a_header(receiver):
    receiver.reply = Reply(status=202, body=b"", headers={"X-Message-Id": "hdr-9"})
    assert transport(receiver.url).send(message()) == "hdr-9"


def test_without_any_id_in_the_answer_the_idempotency_key_stands_in(receiver):
    receiver.reply = Reply(status=204, body=b"")
    assert transport(receiver.url).send(message()) == "draft-7-mp-42"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_a_4xx_answer_is_a_permanent_failure_with_the_status_and_reason(receiver, status):
    receiver.reply = Reply(status=status, body=b'{"error": "unknown partner"}')
    with pytest.raises(DeliveryFailed) as failed:
        transport(receiver.url).send(message())
    assert failed.value.permanent
    assert str(status) in failed.value.reason and "unknown partner" in failed.value.reason


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_5xx_and_try_again_later_answers_are_transient(receiver, status):
    receiver.reply = Reply(status=status, body=b"busy")
    with pytest.raises(DeliveryFailed) as failed:
        transport(receiver.url).send(message())
    assert not failed.value.permanent
    assert str(status) in failed.value.reason


def test_a_redirect_is_not_followed_and_counts_as_permanent(receiver):
    receiver.reply = Reply(status=302, body=b"", headers={"Location": receiver.url + "/elsewhere"})
    with pytest.raises(DeliveryFailed) as failed:
        transport(receiver.url).send(message())
    assert failed.value.permanent
    assert [r.path for r in receiver.requests] == ["/hooks/messages"]


def test_an_endpoint_that_never_answers_times_out_as_transient(receiver):
    receiver.reply = Reply(hang=True)
    with pytest.raises(DeliveryFailed) as failed:
        transport(receiver.url, timeout=0.5).send(message())
    assert not failed.value.permanent
    assert "timed out" in failed.value.reason


def test_a_refused_connection_is_transient():
    url = f"http://127.0.0.1:{free_port()}/hooks/messages"
    with pytest.raises(DeliveryFailed) as failed:
        transport(url).send(message())
    assert not failed.value.permanent
    assert "unreachable" in failed.value.reason


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1:8080/hooks"])
def test_only_http_urls_are_accepted(url):
    with pytest.raises(ValueError, match="http"):
        WebhookTransport(url, SECRET, 5.0)


def test_a_secret_is_required():
    with pytest.raises(ValueError, match="SECRET"):
        WebhookTransport("http://127.0.0.1:9/x", "", 5.0)


# --- verify_signature ---------------------------------------------------------------------------------

BODY = b'{"mpid":"mp-42","text":"hi"}'
NOW = 2_147_483_648  # 2038-01-19T03:14:08Z


def test_a_fresh_genuine_signature_verifies():
    assert verify_signature(SECRET, str(NOW), BODY, sign(SECRET, NOW, BODY), NOW)
    assert verify_signature(SECRET, str(NOW), BODY, sign(SECRET, NOW, BODY), datetime.fromtimestamp(NOW, UTC))


@pytest.mark.parametrize("age", [-300, -1, 0, 1, 300])
def test_timestamps_within_five_minutes_either_way_are_accepted(age):
    ts = NOW - age
    assert verify_signature(SECRET, str(ts), BODY, sign(SECRET, ts, BODY), NOW)


@pytest.mark.parametrize("age", [301, 3600, -301, -3600])
def test_stale_or_future_timestamps_are_refused_even_with_a_genuine_signature(age):
    ts = NOW - age
    assert not verify_signature(SECRET, str(ts), BODY, sign(SECRET, ts, BODY), NOW)


def test_the_tolerance_can_be_changed():
    ts = NOW - 400
    assert verify_signature(SECRET, str(ts), BODY, sign(SECRET, ts, BODY), NOW, tolerance=600)


@pytest.mark.parametrize(
    "signature",
    [
        sign("another-secret", NOW, BODY),
        sign(SECRET, NOW + 1, BODY),  # signed for another timestamp
        sign(SECRET, NOW, BODY + b" "),
        sign(SECRET, NOW, BODY).replace("v1=", "v0="),
        sign(SECRET, NOW, BODY)[3:],  # bare hex without the version
        sign(SECRET, NOW, BODY).upper(),
        "v1=",
        "",
        "v1=" + "0" * 64,
    ],
)
def test_forged_signatures_are_refused(signature):
    assert not verify_signature(SECRET, str(NOW), BODY, signature, NOW)


@pytest.mark.parametrize("timestamp", ["", "abc", "-5", "1e9", " 2147483648", "2147483648.0"])
def test_malformed_timestamps_are_refused(timestamp):
    assert not verify_signature(SECRET, timestamp, BODY, sign(SECRET, timestamp, BODY), NOW)


def test_the_signature_is_hmac_sha256_over_version_timestamp_and_body():
    expected = hmac.new(SECRET.encode(), b"v1:" + str(NOW).encode() + b":" + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"v1={expected}"
