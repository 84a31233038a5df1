"""Running the app: Socket Mode (``run``), HTTP (``serve``), workers on their own (``worker``)."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from sqlalchemy.exc import SQLAlchemyError

from bot.app import build_app, make_client, workspace_clients
from bot.conversations import ConversationThreads
from bot.digest import DigestJob
from bot.handlers.registry import register_all
from bot.http import HttpServer, WsgiApp
from bot.installs.clients import ClientFor
from bot.mail_polling import LoggedAlerts, MailboxAlertDM, MailPollJob
from bot.retention import RetentionJob
from bot.routes import extra_routes
from bot.schedule_dm import ScheduleDM
from bot.sending import BackgroundSender, ProgressDM
from bot.settings import Settings
from bot.wiring import Services, build_services

log = logging.getLogger(__name__)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def settle_heap() -> None:
    """Freeze what a started process holds (modules, the Bolt app, SQLAlchemy's tables and mappers, slack_sdk's
    models, translations) out of the garbage collector's reach: it lives as long as the process, yet each full
    collection walked all of it — 55 to 90 ms pauses of every thread in ``serve`` under bench/list_load.py, each
    stalling every click in flight. Frozen, a full collection walks only what was made since (gc.freeze)."""
    gc.collect()
    gc.freeze()


def _app(services: Services) -> tuple[App, ProgressDM, ClientFor]:
    """The Bolt app; the progress DM and background work use each workspace's own client (``clients``)."""
    settings = services.settings
    clients = workspace_clients(settings, services.installs)
    app = build_app(
        settings,
        lambda a: register_all(a, services),
        client=make_client(settings) if services.installs is None else None,
        first_delivery=services.redelivery.first_delivery,
        installs=services.installs,
    )
    return app, ProgressDM(services, clients), clients


def _sender(services: Services, progress: ProgressDM | None, clients: ClientFor | None) -> BackgroundSender:
    """A delivery worker in the background; scheduled sends that could not start are told to their authors when
    there is a Slack to tell them in (conversation events go to services.conversation_events either way)."""
    schedules = ScheduleDM(services, clients) if clients is not None else None
    return BackgroundSender(services, progress, schedules=schedules)


def _scheduler(services: Services, clients: ClientFor | None, *, digest: bool = True) -> BackgroundScheduler:
    """The digest of unsent drafts (with Slack), the users' mailboxes read (IMAP_POLL_SECONDS), and deleting the
    data of workspaces uninstalled RETENTION_DAYS_AFTER_UNINSTALL ago. Several processes may run one: a
    per-user-and-day record keeps a digest single, a lease a mailbox's poll, a conditional delete the purge."""
    scheduler = BackgroundScheduler(timezone="UTC")
    if clients is not None and digest:
        job = DigestJob(
            services.digest,
            services.clock,
            clients,
            services.profiles,
            cron=services.settings.digest_cron,
            time_for=lambda team: services.workspace_settings.effective(team).digest_time,
        )
        job.schedule(scheduler)
    alerts = MailboxAlertDM(clients, services.profiles) if clients is not None else LoggedAlerts()
    MailPollJob(services.make_poller(alerts), services.settings.imap_poll_seconds).schedule(scheduler)
    installs = services.installs
    RetentionJob(services.workspaces, installs.forget_expired_states if installs else None).schedule(
        scheduler
    )
    scheduler.start()
    return scheduler


def health(services: Services) -> Callable[[], dict[str, object]]:
    def check() -> dict[str, object]:
        try:
            with services.uow() as uow:
                uow.queue.sending_drafts()
        except SQLAlchemyError as exc:
            log.warning("health check: database unavailable: %s", exc)
            return {"ok": False, "database": "unavailable"}
        return {"ok": True, "database": "ok"}

    return check


def serve(settings: Settings, host: str, port: int, *, worker: bool = True) -> int:
    """HTTP mode: every Slack request at POST /slack/events (signatures always verified), GET /healthz."""
    if not settings.slack_signing_secret:
        raise SystemExit(
            "SLACK_SIGNING_SECRET must be set to serve HTTP: Slack's signatures are always checked"
        )
    services = build_services(settings)
    app, progress, clients = _app(services)
    wsgi = WsgiApp(app, routes=extra_routes(services, clients), health=health(services))
    server = HttpServer(wsgi, host=host, port=port)
    settle_heap()  # before any thread starts work: what it has in flight is not frozen
    sender = _sender(services, progress, clients).start() if worker else None
    scheduler = _scheduler(services, clients)
    threads = ConversationThreads(services, clients).start()
    server.start()
    log.info("serving Slack at http://%s:%s/slack/events", host, server.port)
    try:
        _wait_for_signal()
    finally:
        server.stop()
        scheduler.shutdown(wait=False)
        if sender:
            sender.stop()
        threads.stop()
        services.close()
    return 0


def socket_mode(settings: Settings, *, worker: bool = True) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    services = build_services(settings)
    app, progress, clients = _app(services)
    handler = SocketModeHandler(app, settings.slack_app_token)
    settle_heap()  # before any thread starts work: what it has in flight is not frozen
    sender = _sender(services, progress, clients).start() if worker else None
    scheduler = _scheduler(services, clients)
    threads = ConversationThreads(services, clients).start()
    # Slack comes over the socket; partners' replies, unsubscribe links and installs from a link (/slack/install,
    # /slack/oauth_redirect: SLACK.md §3.4) still need HTTP.
    routes = WsgiApp(app, routes=extra_routes(services, clients), health=health(services), events=False)
    server = HttpServer(routes, host="0.0.0.0", port=settings.http_port).start()  # noqa: S104
    handler.connect()  # type: ignore[no-untyped-call]
    log.info("connected to Slack over Socket Mode; HTTP routes on port %s", server.port)
    try:
        _wait_for_signal()
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        server.stop()
        scheduler.shutdown(wait=False)
        if sender:
            sender.stop()
        threads.stop()
        services.close()
    return 0


def workers(settings: Settings, count: int) -> int:
    """Delivery workers as a process of their own; several may run against one PostgreSQL."""
    services = build_services(settings)
    clients = workspace_clients(settings, services.installs) if settings.slack_configured else None
    progress = ProgressDM(services, clients) if clients is not None else None
    settle_heap()  # before any thread starts work: what it has in flight is not frozen
    # Conversation events published here (follow-ups) are recorded either way; shown here when Slack is set.
    threads = ConversationThreads(services, clients).start() if clients is not None else None
    senders = [_sender(services, progress, clients).start() for _ in range(count)]
    scheduler = _scheduler(services, clients, digest=False)  # no digest: it runs with Slack's app
    log.info("%d delivery worker(s) running", count)
    try:
        _wait_for_signal()
    finally:
        scheduler.shutdown(wait=False)
        for sender in senders:
            sender.stop()
        if threads:
            threads.stop()
        services.close()
    return 0
