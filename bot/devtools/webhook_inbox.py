"""A receiver for the app's signed in-platform messages (the other end of MESSAGES_WEBHOOK_URL), on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from outreach.webhook_signing import verify_signature


@dataclass
class WebhookInbox:
    """Receives the signed in-platform messages the app sends."""

    secret: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/messages"

    def start(self) -> WebhookInbox:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = verify_signature(
                    inbox.secret,
                    self.headers.get("X-Outreach-Timestamp", ""),
                    body,
                    self.headers.get("X-Outreach-Signature", ""),
                    time.time(),
                )
                if not ok:
                    inbox.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                message = json.loads(body)
                inbox.messages.append(message)
                answer = json.dumps({"id": f"msg-{len(inbox.messages)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
