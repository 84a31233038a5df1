"""Start a private clamd for tests, benchmarks and the offline demo.

``start_local_clamd(workdir, signatures)`` writes a clamd.conf and a signature database (``local.ndb``)
into ``workdir``, runs Debian's ``/usr/sbin/clamd`` in the foreground as a child process listening on a
unix socket in ``workdir`` and on a free 127.0.0.1 TCP port, and waits until it answers PING. It loads
only the signatures given here (no freshclam download), so it starts in about a second.

The EICAR test string is assembled from pieces at run time (:func:`eicar_test_bytes`) so that no file in
this repository is itself a test virus.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from outreach.adapters.clamd import ClamdScanner

DEFAULT_BINARY = "/usr/sbin/clamd"
# A marker string with its own signature, to check that the verdict names the right signature.
TEST_MARKER = b"OUTREACH-TEST-MARKER-" + b"7f3a9c"


class ClamdUnavailable(RuntimeError):
    """The clamd binary is missing or it did not come up."""


@dataclass(frozen=True, slots=True)
class Signature:
    """A body signature: ``pattern`` anywhere in a file of any type is reported as ``name``."""

    name: str
    pattern: bytes

    def ndb_line(self) -> str:
        if not self.name or any(c in self.name for c in ": \n"):
            raise ValueError(f"bad signature name {self.name!r}")
        return f"{self.name}:0:*:{self.pattern.hex()}"


def eicar_test_bytes() -> bytes:
    """The 68-byte EICAR anti-virus test string, assembled so that no source file contains it."""
    head = "X5O!P%@AP[4" + "\\" + "PZX54(P^)7CC)7}$"
    tail = "-".join(["EICAR", "STANDARD", "ANTIVIRUS", "TEST", "FILE"]) + "!$H+H*"
    return (head + tail).encode("ascii")


def demo_signatures() -> list[Signature]:
    """EICAR plus a harmless marker: enough to show an infected verdict in tests and the demo."""
    return [
        Signature("Outreach.Test.EICAR", eicar_test_bytes()),
        Signature("Outreach.Test.Marker", TEST_MARKER),
    ]


@dataclass
class LocalClamd:
    """A running private clamd. Stop it with :meth:`stop` or use it as a context manager."""

    workdir: Path
    socket_path: str
    host: str
    port: int
    stream_max_bytes: int
    process: subprocess.Popen[bytes] = field(repr=False)

    def scanner(self, *, tcp: bool = False, read_timeout: float = 30.0) -> ClamdScanner:
        if tcp:
            return ClamdScanner(host=self.host, port=self.port, read_timeout=read_timeout)
        return ClamdScanner(socket_path=self.socket_path, read_timeout=read_timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LocalClamd:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def clamd_binary(binary: str | None = None) -> str | None:
    """The clamd executable to use, or None when it is not installed."""
    candidate = binary or DEFAULT_BINARY
    if Path(candidate).is_file():
        return candidate
    return shutil.which("clamd")


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_local_clamd(
    workdir: Path,
    signatures: Sequence[Signature],
    *,
    stream_max_bytes: int = 2 * 1024 * 1024,
    startup_timeout: float = 60.0,
    binary: str | None = None,
) -> LocalClamd:
    """Start clamd with only ``signatures`` loaded; return once it answers PING."""
    exe = clamd_binary(binary)
    if exe is None:
        raise ClamdUnavailable("clamd is not installed (apt-get install clamav-daemon)")
    if not signatures:
        raise ValueError("clamd needs at least one signature to start")
    workdir = workdir.resolve()
    db_dir = workdir / "db"
    tmp_dir = workdir / "tmp"
    db_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(exist_ok=True)
    (db_dir / "local.ndb").write_text("".join(s.ndb_line() + "\n" for s in signatures), encoding="ascii")
    socket_path = str(workdir / "clamd.sock")
    if len(socket_path.encode()) > 100:
        raise ValueError(f"{workdir} is too long a path for a unix socket; use a shorter work directory")
    port = free_tcp_port()
    conf = workdir / "clamd.conf"
    conf.write_text(
        "\n".join(
            [
                "Foreground yes",
                f"LocalSocket {socket_path}",
                "TCPAddr 127.0.0.1",
                f"TCPSocket {port}",
                f"DatabaseDirectory {db_dir}",
                f"TemporaryDirectory {tmp_dir}",
                f"StreamMaxLength {stream_max_bytes}",
                "LogSyslog no",
                "Bytecode no",
                "SelfCheck 0",
                "",
            ]
        ),
        encoding="ascii",
    )
    log = (workdir / "clamd.log").open("wb")
    try:
        process = subprocess.Popen(  # noqa: S603 - fixed binary and our own config file
            [exe, "--config-file", str(conf)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    finally:
        log.close()
    handle = LocalClamd(workdir, socket_path, "127.0.0.1", port, stream_max_bytes, process)
    _wait_until_ready(handle, startup_timeout)
    return handle


def _wait_until_ready(handle: LocalClamd, timeout: float) -> None:
    probe = ClamdScanner(socket_path=handle.socket_path, connect_timeout=1.0, read_timeout=2.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            break
        if Path(handle.socket_path).exists() and probe.ping():
            return
        time.sleep(0.05)
    handle.stop()
    log = (handle.workdir / "clamd.log").read_text(errors="replace")[-2000:]
    raise ClamdUnavailable(f"clamd did not answer PING within {timeout:g} s; its log ends:\n{log}")
