"""Messages to Slack's response URLs over connections kept open between them.

Bolt's ``respond()`` posts through slack_sdk's WebhookClient, which opens a connection for every message: with
Slack, a TCP and a TLS handshake with hooks.slack.com (two or three round trips) before each click's answer goes
out, and on our side a new socket and handshake's CPU for every tick, Next or filter on a list. Here a process
keeps its connections to each host open and reuses them (http.client, HTTP/1.1):

* a connection idle for longer than ``IDLE_SECONDS`` is closed, not reused: servers close idle connections
  after a while, and Slack does not document how long, so ours is short; one the server closed meanwhile (its
  socket readable: the end of the stream, or an error) is seen before reuse and replaced;
* what is sent, and what is done with the answer, stays slack_sdk's: the body, the headers, the
  ``WebhookResponse``, and its retry rules (its default handler sends again after a connection reset or a
  connection closed before the answer, as it does today without kept connections);
* at most ``POOL_SIZE`` idle connections a host are kept; more are closed after their answer;
* with a proxy (HTTPS_PROXY, or the app client's) or TLS settings of the app's client, messages go urllib's way,
  a connection each, as Bolt sends them.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.webhook import WebhookClient, WebhookResponse

IDLE_SECONDS = 4.0
POOL_SIZE = 16
TIMEOUT_SECONDS = 30.0

Connection = http.client.HTTPConnection  # or its HTTPS subclass
Origin = tuple[str, str, int]  # scheme, host, port


class ConnectionPool:
    """Open connections per origin, each taken by one request at a time (thread-safe)."""

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self._ssl = ssl_context or ssl.create_default_context()
        self._idle = idle_seconds
        self._lock = threading.RLock()  # close() may run from the collector while this thread holds it
        self._free: dict[Origin, deque[tuple[Connection, float]]] = {}
        self._closed = False
        self.opened = 0  # connections made so far (for tests and the bench)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """POST ``body`` to ``url``; its status, body and headers (any status: the caller reads it)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        origin = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn = self._take(origin)
        try:
            try:
                conn.request("POST", path, body=body, headers=headers)
            except (
                OSError
            ) as err:  # connecting or sending: a URLError, as urllib raises (slack_sdk retries it)
                raise urllib.error.URLError(err) from err
            answer = conn.getresponse()
            data = answer.read()
        except BaseException:
            conn.close()
            raise
        found = {k: v for k, v in answer.getheaders()}
        if answer.will_close:
            conn.close()
        else:
            self._give(origin, conn)
        return answer.status, data, found

    def close(self) -> None:
        """Close the idle connections; one in use now is closed when its answer is read."""
        with self._lock:
            self._closed = True
            free, self._free = self._free, {}
        for idle in free.values():
            for conn, _ in idle:
                conn.close()

    def _take(self, origin: Origin) -> Connection:
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._free.get(origin)
                found = idle.pop() if idle else None  # the most recently used: the least likely closed
            if found is None:
                break
            conn, since = found
            if now - since <= self._idle and not _closed_by_peer(conn):
                return conn
            conn.close()
        scheme, host, port = origin
        with self._lock:
            self.opened += 1
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=TIMEOUT_SECONDS, context=self._ssl)
        return http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)

    def _give(self, origin: Origin, conn: Connection) -> None:
        with self._lock:
            idle = self._free.setdefault(origin, deque())
            if not self._closed and len(idle) < POOL_SIZE:
                idle.append((conn, time.monotonic()))
                return
        conn.close()


def _closed_by_peer(conn: Connection) -> bool:
    """Whether an idle connection's socket is readable: between two requests that can only be the server's end
    of the stream (or a reset), so the connection must not be used again."""
    sock = conn.sock
    if sock is None:
        return True
    try:  # poll, not select: a busy server's descriptors go past select's 1,024
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class PooledWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient, sending over ``pool`` instead of a new connection each time."""

    def __init__(self, url: str, pool: ConnectionPool, **kw: Any) -> None:
        super().__init__(url=url, **kw)
        self._pool = pool

    def _perform_http_request_internal(self, url: str, req: urllib.request.Request) -> WebhookResponse:
        if self.proxy or self.ssl is not None:  # a proxy or TLS settings of the app's client: urllib's way
            response: WebhookResponse = super()._perform_http_request_internal(url, req)
            return response
        body = req.data if isinstance(req.data, bytes) else b""
        status, data, headers = self._pool.post(url, body, dict(req.header_items()))
        return WebhookResponse(
            url=url, status_code=status, body=data.decode("utf-8", "replace"), headers=headers
        )


class PooledRespond(Respond):
    """Bolt's ``respond`` (same arguments, same message), over ``pool``."""

    def __init__(
        self,
        *,
        response_url: str | None,
        pool: ConnectionPool,
        proxy: str | None = None,
        ssl: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self._pool = pool

    def __call__(  # noqa: PLR0917 (Bolt's respond() takes these positionally too)
        self,
        text: str | dict[str, Any] = "",
        blocks: Any = None,
        attachments: Any = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        return PooledWebhookClient(self.response_url, self._pool, proxy=self.proxy, ssl=self.ssl).send_dict(
            message
        )


def kept_alive_respond(pool: ConnectionPool) -> Any:
    """Middleware: a request with a response URL gets :class:`PooledRespond` as its ``respond``."""

    def middleware(context: BoltContext, next: Any) -> None:
        if context.response_url:  # the proxy and TLS settings Bolt's own Respond would take from the client
            client = context.client
            context["respond"] = PooledRespond(
                response_url=context.response_url,
                pool=pool,
                proxy=client.proxy if client is not None else None,
                ssl=client.ssl if client is not None else None,
            )
        next()

    return middleware
