"""POST /messages/inbound over real HTTP (waitress on 127.0.0.1), with the real clamd and libmagic, a temp
SQLite database and a stand-in Slack that records the DM to the author."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from bot.app import make_client
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.http import HttpServer, WsgiApp
from bot.inbound import PATH, SlackNotifier, body_limit, routes
from bot.routes import extra_routes
from bot.settings import Settings
from bot.wiring import build_services
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.clock import FixedClock
from outreach.models import Channel, Direction, Partner, ThreadMessage
from outreach.webhook_signing import sign
from tests.attachment_samples import pdf

SECRET = "inbound-test-secret"  # a test value
TOKEN = "xoxb-inbound"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
NOW = int(AT.timestamp())


@pytest.fixture
def app(tmp_path, clamd):
    with SlackStandIn(bot_token=TOKEN) as standin:
        standin.add_user(SlackUser("U_ANN", "ann", "Ann Lee", tz="Europe/London"))
        standin.add_user(SlackUser("U_WEI", "wei", "张伟", tz="Asia/Shanghai", locale="zh-CN"))
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'inbound.db'}",
            slack_bot_token=TOKEN,
            slack_api_url=standin.api_url,
            messages_webhook_secret=SECRET,
            clamd_socket=clamd.socket_path,
        )
        services = build_services(settings, clock=FixedClock(AT))
        with services.uow() as uow:
            uow.partners.upsert_many("T1", [Partner("T1", "m1", "Acme Media", messaging_enabled=True)])
            uow.partners.upsert_many("T1", [Partner("T1", "m2", "北京传媒", messaging_enabled=True)])
            for mpid, author, provider_id in (("m1", "U_ANN", "prov-1"), ("m2", "U_WEI", "prov-2")):
                thread = uow.threads.open("T1", mpid, Channel.MESSAGE)
                uow.threads.add_message(
                    "T1",
                    thread.id,
                    ThreadMessage(Direction.OUT, "Hello", author_id=author, provider_message_id=provider_id),
                )
            uow.commit()
        server = HttpServer(WsgiApp(None, routes=extra_routes(services, make_client(settings)))).start()
        try:
            yield server, standin, services
        finally:
            server.stop()


def post(server, body: bytes, *, timestamp: int = NOW, secret: str = SECRET, headers=None):
    ts = str(timestamp)
    request = urllib.request.Request(
        server.url + PATH,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
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
            return exc.code, json.loads(exc.read())


def reply(**overrides) -> bytes:
    body = {
        "team_id": "T1",
        "mpid": "m1",
        "text": "Sounds good <b>really</b>",
        "external_id": "ext-1",
        "in_reply_to": "prov-1",
        "attachments": [
            {"name": "rates.pdf", "mime": "application/pdf", "data": base64.b64encode(pdf()).decode()},
            {
                "name": "invoice.pdf",
                "mime": "application/pdf",
                "data": base64.b64encode(pdf(eicar_test_bytes())).decode(),
            },
        ],
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_a_signed_reply_is_stored_and_dmed_to_its_author_with_the_files_kept_and_held(app):
    server, standin, services = app
    status, answer = post(server, reply())
    assert status == 200 and answer["ok"] and answer["duplicate"] is False
    assert answer["kept"] == ["rates.pdf"]
    assert [(q["name"], q["code"]) for q in answer["quarantined"]] == [("invoice.pdf", "infected")]
    dm = standin.last("chat.postMessage").args
    assert dm["channel"] == "D_ANN"
    assert dm["text"] == "Acme Media replied to your message."
    shown = json.dumps(dm["blocks"], ensure_ascii=False)
    assert "> Sounds good &lt;b&gt;really&lt;/b&gt;" in shown
    assert "Files kept: rates.pdf" in shown
    assert "invoice.pdf: the virus scanner found Outreach.Test.EICAR" in shown
    with services.uow() as uow:
        found = uow.threads.by_external_id("T1", "ext-1")
    assert found is not None and found[1].id == answer["id"] and found[1].direction is Direction.IN


def test_the_dm_is_in_the_authors_language(app):
    server, standin, _ = app
    status, _ = post(server, reply(mpid="m2", in_reply_to="prov-2", external_id="ext-zh", attachments=[]))
    assert status == 200
    dm = standin.last("chat.postMessage").args
    assert dm["channel"] == "D_WEI" and dm["text"] == "北京传媒 回复了你的消息。"


def test_a_redelivery_is_answered_as_a_duplicate_without_a_second_dm(app):
    server, standin, _ = app
    first = post(server, reply())
    again = post(server, reply())
    assert first[0] == again[0] == 200
    assert again[1]["duplicate"] is True and again[1]["id"] == first[1]["id"]
    assert len(standin.calls_to("chat.postMessage")) == 1


def test_the_idempotency_key_header_stands_in_for_a_missing_external_id(app):
    server, standin, _ = app
    body = reply(external_id=None, attachments=[])
    first = post(server, body, headers={"Idempotency-Key": "hdr-1"})
    again = post(server, body, headers={"Idempotency-Key": "hdr-1"})
    assert first[0] == 200 and again[1]["duplicate"] is True
    assert len(standin.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"secret": "someone-else"}, "invalid_signature"),
        ({"timestamp": NOW - 301}, "stale_request"),
        ({"timestamp": NOW + 3600}, "stale_request"),
    ],
)
def test_forged_or_stale_requests_are_refused_and_nothing_is_stored(app, kwargs, error):
    server, standin, services = app
    status, answer = post(server, reply(), **kwargs)
    assert (status, answer) == (401, {"ok": False, "error": error})
    assert standin.calls_to("chat.postMessage") == []
    with services.uow() as uow:
        assert uow.threads.by_external_id("T1", "ext-1") is None


def test_a_body_changed_after_signing_is_refused(app):
    server, _, _ = app
    ts = str(NOW)
    request = urllib.request.Request(
        server.url + PATH,
        data=reply(text="changed"),
        method="POST",
        headers={"X-Outreach-Timestamp": ts, "X-Outreach-Signature": sign(SECRET, ts, reply())},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=30)
    assert caught.value.code == 401
    caught.value.close()


def test_bad_json_and_bad_fields_are_400_with_every_problem(app):
    server, _, _ = app
    status, answer = post(server, b"{not json")
    assert status == 400 and answer["error"] == "bad_json"
    status, answer = post(server, json.dumps({"team_id": "T1", "text": 5}).encode())
    assert status == 400 and answer["error"] == "invalid_payload"
    assert {(p["field"], p["code"]) for p in answer["problems"]} == {
        ("mpid", "missing"),
        ("external_id", "missing"),
        ("text", "not_a_string"),
    }
    status, answer = post(server, b"[1, 2]")
    assert status == 400 and answer["problems"][0]["code"] == "not_an_object"


def test_an_unknown_partner_is_404(app):
    server, standin, _ = app
    status, answer = post(server, reply(mpid="nobody"))
    assert status == 404 and answer["error"] == "not_found"
    assert standin.calls_to("chat.postMessage") == []


def test_without_a_secret_the_route_says_it_is_not_configured(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    services = build_services(settings, clock=FixedClock(AT))
    notify = SlackNotifier(make_client(settings, with_token=False), services.profiles)
    mounted = routes(
        services.inbound, notify, services.clock, secret="", max_message_bytes=settings.max_message_bytes
    )
    route = mounted[("POST", PATH)]
    from bot.http import Request

    response = route.handle(Request("POST", PATH, "", {}, b"{}"))
    assert response.status == 503 and json.loads(response.body)["error"] == "not_configured"


def test_a_reply_with_a_pdf_over_a_megabyte_is_taken_and_a_body_beyond_the_file_limits_is_413(app):
    server, _, services = app
    big = pdf(
        b"x" * (1536 * 1024)
    )  # 1.5 MB: over the old 1 MiB cap once in base64, under the test clamd's 2 MB
    attachment = {"name": "media-kit.pdf", "mime": "application/pdf", "data": base64.b64encode(big).decode()}
    status, answer = post(server, reply(external_id="ext-big", attachments=[attachment]))
    assert status == 200 and answer["kept"] == ["media-kit.pdf"], answer["quarantined"]
    limit = body_limit(services.settings.max_message_bytes)
    assert limit > services.settings.max_message_bytes * 4 // 3  # all the files a reply may carry, in base64
    too_big = reply(external_id="ext-huge", text="x" * (limit + 1))
    request = urllib.request.Request(server.url + PATH, data=too_big, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30)
    with refused.value as answer_413:
        assert answer_413.code == 413
