"""respond() over kept connections (bot/response_urls.py), against a real HTTP/1.1 server on loopback."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.error
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.response_urls import ConnectionPool, PooledRespond


class Hooks:
    """A response-URL server: keeps connections open (HTTP/1.1), closes one idle for ``idle`` seconds, counts
    the connections it accepted and keeps every message it was posted."""

    def __init__(self) -> None:
        self.idle = 10.0
        self.connections = 0
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.close_after_answer = False
        self.lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.settimeout(hooks.idle)
                with hooks.lock:
                    hooks.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with hooks.lock:
                    hooks.messages.append((self.path, json.loads(raw)))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                if hooks.close_after_answer:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/actions/T1/1/abc"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    yield server
    server.stop()


@pytest.fixture
def pool() -> Iterator[ConnectionPool]:
    made = ConnectionPool()
    yield made
    made.close()


def test_messages_in_a_row_go_over_one_connection_with_bolts_body(hooks, pool):
    respond = PooledRespond(response_url=hooks.url, pool=pool)
    for i in range(5):
        answer = respond(text=f"page {i}", blocks=[{"type": "divider"}], replace_original=True)
        assert (answer.status_code, answer.body) == (200, "ok")
    assert hooks.connections == 1 and pool.opened == 1
    assert hooks.messages[-1] == (
        "/actions/T1/1/abc",
        {"text": "page 4", "blocks": [{"type": "divider"}], "replace_original": True},
    )
    assert [m["text"] for _, m in hooks.messages] == [f"page {i}" for i in range(5)]


def test_a_whole_message_as_a_dict_is_sent_as_bolts_respond_sends_it(hooks, pool):
    PooledRespond(response_url=hooks.url, pool=pool)({"text": "hi", "response_type": "ephemeral"})
    assert hooks.messages == [("/actions/T1/1/abc", {"text": "hi", "response_type": "ephemeral"})]


def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_message_goes_once(hooks, pool):
    hooks.idle = 0.2
    respond = PooledRespond(response_url=hooks.url, pool=pool)
    respond(text="first")
    time.sleep(0.6)  # the server has closed the idle connection meanwhile
    # The pool itself, without slack_sdk's retry on a connection reset: the closed connection is seen, not used.
    status, body, _ = pool.post(
        hooks.url, json.dumps({"text": "second"}).encode(), {"Content-Type": "application/json"}
    )
    assert (status, body) == (200, b"ok")
    assert [m["text"] for _, m in hooks.messages] == ["first", "second"]
    assert hooks.connections == 2 and pool.opened == 2


def test_a_connection_idle_too_long_is_not_reused(hooks):
    pool = ConnectionPool(idle_seconds=0.1)
    try:
        respond = PooledRespond(response_url=hooks.url, pool=pool)
        respond(text="first")
        time.sleep(0.3)  # the server would still take it; ours is closed all the same
        respond(text="second")
        assert hooks.connections == 2 and len(hooks.messages) == 2
    finally:
        pool.close()


def test_an_answer_saying_connection_close_is_not_reused(hooks, pool):
    hooks.close_after_answer = True
    respond = PooledRespond(response_url=hooks.url, pool=pool)
    respond(text="first")
    assert (
        pool._free.get(("http", "127.0.0.1", hooks.server.server_address[1]), deque()) == deque()
    )  # not kept
    respond(text="second")
    assert hooks.connections == 2 and len(hooks.messages) == 2


def test_threads_at_once_each_take_their_own_connection_then_share_them(hooks, pool):
    respond = PooledRespond(response_url=hooks.url, pool=pool)
    start = threading.Barrier(4)

    def send(i: int) -> None:
        start.wait()
        for j in range(5):
            respond(text=f"{i}-{j}")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m["text"] for _, m in hooks.messages) == sorted(
        f"{i}-{j}" for i in range(4) for j in range(5)
    )
    assert hooks.connections == pool.opened <= 4


def test_no_response_url_is_refused_as_bolt_refuses_it(pool):
    with pytest.raises(ValueError, match="no response_url"):
        PooledRespond(response_url=None, pool=pool)(text="hi")
    with pytest.raises(ValueError, match="not an http"):
        pool.post("file:///etc/passwd", b"{}", {})


def test_a_connection_in_use_when_the_pool_closes_is_closed_after_its_answer(hooks):
    pool = ConnectionPool()
    respond = PooledRespond(response_url=hooks.url, pool=pool)
    respond(text="first")
    conn = pool._take(
        ("http", "127.0.0.1", hooks.server.server_address[1])
    )  # as a request in flight holds it
    pool.close()
    pool._give(("http", "127.0.0.1", hooks.server.server_address[1]), conn)
    assert conn.sock is None  # closed, not kept by a pool nobody will close again
    respond(text="second")  # a closed pool still sends, on a connection of its own
    assert [m["text"] for _, m in hooks.messages] == ["first", "second"]


def test_a_refused_connection_is_a_urlerror_as_urllib_raises_so_slack_sdk_retries_it(pool):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/actions/T1/1/abc"  # bound, not listening: refused
        with pytest.raises(urllib.error.URLError):
            pool.post(closed, b"{}", {})
        with pytest.raises(urllib.error.URLError):
            PooledRespond(response_url=closed, pool=pool)(text="hi")
    assert pool.opened == 3  # the post; respond and slack_sdk's one retry


def test_the_app_clients_tls_settings_or_a_proxy_send_the_message_bolts_way(hooks, pool):
    respond = PooledRespond(response_url=hooks.url, pool=pool, ssl=ssl.create_default_context())
    respond(text="hi")
    assert [m["text"] for _, m in hooks.messages] == ["hi"] and pool.opened == 0
