"""Side by side: the same e-mails sent by mailmerge, a bare EmailMessage loop, SMTP alone, and our pipeline.

10,000 recipients (``--recipients N``), the same subject, text and HTML bodies (our layout), the same one-click
unsubscribe headers and footer link, once without and once with a 50 KB PDF attachment, each to one SMTP
sink (aiosmtpd on 127.0.0.1, a process of its own, counting only):

a. mailmerge (its CLI, ``python -m mailmerge --no-dry-run --no-limit``) with an equivalent Jinja template and a
   database CSV; it opens a new connection for every message, as it does. Its interpreter start-up (timed
   alone with ``--version``) is taken off its time.
b. a bare loop: per recipient ``str.format`` of the same templates, a standard-library ``EmailMessage`` built
   and sent with ``send_message`` on one reused smtplib connection;
c. SMTP alone: the messages our pipeline builds (with the attachment in the second run), built before the
   clock starts, sent on one reused connection with smtplib's ``sendmail`` (the wire's limit here for one
   connection: no sender that builds its messages on one connection can reach it);
d. our pipeline: the plan stored by the real use cases (start, attach, save, submit; timed apart), then one
   DeliveryWorker (as bot.wiring builds it, with unsubscribe links; no throttle) until the send is closed:
   claim, render, build, send, record each result.

The templates of (a) and (b) are our own renderer's output for a recipient whose fields are markers, the
markers then turned into template fields; the script checks that they render exactly what ours renders. Then a
sample of every sender's messages is kept by the sink and parsed back with the standard library's parser:
subject, To, text and HTML bodies, unsubscribe headers, attachment name and SHA-256 must be those expected, no
parser defects, no line over 998 octets. A mismatch fails the run.

Prints ``name value unit [target]`` lines; targets (issue 14): pipeline ≥ 3× mailmerge, ≥ 1.2× the bare
loop, ≥ 0.6× SMTP alone, with and without the attachment. mailmerge is the bench extra of pyproject.toml
(``pip install -e '.[bench]'``); without it (a) is skipped and the run fails.

    .venv/bin/python bench/peers.py [--recipients 10000] [--postgres URL] [--latency-ms 0]
        [--profile DIR] [--mailmerge-path DIR] [--only plain|attach]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import dataclasses
import hashlib
import importlib.util
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path

# This checkout's code (not that of the checkout the shared venv was installed from), and bench's helpers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sendkit import (
    BODY,
    MAIL_FROM,
    SUBJECT,
    TEAM,
    TRACKING,
    ProgressCounter,
    SinkServer,
    partner,
    partners,
    pipeline,
    plan,
    seed,
)
from list_db import _postgres_database

from bot.devtools.samples import pdf
from bot.settings import Settings
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.delivery.batch import UNSUBSCRIBE_FOOTER
from outreach.layouts import Layouts
from outreach.mailmsg import mail_from_address
from outreach.models import Ad, AdType, Attachment, Channel, Draft, OutgoingEmail, Partner
from outreach.rendering import email_for, prepare
from outreach.unsubscribe import UnsubscribeLinks

SENDER_NAME, REPLY_TO = "Ann Lee", "ann@brand.example"
DOMAIN = "brand.example"
ATTACHMENT = "offer.pdf"
UNSUBSCRIBE = UnsubscribeLinks(b"peers bench signing key, 32 bytes!", "https://outreach.brand.example")
TARGETS = {"mailmerge": ">=3", "bare": ">=1.2", "wire": ">=0.6"}
# Template fields of the peers' templates, and the markers our renderer is given in their place.
FIELDS = {
    "mpid": "QQMPIDQQ",
    "mpname": "QQMPNAMEQQ",
    "first_name": "QQFIRSTQQ",
    "last_name": "QQLASTQQ",
    "email": "qqemailqq@marker.example",
    "unsub": "QQUNSUBQQ",
}
ALT, MIXED = "=-peers-alternative-=", "=-peers-mixed-="  # mailmerge template boundaries
MAX_LINE = 998  # octets per line, CRLF aside (RFC 5322 2.1.1)


@dataclass(frozen=True)
class Templates:
    """What every recipient's message is made of, as templates (``str.format`` and Jinja forms)."""

    subject: str
    text: str
    html: str

    def fill(self, row: dict[str, str]) -> tuple[str, str, str]:
        return self.subject.format(**row), self.text.format(**row), self.html.format(**row)


# -- what everyone sends ---------------------------------------------------------------------------------
def the_draft() -> Draft:
    return Draft(
        TEAM,
        "U",
        Channel.EMAIL,
        sender_name=SENDER_NAME,
        reply_to=REPLY_TO,
        subject=SUBJECT,
        content=BODY,
        id=1,
    )


def ours(p: Partner, layouts: Layouts, now: datetime) -> OutgoingEmail:
    """The e-mail our pipeline makes for ``p`` (its unsubscribe headers and footer as the worker adds them)."""
    ad = Ad(TEAM, "42", "Spring collection", AdType.TEXT_LINK, "https://shop.example.com/spring")
    prepared = prepare(the_draft(), {"42": ad}, TRACKING, now)
    return email_for(
        prepared,
        p,
        layouts,
        UNSUBSCRIBE.headers(TEAM, p.email),
        UNSUBSCRIBE_FOOTER + UNSUBSCRIBE.url(TEAM, p.email),
    )


def row(p: Partner) -> dict[str, str]:
    """A recipient's template fields (mailmerge's database columns): the unsubscribe link computed beforehand,
    the peers do not sign anything."""
    return {
        "mpid": p.mpid,
        "mpname": p.name,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "email": p.email,
        "unsub": UNSUBSCRIBE.url(TEAM, p.email),
    }


def templates(layouts: Layouts, now: datetime) -> Templates:
    """Our renderer's output for a recipient made of markers, the markers turned into ``{field}``s."""
    marker = Partner(
        TEAM,
        FIELDS["mpid"],
        FIELDS["mpname"],
        FIELDS["first_name"],
        FIELDS["last_name"],
        FIELDS["email"],
    )
    email = ours(marker, layouts, now)
    footer_url = UNSUBSCRIBE.url(TEAM, marker.email)

    def template(rendered: str) -> str:
        out = rendered.replace(footer_url, FIELDS["unsub"]).replace("{", "{{").replace("}", "}}")
        for name, value in FIELDS.items():
            out = out.replace(value, "{" + name + "}")
        return out

    return Templates(template(email.subject), template(email.text), template(email.html))


def check_templates(t: Templates, layouts: Layouts, now: datetime, sample: Sequence[Partner]) -> None:
    for p in sample:
        expected = ours(p, layouts, now)
        assert t.fill(row(p)) == (expected.subject, expected.text, expected.html), p


# -- (a) mailmerge ----------------------------------------------------------------------------------------
def jinja(template: str) -> str:
    """A ``str.format`` template as a Jinja one (the texts hold no Jinja syntax of their own: checked)."""
    plain = template
    for name in FIELDS:
        plain = plain.replace("{" + name + "}", "")
    plain = plain.replace("{{", "{").replace("}}", "}")
    assert not any(s in plain for s in ("{{", "{%", "{#")), "the texts hold Jinja syntax"
    out = template.replace("{{", "\x00").replace("}}", "\x01")
    for name in FIELDS:
        out = out.replace("{" + name + "}", "{{" + name + "}}")
    return out.replace("\x00", "{").replace("\x01", "}")


def mailmerge_template(t: Templates, attachment: Path | None) -> str:
    """mailmerge's MIME template: text and HTML as multipart/alternative, in multipart/mixed with the
    attachment (its ``ATTACHMENT:`` header), as its documentation shows."""
    headers = [
        "TO: {{email}}",
        f'FROM: "{SENDER_NAME}" <{mail_from_address(MAIL_FROM)}>',
        f"REPLY-TO: {REPLY_TO}",
        f"SUBJECT: {jinja(t.subject)}",
        "Message-ID: <peers.{{mpid}}@" + DOMAIN + ">",
        "List-Unsubscribe: <{{unsub}}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "MIME-Version: 1.0",
    ]
    alternative = "\n".join(
        [
            f"--{ALT}",
            "Content-Type: text/plain; charset=utf-8",
            "",
            jinja(t.text),
            f"--{ALT}",
            "Content-Type: text/html; charset=utf-8",
            "",
            jinja(t.html).rstrip("\n"),
            f"--{ALT}--",
        ]
    )
    if attachment is None:
        headers.append(f'Content-Type: multipart/alternative; boundary="{ALT}"')
        return "\n".join([*headers, "", alternative, ""])
    headers += [f'Content-Type: multipart/mixed; boundary="{MIXED}"', f"ATTACHMENT: {attachment}"]
    body = [f"--{MIXED}", f'Content-Type: multipart/alternative; boundary="{ALT}"', "", alternative]
    return "\n".join([*headers, "", *body, f"--{MIXED}--", ""])


def mailmerge_command(path: str | None) -> list[str]:
    """mailmerge's CLI as its console script runs it (``mailmerge.__main__:main``; ``python -m mailmerge`` would
    call ``main`` before the module has defined what it uses), from ``path`` when given."""
    where = f"sys.path.insert(0, {path!r}); " if path else ""
    return [sys.executable, "-c", f"import sys; {where}from mailmerge.__main__ import main; sys.exit(main())"]


def mailmerge_run(
    command: list[str], workdir: Path, t: Templates, host: str, port: int, n: int, pdf_: bytes | None
) -> float:
    """Seconds mailmerge's CLI takes to send every message (its start-up included)."""
    attachment = None
    if pdf_ is not None:
        attachment = workdir / ATTACHMENT
        attachment.write_bytes(pdf_)
    (workdir / "template.txt").write_text(mailmerge_template(t, attachment), encoding="utf-8")
    with (workdir / "database.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(FIELDS))
        writer.writeheader()
        writer.writerows(row(p) for p in partners(n))
    (workdir / "server.conf").write_text(f"[smtp_server]\nhost = {host}\nport = {port}\n", encoding="utf-8")
    args = ["--no-dry-run", "--no-limit", "--output-format", "raw"]
    args += ["--template", "template.txt", "--database", "database.csv", "--config", "server.conf"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, *args], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mailmerge failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def startup_seconds(command: list[str]) -> float:
    """mailmerge's interpreter start-up and imports, alone (the best of three)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([*command, "--version"], stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - started)
    return best


# -- (b) a bare EmailMessage loop, (c) SMTP alone -------------------------------------------------------------
def bare_loop(
    host: str, port: int, t: Templates, rows: Sequence[dict[str, str]], pdf_: bytes | None
) -> float:
    """Seconds to render (str.format), build (EmailMessage) and send every message on one connection."""
    sender = Address(display_name=SENDER_NAME, addr_spec=mail_from_address(MAIL_FROM))
    started = time.perf_counter()
    smtp = smtplib.SMTP(host, port, timeout=30)
    smtp.ehlo()
    for r in rows:
        subject, text, html = t.fill(r)
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = sender
        msg["To"] = r["email"]
        msg["Reply-To"] = REPLY_TO
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=DOMAIN)
        msg["List-Unsubscribe"] = f"<{r['unsub']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        if pdf_ is not None:
            msg.add_attachment(pdf_, maintype="application", subtype="pdf", filename=ATTACHMENT)
        smtp.send_message(msg)
    smtp.quit()
    return time.perf_counter() - started


def wire_loop(host: str, port: int, messages: Sequence[tuple[str, bytes]]) -> float:
    """Seconds to send bytes built beforehand on one connection: the SMTP transactions alone."""
    sender = mail_from_address(MAIL_FROM)
    started = time.perf_counter()
    smtp = smtplib.SMTP(host, port, timeout=30)
    smtp.ehlo()
    for to, data in messages:
        smtp.sendmail(sender, [to], data)
    smtp.quit()
    return time.perf_counter() - started


# -- checking what was sent -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe: str
    attachment: str  # SHA-256 of the attachment's bytes, "" for none


def _body(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


def problems_of(raw: bytes, want: Expected) -> list[str]:
    """What is wrong with one message as sent (empty: valid and equivalent)."""
    found: list[str] = []
    long_lines = sum(1 for line in raw.split(b"\r\n") if len(line) > MAX_LINE)
    if long_lines:
        found.append(f"{long_lines} lines over {MAX_LINE} octets")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    defects = [d for part in msg.walk() for d in part.defects]
    if defects:
        found.append(f"parser defects {defects}")
    if not (msg["Message-ID"] and msg["Date"]):
        found.append("no Message-ID or Date")
    if msg["From"].addresses[0].addr_spec != mail_from_address(MAIL_FROM):
        found.append(f"From {msg['From']}")
    if [a.addr_spec for a in msg["To"].addresses] != [want.to]:
        found.append(f"To {msg['To']}")
    if str(msg["Subject"]) != want.subject:
        found.append(f"subject {str(msg['Subject'])!r} != {want.subject!r}")
    if str(msg["List-Unsubscribe"]) != want.unsubscribe:
        found.append("List-Unsubscribe differs")
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    if text is None or _body(text.get_content()) != _body(want.text):
        found.append("text body differs")
    if html is None or _body(html.get_content()) != _body(want.html):
        found.append("HTML body differs")
    attached = [
        (a.get_filename(), hashlib.sha256(a.get_content()).hexdigest()) for a in msg.iter_attachments()
    ]
    if attached != ([(ATTACHMENT, want.attachment)] if want.attachment else []):
        found.append(f"attachments {attached}")
    return found


def collect(keep_dir: Path) -> Iterator[tuple[str, bytes]]:
    """The messages the sink kept since the last call (recipient, bytes), removed as read."""
    for path in sorted(keep_dir.glob("*.eml")):
        yield path.stem.split("-", 1)[1], path.read_bytes()
        path.unlink()


def verify(label: str, keep_dir: Path, expected: dict[str, Expected]) -> int:
    kept = list(collect(keep_dir))
    if sorted(to for to, _ in kept) != sorted(expected):
        raise SystemExit(
            f"{label}: the sink kept {sorted(to for to, _ in kept)}, expected {sorted(expected)}"
        )
    for to, raw in kept:
        found = problems_of(raw, expected[to])
        if found:
            raise SystemExit(f"{label}: the message to {to} is not what it should be: {'; '.join(found)}")
    return len(kept)


# -- one run ----------------------------------------------------------------------------------------------------
@dataclass
class Rates:
    mailmerge: float | None
    bare: float
    wire: float
    pipeline: float
    store_plan: float
    checked: int


def run(
    label: str,
    args: argparse.Namespace,
    url: str,
    pdf_: bytes | None,
    mailmerge: list[str] | None,
    workdir: Path,
) -> Rates:
    n = args.recipients
    layouts, now = Layouts(), datetime.now(UTC)
    sample = [partner(i) for i in sorted({0, 5, 37, 1234 % n, n // 2, n - 1})]
    digest = hashlib.sha256(pdf_).hexdigest() if pdf_ is not None else ""
    expected = {}
    for p in sample:
        e = ours(p, layouts, now)
        expected[p.email] = Expected(
            p.email, e.subject, e.text, e.html, dict(e.headers)["List-Unsubscribe"], digest
        )
    t = templates(layouts, now)
    check_templates(t, layouts, now, sample)
    keep_dir = workdir / f"kept-{label}"
    keep_dir.mkdir()
    checked = 0
    with SinkServer(args.latency_ms, frozenset(expected), str(keep_dir)) as sink:
        # (d) our pipeline: the plan stored, then one worker until the send is closed.
        p = pipeline(url, sink.host, sink.port, MagicSniffer())
        seed(p, n)
        started = time.perf_counter()
        draft_id = plan(p, [x.mpid for x in partners(n)], [(ATTACHMENT, pdf_)] if pdf_ is not None else ())
        store_plan = time.perf_counter() - started
        progress = ProgressCounter()
        worker = p.worker(progress, unsubscribe=UNSUBSCRIBE, connections=args.connections)
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        handled = worker.run_until_idle(draft_id)
        if profiler:
            profiler.disable()
        pipeline_s = time.perf_counter() - started
        if profiler:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(Path(args.profile) / f"pipeline_{label}.prof"))
        assert handled == n and sink.wait_for(n), (handled, sink.count)
        assert progress.last is not None and progress.last.finished and progress.last.counts_sent == n
        checked += verify(f"pipeline ({label})", keep_dir, expected)

        # (c) SMTP alone: our messages (with the attachment, as the pipeline sends them), built before the clock
        # starts.
        files = (Attachment(ATTACHMENT, "application/pdf", digest, pdf_),) if pdf_ is not None else ()
        with p.mailer.open() as session:
            prebuilt = [
                (x.email, session.build(dataclasses.replace(ours(x, layouts, now), attachments=files)).data)
                for x in partners(n)
            ]
        before = sink.count
        wire_s = wire_loop(sink.host, sink.port, prebuilt)
        del prebuilt
        assert sink.wait_for(before + n), sink.count
        checked += verify(f"SMTP alone ({label})", keep_dir, expected)

        # (b) a bare EmailMessage loop.
        rows = [row(x) for x in partners(n)]
        before = sink.count
        bare_s = bare_loop(sink.host, sink.port, t, rows, pdf_)
        assert sink.wait_for(before + n), sink.count
        checked += verify(f"bare loop ({label})", keep_dir, expected)

        # (a) mailmerge's CLI.
        mailmerge_s = None
        if mailmerge is not None:
            before = sink.count
            mm_dir = workdir / f"mailmerge-{label}"
            mm_dir.mkdir()
            mailmerge_s = mailmerge_run(mailmerge, mm_dir, t, sink.host, sink.port, n, pdf_)
            mailmerge_s -= args.mailmerge_startup
            assert sink.wait_for(before + n), sink.count
            checked += verify(f"mailmerge ({label})", keep_dir, expected)
    return Rates(
        n / mailmerge_s if mailmerge_s else None, n / bare_s, n / wire_s, n / pipeline_s, store_plan, checked
    )


def report(suffix: str, n: int, r: Rates) -> None:
    print(f"peers_store_plan_{n}{suffix} {r.store_plan:.2f} s", flush=True)
    if r.mailmerge is not None:
        print(f"peers_mailmerge_rate_{n}{suffix} {r.mailmerge:.0f} messages/s")
    print(f"peers_bare_rate_{n}{suffix} {r.bare:.0f} messages/s")
    print(f"peers_wire_rate_{n}{suffix} {r.wire:.0f} messages/s")
    print(f"peers_pipeline_rate_{n}{suffix} {r.pipeline:.0f} messages/s")
    print(f"peers_pipeline_cost{suffix} {1e6 / r.pipeline:.0f} µs/message")
    if r.mailmerge is not None:
        print(
            f"peers_ratio_mailmerge{suffix} {r.pipeline / r.mailmerge:.2f} pipeline/mailmerge {TARGETS['mailmerge']}"
        )
    print(f"peers_ratio_bare{suffix} {r.pipeline / r.bare:.2f} pipeline/bare {TARGETS['bare']}")
    print(f"peers_ratio_wire{suffix} {r.pipeline / r.wire:.2f} pipeline/wire {TARGETS['wire']}")
    print(f"peers_checked{suffix} {r.checked} messages", flush=True)


def table(results: dict[str, Rates]) -> None:
    """The side-by-side table, for people (stderr; the figures above are the machine-readable ones)."""
    print("\nmessages/s        " + "".join(f"{label:>12}" for label in results), file=sys.stderr)
    for name in ("mailmerge", "bare", "wire", "pipeline"):
        cells = [getattr(r, name) for r in results.values()]
        print(f"{name:<18}" + "".join(f"{c:>12.0f}" if c else f"{'-':>12}" for c in cells), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument(
        "--postgres", help="run the pipeline on a new database at this server (default SQLite)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="the sink answers each command this late"
    )
    parser.add_argument(
        "--connections", type=int, help="the pipeline's SMTP connections (default: SMTP_CONNECTIONS' default)"
    )
    parser.add_argument("--profile", help="write a cProfile of each pipeline send to this folder")
    parser.add_argument("--mailmerge-path", help="a folder mailmerge is installed in (pip install --target)")
    parser.add_argument("--only", choices=("plain", "attach"), help="one of the two runs")
    args = parser.parse_args()
    mailmerge: list[str] | None = None
    if args.mailmerge_path or importlib.util.find_spec("mailmerge") is not None:
        mailmerge = mailmerge_command(args.mailmerge_path)
        args.mailmerge_startup = startup_seconds(mailmerge)
        print(f"peers_mailmerge_startup {args.mailmerge_startup:.2f} s", flush=True)
    else:
        print(
            "mailmerge is not installed (pip install -e '.[bench]'): its column is skipped", file=sys.stderr
        )
    if args.connections is None:
        args.connections = Settings().smtp_connections
    print(f"peers_pipeline_connections {args.connections} connections", flush=True)
    document = pdf(b"Spring collection, partner terms", filler=50 * 1024)
    results: dict[str, Rates] = {}
    for label, attachment in (("plain", None), ("attach", document)):
        if args.only and args.only != label:
            continue
        with tempfile.TemporaryDirectory(prefix=f"peers-{label}-") as tmp:
            cleanup: Callable[[], None] = lambda: None  # noqa: E731
            if args.postgres:
                made = _postgres_database(args.postgres)
                if made is None:
                    return 1
                url, cleanup = made
            else:
                url = f"sqlite:///{Path(tmp) / 'peers.db'}"
            try:
                results[label] = run(label, args, url, attachment, mailmerge, Path(tmp))
            finally:
                cleanup()
        report("" if label == "plain" else "_attach", args.recipients, results[label])
    table(results)
    return 0 if mailmerge is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
