"""build_app(): the Bolt app with its listeners, error handler and middleware. Nothing runs at import."""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from sqlalchemy.exc import SQLAlchemyError

from bot.installs import Installs
from bot.installs.clients import ClientFor, SingleToken
from bot.response_urls import ConnectionPool, kept_alive_respond
from bot.settings import Settings
from outreach.redelivery import InMemoryRedeliveryFilter

log = logging.getLogger(__name__)


def make_client(settings: Settings, *, with_token: bool = True, token: str | None = None) -> WebClient:
    """A Web API client with the configured base URL and retry handlers (listeners' clients copy the app's):
    with SLACK_BOT_TOKEN, or ``token`` (a workspace's own), or none (``with_token=False``)."""
    if token is None and with_token:
        token = settings.slack_bot_token or None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=5),  # waits Retry-After (+ jitter) on 429
            ServerErrorRetryHandler(max_retry_count=3),  # 500/503 with backoff
        ],
    )


def workspace_clients(settings: Settings, installs: Installs | None) -> ClientFor:
    """Each workspace's client for background work: SLACK_BOT_TOKEN's for all, or each install's own."""
    if installs is None:
        return SingleToken(make_client(settings))
    return installs.clients(
        lambda token: make_client(settings, token=token), make_client(settings, with_token=False)
    )


def _authorizer(client: WebClient, token: str) -> Callable[..., AuthorizeResult]:
    """One bot token serves the workspaces that send us signed requests; auth.test is asked once, lazily.

    A plain function, not a bound method: Bolt injects listener arguments by parameter name.
    """
    identity: dict[str, Any] = {}
    lock = threading.Lock()

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        with lock:
            if not identity:
                answer = client.auth_test(token=token)
                identity.update(bot_user_id=answer.get("user_id"), bot_id=answer.get("bot_id"))
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=token,
            bot_user_id=identity["bot_user_id"],
            bot_id=identity["bot_id"],
        )

    return authorize


def _serve_events_once(first_delivery: Callable[[str, str], bool]) -> Callable[..., BoltResponse | None]:
    """Middleware: an Events API event is served on its first delivery only, told apart by its ``event_id``.

    Slack re-sends an event (``X-Slack-Retry-Num`` over HTTP; ``retry_attempt``, which Bolt copies into the same
    header, over Socket Mode) only when its earlier delivery was not acknowledged, so a retry may be the only
    delivery we ever get: whether a delivery is the first is asked of ``first_delivery`` (the database's record,
    shared by every process), never read from the retry number. A later delivery of the same id is acknowledged
    with ``X-Slack-No-Retry: 1`` and not served. Slash commands and interactions are never retried (SLACK.md
    §8.7; python-slack-sdk's Socket Mode fixtures carry ``retry_attempt`` on ``events_api`` envelopes only): they,
    and anything else that is not an ``event_callback``, pass straight through. Runs after Bolt's signature
    check, so only Slack's own requests are recorded. If the record cannot be reached the event is served:
    serving one twice is better than losing it.
    """

    def serve_once(
        body: dict[str, Any], request: BoltRequest, next: Callable[[], None]
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not isinstance(event_id, str) or not event_id:
            next()
            return None
        try:
            first = first_delivery(event_id, str(body.get("team_id") or ""))
        except SQLAlchemyError:
            log.warning(
                "could not check whether event %s was served already; serving it", event_id, exc_info=True
            )
            first = True
        if not first:
            retry = request.headers.get("x-slack-retry-num") or ["?"]
            log.info("event %s delivered again (retry %s): acknowledged, not served", event_id, retry[0])
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        next()
        return None

    return serve_once


def build_app(
    settings: Settings,
    register: Callable[[App], None],
    client: WebClient | None = None,
    *,
    first_delivery: Callable[[str, str], bool] | None = None,
    installs: Installs | None = None,
) -> App:
    """``first_delivery(event_id, team_id)``: whether an event is delivered for the first time (the composition
    root passes ``services.redelivery.first_delivery``, shared by every process; without it, this process
    remembers the events it has served). ``installs``: many workspaces, each with the token it installed the
    app with (bot/installs/); without it, SLACK_BOT_TOKEN serves every request."""
    first_delivery = first_delivery or InMemoryRedeliveryFilter().first_delivery
    # The app's own client carries no token: authorize() gives each request its token.
    base = make_client(settings, with_token=False)
    if installs is not None:
        auth: dict[str, Any] = installs.app_options(base)
    else:
        auth = {"authorize": _authorizer(client or make_client(settings), settings.slack_bot_token)}
    app = App(
        client=base,
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        request_verification_enabled=True,
        ignoring_self_events_enabled=True,
        raise_error_for_unhandled_request=False,
        listener_executor=ThreadPoolExecutor(settings.listener_threads, thread_name_prefix="listener"),
        **auth,
    )
    app.middleware(_serve_events_once(first_delivery))
    pool = ConnectionPool()
    app.middleware(kept_alive_respond(pool))  # respond() over kept connections (bot/response_urls.py)
    weakref.finalize(app, pool.close)  # an app let go of closes its connections (not the collector)
    app.error(_on_error)
    if installs is not None:
        installs.register(app)
    register(app)
    return app


def _on_error(error: Exception, body: dict[str, Any], client: WebClient, logger: logging.Logger) -> None:
    """Anything not an OutreachError is a bug: log it with its traceback, tell the user with an id."""
    from bot.i18n import Translator

    error_id = uuid.uuid4().hex[:8]
    logger.error("unhandled error %s", error_id, exc_info=error)
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    if not user:
        return
    try:
        dm = client.conversations_open(users=user)["channel"]["id"]
        client.chat_postMessage(channel=dm, text=Translator()("common.error_id", error_id=error_id))
    except SlackApiError:
        logger.exception("could not tell %s about error %s", user, error_id)
