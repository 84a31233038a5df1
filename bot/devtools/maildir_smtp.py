"""A local SMTP server (aiosmtpd, 127.0.0.1) that writes every message it accepts into a Maildir.

The offline demo sends its e-mails here: nothing leaves the machine, and every message can be read back
with any mail tool (``mutt -f var/demo/maildir``) or Python's ``mailbox.Maildir``.
"""

from __future__ import annotations

import mailbox
import socket
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _ToMaildir:
    def __init__(self, box: mailbox.Maildir) -> None:
        self._box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._box.add(envelope.original_content or envelope.content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MaildirSmtpServer:
    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory
        self.box = mailbox.Maildir(directory, create=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._controller = Controller(
            _ToMaildir(self.box), hostname=self.host, port=self.port, decode_data=False, enable_SMTPUTF8=True
        )

    def start(self) -> MaildirSmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def messages(self) -> list[mailbox.MaildirMessage]:
        return [self.box.get_message(key) for key in sorted(self.box.keys())]
