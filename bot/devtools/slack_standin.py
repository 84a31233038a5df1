"""A local stand-in for Slack: its Web API, and what a user's Slack client holds (messages, modals, triggers).

It listens on 127.0.0.1 and records every call (method, arguments, token). The real app, its ``WebClient`` pointed
here through ``SLACK_API_URL``, runs against it with no network: the scenario tests and the offline demo both do.
``SlackClientSim`` (bot/devtools/slack_requests.py) plays the user's side against the same stand-in: a slash
command, a click on a message or in a modal, a submission, closing a modal.

It is at least as strict as Slack, because a stand-in kinder than Slack hides exactly the bugs users meet
(../shared/SLACK.md §8). Each rule names its source:

* Rate tiers per workspace and method, 429 with ``Retry-After`` (bot/devtools/slack_limits.py;
  https://api.slack.com/apis/rate-limits).
* A ``trigger_id`` works once and for 3 seconds (``exchanged_trigger_id``, ``expired_trigger_id``;
  https://api.slack.com/interactivity/handling#modal_responses, https://api.slack.com/methods/views.open). An id
  it never issued is ``invalid_trigger_id``. ``views.push`` needs a trigger from an interaction in an open modal.
* A modal holds at most 3 views (``push_limit_reached``; https://api.slack.com/methods/views.push). A view the
  user closed is gone: ``views.update`` answers ``not_found``; a stale ``hash`` answers ``hash_conflict``
  (https://api.slack.com/methods/views.update; github.com/slackapi/bolt-js/issues/1309).
* Every message and view is checked as Slack checks it (bot/devtools/slack_payloads.py): ``invalid_blocks``,
  ``invalid_arguments``, ``msg_too_long``, ``view_too_large``. Refusals of malformed payloads are kept in
  ``refused`` (the app should never cause one).
* Messages sent to a ``response_url``: at most 5 within 30 minutes of the interaction (SLACK.md §2.3, secondary
  sources: the stricter reading); ``replace_original``/``delete_original`` act on the message the interaction came
  from, and there is none for a slash command (no source says what Slack does then: refused, the stricter reading).
  Without them a new message is posted, ephemeral unless ``response_type`` is ``in_channel``
  (https://api.slack.com/interactivity/handling#message_responses).
* Files: ``url_private_download`` answers 302 to a ``files-origin`` path, as Enterprise Grid does
  (SLACK.md §8.3); with a wrong token a file URL answers 200 with an HTML sign-in page (SLACK.md §1.5).
  ``redirect_files_to(base)`` makes the redirect point at another host, to check that the app refuses it.
* A method the stand-in does not implement answers ``unknown_method`` rather than a made-up success.

Faults can be injected per method: ``standin.fail("chat.update", status=429, times=2, retry_after=1)``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.devtools.slack_limits import RateLimiter
from bot.devtools.slack_payloads import message_problems, view_problems

JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
TRIGGER_SECONDS = 3.0
MAX_VIEWS_IN_A_MODAL = 3
RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60
BOT_USER, BOT_ID, APP_ID = "UBOT", "BBOT", "A0001"

Answer = dict[str, Any]


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str
    at: float = field(default_factory=time.time)


@dataclass
class StoredFile:
    id: str
    name: str
    data: bytes
    mimetype: str
    filetype: str


@dataclass
class SlackUser:
    id: str
    name: str
    real_name: str
    email: str = ""
    tz: str = "UTC"
    locale: str = "en-US"
    team_id: str = "T0001"
    is_admin: bool = False


@dataclass
class Message:
    """A message as the people in its channel see it (an ephemeral one: only ``user``)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    ephemeral: bool = False
    user: str = ""  # who sees an ephemeral message
    version: int = 1

    def snapshot(self) -> dict[str, Any]:
        """What a test reads: the message as shown, with where it is."""
        return {
            "channel": self.channel,
            "ts": self.ts,
            "is_ephemeral": self.ephemeral,
            "text": self.text,
            "blocks": self.blocks,
        }

    def payload(self, team_id: str) -> dict[str, Any]:
        """The ``message`` object Slack puts in an interaction from a (non-ephemeral) message."""
        return {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": team_id,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
        }


@dataclass
class ResponseUrl:
    channel: str
    user: str
    source: tuple[str, str] | None  # (channel, ts) of the message the interaction came from
    issued: float
    uses: int = 0


@dataclass
class Trigger:
    user: str
    issued: float
    view_id: str = ""  # the open view the interaction came from: views.push stacks onto its modal
    used: bool = False


@dataclass
class _Fault:
    status: int
    times: int
    retry_after: int
    error: str


class SlackStandIn:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(
        self, bot_token: str = "xoxb-standin", team_id: str = "T0001", *, rate_limits: bool = True
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.rate_limits = (
            rate_limits  # Slack's tiers (bot/devtools/slack_limits.py); off only to compare with
        )
        self.limiter = RateLimiter()
        self.rate_limited: list[Call] = []  # calls answered 429 by the tiers
        self.calls: list[Call] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []  # posts to response URLs
        self.refused: list[tuple[str, list[str]]] = []  # (method or response URL, why): malformed payloads
        self.users: dict[str, SlackUser] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.files: dict[str, StoredFile] = {}
        self.file_hits: list[tuple[str, str, str]] = []  # (Host header, path, token) of every file GET
        self.messages: dict[tuple[str, str], Message] = {}  # (channel, ts) -> message, ephemeral ones too
        self.writes: list[tuple[str, str]] = []  # (channel, ts) of every message posted, replaced or deleted
        self.views: dict[str, dict[str, Any]] = {}  # open views only: view id -> latest view
        self.stacks: dict[str, list[str]] = {}  # root view id -> the modal's views, bottom first
        self.homes: dict[str, dict[str, Any]] = {}  # user -> published Home tab
        self.view_log: list[
            tuple[str, dict[str, Any]]
        ] = []  # (views.open|push|update|publish, view as stored)
        self._versions: dict[str, int] = {}  # view id -> how many times it was written
        self._triggers: dict[str, Trigger] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self._faults: dict[str, _Fault] = {}
        self._delays: dict[str, list[float]] = {}  # method (or "files.download") -> seconds, one per call
        self._redirect_base = ""  # where file downloads redirect (empty: this stand-in's files-origin path)
        self.app_token = "xapp-1-standin"
        self.socket_url = ""  # what apps.connections.open answers (a SocketModeStandIn's url)
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any], str], Answer]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "conversations.open": self._conversations_open,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_users,
            "files.info": self._files_info,
        }

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                standin._handle_post(self)

            def do_GET(self) -> None:
                standin._handle_get(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    # -- setting the scene -------------------------------------------------------------------------
    def add_user(self, user: SlackUser) -> SlackUser:
        self.users[user.id] = user
        return user

    def add_file(self, name: str, data: bytes, mimetype: str = "application/octet-stream") -> dict[str, Any]:
        """Store a file as if a user uploaded it; returns the file object a ``file_input`` would carry."""
        fid = f"F{next(self._ids):08d}"
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        self.files[fid] = StoredFile(fid, name, data, mimetype, filetype)
        return self._file_object(self.files[fid])

    def redirect_files_to(self, base_url: str) -> None:
        """Make file downloads redirect to ``base_url`` (another host) instead of this stand-in's origin path."""
        self._redirect_base = base_url.rstrip("/")

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int = 1,
        error: str = "ratelimited",
    ) -> None:
        with self._lock:
            self._faults[method] = _Fault(status, times, retry_after, error)

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` (``files.download``: file GETs) ``seconds`` late."""
        with self._lock:
            self._delays.setdefault(method, []).extend([seconds] * times)

    def _delay(self, method: str) -> None:
        with self._lock:
            queued = self._delays.get(method)
            seconds = queued.pop(0) if queued else 0.0
        if seconds:
            time.sleep(seconds)

    # -- what the user's Slack client does (used by SlackClientSim) ---------------------------------
    def new_trigger(self, user: str, view_id: str = "") -> str:
        """A trigger for one interaction of ``user`` (from the open view ``view_id``, if any)."""
        trigger = f"{next(self._ids)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger] = Trigger(user, time.monotonic(), view_id)
        return trigger

    def new_response_url(self, channel: str, user: str, source: tuple[str, str] | None = None) -> str:
        rid = f"{next(self._ids)}{secrets.token_hex(6)}"
        with self._lock:
            self._response_urls[rid] = ResponseUrl(channel, user, source, time.monotonic())
        return f"{self.base_url}/response/{rid}"

    def response_url(self, channel: str = "C0001", user: str = "U0001") -> str:
        """A response URL of a slash command run by ``user`` in ``channel``."""
        return self.new_response_url(channel, user)

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return self.messages.get((channel, ts))

    def open_view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self.views.get(view_id)

    def view_version(self, view_id: str) -> int:
        with self._lock:
            return self._versions.get(view_id, 0)

    def close_view(self, view_id: str, *, clear: bool = False) -> list[dict[str, Any]]:
        """The user closes the top view of a modal (``clear``: the whole modal); returns the views closed."""
        with self._lock:
            root = self.views.get(view_id, {}).get("root_view_id") or view_id
            stack = self.stacks.get(root, [])
            if view_id not in stack:
                return []
            if not clear and stack[-1] != view_id:
                raise AssertionError("only the top view of a modal can be closed on its own")
            closing = list(stack) if clear else [view_id]
            for vid in closing:
                stack.remove(vid)
            if not stack:
                self.stacks.pop(root, None)
            return [self.views.pop(vid) for vid in reversed(closing)]

    def answer_submission(self, view_id: str, version: int, answer: dict[str, Any] | None) -> list[str]:
        """Slack applying a ``view_submission`` answer (SLACK.md §2.4); returns why it was refused, if it was.

        ``version``: the view's version when it was submitted. An app that already updated the view
        (``views.update`` after its ack) has the last word: the answer then no longer applies to what is shown.
        """
        action = (answer or {}).get("response_action")
        with self._lock:
            if view_id not in self.views:
                return ["the view was closed before the answer came"]
            if action == "errors":
                errors = (answer or {}).get("errors") or {}
                present = {b.get("block_id") for b in self.views[view_id].get("blocks", [])}
                unknown = [k for k in errors if k not in present]
                return [f"errors for blocks not in the view: {unknown}"] if unknown else []
            if action in ("update", "push"):
                view = (answer or {}).get("view") or {}
                problems = view_problems(view)
                if problems:
                    self.refused.append((f"view_submission {action}", problems))
                    return problems
                if action == "push":
                    return self._push(view_id, view, "response_action.push")
                if self._versions.get(view_id, 0) == version:
                    self._write_view(view_id, view, "response_action.update")
                return []
            if action == "clear":
                self.close_view(view_id, clear=True)
                return []
            if action is not None:
                return [f"unknown response_action {action!r}"]
            root = self.views[view_id].get("root_view_id") or view_id
            if self.stacks.get(root, [])[-1:] == [view_id]:
                self.close_view(view_id)  # a plain ack closes the submitted view
            return []

    # -- HTTP --------------------------------------------------------------------------------------
    def _handle_post(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length)
        path = urllib.parse.urlsplit(req.path).path
        if path.startswith("/response/"):
            status, text = self._respond(path.rsplit("/", 1)[-1], raw)
            self._send(req, status, text.encode(), "text/plain")
            return
        if not path.startswith("/api/"):
            self._send(req, 404, b"not found", "text/plain")
            return
        method = path[len("/api/") :]
        args = self._parse_args(req.headers.get("Content-Type", ""), raw)
        token = (req.headers.get("Authorization") or "").removeprefix("Bearer ").strip() or str(
            args.pop("token", "")
        )
        with self._lock:
            self.calls.append(Call(method, args, token))
            wait = (
                self.limiter.check(self.team_id, method, str(args.get("channel", "")))
                if self.rate_limits
                else 0
            )
            if wait:
                self.rate_limited.append(self.calls[-1])
                self._send_json(req, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)})
                return
            fault = self._faults.get(method)
            if fault and fault.times > 0:
                fault.times -= 1
                headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                self._send_json(req, fault.status, {"ok": False, "error": fault.error}, headers)
                return
        if method == "apps.connections.open":  # the one method called with the app-level token
            ok = token == self.app_token and bool(self.socket_url)
            opened = {"ok": True, "url": self.socket_url} if ok else {"ok": False, "error": "invalid_auth"}
            self._send_json(req, 200, opened)
            return
        if token != self.bot_token:
            self._send_json(req, 200, {"ok": False, "error": "invalid_auth"})
            return
        self._delay(method)
        handler = self._handlers.get(method)
        if handler is None:
            self._send_json(req, 200, {"ok": False, "error": "unknown_method"})
            return
        with self._lock:
            answer = handler(args, token)
        self._send_json(req, 200, answer)

    def _handle_get(self, req: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(req.path)
        token = (req.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        with self._lock:
            self.file_hits.append((req.headers.get("Host", ""), parts.path, token))
        self._delay("files.download")
        segments = parts.path.split("/")
        if len(segments) < 3 or segments[1] not in ("files", "files-origin"):
            self._send(req, 404, b"not found", "text/plain")
            return
        stored = self.files.get(segments[2])
        if segments[1] == "files" and parts.query == "download=1" and stored is not None:
            # Enterprise Grid answers a download with a redirect to its files-origin host (SLACK.md §8.3).
            base = self._redirect_base or self.base_url
            target = f"{base}/files-origin/{stored.id}/{urllib.parse.quote(stored.name)}?download=1"
            self._send(req, 302, b"", "text/plain", {"Location": target})
            return
        if token != self.bot_token or stored is None:
            # What Slack does with a bad token: a 200 with its sign-in page (SLACK.md §1.5).
            page = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
            self._send(req, 200, page, "text/html; charset=utf-8")
            return
        self._send(req, 200, stored.data, stored.mimetype)

    @staticmethod
    def _parse_args(content_type: str, raw: bytes) -> dict[str, Any]:
        if content_type.startswith("application/json"):
            args: dict[str, Any] = json.loads(raw or b"{}")
        else:
            args = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
        for key in JSON_FIELDS:
            if isinstance(args.get(key), str) and args[key]:
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(args[key])
        return args

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(body)

    def _send_json(
        self,
        req: BaseHTTPRequestHandler,
        status: int,
        body: Answer,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send(req, status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    # -- response URLs -----------------------------------------------------------------------------
    def _respond(self, rid: str, raw: bytes) -> tuple[int, str]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, "invalid_payload"
        with self._lock:
            self.responses.append((f"/response/{rid}", body))
            url = self._response_urls.get(rid)
            if url is None:
                return 404, "no_such_url"
            if url.uses >= RESPONSE_URL_USES or time.monotonic() - url.issued > RESPONSE_URL_SECONDS:
                return 404, "expired_url"
            url.uses += 1
            if body.get("delete_original"):
                if url.source is None or self.messages.pop(url.source, None) is None:
                    return 404, "message_not_found"
                self.writes.append(url.source)
                return 200, "ok"
            problems = message_problems(str(body.get("text", "")), body.get("blocks"))
            if problems:
                self.refused.append((f"response_url {rid}", problems))
                return 400, "invalid_blocks"
            text, blocks = str(body.get("text", "")), list(body.get("blocks") or [])
            if body.get("replace_original"):
                original = self.messages.get(url.source) if url.source else None
                if original is None:
                    return 404, "message_not_found"
                original.text, original.blocks, original.version = text, blocks, original.version + 1
                self.writes.append((original.channel, original.ts))
                return 200, "ok"
            ephemeral = body.get("response_type", "ephemeral") != "in_channel"
            ts = self._ts()
            self.messages[(url.channel, ts)] = Message(
                url.channel, ts, text, blocks, ephemeral=ephemeral, user=url.user if ephemeral else ""
            )
            self.writes.append((url.channel, ts))
            return 200, "ok"

    # -- methods -----------------------------------------------------------------------------------
    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _auth_test(self, args: dict[str, Any], token: str) -> Answer:
        return {
            "ok": True,
            "url": "https://standin.slack.invalid/",
            "team": "Stand-in",
            "user": "outreach",
            "team_id": self.team_id,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def _message_args(
        self, args: dict[str, Any], *, update: bool = False
    ) -> tuple[str, list[Any], Answer | None]:
        text, blocks = str(args.get("text", "")), args.get("blocks") or []
        problems = message_problems(text, blocks, update=update)
        if problems:
            self.refused.append(("chat", problems))
            error = "msg_too_long" if problems[0].startswith("msg_too_long") else "invalid_blocks"
            return text, [], {"ok": False, "error": error, "errors": problems}
        return text, list(blocks), None

    def _post_message(self, args: dict[str, Any], token: str) -> Answer:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks, refused = self._message_args(args)
        if refused:
            return refused
        ts = self._ts()
        message = Message(channel, ts, text, blocks)
        self.messages[(channel, ts)] = message
        self.writes.append((channel, ts))
        return {"ok": True, "channel": channel, "ts": ts, "message": message.payload(self.team_id)}

    def _post_ephemeral(self, args: dict[str, Any], token: str) -> Answer:
        channel, user = str(args.get("channel", "")), str(args.get("user", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        text, blocks, refused = self._message_args(args)
        if refused:
            return refused
        ts = self._ts()
        self.messages[(channel, ts)] = Message(channel, ts, text, blocks, ephemeral=True, user=user)
        self.writes.append((channel, ts))
        return {"ok": True, "message_ts": ts}

    def _chat_update(self, args: dict[str, Any], token: str) -> Answer:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        message = self.messages.get((channel, ts))
        if message is None or message.ephemeral:  # ephemeral messages change only through a response_url
            return {"ok": False, "error": "message_not_found"}
        text, blocks, refused = self._message_args(args, update=True)
        if refused:
            return refused
        message.text, message.blocks, message.version = text, blocks, message.version + 1
        self.writes.append((channel, ts))
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": text,
            "message": message.payload(self.team_id),
        }

    def _chat_delete(self, args: dict[str, Any], token: str) -> Answer:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        if self.messages.pop((channel, ts), None) is None:
            return {"ok": False, "error": "message_not_found"}
        self.writes.append((channel, ts))
        return {"ok": True, "channel": channel, "ts": ts}

    def _conversations_open(self, args: dict[str, Any], token: str) -> Answer:
        first = str(args.get("users", "")).split(",", maxsplit=1)[0]
        if first not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + first.lstrip("U")}}

    # -- views -------------------------------------------------------------------------------------
    def _trigger(self, args: dict[str, Any]) -> Trigger | str:
        trigger = self._triggers.get(str(args.get("trigger_id", "")))
        if trigger is None:
            return "invalid_trigger_id"
        if trigger.used:
            return "exchanged_trigger_id"
        if time.monotonic() - trigger.issued > TRIGGER_SECONDS:
            return "expired_trigger_id"
        trigger.used = True
        return trigger

    def _checked_view(self, args: dict[str, Any]) -> dict[str, Any] | Answer:
        view = args.get("view")
        problems = view_problems(view)
        if problems:
            self.refused.append(("views", problems))
            error = "view_too_large" if "view_too_large" in problems else "invalid_arguments"
            return {"ok": False, "error": error, "response_metadata": {"messages": problems}}
        return dict(view)  # type: ignore[arg-type]

    def _write_view(self, vid: str, view: dict[str, Any], method: str, **extra: Any) -> dict[str, Any]:
        previous = self.views.get(vid, {})
        stored = {
            **view,
            "id": vid,
            "team_id": self.team_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": extra.get("root_view_id", previous.get("root_view_id", vid)),
            "previous_view_id": extra.get("previous_view_id", previous.get("previous_view_id")),
            "state": {"values": {}},
        }
        if method != "views.publish":
            self.views[vid] = stored
        self._versions[vid] = self._versions.get(vid, 0) + 1
        self.view_log.append((method, stored))
        return stored

    def _views_open(self, args: dict[str, Any], token: str) -> Answer:
        trigger = self._trigger(args)
        if isinstance(trigger, str):
            return {"ok": False, "error": trigger}
        view = self._checked_view(args)
        if view.get("ok") is False:
            return view
        vid = f"V{next(self._ids):08d}"
        self.stacks[vid] = [vid]
        return {"ok": True, "view": self._write_view(vid, view, "views.open")}

    def _views_push(self, args: dict[str, Any], token: str) -> Answer:
        trigger = self._trigger(args)
        if isinstance(trigger, str):
            return {"ok": False, "error": trigger}
        if not trigger.view_id or trigger.view_id not in self.views:
            return {"ok": False, "error": "not_found"}  # a push needs an open modal to push onto
        view = self._checked_view(args)
        if view.get("ok") is False:
            return view
        problems = self._push(trigger.view_id, view, "views.push")
        if problems:
            return {"ok": False, "error": "push_limit_reached"}
        return {"ok": True, "view": self.view_log[-1][1]}

    def _push(self, from_view: str, view: dict[str, Any], method: str) -> list[str]:
        root = self.views[from_view].get("root_view_id") or from_view
        stack = self.stacks.setdefault(root, [from_view])
        if len(stack) >= MAX_VIEWS_IN_A_MODAL:
            return ["push_limit_reached"]
        vid = f"V{next(self._ids):08d}"
        stack.append(vid)
        self._write_view(vid, view, method, root_view_id=root, previous_view_id=stack[-2])
        return []

    def _views_update(self, args: dict[str, Any], token: str) -> Answer:
        vid = str(args.get("view_id") or "")
        if not vid and args.get("external_id"):
            vid = next((k for k, v in self.views.items() if v.get("external_id") == args["external_id"]), "")
        if vid not in self.views:
            return {"ok": False, "error": "not_found"}
        if args.get("hash") and args["hash"] != self.views[vid]["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = self._checked_view(args)
        if view.get("ok") is False:
            return view
        return {"ok": True, "view": self._write_view(vid, view, "views.update")}

    def _views_publish(self, args: dict[str, Any], token: str) -> Answer:
        user = str(args.get("user_id", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        current = self.homes.get(user)
        if args.get("hash") and current is not None and args["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = self._checked_view(args)
        if view.get("ok") is False:
            return view
        vid = current["id"] if current else f"V{next(self._ids):08d}"
        self.homes[user] = self._write_view(vid, view, "views.publish")
        return {"ok": True, "view": self.homes[user]}

    # -- users and files ---------------------------------------------------------------------------
    def _users_info(self, args: dict[str, Any], token: str) -> Answer:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        body: dict[str, Any] = {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "tz": user.tz,
            "is_admin": user.is_admin,
            "profile": {"real_name": user.real_name, "display_name": user.name, "email": user.email},
        }
        if str(args.get("include_locale", "")).lower() in ("1", "true"):
            body["locale"] = user.locale
        return {"ok": True, "user": body}

    def _usergroup_users(self, args: dict[str, Any], token: str) -> Answer:
        group = self.usergroups.get(str(args.get("usergroup", "")))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": group}

    def _files_info(self, args: dict[str, Any], token: str) -> Answer:
        stored = self.files.get(str(args.get("file", "")))
        if stored is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": self._file_object(stored)}

    def _file_object(self, stored: StoredFile) -> dict[str, Any]:
        url = f"{self.base_url}/files/{stored.id}/{urllib.parse.quote(stored.name)}"
        return {
            "id": stored.id,
            "name": stored.name,
            "title": stored.name,
            "filetype": stored.filetype,
            "mimetype": stored.mimetype,
            "size": len(stored.data),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }

    # -- reading what happened (tests) -------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def last(self, method: str) -> Call:
        found = self.calls_to(method)
        if not found:
            raise AssertionError(f"no call to {method}; calls: {[c.method for c in self.calls]}")
        return found[-1]
