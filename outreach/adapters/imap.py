"""A user's own mailbox over IMAP (IMAPClient): implements :class:`outreach.ports.MailboxReader`.

``ImapReader.open(account)`` connects with implicit TLS (IMAPS, ``tls``) or upgrades with STARTTLS
(``starttls``) — never in clear text: the password goes over it —, logs in with the account's user name and
password, and opens INBOX **read-only** (``EXAMINE``): reading never marks a partner's mail as seen, and every
fetch is a ``BODY.PEEK``. Everything is by UID (IMAPClient's default).

Failures are :class:`~outreach.errors.MailboxRefused`: ``login=True`` when the server refused the user name or
password (``NO [AUTHENTICATIONFAILED]`` and the like, RFC 5530; ``[UNAVAILABLE]`` is a passing trouble), else a
passing one (unreachable, TLS, a timeout, a dropped connection) that the next poll tries again.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from outreach.errors import MailboxRefused
from outreach.models import MailAccount

FOLDER = "INBOX"
DEFAULT_PORTS = {"tls": 993, "starttls": 143}
FETCH_CHUNK = 200  # UIDs per FETCH command


class ImapReader:
    def __init__(self, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self._timeout = timeout
        self._ssl_context = ssl_context

    def open(self, account: MailAccount) -> ImapSession:
        if account.imap_security not in DEFAULT_PORTS:
            raise MailboxRefused(
                f"IMAP security must be tls or starttls, not {account.imap_security!r}", login=False
            )
        port = account.imap_port or DEFAULT_PORTS[account.imap_security]
        where = f"{account.imap_host}:{port}"
        context = self._ssl_context or ssl.create_default_context()
        client: IMAPClient | None = None
        try:
            client = IMAPClient(
                account.imap_host,
                port=port,
                ssl=account.imap_security == "tls",
                ssl_context=context,
                timeout=self._timeout,
            )
            if account.imap_security == "starttls":
                client.starttls(context)
            client.login(account.username, account.password)
        except LoginError as exc:
            _close(client)
            text = _text(exc)
            raise MailboxRefused(
                f"{where} refused the login: {text}", login="UNAVAILABLE" not in text
            ) from exc
        except (IMAPClientError, OSError) as exc:
            _close(client)
            raise MailboxRefused(f"cannot reach {where}: {_text(exc)}", login=False) from exc
        return ImapSession(client, where)


class ImapSession:
    """One logged-in connection, INBOX examined (read-only). Not thread-safe."""

    def __init__(self, client: IMAPClient, where: str) -> None:
        self._client = client
        self._where = where

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def select(self) -> tuple[int, int]:
        """(UIDVALIDITY, UIDNEXT) of INBOX, opened read-only."""
        info = self._call(lambda c: c.select_folder(FOLDER, readonly=True))
        validity, uidnext = info.get(b"UIDVALIDITY"), info.get(b"UIDNEXT")
        if validity is None or uidnext is None:  # not in the SELECT answer of every server: ask for them
            status = self._call(lambda c: c.folder_status(FOLDER, [b"UIDVALIDITY", b"UIDNEXT"]))
            validity, uidnext = status[b"UIDVALIDITY"], status[b"UIDNEXT"]
        return int(validity), int(uidnext)

    def uids(self, after: int, since: date | None = None) -> list[int]:
        """UIDs above ``after`` (received on or after ``since``), ascending. ``UID n:*`` always names the newest
        message even when its UID is below n (RFC 3501 §6.4.8): those are dropped here."""
        criteria: list[Any] = ["UID", f"{after + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        found = self._call(lambda c: c.search(criteria))
        return sorted(int(uid) for uid in found if int(uid) > after)

    def headers(self, uids: Sequence[int], fields: Sequence[str]) -> dict[int, tuple[int, bytes]]:
        """{uid: (size in bytes, the raw header lines named by ``fields``)}."""
        item = f"BODY.PEEK[HEADER.FIELDS ({' '.join(f.upper() for f in fields)})]"
        found: dict[int, tuple[int, bytes]] = {}
        for start in range(0, len(uids), FETCH_CHUNK):
            data = self._fetch(uids[start : start + FETCH_CHUNK], ["RFC822.SIZE", item])
            for uid, parts in data.items():
                found[int(uid)] = (int(parts.get(b"RFC822.SIZE", 0)), _body_item(parts))
        return found

    def messages(self, uids: Sequence[int]) -> dict[int, bytes]:
        """{uid: the whole raw message}."""
        found: dict[int, bytes] = {}
        for start in range(0, len(uids), FETCH_CHUNK):
            data = self._fetch(uids[start : start + FETCH_CHUNK], ["BODY.PEEK[]"])
            for uid, parts in data.items():
                found[int(uid)] = _body_item(parts)
        return found

    def close(self) -> None:
        _close(self._client, logout=True)

    def _fetch(self, uids: Sequence[int], items: list[str]) -> dict[int, dict[bytes, Any]]:
        found: dict[int, dict[bytes, Any]] = self._call(lambda c: c.fetch(list(uids), items))
        return found

    def _call(self, action: Callable[[IMAPClient], Any]) -> Any:
        try:
            return action(self._client)
        except (IMAPClientError, OSError) as exc:
            raise MailboxRefused(f"{self._where}: {_text(exc)}", login=False) from exc


def _body_item(parts: dict[bytes, Any]) -> bytes:
    """The ``BODY[…]`` item of a FETCH answer (its key repeats the section asked for)."""
    for key, value in parts.items():
        if key.startswith(b"BODY[") and isinstance(value, bytes):
            return value
    return b""


def _text(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"[:300]
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)[:300]
    text = exc.args[0] if exc.args else exc
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    if (
        shown[:2] in ("b'", 'b"') and shown[-1:] == shown[1]
    ):  # IMAPClient passes the server's bytes as their repr
        shown = shown[2:-1]
    return shown[:300]


def _close(client: IMAPClient | None, *, logout: bool = False) -> None:
    if client is None:
        return
    try:
        if logout:
            client.logout()
        else:
            client.shutdown()
    except (IMAPClientError, OSError):
        pass


def login_tester(
    timeout: float = 15.0, ssl_context: ssl.SSLContext | None = None
) -> Callable[[MailAccount], None]:
    """Try a user's mailbox: connect, secure, log in, examine INBOX, log out. Raises MailboxRefused."""
    reader = ImapReader(timeout, ssl_context)

    def test(account: MailAccount) -> None:
        with reader.open(account) as session:
            session.select()

    return test
