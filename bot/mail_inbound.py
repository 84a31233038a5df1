"""``POST /mail/inbound``: a raw e-mail — a partner's reply or a bounce — from an MTA pipe or an inbound-parse service.

The body is the message itself (``Content-Type: message/rfc822``), signed exactly like ``/messages/inbound``
(HMAC-SHA256 over ``v1:{timestamp}:{body}`` with MESSAGES_WEBHOOK_SECRET; headers ``X-Outreach-Timestamp`` /
``X-Outreach-Signature``; 5 minutes either way). What is done with it: :mod:`outreach.mail_inbound`. Answers:

* 200 ``{"ok": true, "outcome": "reply" | "bounce" | "ignored", "duplicate": bool, …}`` — mail that matches
  none of our sends is ``ignored`` (with the reason) and never shown to anyone: it is answered 200 so that the
  sender does not try it again;
* 400 ``{"ok": false, "error": "invalid_message" | "bad_idempotency_key"}``;
* 401 ``{"ok": false, "error": "stale_request" | "invalid_signature"}``;
* 413 a body larger than the largest acceptable message (:func:`bot.inbound.body_limit`: MAX_MESSAGE_BYTES of
  files in base64, plus room for the text);
* 415 ``{"ok": false, "error": "unsupported_media_type"}``: not ``message/rfc822``;
* 503 ``{"ok": false, "error": "not_configured"}`` (no MESSAGES_WEBHOOK_SECRET).

A replay — the same Message-ID, or, for a message without one, the same ``Idempotency-Key`` — is answered 200
with ``duplicate: true`` and changes nothing. The author hears of a reply or bounce through the conversation
events (the service publishes them after it stored what came).
"""

from __future__ import annotations

from typing import Any

from bot.http import Endpoint, Request, Response, Route
from bot.inbound import body_limit, signature_failure
from outreach.errors import ValidationFailed
from outreach.mail_inbound import KEY_MAX, MailInboundService, MailOutcome, Outcome
from outreach.ports import Clock
from outreach.webhook_signing import IDEMPOTENCY_HEADER

PATH = "/mail/inbound"
CONTENT_TYPE = "message/rfc822"


def mail_inbound_route(service: MailInboundService, secret: str, clock: Clock) -> Route:
    def route(request: Request) -> Response:
        if not secret:
            return Response.json(503, {"ok": False, "error": "not_configured"})
        failure = signature_failure(request, secret, clock)
        if failure:
            return Response.json(401, {"ok": False, "error": failure})
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != CONTENT_TYPE:
            return Response.json(
                415, {"ok": False, "error": "unsupported_media_type", "expected": CONTENT_TYPE}
            )
        key = request.headers.get(IDEMPOTENCY_HEADER.lower(), "").strip()
        if len(key) > KEY_MAX:
            return Response.json(400, {"ok": False, "error": "bad_idempotency_key"})
        try:
            outcome = service.receive(request.body, idempotency_key=key)
        except ValidationFailed as exc:
            problems = [{"field": p.field, "code": p.code, "message": p.message} for p in exc.problems]
            return Response.json(400, {"ok": False, "error": "invalid_message", "problems": problems})
        return Response.json(200, _answer(outcome))

    return route


def _answer(outcome: MailOutcome) -> dict[str, Any]:
    answer: dict[str, Any] = {"ok": True, "outcome": outcome.outcome.value, "duplicate": outcome.duplicate}
    if outcome.ignored is not None:
        answer["ignored"] = outcome.ignored.value
    if outcome.message_id is not None:
        answer["id"] = outcome.message_id
        answer["kept"] = list(outcome.kept)
        answer["quarantined"] = [{"name": name, "code": code} for name, code in outcome.quarantined]
    if outcome.outcome is Outcome.BOUNCE:
        answer["hard"] = outcome.hard
        answer["detail"] = outcome.detail
    return answer


def routes(
    service: MailInboundService, clock: Clock, *, secret: str, max_message_bytes: int
) -> dict[tuple[str, str], Endpoint]:
    """``{("POST", "/mail/inbound"): endpoint}``, bodies up to :func:`bot.inbound.body_limit`."""
    return {
        ("POST", PATH): Endpoint(
            mail_inbound_route(service, secret, clock), max_body=body_limit(max_message_bytes)
        )
    }
