"""A :class:`~outreach.ports.Scanner` backed by ClamAV's clamd, spoken to with INSTREAM.

The client is hand-written (about a hundred lines) on purpose: the ``clamd`` package on PyPI has been
unmaintained for years, and the INSTREAM protocol is tiny::

    -> zINSTREAM\\0
    -> <4-byte big-endian length><chunk> ... <0x00000000>
    <- stream: OK\\0 | stream: <Signature> FOUND\\0 | <reason> ERROR\\0

clamd is reached over a unix socket (``CLAMD_SOCKET``) or TCP (``CLAMD_HOST`` + ``CLAMD_PORT``, normally
127.0.0.1), with a connect timeout and a read timeout that bounds the whole exchange.

Fail closed: anything other than a clear ``OK`` or ``FOUND`` (clamd down, a missing socket, a timeout, the
stream size limit, an ``ERROR``, a garbled answer) becomes an UNSCANNABLE verdict with a detail. ``scan``
never raises for scanner trouble.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

from outreach.models import ScanStatus, ScanVerdict

_CHUNK = 64 * 1024
_MAX_REPLY = 4096
UNSCANNABLE_PREFIX = "could not be scanned"


class _ScanTrouble(Exception):
    """Internal: something went wrong talking to clamd (turned into UNSCANNABLE)."""


@dataclass(frozen=True, slots=True)
class ClamdAddress:
    """Where clamd listens: a unix socket path, or a TCP host and port."""

    socket_path: str = ""
    host: str = "127.0.0.1"
    port: int = 3310

    def describe(self) -> str:
        return f"unix:{self.socket_path}" if self.socket_path else f"tcp:{self.host}:{self.port}"


class ClamdScanner:
    """Scan bytes with clamd over INSTREAM. Thread-safe: one connection per call."""

    def __init__(
        self,
        *,
        socket_path: str = "",
        host: str = "127.0.0.1",
        port: int = 3310,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
        chunk_size: int = _CHUNK,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("clamd timeouts must be positive")
        self.address = ClamdAddress(socket_path=socket_path, host=host, port=port)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._chunk_size = max(1, chunk_size)

    def scan(self, data: bytes) -> ScanVerdict:
        try:
            reply = self._instream(data)
        except _ScanTrouble as exc:
            return _unscannable(str(exc))
        return parse_reply(reply)

    def ping(self) -> bool:
        """True when clamd answers PONG within the timeouts."""
        try:
            with self._connect() as sock:
                sock.sendall(b"zPING\0")
                return self._read_reply(sock, time.monotonic() + self._read_timeout) == "PONG"
        except _ScanTrouble:
            return False

    def _instream(self, data: bytes) -> str:
        deadline = time.monotonic() + self._read_timeout
        with self._connect() as sock:
            try:
                sock.settimeout(self._remaining(deadline))
                sock.sendall(b"zINSTREAM\0")
                view = memoryview(data)
                for start in range(0, len(view), self._chunk_size):
                    chunk = view[start : start + self._chunk_size]
                    sock.settimeout(self._remaining(deadline))
                    sock.sendall(struct.pack(">I", len(chunk)))
                    sock.sendall(chunk)
                sock.settimeout(self._remaining(deadline))
                sock.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError) as exc:
                # clamd closes early when the stream passes StreamMaxLength; its answer may still be there.
                try:
                    return self._read_reply(sock, time.monotonic() + min(1.0, self._read_timeout))
                except _ScanTrouble:
                    raise _ScanTrouble(f"clamd closed the connection while receiving ({exc})") from exc
            except TimeoutError as exc:
                raise _ScanTrouble(f"clamd did not accept the data within {self._read_timeout:g} s") from exc
            except OSError as exc:
                raise _ScanTrouble(f"sending to clamd failed ({exc})") from exc
            return self._read_reply(sock, deadline)

    def _connect(self) -> socket.socket:
        addr = self.address
        try:
            if addr.socket_path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self._connect_timeout)
                try:
                    sock.connect(addr.socket_path)
                except BaseException:
                    sock.close()
                    raise
                return sock
            return socket.create_connection((addr.host, addr.port), timeout=self._connect_timeout)
        except TimeoutError as exc:
            raise _ScanTrouble(f"connecting to clamd at {addr.describe()} timed out") from exc
        except OSError as exc:
            raise _ScanTrouble(f"clamd is not reachable at {addr.describe()} ({exc})") from exc

    def _read_reply(self, sock: socket.socket, deadline: float) -> str:
        buf = bytearray()
        try:
            while b"\0" not in buf and len(buf) < _MAX_REPLY:
                sock.settimeout(self._remaining(deadline))
                part = sock.recv(_MAX_REPLY)
                if not part:
                    break
                buf += part
        except TimeoutError as exc:
            raise _ScanTrouble(f"clamd did not answer within {self._read_timeout:g} s") from exc
        except OSError as exc:
            raise _ScanTrouble(f"reading clamd's answer failed ({exc})") from exc
        if not buf:
            raise _ScanTrouble("clamd closed the connection without an answer")
        return bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace").strip()

    def _remaining(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


def parse_reply(reply: str) -> ScanVerdict:
    """Turn clamd's answer to INSTREAM into a verdict; anything unexpected is UNSCANNABLE."""
    if reply.endswith("ERROR"):
        reason = reply.removesuffix("ERROR").strip().rstrip(".")
        return _unscannable(f"clamd refused the file: {reason or 'error'}")
    if not reply.startswith("stream: "):
        return _unscannable(f"unexpected answer from clamd: {reply[:120]!r}")
    body = reply.removeprefix("stream: ").strip()
    if body == "OK":
        return ScanVerdict(ScanStatus.CLEAN)
    if body.endswith(" FOUND"):
        signature = body.removesuffix(" FOUND").strip()
        if signature:
            return ScanVerdict(ScanStatus.INFECTED, signature=signature)
    return _unscannable(f"unexpected answer from clamd: {reply[:120]!r}")


def _unscannable(detail: str) -> ScanVerdict:
    return ScanVerdict(ScanStatus.UNSCANNABLE, detail=f"{UNSCANNABLE_PREFIX}: {detail}")
