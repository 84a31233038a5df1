"""``POST /messages/inbound``: a partner's reply to an in-platform message, from the messaging platform.

The request is signed like our outbound webhook (HMAC-SHA256 over ``v1:{timestamp}:{body}`` with
MESSAGES_WEBHOOK_SECRET, headers ``X-Outreach-Timestamp`` / ``X-Outreach-Signature``). Answers:

* 200 ``{"ok": true, "id": <message id>, "duplicate": bool, "kept": [...], "quarantined": [...]}``
* 400 ``{"ok": false, "error": "bad_json" | "invalid_payload", "problems": [...]}``
* 413 a body larger than the largest acceptable reply (:func:`body_limit`: MAX_MESSAGE_BYTES of files in base64,
  plus room for the text)
* 401 ``{"ok": false, "error": "stale_request" | "invalid_signature"}``
* 404 ``{"ok": false, "error": "not_found"}`` (no such partner in that workspace)
* 503 ``{"ok": false, "error": "not_configured"}`` (no MESSAGES_WEBHOOK_SECRET)

After the reply is stored, its author gets a DM in their language (text, kept files, files held back). A
redelivery of the same inbound (same ``external_id``, or ``Idempotency-Key`` header) is answered 200 with
``duplicate: true`` and no second DM. A DM that Slack refuses is logged, not retried: the reply is stored
and a non-2xx answer would only bring the same inbound back as a duplicate.

:func:`routes` is what ``bot.routes.extra_routes`` mounts on :class:`bot.http.WsgiApp`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.inbound import build_inbound
from bot.http import Endpoint, Request, Response, Route
from bot.installs.clients import ClientFor, clients_for
from bot.users import UserProfiles
from outreach.errors import NotFound, ValidationFailed
from outreach.inbound import InboundResult, InboundService
from outreach.ports import Clock
from outreach.webhook_signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

log = logging.getLogger(__name__)

PATH = "/messages/inbound"
TOLERANCE_SECONDS = 300

Notify = Callable[[InboundResult], None]


def inbound_route(inbound: InboundService, secret: str, clock: Clock, notify: Notify) -> Route:
    """The route: verify, parse, receive, notify the author (first delivery only), answer."""

    def route(request: Request) -> Response:
        if not secret:
            return Response.json(503, {"ok": False, "error": "not_configured"})
        failure = _signature_failure(request, secret, clock)
        if failure:
            return Response.json(401, {"ok": False, "error": failure})
        try:
            payload = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return Response.json(400, {"ok": False, "error": "bad_json", "detail": str(exc)[:200]})
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
            notify(result)
        return Response.json(200, _answer(result))

    return route


def _signature_failure(request: Request, secret: str, clock: Clock) -> str:
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


class SlackNotifier:
    """DMs the author of the answered message: the reply, in the author's language, with their workspace's client
    (``client``: every workspace's, or each one's; a workspace without one, uninstalled, gets no DM)."""

    def __init__(self, client: WebClient | ClientFor, profiles: UserProfiles) -> None:
        self._clients = clients_for(client)
        self._profiles = profiles

    def __call__(self, result: InboundResult) -> None:
        if not result.author_id:
            log.warning(
                "reply %s from %s: nobody to tell (no earlier message)",
                result.message.id,
                result.partner.mpid,
            )
            return
        client = self._clients(result.team_id)
        if client is None:
            log.info(
                "reply %s stored; no DM: workspace %s is not installed", result.message.id, result.team_id
            )
            return
        t = self._profiles.get(client, result.team_id, result.author_id).t
        try:
            channel = client.conversations_open(users=result.author_id)["channel"]["id"]
            client.chat_postMessage(
                channel=channel,
                text=t("inbound.notice", name=result.partner.name or result.partner.mpid),
                blocks=build_inbound(result, t),
            )
        except SlackApiError as err:
            log.warning(
                "reply %s stored but the DM to %s failed: %s",
                result.message.id,
                result.author_id,
                err.response.get("error"),
            )


def body_limit(max_message_bytes: int) -> int:
    """The largest request body an acceptable reply can need: its files up to MAX_MESSAGE_BYTES in base64 (4 bytes
    for every 3, plus a JSON-escaped line break every 76 characters if the sender wraps them), and 256 KiB for the
    text (20,000 characters, JSON-escaped) and the other fields."""
    encoded = math.ceil(max_message_bytes / 3) * 4
    return encoded + math.ceil(encoded / 76) * 2 + 256 * 1024


def routes(
    inbound: InboundService, notify: Notify, clock: Clock, *, secret: str, max_message_bytes: int
) -> dict[tuple[str, str], Endpoint]:
    """``{("POST", "/messages/inbound"): endpoint}`` for ``WsgiApp(app, routes=...)`` (``notify``: usually a
    :class:`SlackNotifier`); bodies up to :func:`body_limit` of ``max_message_bytes``."""
    route = inbound_route(inbound, secret, clock, notify)
    return {("POST", PATH): Endpoint(route, max_body=body_limit(max_message_bytes))}
