"""Requests exactly as Slack sends them: form-encoded bodies, signed with the signing secret.

``SlackClientSim`` plays the Slack side of a conversation with the app over HTTP: a slash command, a button
click (``block_actions``), a modal submission (``view_submission``). Each request carries
``X-Slack-Request-Timestamp`` and ``X-Slack-Signature: v0=HMAC_SHA256(secret, "v0:{ts}:{body}")``.
Used by the scenario tests and the offline demo.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


def sign(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SlackClientSim:
    def __init__(
        self, url: str, signing_secret: str, team_id: str = "T0001", team_domain: str = "standin"
    ) -> None:
        self.url = url
        self.secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self._triggers = itertools.count(1)

    # -- raw ---------------------------------------------------------------------------------------
    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = sign(self.secret, ts, body) if signature is None else signature
        request = urllib.request.Request(self.url, data=body.encode(), method="POST")
        request.add_header("Content-Type", content_type)
        request.add_header("X-Slack-Request-Timestamp", ts)
        request.add_header("X-Slack-Signature", sig)
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return HttpAnswer(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return HttpAnswer(err.code, err.read(), dict(err.headers))

    def trigger_id(self) -> str:
        return f"{next(self._triggers)}.{int(time.time())}.standin"

    # -- what Slack sends ----------------------------------------------------------------------------
    def command(
        self,
        user_id: str,
        command: str,
        text: str = "",
        *,
        channel_id: str = "C0001",
        response_url: str = "",
        team_id: str | None = None,
        **extra: str,
    ) -> HttpAnswer:
        form = {
            "token": "deprecated-verification-token",
            "team_id": team_id or self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": response_url,
            "trigger_id": self.trigger_id(),
            **extra,
        }
        return self.post(urllib.parse.urlencode(form))

    def interaction(self, payload: dict[str, Any], **kw: Any) -> HttpAnswer:
        return self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}), **kw)

    def block_actions(
        self,
        user_id: str,
        actions: list[dict[str, Any]],
        *,
        container: dict[str, Any],
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        response_url: str = "",
        channel_id: str = "C0001",
        team_id: str | None = None,
        **kw: Any,
    ) -> HttpAnswer:
        team = team_id or self.team_id
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": team, "domain": self.team_domain},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": team},
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "container": container,
            "trigger_id": self.trigger_id(),
            "actions": [{"action_ts": f"{time.time():.6f}", **a} for a in actions],
            "state": {"values": state or {}},
        }
        if message is not None:
            payload["message"] = message
            payload["channel"] = {"id": channel_id, "name": "general"}
            payload["response_url"] = response_url
        if view is not None:
            payload["view"] = view
        return self.interaction(payload, **kw)

    def view_submission(
        self,
        user_id: str,
        view: dict[str, Any],
        values: dict[str, Any],
        team_id: str | None = None,
        **kw: Any,
    ) -> HttpAnswer:
        team = team_id or self.team_id
        submitted = {**view, "state": {"values": values}}
        payload = {
            "type": "view_submission",
            "team": {"id": team, "domain": self.team_domain},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": team},
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "trigger_id": self.trigger_id(),
            "view": submitted,
            "response_urls": [],
        }
        return self.interaction(payload, **kw)
