"""A private Dovecot IMAP server for the tests and benchmarks (Debian's ``dovecot-imapd``).

``start_local_dovecot(workdir)`` writes a configuration of its own into ``workdir`` — users and passwords in a
passwd-file, every user's mail in a Maildir under ``workdir/home/<user>``, a self-signed certificate made with
the ``openssl`` CLI, IMAPS and IMAP (with STARTTLS; no login in clear text) on free 127.0.0.1 ports — runs
``/usr/sbin/dovecot -F`` as a child process and returns once it accepts connections. Nothing of the system's
Dovecot is used or touched. Run as root, mail is kept by Dovecot's own ``dovecot`` user (Dovecot refuses mail
access as root); otherwise everything runs as the current user.

:meth:`LocalDovecot.add_user` and :meth:`~LocalDovecot.set_password` rewrite the passwd-file, which Dovecot reads
again when its modification time changes (no auth cache is configured): a password changed here is refused at
the next login. :meth:`~LocalDovecot.append` puts a real message into a user's INBOX with IMAP APPEND.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType

DEFAULT_BINARY = "/usr/sbin/dovecot"
HOST = "127.0.0.1"


class DovecotUnavailable(RuntimeError):
    """Dovecot (or the openssl CLI) is missing, or it did not come up."""


def dovecot_binary() -> str | None:
    if Path(DEFAULT_BINARY).is_file():
        return DEFAULT_BINARY
    return shutil.which("dovecot")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalDovecot:
    workdir: Path
    imaps_port: int
    imap_port: int  # STARTTLS
    cert: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    mail_user: str = ""
    host: str = HOST
    _passwords: dict[str, str] = field(default_factory=dict, repr=False)
    _stamp: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client_context(self) -> ssl.SSLContext:
        """Trusts this server's certificate (for 127.0.0.1), like a real client would trust a real one."""
        return ssl.create_default_context(cafile=str(self.cert))

    def add_user(self, name: str, password: str) -> None:
        """A user more (or a new password); returns once Dovecot takes it: it looks at its passwd-file at most
        once a second. Users made at start (``start_local_dovecot(users=…)``) need no wait."""
        with self._lock:
            self._passwords[name] = password
            self._write_passwords()
        time.sleep(1.1)

    def set_password(self, name: str, password: str) -> None:
        self.add_user(name, password)

    def maildir(self, name: str) -> Path:
        return self.workdir / "home" / name / "Maildir"

    def append(self, name: str, raw: bytes, when: datetime | None = None) -> None:
        """IMAP APPEND of ``raw`` to the user's INBOX (``when``: its internal date)."""
        from imapclient import IMAPClient

        client = IMAPClient(
            self.host, port=self.imaps_port, ssl=True, ssl_context=self.client_context(), timeout=30
        )
        try:
            client.login(name, self._passwords[name])
            client.append("INBOX", raw, msg_time=when)
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        path = self.workdir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> LocalDovecot:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _write_passwords(self) -> None:
        self._stamp = _write_passwd(self.workdir, self._passwords, self._stamp, self.mail_user)


def _write_passwd(workdir: Path, passwords: dict[str, str], stamp: float, mail_user: str) -> float:
    """The passwd-file, with a modification time later than ``stamp`` (returned): Dovecot notices a changed file
    by its time, in whole seconds. Each user's home is made (owned by ``mail_user`` when given)."""
    path = workdir / "passwd"
    path.write_text("".join(f"{user}:{{PLAIN}}{password}\n" for user, password in sorted(passwords.items())))
    stamp = max(stamp + 1, time.time())
    os.utime(path, (stamp, stamp))
    for user in passwords:
        home = workdir / "home" / user
        home.mkdir(parents=True, exist_ok=True)
        if mail_user:
            shutil.chown(home, mail_user, mail_user)
    return stamp


def _certificate(directory: Path) -> Path:
    if shutil.which("openssl") is None:
        raise DovecotUnavailable(
            "the openssl CLI is needed to make the test certificate (apt-get install openssl)"
        )
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603 (a fixed command line)
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
            ),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    key.chmod(0o600)
    return cert


def start_local_dovecot(
    workdir: Path,
    *,
    users: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
    binary: str | None = None,
) -> LocalDovecot:
    """Start it with these ``users`` ({name: password}); more can be added later."""
    exe = binary or dovecot_binary()
    if exe is None:
        raise DovecotUnavailable("dovecot is not installed (apt-get install dovecot-imapd)")
    workdir.chmod(0o755)  # Dovecot's own processes (as its users) read the passwd-file and the homes
    cert = _certificate(workdir)
    if os.geteuid() == 0:
        internal, login, mail_user = "dovecot", "dovenull", "dovecot"
        try:
            pwd.getpwnam(internal)
            pwd.getpwnam(login)
        except KeyError as exc:
            raise DovecotUnavailable(f"the dovecot package's users are missing: {exc}") from exc
        uid = gid = mail_user
    else:
        internal = login = pwd.getpwuid(os.geteuid()).pw_name
        mail_user = ""
        uid, gid = str(os.geteuid()), str(os.getegid())
    imaps_port, imap_port = _free_port(), _free_port()
    for folder in ("run", "state", "home"):
        (workdir / folder).mkdir(exist_ok=True)
    if mail_user:
        shutil.chown(workdir / "home", mail_user, mail_user)
    config = workdir / "dovecot.conf"
    config.write_text(
        f"""# A private Dovecot for tests and benchmarks: bot/devtools/dovecot.py
protocols = imap
listen = {HOST}
base_dir = {workdir}/run
state_dir = {workdir}/state
log_path = {workdir}/dovecot.log
info_log_path = {workdir}/dovecot.log
ssl = required
ssl_cert = <{cert}
ssl_key = <{workdir}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
last_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {workdir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={workdir}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
"""
    )
    passwords = dict(users or {})
    stamp = _write_passwd(workdir, passwords, 0.0, mail_user)
    with (workdir / "stdout.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(  # noqa: S603 (our own binary and configuration)
            [exe, "-F", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    handle = LocalDovecot(
        workdir, imaps_port, imap_port, cert, process, mail_user, _passwords=passwords, _stamp=stamp
    )
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DovecotUnavailable(f"dovecot exited with {process.returncode}: {_tail(workdir)}")
        try:
            with socket.create_connection((HOST, imaps_port), timeout=1):
                return handle
        except OSError:
            time.sleep(0.1)
    handle.stop()
    raise DovecotUnavailable(f"dovecot did not start within {startup_timeout:.0f} s: {_tail(workdir)}")


def _tail(workdir: Path) -> str:
    text = ""
    for name in ("stdout.log", "dovecot.log"):
        path = workdir / name
        if path.exists():
            text += path.read_text(errors="replace")
    return text[-2000:]
