"""The offline demo: the real app on embedded defaults, driven exactly as Slack would drive it.

SQLite under ``var/demo/``, a local SMTP server writing every message to ``var/demo/maildir``, a local clamd
with a signature database made on the spot, sample data imported through the real importer, a stand-in Slack
Web API, and a scripted session of signed requests over HTTP. Each Slack screen is printed as text with a link
that opens it in Block Kit Builder; at the end, the e-mails as received.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.demo.script import Script
from bot.devtools.harness import full_app
from bot.devtools.maildir_smtp import MaildirSmtpServer
from bot.settings import Settings
from outreach.adapters.clamd_local import ClamdUnavailable, demo_signatures, start_local_clamd

ROOT = Path("var") / "demo"


def run_demo(settings: Settings, root: Path = ROOT, out: Any = None) -> int:
    out = out or sys.stdout
    logging.getLogger().setLevel(logging.WARNING)  # the demo's own screens are the output
    for noisy in ("mail.log", "alembic", "slack_bolt"):  # per-command SMTP log, migrations, Bolt's notes
        logging.getLogger(noisy).setLevel(logging.ERROR)
    started = time.monotonic()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    print(
        "Prospect Outreach — offline demo (no Slack tokens set: Slack is stood in on this machine)", file=out
    )
    print(f"Everything it writes is under {root}/ (database, maildir, clamd).\n", file=out)
    clamd = None
    clamd_socket = settings.clamd_socket
    if not clamd_socket and not settings.clamd_host:
        try:
            # clamd refuses a stream longer than StreamMaxLength: let it take the largest file the app takes.
            clamd = start_local_clamd(
                root / "clamd", demo_signatures(), stream_max_bytes=settings.max_file_bytes + 1024
            )
        except ClamdUnavailable as exc:
            print(f"error: clamd could not start ({exc}); install Debian's clamav-daemon", file=out)
            return 2
        clamd_socket = clamd.socket_path
    smtp = MaildirSmtpServer(root / "maildir").start()
    base = replace(
        settings,
        database_url=f"sqlite:///{root / 'demo.db'}",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_username="",
        smtp_password="",
        mail_from="Prospect Outreach <outreach@brand.example.com>",
        clamd_socket=clamd_socket,
        send_rate_per_second=0,
    )
    try:
        with full_app(base) as app:
            Script(app, smtp, out).play()
    finally:
        smtp.stop()
        if clamd is not None:
            clamd.stop()
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f} s. The e-mails are in {root / 'maildir'}.",
        file=out,
    )
    return 0


__all__ = ["run_demo"]
