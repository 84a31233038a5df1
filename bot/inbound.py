"""``POST /messages/inbound``: a partner's reply to an in-platform message, from the messaging platform.

The request is signed like our outbound webhook (HMAC-SHA256 over ``v1:{timestamp}:{body}`` with
MESSAGES_WEBHOOK_SECRET, headers ``X-Outreach-Timestamp`` / ``X-Outreach-Signature``) — with the workspace's own
webhook secret when its settings name its own webhook (``secret_for``: the ``team_id`` of the body decides which
key must have signed it; a workspace with its own webhook accepts only its own). Answers:

* 200 ``{"ok": true, "id": <message id>, "duplicate": bool, "kept": [...], "quarantined": [...]}``
* 400 ``{"ok": false, "error": "bad_json" | "invalid_payload", "problems": [...]}``
* 413 a body larger than the largest acceptable reply (:func:`body_limit`: MAX_MESSAGE_BYTES of files in base64,
  plus room for the text)
* 401 ``{"ok": false, "error": "stale_request" | "invalid_signature"}``
* 404 ``{"ok": false, "error": "not_found"}`` (no such partner in that workspace)
* 503 ``{"ok": false, "error": "not_configured"}`` (no MESSAGES_WEBHOOK_SECRET, nor a workspace's own)

After the reply is stored, it is published as a conversation event (:func:`outreach.conversations.reply_event`):
its author sees it in the conversation's thread of their DM with the app, in their language — the text, the clean
files uploaded into the thread, the files held back named (bot/conversations.py). Publishing returns at once; the
event is recorded and shown by the publisher, retried there if Slack refuses, so the answer never waits on Slack.
A redelivery of the same inbound (same ``external_id``, or ``Idempotency-Key`` header) is answered 200 with
``duplicate: true`` and published no second time.

:func:`routes` is what ``bot.routes.extra_routes`` mounts on :class:`bot.http.WsgiApp`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from bot.http import Endpoint, Request, Response, Route
from outreach.conversations import reply_event
from outreach.errors import NotFound, ValidationFailed
from outreach.inbound import InboundResult, InboundService
from outreach.ports import Clock, ConversationEvents
from outreach.webhook_signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

PATH = "/messages/inbound"
TOLERANCE_SECONDS = 300


def inbound_route(
    inbound: InboundService,
    secret: str,
    clock: Clock,
    events: ConversationEvents,
    secret_for: Callable[[str], str] | None = None,
) -> Route:
    """The route: verify, parse, receive, publish the reply (first delivery only), answer. ``secret_for(team)``:
    the key a workspace's replies are signed with (its own webhook's secret, else MESSAGES_WEBHOOK_SECRET)."""

    def route(request: Request) -> Response:
        try:
            payload = json.loads(request.body.decode("utf-8"))
            bad_json = ""
        except (UnicodeDecodeError, ValueError) as exc:
            payload, bad_json = None, str(exc)[:200]
        team = payload.get("team_id") if isinstance(payload, dict) else None
        key = secret_for(team) if secret_for is not None and isinstance(team, str) and team else secret
        if not key:
            return Response.json(503, {"ok": False, "error": "not_configured"})
        failure = signature_failure(request, key, clock)
        if failure:
            return Response.json(401, {"ok": False, "error": failure})
        if bad_json:
            return Response.json(400, {"ok": False, "error": "bad_json", "detail": bad_json})
        if isinstance(payload, dict) and not payload.get("external_id"):
            payload["external_id"] = request.headers.get(IDEMPOTENCY_HEADER.lower(), "")
        try:
            result = inbound.receive(payload)
        except ValidationFailed as exc:
            problems = [{"field": p.field, "code": p.code, "message": p.message} for p in exc.problems]
            return Response.json(400, {"ok": False, "error": "invalid_payload", "problems": problems})
        except NotFound as exc:
            return Response.json(404, {"ok": False, "error": "not_found", "detail": str(exc)})
        if not result.duplicate:
            events.publish(reply_event(result))
        return Response.json(200, _answer(result))

    return route


def signature_failure(request: Request, secret: str, clock: Clock) -> str:
    timestamp = request.headers.get(TIMESTAMP_HEADER.lower(), "")
    signature = request.headers.get(SIGNATURE_HEADER.lower(), "")
    now = clock.now()
    if timestamp.isdigit() and abs(now.timestamp() - int(timestamp)) > TOLERANCE_SECONDS:
        return "stale_request"
    if not verify_signature(secret, timestamp, request.body, signature, now, tolerance=TOLERANCE_SECONDS):
        return "invalid_signature"
    return ""


def _answer(result: InboundResult) -> dict[str, Any]:
    return {
        "ok": True,
        "id": result.message.id,
        "duplicate": result.duplicate,
        "kept": [a.filename for a in result.kept],
        "quarantined": [
            {"name": f.attachment.filename, "code": f.quarantine, "reason": f.reason}
            for f in result.quarantined
        ],
    }


def body_limit(max_message_bytes: int) -> int:
    """The largest request body an acceptable reply can need: its files up to MAX_MESSAGE_BYTES in base64 (4 bytes
    for every 3, plus a JSON-escaped line break every 76 characters if the sender wraps them), and 256 KiB for the
    text (20,000 characters, JSON-escaped) and the other fields."""
    encoded = math.ceil(max_message_bytes / 3) * 4
    return encoded + math.ceil(encoded / 76) * 2 + 256 * 1024


def routes(
    inbound: InboundService,
    events: ConversationEvents,
    clock: Clock,
    *,
    secret: str,
    max_message_bytes: int,
    secret_for: Callable[[str], str] | None = None,
) -> dict[tuple[str, str], Endpoint]:
    """``{("POST", "/messages/inbound"): endpoint}`` for ``WsgiApp(app, routes=...)`` (``events``: the app's
    conversation events); bodies up to :func:`body_limit` of ``max_message_bytes``."""
    route = inbound_route(inbound, secret, clock, events, secret_for)
    return {("POST", PATH): Endpoint(route, max_body=body_limit(max_message_bytes))}
