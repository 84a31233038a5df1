"""A local stand-in for Slack: its Web API, and what a user's Slack client holds (messages, modals, triggers).

It listens on 127.0.0.1 and records every call (method, arguments, token). The real app, its ``WebClient`` pointed
here through ``SLACK_API_URL``, runs against it with no network: the scenario tests and the offline demo both do.
``SlackClientSim`` (bot/devtools/slack_requests.py) plays the user's side against the same stand-in: a slash
command, a click on a message or in a modal, a submission, closing a modal.

It is at least as strict as Slack, because a stand-in kinder than Slack hides exactly the bugs users meet
(../shared/SLACK.md §8). Each rule names its source where it is kept:

* rate tiers per workspace and method, 429 with ``Retry-After``: bot/devtools/slack_limits.py;
* triggers (once, 3 seconds), modal stacks (3 views), closed views, hashes, submission answers:
  bot/devtools/slack_views.py;
* ephemeral and regular messages, response URLs (5 uses, 30 minutes, no original for a command):
  bot/devtools/slack_messages.py;
* every message and view checked as Slack checks it (refusals of malformed payloads are kept in ``refused``;
  the app should never cause one): bot/devtools/slack_payloads.py;
* the external file upload (files.getUploadURLExternal, the upload URL, files.completeUploadExternal):
  bot/devtools/slack_uploads.py;
* installs (the authorize page, ``oauth.v2.access``, token rotation) and which install each token is:
  bot/devtools/slack_oauth.py;
* which workspace each object is, and what each token may reach (a workspace's token, its own; an org's, every
  workspace of the org): bot/devtools/slack_workspaces.py;
* here: file downloads answer 302 to a ``files-origin`` path, as Enterprise Grid does (SLACK.md §8.3), and a file
  URL with a wrong token answers 200 with an HTML sign-in page (SLACK.md §1.5); ``redirect_files_to(base)`` makes
  the redirect point at another host, to check that the app refuses it. A method the stand-in does not implement
  answers ``unknown_method`` rather than a made-up success.

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
from bot.devtools.slack_messages import Message, SlackMessages
from bot.devtools.slack_oauth import Grant, SlackOAuth
from bot.devtools.slack_uploads import SlackUploads
from bot.devtools.slack_views import SlackViews
from bot.devtools.slack_workspaces import SlackTeam, Workspaces

JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
BOT_USER, BOT_ID = "UBOT", "BBOT"

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
    team_id: str = ""


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
    is_owner: bool = False


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
        self.refused: list[tuple[str, list[str]]] = []  # (method or response URL, why): malformed payloads
        # What each external select last showed, by (view id, block id, action id): only those can be picked.
        self.menu_options: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self.users: dict[str, SlackUser] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.files: dict[str, StoredFile] = {}
        self.file_hits: list[tuple[str, str, str]] = []  # (Host header, path, token) of every file GET
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.chat = SlackMessages(team_id, self._lock, self._ids, self.refused, self.users.__contains__)
        self.modals = SlackViews(team_id, self._lock, self._ids, self.refused, self.users.__contains__)
        self.uploads = SlackUploads(self._ids, self.chat, self._keep_upload, self._known_channel)
        self.workspaces = Workspaces(
            SlackTeam(team_id, "Stand-in"),
            users=self.users,
            files=self.files,
            usergroups=self.usergroups,
            trigger_user=lambda t: trigger.user if (trigger := self.modals.triggers.get(t)) else None,
            view_team=lambda v: view.get("team_id") if (view := self.modals.views.get(v)) else None,
        )
        self.teams = self.workspaces.teams
        self.foreign = (
            self.workspaces.refused
        )  # (method, error, token's workspace): calls for others' objects
        self.oauth = SlackOAuth(self.workspaces.name, self.workspaces.enterprise_of)
        self.oauth.add_grant(Grant(bot_token, "", team_id, BOT_USER, BOT_ID))
        self._faults: dict[str, _Fault] = {}
        self._delays: dict[str, list[float]] = {}  # method (or "files.download") -> seconds, one per call
        self._redirect_base = ""  # where file downloads redirect (empty: this stand-in's files-origin path)
        self.app_token = "xapp-1-standin"
        self.socket_url = ""  # what apps.connections.open answers (a SocketModeStandIn's url)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.keepalive_seconds = 10.0  # an idle connection is closed after this long (set before start())
        self.connections = 0  # connections accepted so far
        self.answering = 0  # POSTs taken, not answered yet (a message is shown before its POST is answered)
        self._handlers: dict[str, Callable[[dict[str, Any], str], Answer]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self.chat.post_message,
            "chat.postEphemeral": self.chat.post_ephemeral,
            "chat.update": self.chat.update,
            "chat.delete": self.chat.delete,
            "conversations.open": self.chat.open_dm,
            "views.open": self.modals.views_open,
            "views.push": self.modals.views_push,
            "views.update": self.modals.views_update,
            "views.publish": self.modals.views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_users,
            "files.info": self._files_info,
            "files.getUploadURLExternal": lambda args, token: self.uploads.get_upload_url(
                args, self.base_url
            ),
            "files.completeUploadExternal": lambda args, token: self.uploads.complete(args),
        }

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1: a connection stays open between requests (every answer says its Content-Length), as
            # Slack's endpoints keep it; one idle for ``keepalive_seconds`` is closed, as servers do.
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.settimeout(standin.keepalive_seconds)  # read when the connection is accepted
                with standin._lock:
                    standin.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                with standin._lock:
                    standin.answering += 1
                try:
                    standin._handle_post(self)  # its answer written last
                finally:
                    with standin._lock:
                        standin.answering -= 1

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
        if user.team_id not in self.teams:
            self.add_team(user.team_id, user.team_id)
        self.users[user.id] = user
        return user

    def add_team(self, team_id: str, name: str, enterprise_id: str = "") -> SlackTeam:
        """A workspace (of the Enterprise Grid org ``enterprise_id``, if given); it has no token until the app
        is installed in it (``install``)."""
        return self.workspaces.add(team_id, name, enterprise_id)

    def add_file(
        self, name: str, data: bytes, mimetype: str = "application/octet-stream", team_id: str = ""
    ) -> dict[str, Any]:
        """Store a file as if a user of ``team_id`` (default: the first workspace) uploaded it; returns the file
        object a ``file_input`` would carry."""
        fid = f"F{next(self._ids):08d}"
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        self.files[fid] = StoredFile(fid, name, data, mimetype, filetype, team_id or self.team_id)
        return self._file_object(self.files[fid])

    def user_message(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str = "",
        files: tuple[str, ...] = (),
    ) -> Message:
        """A message a user writes in ``channel`` (in the thread ``thread_ts``), kept as its readers see it."""
        with self._lock:
            message = Message(
                channel, self.chat.new_ts(), text, [], thread_ts=thread_ts, author=user, files=files
            )
            return self.chat.add(message)

    def dm_channel(self, user: str) -> str:
        """The id of the DM between ``user`` and the app (what conversations.open answers)."""
        return "D" + user.lstrip("U")

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """The replies in a thread, oldest first."""
        return self.chat.thread(channel, thread_ts)

    def install(self, authorize_url: str, *, user: str, team_id: str = "", enterprise_id: str = "") -> str:
        """The installer approves the app's authorize link (``/slack/install`` gave it) in ``team_id``, or
        org-wide in ``enterprise_id``; returns where Slack sends the browser back (the app's redirect URL with
        ``code`` and ``state``). See bot/devtools/slack_oauth.py for what Slack refuses."""
        with self._lock:
            return self.oauth.approve(authorize_url, user=user, team_id=team_id, enterprise_id=enterprise_id)

    def uninstall(self, key: str) -> list[str]:
        """The app is removed from the workspace (or org) ``key``: its tokens stop working. (The test sends the
        ``app_uninstalled`` event itself.)"""
        with self._lock:
            return self.oauth.revoke(key)

    def user_team(self, user_id: str) -> str:
        return self.workspaces.user_team(user_id)

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
        return self.modals.new_trigger(user, view_id)

    def new_response_url(self, channel: str, user: str, source: tuple[str, str] | None = None) -> str:
        with self._lock:
            self.workspaces.seen(channel, self.user_team(user) or self.team_id)
        return self.chat.new_response_url(self.base_url, channel, user, source)

    def response_url(self, channel: str = "C0001", user: str = "U0001") -> str:
        """A response URL of a slash command run by ``user`` in ``channel``."""
        return self.new_response_url(channel, user)

    def message(self, channel: str, ts: str) -> Message | None:
        return self.chat.message(channel, ts)

    def open_view(self, view_id: str) -> dict[str, Any] | None:
        return self.modals.open_view(view_id)

    def view_version(self, view_id: str) -> int:
        return self.modals.version(view_id)

    def close_view(self, view_id: str, *, clear: bool = False) -> list[dict[str, Any]]:
        """The user closes the top view of a modal (``clear``: the whole modal); returns the views closed."""
        return self.modals.close(view_id, clear=clear)

    def answer_submission(self, view_id: str, version: int, answer: dict[str, Any] | None) -> list[str]:
        """Slack applying a ``view_submission`` answer; returns why it was refused, if it was."""
        return self.modals.answer_submission(view_id, version, answer)

    # What tests read: the messages, the writes and response-URL posts, the views and their log.
    @property
    def messages(self) -> dict[tuple[str, str], Message]:
        return self.chat.messages

    @property
    def writes(self) -> list[tuple[str, str]]:
        return self.chat.writes

    @property
    def responses(self) -> list[tuple[str, dict[str, Any]]]:
        return self.chat.responses

    @property
    def view_log(self) -> list[tuple[str, dict[str, Any]]]:
        return self.modals.log

    @property
    def stacks(self) -> dict[str, list[str]]:
        return self.modals.stacks

    # -- HTTP --------------------------------------------------------------------------------------
    def _handle_post(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length)
        path = urllib.parse.urlsplit(req.path).path
        if not path.startswith("/api/"):
            self._handle_plain_post(req, path, raw)
            return
        method = path[len("/api/") :]
        args = self._parse_args(req.headers.get("Content-Type", ""), raw)
        token = (req.headers.get("Authorization") or "").removeprefix("Bearer ").strip() or str(
            args.pop("token", "")
        )
        authorization = req.headers.get("Authorization") or ""
        if method == "oauth.v2.access":  # called with the app's client id and secret, not a token
            with self._lock:
                self.calls.append(Call(method, args, ""))
                answer = self.oauth.access(args, authorization)
            self._send_json(req, 200, answer)
            return
        with self._lock:
            self.calls.append(Call(method, args, token))
            grant = self.oauth.grant(token)
            budget = grant.key if isinstance(grant, Grant) else self.team_id  # per workspace (or org)
            wait = self.limiter.check(budget, method, str(args.get("channel", ""))) if self.rate_limits else 0
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
        if not isinstance(grant, Grant):
            self._send_json(req, 200, {"ok": False, "error": grant})
            return
        self._delay(method)
        handler = self._handlers.get(method)
        if handler is None:
            self._send_json(req, 200, {"ok": False, "error": "unknown_method"})
            return
        with self._lock:
            foreign = self.workspaces.refusal(method, args, grant)
            if foreign:
                answer = {"ok": False, "error": foreign}
            else:
                self.chat.team_id = self.modals.team_id = grant.team_id or min(
                    self.workspaces.of(grant), default=""
                )
                answer = handler(args, token)
        self._send_json(req, 200, answer)

    def _handle_plain_post(self, req: BaseHTTPRequestHandler, path: str, raw: bytes) -> None:
        """A POST outside the Web API: a response_url, or the bytes for an upload URL."""
        if path.startswith("/response/"):
            status, text = self.chat.respond(path.rsplit("/", 1)[-1], raw)
            self._send(req, status, text.encode(), "text/plain")
            return
        if path.startswith("/upload/v1/"):
            with self._lock:
                status = self.uploads.receive(
                    path.rsplit("/", 1)[-1], raw, req.headers.get("Content-Type", "")
                )
            self._send(req, status, f"OK - {len(raw)}".encode() if status == 200 else b"", "text/plain")
            return
        self._send(req, 404, b"not found", "text/plain")

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
        grant = self.oauth.grant(token)
        if not isinstance(grant, Grant) or stored is None or stored.team_id not in self.workspaces.of(grant):
            # What Slack does with a bad token (or one of another workspace): a 200 with its sign-in page
            # (SLACK.md §1.5).
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

    # -- methods -----------------------------------------------------------------------------------
    def _auth_test(self, args: dict[str, Any], token: str) -> Answer:
        """For the token's own workspace (an org's token: the org, with ``is_enterprise_install``)."""
        grant = self.oauth.grants[token]
        key = grant.key
        answer: Answer = {
            "ok": True,
            "url": f"https://{key.lower()}.standin.slack.invalid/",
            "team": self.workspaces.name(key),
            "user": "outreach",
            "team_id": key,
            "user_id": grant.bot_user_id,
            "bot_id": grant.bot_id,
            "is_enterprise_install": not grant.team_id,
        }
        if grant.enterprise_id:
            answer["enterprise_id"] = grant.enterprise_id
        return answer

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
            "is_owner": user.is_owner,
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

    def _keep_upload(self, file_id: str, name: str, data: bytes, mimetype: str) -> dict[str, Any]:
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        # Completed inside a Web API call, with ``chat.team_id`` set to the caller's workspace: the file is its.
        self.files[file_id] = StoredFile(file_id, name, data, mimetype, filetype, self.chat.team_id)
        return self._file_object(self.files[file_id])

    def _known_channel(self, channel: str) -> bool:
        """A channel the workspace has: a user's DM with the app, or one with messages in it."""
        dms = {self.dm_channel(u) for u in self.users}
        return channel in dms or any(c == channel for c, _ in self.chat.messages)

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
