"""The composition root: every engine, client, adapter and service is built here, from Settings, once."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.charts import ChartLinks
from bot.conversation_outbox import OutboxWriter
from bot.files import SlackFiles
from bot.http import HTTP_THREADS
from bot.inbound import body_limit
from bot.installs import Installs
from bot.installs.store import EncryptedInstallationStore
from bot.permissions import SenderPolicy
from bot.settings import Settings
from bot.users import UserProfiles
from outreach.accounts import AccountService
from outreach.adapters.charts import MatplotlibCharts
from outreach.adapters.clamd import ClamdScanner
from outreach.adapters.fernet_cipher import FernetCipher, Unreadable
from outreach.adapters.imap import ImapReader
from outreach.adapters.imap import login_tester as mailbox_login_tester
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.adapters.smtp import SmtpMailer, account_mailer, login_tester, server_tester
from outreach.adapters.webhook import WebhookTransport
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.bounce_address import BounceAddresses
from outreach.clock import SystemClock
from outreach.compose import ComposeService
from outreach.compose_flow import ComposeFlow
from outreach.conversation_reply import ReplyService
from outreach.conversations import ConversationFeed
from outreach.delivery import DeliveryWorker, ProgressListener, RetryPolicy, Throttle
from outreach.delivery.throttle import SERVER, workspace_account
from outreach.digest import DigestService
from outreach.followups import FollowupService
from outreach.home import HomeService
from outreach.inbound import InboundService
from outreach.layouts import Layouts
from outreach.mail_inbound import MailInboundService
from outreach.mailbox_polling import MailboxPoller
from outreach.mailmsg import mail_from_address
from outreach.models import SmtpServer
from outreach.outbox import Outbox
from outreach.ports import Clock, ConversationEvents, MailboxAlerts, Mailer, MessageTransport
from outreach.prospecting import ProspectService
from outreach.redelivery import RedeliveryFilter
from outreach.rendering import TrackingConfig
from outreach.stats import Report, StatsService
from outreach.templates import TemplateService
from outreach.unsubscribe import UnsubscribeLinks, Unsubscriber
from outreach.workspace_settings import Defaults, Effective, WorkspaceSettingsService
from outreach.workspaces import WorkspaceService
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    uow: Callable[[], SqlUnitOfWork]
    prospects: ProspectService
    compose: ComposeService
    profiles: UserProfiles
    files: SlackFiles
    make_worker: Callable[..., DeliveryWorker]  # (progress listener, conversation events=None)
    senders: SenderPolicy
    unsubscribe: UnsubscribeLinks
    close: Callable[[], None]  # releases the database connections
    accounts: AccountService
    inbound: InboundService  # partners' replies: the same sniffer, scanner, scan cache and limits as outgoing files
    redelivery: RedeliveryFilter  # Slack events served once per event_id, across processes
    home: HomeService  # the App Home's dashboard
    stats: StatsService  # how outreach went: the dashboard's numbers, /prospects stats, a send's results file
    charts: ChartLinks  # the dashboard's chart: signed links to GET /charts/outreach.png
    draw_chart: Callable[[Report, Mapping[str, str]], bytes]  # the chart as a PNG (matplotlib)
    unsubscriber: Unsubscriber  # what the /unsubscribe link does
    compose_flow: ComposeFlow  # the compose form's use cases (over compose); a stored plan sets wake
    digest: DigestService  # who is due a digest of unsent drafts (DIGEST_MIN_AGE_HOURS)
    conversations: ConversationFeed  # conversation events, from their recording to their showing in Slack
    conversation_events: OutboxWriter  # the ConversationEvents port: records what the core publishes
    replies: ReplyService  # a reply written in a conversation's Slack thread, back to the partner
    mail_inbound: MailInboundService  # e-mail replies and bounces (POST /mail/inbound, users' mailboxes)
    make_poller: Callable[[MailboxAlerts], MailboxPoller]  # reads users' own mailboxes (IMAP)
    outbox: Outbox  # /prospects drafts (scheduled sends, follow-ups to come) and the scheduled sends' runner
    followups: FollowupService  # cancelling a send's follow-ups
    workspaces: WorkspaceService  # installed from a link: who is served, uninstalls, retention
    templates: TemplateService  # shared templates: the compose form's menu, /prospects templates
    workspace_settings: WorkspaceSettingsService  # each workspace's own settings over the environment's
    installs: (
        Installs | None
    )  # SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set: installs from a link, in many workspaces
    wake: threading.Event = field(default_factory=threading.Event)  # set when there is new work to send


def signing_key(settings: Settings, uow: Callable[[], SqlUnitOfWork]) -> bytes:
    """SECRET_KEY, or a key the app made once and keeps in its database (what it signed stays valid)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    with uow() as unit:
        key = unit.keys.get_or_create("unsubscribe").encode()
        unit.commit()
    return key


def unsubscribe_links(settings: Settings, uow: Callable[[], SqlUnitOfWork]) -> UnsubscribeLinks:
    """Signed with :func:`signing_key` (links stay valid)."""
    return UnsubscribeLinks(signing_key(settings, uow), settings.public_url)


def bounce_addresses(settings: Settings, uow: Callable[[], SqlUnitOfWork]) -> BounceAddresses:
    """VERP addresses on BOUNCE_ADDRESS (else MAIL_FROM's address), signed with :func:`signing_key`."""
    return BounceAddresses(
        signing_key(settings, uow), settings.bounce_address or mail_from_address(settings.mail_from)
    )


SETTINGS_TEST_TIMEOUT = (
    2.0  # a workspace's SMTP login is tried, whole, before its settings form is answered (3 s)
)


def settings_defaults(settings: Settings) -> Defaults:
    """What a workspace that set nothing uses: the environment."""
    digest = settings.digest_cron.split()
    return Defaults(
        mail_from=settings.mail_from,
        smtp=SmtpServer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_security,
            settings.smtp_username,
            settings.smtp_password,
        ),
        webhook_url=settings.messages_webhook_url,
        webhook_secret=settings.messages_webhook_secret,
        senders_usergroup=settings.senders_usergroup,
        recent_contact_days=max(0, settings.recent_contact_days),
        digest_time=_cron_time(digest),
    )


def _cron_time(fields: list[str]) -> str:
    """DIGEST_CRON's time of day as HH:MM when it names one (``0 9 * * mon-fri``: 09:00), else empty."""
    if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
        return f"{int(fields[1]):02d}:{int(fields[0]):02d}"
    return ""


def effective_mailer(found: Effective, timeout: float) -> SmtpMailer:
    """A workspace's mailer: its own server (its From address as envelope sender, as a user's own mailbox
    keeps) or the deployment's server with VERP bounce addresses; its From either way."""
    return SmtpMailer(
        found.smtp.host,
        found.smtp.port,
        found.smtp.username,
        found.smtp.password,
        found.smtp.security,  # type: ignore[arg-type]  # checked when saved, or by Settings.from_env
        found.mail_from,
        timeout,
        verp=not found.own_smtp,
    )


def pool_size(settings: Settings) -> int | None:
    """PostgreSQL connections kept open (once opened): one for each listener thread (LISTENER_THREADS) and each
    HTTP thread (Bolt's middleware reads the database before a listener runs), and four for the worker, its
    scheduler, conversation threads and health checks. Fewer, and the connections beyond them are opened and
    closed again at each burst of clicks (SQLAlchemy's overflow): a new PostgreSQL backend each. None on SQLite:
    SQLAlchemy's default five (each SQLite connection keeps a page cache of its own, up to storage.db.CACHE_KIB,
    and its clicks write one at a time)."""
    if settings.database_url.startswith("sqlite"):
        return None
    return settings.listener_threads + HTTP_THREADS + 4


def _pool_options(settings: Settings) -> dict[str, int]:
    size = pool_size(settings)
    return {"pool_size": size} if size else {}


def build_services(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Services:
    if migrate:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url, **_pool_options(settings))
    sessions = make_session_factory(engine)
    clock = clock or SystemClock()

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock)

    sniffer = MagicSniffer()
    scanner = ClamdScanner(
        socket_path=settings.clamd_socket,
        host=settings.clamd_host or "127.0.0.1",
        port=settings.clamd_port,
        read_timeout=settings.clamd_timeout,
    )
    cache = InMemoryScanCache()
    policy = AttachmentPolicy(settings.max_file_bytes, settings.max_message_bytes, settings.max_files)
    tracking = TrackingConfig(settings.tracking_link_template, settings.program_id)
    layouts = Layouts()
    unsubscribe = unsubscribe_links(settings, uow)
    stats = StatsService(uow, clock)
    bounces = bounce_addresses(settings, uow)
    mailer = SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_username,
        settings.smtp_password,
        settings.smtp_security,  # type: ignore[arg-type]  # checked by Settings.from_env
        settings.mail_from,
        settings.smtp_timeout,
        verp=True,  # bounces come back to the signed address of their delivery
    )
    transport = (
        WebhookTransport(settings.messages_webhook_url, settings.messages_webhook_secret, 30.0)
        if settings.messages_webhook_url
        else None
    )
    throttle = Throttle(settings.send_rate_per_second, uow)  # per sending account, across processes
    cipher = FernetCipher(*settings.secret_keys) if settings.secret_key else None
    accounts = AccountService(
        uow=uow,
        clock=clock,
        cipher=cipher,
        tester=login_tester(settings.smtp_timeout),
        mailbox_tester=mailbox_login_tester(settings.smtp_timeout),
    )

    workspace_settings = WorkspaceSettingsService(
        uow=uow,
        clock=clock,
        defaults=settings_defaults(settings),
        cipher=cipher,
        tester=server_tester(SETTINGS_TEST_TIMEOUT, deadline=SETTINGS_TEST_TIMEOUT),
        unreadable=(Unreadable,),
    )

    def workspace_mailer(team_id: str) -> tuple[str, Mailer] | None:
        """The workspace's own server or From (its settings); None: the deployment's mailer as it is."""
        found = workspace_settings.effective(team_id)
        if not (found.own_smtp or found.own_from):
            return None
        account = workspace_account(team_id, "smtp") if found.own_smtp else SERVER
        return account, effective_mailer(found, settings.smtp_timeout)

    def workspace_transport(team_id: str) -> tuple[str, MessageTransport] | None:
        found = workspace_settings.effective(team_id)
        if not found.own_webhook:
            return None
        return workspace_account(team_id, "messages"), WebhookTransport(
            found.webhook_url, found.webhook_secret, 30.0
        )

    def personal_mailer(team_id: str, user_id: str) -> SmtpMailer | None:
        account = accounts.get(team_id, user_id)
        return account_mailer(account, settings.smtp_timeout) if account is not None else None

    worker_name = f"{socket.gethostname()}:{os.getpid()}"

    def make_worker(
        on_progress: ProgressListener | None, events: ConversationEvents | None = None
    ) -> DeliveryWorker:
        return DeliveryWorker(
            uow=uow,
            clock=clock,
            mailer=mailer,
            transport=transport,
            sniffer=sniffer,
            scanner=scanner,
            scan_cache=cache,
            policy=policy,
            tracking=tracking,
            layouts=layouts,
            worker_id=f"{worker_name}:{threading.get_ident()}",
            retry=RetryPolicy(max_attempts=settings.max_attempts),
            lease=timedelta(seconds=settings.claim_lease_seconds),
            in_flight_group=settings.in_flight_group,
            connections=settings.smtp_connections,
            throttle=throttle,
            on_progress=on_progress,
            unsubscribe=unsubscribe,
            personal_mailer=personal_mailer,
            bounces=bounces,
            events=events if events is not None else outbox,  # follow-ups' events, shown in their threads
            workspace_mailer=workspace_mailer,
            workspace_transport=workspace_transport,
        )

    def recent_contact(team_id: str) -> timedelta | None:
        return workspace_settings.effective(team_id).recent_contact

    compose = ComposeService(
        uow=uow,
        clock=clock,
        sniffer=sniffer,
        scanner=scanner,
        scan_cache=cache,
        policy=policy,
        tracking=tracking,
        layouts=layouts,
        mailer=mailer,
        personal_mailer=personal_mailer,
        recent_contact=recent_contact,
        workspace_mailer=lambda team_id: found[1] if (found := workspace_mailer(team_id)) else None,
    )
    wake = threading.Event()
    conversations = ConversationFeed(uow, clock)
    outbox = OutboxWriter(conversations)

    def close() -> None:
        outbox.stop()  # what was published is recorded before the connections go
        engine.dispose()

    profiles = UserProfiles()
    mail_inbound = MailInboundService(
        uow=uow,
        clock=clock,
        sniffer=sniffer,
        scanner=scanner,
        scan_cache=cache,
        policy=policy,
        events=outbox,
        bounces=bounces,
    )
    reader = ImapReader(settings.smtp_timeout)

    def make_poller(alerts: MailboxAlerts) -> MailboxPoller:
        return MailboxPoller(
            uow=uow,
            clock=clock,
            accounts=accounts.get,
            reader=reader,
            inbound=mail_inbound,
            alerts=alerts,
            holder=worker_name,
            max_bytes=body_limit(settings.max_message_bytes),
        )

    workspaces = WorkspaceService(uow, clock, timedelta(days=settings.retention_days_after_uninstall))
    installs = None
    if settings.oauth_enabled:
        assert cipher is not None  # Settings.from_env asks for SECRET_KEY with SLACK_CLIENT_ID
        installs = Installs.build(settings, engine, cipher, (Unreadable,), workspaces)
    return Services(
        settings=settings,
        clock=clock,
        uow=uow,
        prospects=ProspectService(uow, clock, recent_contact=recent_contact),
        compose=compose,
        profiles=profiles,
        files=SlackFiles(settings.slack_api_url, settings.max_file_bytes),
        make_worker=make_worker,
        senders=SenderPolicy(
            settings.senders,
            settings.senders_usergroup,
            usergroup_for=lambda team_id: workspace_settings.effective(team_id).senders_usergroup,
        ),
        unsubscribe=unsubscribe,
        close=close,
        accounts=accounts,
        inbound=InboundService(
            uow=uow, clock=clock, sniffer=sniffer, scanner=scanner, scan_cache=cache, policy=policy
        ),
        redelivery=RedeliveryFilter(uow, clock),
        home=HomeService(uow, stats),
        stats=stats,
        charts=ChartLinks(signing_key(settings, uow), settings.public_url),
        draw_chart=MatplotlibCharts().outcomes_png,
        unsubscriber=Unsubscriber(unsubscribe, uow, clock, events=outbox),
        compose_flow=ComposeFlow(compose, work_waiting=wake.set),
        digest=DigestService(uow, clock, timedelta(hours=settings.digest_min_age_hours)),
        conversations=conversations,
        conversation_events=outbox,
        replies=ReplyService(
            uow=uow,
            clock=clock,
            sniffer=sniffer,
            scanner=scanner,
            scan_cache=cache,
            policy=policy,
            work_waiting=wake.set,
        ),
        outbox=Outbox(compose, uow, clock, work_waiting=wake.set),
        followups=FollowupService(uow, clock),
        workspaces=workspaces,
        templates=TemplateService(uow, clock, compose),
        installs=installs,
        workspace_settings=workspace_settings,
        wake=wake,
        mail_inbound=mail_inbound,
        make_poller=make_poller,
    )


def rotate_secrets(settings: Settings) -> tuple[int, int]:
    """After SECRET_KEY changed (the old one in SECRET_KEY_PREVIOUS): rewrite every stored secret — workspaces'
    Slack tokens, users' SMTP passwords, workspaces' SMTP passwords and webhook secrets — under SECRET_KEY.
    Returns (rewritten, unreadable: under neither key, left as they are)."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    cipher = FernetCipher(*settings.secret_keys)
    try:
        store = EncryptedInstallationStore(settings.slack_client_id, engine, cipher, unreadable=(Unreadable,))
        tokens, bad_tokens = store.rotate_keys()
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            passwords, bad_passwords = uow.accounts.reencrypt(cipher.rotate, (Unreadable,))
            secrets, bad_secrets = uow.workspace_settings.reencrypt(cipher.rotate, (Unreadable,))
            uow.commit()
    finally:
        engine.dispose()
    return tokens + passwords + secrets, bad_tokens + bad_passwords + bad_secrets
