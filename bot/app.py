"""build_app(): the Bolt app with its listeners, error handler and middleware. Nothing runs at import."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.settings import Settings

log = logging.getLogger(__name__)


def make_client(settings: Settings, *, with_token: bool = True) -> WebClient:
    """A Web API client with the configured base URL and retry handlers (listeners' clients copy the app's)."""
    return WebClient(
        token=(settings.slack_bot_token or None) if with_token else None,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=5),  # waits Retry-After (+ jitter) on 429
            ServerErrorRetryHandler(max_retry_count=3),  # 500/503 with backoff
        ],
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


def _skip_slack_retries(request: Any, next: Callable[[], None]) -> BoltResponse | None:
    """Slack re-sends an event it thinks timed out; we already acted on the first one (SLACK.md §3.7).

    Over HTTP a retry carries ``X-Slack-Retry-Num: 1`` (2, 3); over Socket Mode every envelope may carry
    ``retry_attempt``, which Bolt turns into the same header — ``0`` on a first delivery, which is no retry.
    """
    raw = request.headers.get("x-slack-retry-num")
    value = raw[0] if isinstance(raw, (list, tuple)) and raw else raw
    if value and str(value).strip() not in ("", "0"):
        return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
    next()
    return None


def build_app(settings: Settings, register: Callable[[App], None], client: WebClient | None = None) -> App:
    client = client or make_client(settings)
    app = App(
        # The app's own client carries no token: authorize() gives each request its token.
        client=make_client(settings, with_token=False),
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        authorize=_authorizer(client, settings.slack_bot_token),
        request_verification_enabled=True,
        ignoring_self_events_enabled=True,
        raise_error_for_unhandled_request=False,
    )
    app.middleware(_skip_slack_retries)
    app.error(_on_error)
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
