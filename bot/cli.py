"""``prospects-bot``: the command line.

    prospects-bot run                       Socket Mode with Slack tokens set; the offline demo without them
    prospects-bot serve [--host H] [--port N] [--no-worker]     HTTP mode (POST /slack/events, GET /healthz)
    prospects-bot worker [--count N]        delivery workers as a process of their own
    prospects-bot demo                      the offline demo, whatever is configured
    prospects-bot digest --now              DM the digest of unsent drafts to every due author at once
    prospects-bot audit --team T [--since DATE]   every send of a workspace as CSV (who, to whom, when, what, result)
    prospects-bot workspaces                the workspaces installed from a link: who, when, sends in 30 days
    prospects-bot workspace purge --team T [--force]   delete every row of a workspace now
    prospects-bot secrets rotate            rewrite stored tokens and passwords under SECRET_KEY (after a change)
    prospects-bot db upgrade                                   bring the database to the newest schema
    prospects-bot import partners FILE --team TEAM_ID [--no-progress]
    prospects-bot import ads FILE --team TEAM_ID [--no-progress]

DATABASE_URL (see bot/settings.py) selects the database. Import exit codes: 0 every row went in, 1 some rows
were rejected (each is listed with its line number), 2 the file could not be read (or bad configuration).
Other commands (run, serve, worker, demo, digest) register themselves in ``COMMANDS`` below.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings, SettingsError
from outreach.errors import ImportFailed
from outreach.importing import ImportReport, import_ads, import_partners
from outreach.workspaces import WorkspaceService

EXIT_OK, EXIT_REJECTED, EXIT_UNREADABLE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prospects-bot", description="Prospect Outreach for Slack")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the bot (Socket Mode), or the offline demo without Slack tokens"
    )
    run.add_argument("--no-worker", action="store_true", help="do not send from this process")
    serve = commands.add_parser("serve", help="serve Slack over HTTP on a production server")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--no-worker", action="store_true", help="do not send from this process")
    worker = commands.add_parser("worker", help="run delivery workers")
    worker.add_argument("--count", type=int, default=1)
    commands.add_parser("demo", help="the offline demo")
    audit = commands.add_parser("audit", help="the audit trail of sends as CSV on standard output")
    audit.add_argument("--team", required=True, metavar="TEAM_ID")
    audit.add_argument("--since", type=_date, metavar="DATE", help="YYYY-MM-DD (UTC) or an ISO 8601 time")
    digest = commands.add_parser("digest", help="DM the digest of unsent drafts")
    digest.add_argument(
        "--now", action="store_true", required=True, help="to every due author at once, whatever the hour"
    )

    commands.add_parser("workspaces", help="the workspaces installed from a link, and their sends in 30 days")
    workspace = commands.add_parser("workspace", help="one workspace's data")
    workspace_commands = workspace.add_subparsers(dest="workspace_command", required=True, metavar="ACTION")
    purge = workspace_commands.add_parser("purge", help="delete every row of the workspace now")
    purge.add_argument("--team", required=True, metavar="TEAM_ID")
    purge.add_argument(
        "--force",
        action="store_true",
        help="even if it is still installed (its tokens go too: it stops working)",
    )
    secrets = commands.add_parser("secrets", help="stored secrets")
    secrets_commands = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    secrets_commands.add_parser(
        "rotate", help="rewrite tokens and passwords under SECRET_KEY (those under SECRET_KEY_PREVIOUS)"
    )

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply every pending migration")

    imp = commands.add_parser("import", help="import partners or ads from CSV or JSON Lines")
    imp.add_argument("what", choices=("partners", "ads"))
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--team", required=True, metavar="TEAM_ID", help="Slack workspace (team) id, like T0123")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar (also off when not a TTY)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREADABLE
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # start-up chatter, not news
    handler = COMMANDS[args.command]
    return handler(args, settings)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from storage.migrate import upgrade

    upgrade(settings.database_url)
    print("database is up to date")
    return EXIT_OK


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from storage.db import analyze, make_engine, make_session_factory
    from storage.migrate import upgrade
    from storage.unit_of_work import make_uow_factory

    path: Path = args.file
    if not path.is_file():
        print(f"error: cannot read {path}: no such file", file=sys.stderr)
        return EXIT_UNREADABLE
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    run = import_partners if args.what == "partners" else import_ads
    show = not args.no_progress and sys.stderr.isatty()
    try:
        bar = tqdm(total=_count_lines(path), unit=" lines", file=sys.stderr, disable=not show, delay=0.5)

        def advance(lines: int) -> None:
            bar.update(lines)

        with bar:
            report = run(path, args.team, make_uow_factory(make_session_factory(engine)), progress=advance)
        analyze(engine, "partners" if args.what == "partners" else "ads")  # fresh statistics for the planner
    except ImportFailed as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        engine.dispose()
    _print_report(args.what, report)
    return EXIT_OK if report.complete else EXIT_REJECTED


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines + 1


def _print_report(what: str, report: ImportReport) -> None:
    print(
        f"{what}: inserted {report.inserted}, updated {report.updated}, "
        f"unchanged {report.unchanged}, rejected {len(report.rejected)}"
    )
    for error in report.rejected:
        print(error)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot import runtime

    if not settings.slack_configured:
        return _demo(args, settings)
    if not settings.slack_app_token:
        print(
            "error: SLACK_APP_TOKEN (xapp-…) is needed for Socket Mode; or use `prospects-bot serve`",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    return runtime.socket_mode(settings, worker=not args.no_worker)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot import runtime

    return runtime.serve(settings, args.host, args.port, worker=not args.no_worker)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot import runtime

    return runtime.workers(settings, max(1, args.count))


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import run_demo

    return run_demo(settings)


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import workspace_clients
    from bot.digest import DigestJob
    from bot.wiring import build_services

    if not settings.slack_configured:
        print(
            "error: SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) must be set to DM the digest",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    services = build_services(settings)
    clients = workspace_clients(settings, services.installs)  # each workspace's own token
    job = DigestJob(services.digest, services.clock, clients, services.profiles, cron=settings.digest_cron)
    sent = job.run()
    print(f"digest sent to {sent} author(s)")
    return EXIT_OK


def _date(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2038-01-19") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    import csv

    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade
    from storage.unit_of_work import SqlUnitOfWork

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            records = uow.queue.send_log(args.team, args.since)
    finally:
        engine.dispose()
    out = csv.writer(sys.stdout)
    out.writerow(
        ["at", "author", "channel", "draft", "mpid", "email", "subject", "attachments", "result", "detail"]
    )
    for r in records:
        files = ";".join(f"{name}:{sha}" for name, sha in r.attachments)
        out.writerow(
            [
                r.at.isoformat(),
                r.author_id,
                r.channel,
                r.draft_id,
                r.mpid,
                r.email,
                r.subject,
                files,
                r.result,
                r.detail,
            ]
        )
    return EXIT_OK


def _workspace_service(settings: Settings) -> tuple[WorkspaceService, Callable[[], None]]:
    from datetime import timedelta

    from outreach.clock import SystemClock
    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade
    from storage.unit_of_work import make_uow_factory

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    uow = make_uow_factory(make_session_factory(engine))
    retention = timedelta(days=settings.retention_days_after_uninstall)
    return WorkspaceService(uow, SystemClock(), retention), engine.dispose


def _workspaces(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    service, close = _workspace_service(settings)
    try:
        reports = service.listing()
    finally:
        close()
    retention = timedelta(days=settings.retention_days_after_uninstall)
    rows = [["team", "name", "enterprise", "installed by", "installed at", "status", "sends (30 days)"]]
    for report in reports:
        w = report.workspace
        enterprise = (w.enterprise_name or w.enterprise_id) + (" (org-wide)" if w.org_install else "")
        status = "installed"
        if w.uninstalled_at is not None:
            purge_on = (w.uninstalled_at + retention).date().isoformat()
            status = f"uninstalled {w.uninstalled_at:%Y-%m-%d %H:%M}, data deleted on {purge_on}"
        when = f"{w.installed_at:%Y-%m-%d %H:%M} UTC"
        rows.append([w.team_id, w.name, enterprise, w.installed_by, when, status, str(report.sends_30_days)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if not reports:
        print("(no workspace has installed the app from its link)")
    return EXIT_OK


def _workspace(args: argparse.Namespace, settings: Settings) -> int:
    service, close = _workspace_service(settings)
    try:
        found = service.find(args.team)
        if found is not None and found.installed and not args.force:
            print(
                f"error: {args.team} is still installed; uninstall the app there first (its data is then deleted "
                f"after RETENTION_DAYS_AFTER_UNINSTALL), or purge it anyway with --force",
                file=sys.stderr,
            )
            return EXIT_REJECTED
        purged = service.purge(args.team)
    finally:
        close()
    print(f"{args.team}: every row deleted" if purged else f"{args.team}: nothing stored")
    return EXIT_OK


def _secrets(args: argparse.Namespace, settings: Settings) -> int:
    from bot.wiring import rotate_secrets

    if not settings.secret_key:
        print("error: SECRET_KEY must be set (the key to write with)", file=sys.stderr)
        return EXIT_UNREADABLE
    rewritten, unreadable = rotate_secrets(settings)
    print(
        f"{rewritten} stored secret(s) rewritten under SECRET_KEY; {unreadable} under an unknown key left as is"
    )
    return EXIT_OK if not unreadable else EXIT_REJECTED


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "audit": _audit,
    "db": _db,
    "import": _import,
    "run": _run,
    "serve": _serve,
    "worker": _worker,
    "demo": _demo,
    "digest": _digest,
    "workspaces": _workspaces,
    "workspace": _workspace,
    "secrets": _secrets,
}


if __name__ == "__main__":
    raise SystemExit(main())
