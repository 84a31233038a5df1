"""The HTTP side: one WSGI application served by waitress (multi-threaded, production grade).

Routes: ``POST /slack/events`` (every Slack request, signature verified by Bolt; not in Socket Mode, where
Slack's requests come over the socket), ``GET /slack/install`` and ``GET /slack/oauth_redirect`` (Bolt's OAuth
flow, when the app installs from a link: in Socket Mode too, SLACK.md §3.4), ``GET /healthz``, and any extra
routes the composition root adds (inbound messages, one-click unsubscribe). Everything else is 404.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

MAX_BODY = (
    1024 * 1024
)  # a route's default cap; Slack's own payloads are far smaller (inbound replies: Endpoint)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, data: Any) -> Response:
        return cls(status, json.dumps(data).encode())

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, text.encode(), content_type)


Route = Callable[[Request], Response]


@dataclass(frozen=True)
class Endpoint:
    """A route with a body cap of its own (inbound replies carry files in base64)."""

    handle: Route
    max_body: int = MAX_BODY


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class WsgiApp:
    def __init__(
        self,
        bolt: App | None,
        routes: Mapping[tuple[str, str], Route | Endpoint] | None = None,
        health: Callable[[], dict[str, Any]] | None = None,
        *,
        events: bool = True,
    ) -> None:
        """``events=False``: Slack's requests come another way (Socket Mode); only the OAuth routes of ``bolt``
        (if it has an OAuth flow) are served."""
        self._slack = SlackRequestHandler(bolt) if bolt is not None else None
        self._events = events
        flow = bolt.oauth_flow if bolt is not None else None
        self._oauth_paths = {flow.install_path, flow.redirect_uri_path} if flow is not None else set()
        self._routes = {
            key: route if isinstance(route, Endpoint) else Endpoint(route)
            for key, route in (routes or {}).items()
        }
        self._health = health or (lambda: {"ok": True})

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path in self._oauth_paths and self._slack is not None:
            if method != "GET":
                return self._answer(start_response, Response.text(405, "GET only"))
            return self._slack(environ, start_response)
        if path == "/slack/events" and self._slack is not None and self._events:
            if method != "POST":
                return self._answer(start_response, Response.text(405, "POST only"))
            return self._slack(environ, start_response)
        if path == "/healthz" and method == "GET":
            status = self._health()
            return self._answer(start_response, Response.json(200 if status.get("ok") else 503, status))
        route = self._routes.get((method, path))
        if route is None:
            known = any(p == path for (_, p) in self._routes)
            return self._answer(start_response, Response.text(405 if known else 404, "not found"))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > route.max_body:
            return self._answer(
                start_response, Response.text(413, f"request larger than {route.max_body} bytes")
            )
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = Request(method, path, environ.get("QUERY_STRING", ""), headers, body)
        try:
            response = route.handle(request)
        except Exception:
            log.exception("route %s %s failed", method, path)
            response = Response.json(500, {"ok": False, "error": "internal_error"})
        return self._answer(start_response, response)

    @staticmethod
    def _answer(start_response: StartResponse, response: Response) -> Iterable[bytes]:
        status = f"{response.status} {_REASONS.get(response.status, 'Status')}"
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *response.headers,
        ]
        start_response(status, headers)
        return [response.body]


HTTP_THREADS = 8  # waitress's threads: each runs Bolt's middleware (the event check, authorize) or a route


class HttpServer:
    """waitress in a thread of its own: ``start()`` returns once it listens; ``port`` tells where."""

    def __init__(
        self, wsgi: WsgiApp, host: str = "127.0.0.1", port: int = 0, threads: int = HTTP_THREADS
    ) -> None:
        from waitress.server import create_server

        self._server = create_server(
            wsgi,
            host=host,
            port=port,
            threads=threads,
            ident="prospect-outreach",
            clear_untrusted_proxy_headers=True,
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop from inside waitress's own loop: closing its sockets from another thread while the loop is in
        select() on them ends, now and then, in EBADF in the loop thread."""
        from waitress import wasyncore

        server = self._server
        if self._thread is None or not self._thread.is_alive():
            server.close()
            return
        server.task_dispatcher.shutdown()  # request threads finish; none pulls the trigger after this
        server.trigger.pull_trigger(
            lambda: wasyncore.close_all(server._map)
        )  # the loop ends with an empty map
        self._thread.join(timeout=5)
