"""A local stand-in for Slack's Web API.

It listens on 127.0.0.1, records every call (method, arguments, token) and answers with Slack-shaped JSON,
so the real app (its ``WebClient`` pointed here through ``SLACK_API_URL``) can run with no network:
the scenario tests and the offline demo both drive the app against it.

Besides ``/api/<method>`` it serves uploaded files at ``/files/<id>`` (only with the bot token, as Slack
does; with another token it answers an HTML login page with status 200, as Slack does) and records the
posts to response URLs at ``/response/<id>``.

Faults can be injected per method: ``standin.fail("chat.update", status=429, times=2, retry_after=1)``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.devtools.slack_limits import RateLimiter

JSON_FIELDS = ("blocks", "view", "attachments", "metadata")


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
        self.rate_limits = (
            rate_limits  # Slack's tiers (bot/devtools/slack_limits.py); off only to compare with
        )
        self.limiter = RateLimiter()
        self.rate_limited: list[Call] = []  # calls answered 429 by the tiers
        self.team_id = team_id
        self.calls: list[Call] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []  # posts to response URLs
        self.users: dict[str, SlackUser] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.files: dict[str, StoredFile] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> latest message
        self.views: dict[str, dict[str, Any]] = {}  # view id -> latest view
        self.view_log: list[
            tuple[str, dict[str, Any]]
        ] = []  # (views.open|push|update|publish, view as stored)
        self._faults: dict[str, _Fault] = {}
        self.app_token = "xapp-1-standin"
        self.socket_url = ""  # what apps.connections.open answers (a SocketModeStandIn's url)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": lambda a, t: {"ok": True, "channel": a.get("channel"), "ts": a.get("ts")},
            "conversations.open": self._conversations_open,
            "views.open": self._view_write,
            "views.push": self._view_write,
            "views.update": self._view_write,
            "views.publish": self._view_write,
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
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-standin", daemon=True)
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

    # -- test helpers ------------------------------------------------------------------------------
    def add_user(self, user: SlackUser) -> SlackUser:
        self.users[user.id] = user
        return user

    def add_file(self, name: str, data: bytes, mimetype: str = "application/octet-stream") -> dict[str, Any]:
        """Store a file as if a user uploaded it; returns the file object a ``file_input`` would carry."""
        fid = f"F{next(self._ids):08d}"
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        self.files[fid] = StoredFile(fid, name, data, mimetype, filetype)
        return self._file_object(self.files[fid])

    def response_url(self) -> str:
        return f"{self.base_url}/response/{next(self._ids)}"

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

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def last(self, method: str) -> Call:
        found = self.calls_to(method)
        if not found:
            raise AssertionError(f"no call to {method}; calls: {[c.method for c in self.calls]}")
        return found[-1]

    def last_view(self, method: str = "") -> dict[str, Any]:
        """The latest view written (by ``method`` when given: ``views.open`` …), as stored, with its id."""
        with self._lock:
            found = [v for m, v in self.view_log if not method or m == method]
        if not found:
            raise AssertionError(f"no view written by {method or 'views.*'}")
        return found[-1]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.responses.clear()

    # -- HTTP --------------------------------------------------------------------------------------
    def _handle_post(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length)
        path = urllib.parse.urlsplit(req.path).path
        if path.startswith("/response/"):
            body = json.loads(raw or b"{}")
            with self._lock:
                self.responses.append((path, body))
            self._send(req, 200, b"ok", "text/plain")
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
                answer = {"ok": False, "error": "ratelimited"}
                self._send_json(req, 429, answer, {"Retry-After": str(wait)})
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
        handler = self._handlers.get(method)
        answer: dict[str, Any] = handler(args, token) if handler else {"ok": True}
        if method.startswith("views.") and answer.get("ok"):
            with self._lock:
                self.view_log.append((method, answer["view"]))
        self._send_json(req, 200, answer)

    def _handle_get(self, req: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlsplit(req.path).path
        if not path.startswith("/files/"):
            self._send(req, 404, b"not found", "text/plain")
            return
        fid = path.split("/")[2]
        token = (req.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        stored = self.files.get(fid)
        if token != self.bot_token or stored is None:
            # What Slack does with a bad token: a 200 with its sign-in page.
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
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send(req, status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    # -- methods -----------------------------------------------------------------------------------
    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _auth_test(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://standin.slack.invalid/",
            "team": "Stand-in",
            "user": "outreach",
            "team_id": self.team_id,
            "user_id": "UBOT",
            "bot_id": "BBOT",
        }

    def _post_message(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), self._ts()
        message = {
            "type": "message",
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
        }
        with self._lock:
            self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _post_ephemeral(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._ts()}

    def _chat_update(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        with self._lock:
            if (channel, ts) not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            message = {
                "type": "message",
                "ts": ts,
                "text": args.get("text", ""),
                "blocks": args.get("blocks", []),
            }
            self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _conversations_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        users = str(args.get("users", ""))
        return {"ok": True, "channel": {"id": "D" + users.split(",", maxsplit=1)[0].lstrip("U")}}

    def _view_write(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        view = dict(args.get("view") or {})
        vid = str(args.get("view_id") or "") or f"V{next(self._ids):08d}"
        if args.get("view_id") and vid not in self.views:
            return {"ok": False, "error": "not_found"}
        view.update(
            {"id": vid, "hash": f"h{next(self._ids)}", "team_id": self.team_id, "state": {"values": {}}}
        )
        with self._lock:
            self.views[vid] = view
        return {"ok": True, "view": view}

    def _users_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
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

    def _usergroup_users(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup", "")))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": group}

    def _files_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
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
