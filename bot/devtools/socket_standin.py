"""A stand-in for Slack's Socket Mode endpoint, for tests: a WebSocket server on 127.0.0.1.

Slack's side of the protocol as documented: the app asks ``apps.connections.open`` (with its ``xapp-`` token)
for a URL, opens a WebSocket there and gets ``{"type": "hello"}``; Slack then sends envelopes
(``{"envelope_id", "type": "slash_commands" | "interactive" | "events_api", "payload",
"accepts_response_payload"}``) and the app answers each with ``{"envelope_id", "payload"?}`` within 3 seconds.
:class:`~bot.devtools.slack_standin.SlackStandIn` answers ``apps.connections.open`` with :attr:`url`.

Needs the ``websockets`` package (a test dependency only).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class SocketModeStandIn:
    def __init__(self, app_id: str = "A0001") -> None:
        self.app_id = app_id
        self.acks: dict[str, dict[str, Any]] = {}  # envelope id -> the app's answer
        self.connections = 0
        self._current: ServerConnection | None = None
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SocketModeStandIn:
        self._server = serve(self._serve, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> SocketModeStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=standin"

    def wait_connected(self, timeout: float = 20.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._current is not None, timeout):
                raise AssertionError("the app never connected over Socket Mode")

    def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Send an envelope to the connected app; returns its id. ``retry_attempt``: Slack's count of earlier
        deliveries of the same event (0 the first time). As in python-slack-sdk's Socket Mode fixtures, only
        ``events_api`` envelopes carry ``retry_attempt``/``retry_reason`` (``0``/``""`` on a first delivery,
        ``1``/``"timeout"`` on a retry): commands and interactions are never retried."""
        envelope_id = f"env-{next(self._ids)}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason="timeout" if retry_attempt else "")
        elif retry_attempt:
            raise ValueError("Slack retries events_api envelopes only")
        with self._lock:
            connection = self._current
        if connection is None:
            raise AssertionError("no app is connected")
        connection.send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 3.0) -> dict[str, Any]:
        """The app's answer to an envelope; fails when none comes within ``timeout`` (Slack's 3 seconds)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._lock.wait_for(
                lambda: envelope_id in self.acks, max(0.0, deadline - time.monotonic())
            ):
                raise AssertionError(f"no answer to {envelope_id} within {timeout} s")
            return self.acks[envelope_id]

    def _serve(self, connection: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "standin", "approximate_connection_time": 3600},
            "connection_info": {"app_id": self.app_id},
        }
        connection.send(json.dumps(hello))
        with self._lock:
            self._current = connection
            self.connections += 1
            self._lock.notify_all()
        try:
            for raw in connection:
                message = json.loads(raw)
                if isinstance(message, dict) and "envelope_id" in message:
                    with self._lock:
                        self.acks[str(message["envelope_id"])] = message
                        self._lock.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self._current is connection:
                    self._current = None
