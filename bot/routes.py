"""The HTTP routes besides Slack's own: inbound replies (in-platform messages, raw e-mail) and one-click
unsubscribe."""

from __future__ import annotations

from slack_sdk import WebClient

from bot import inbound, mail_inbound
from bot.http import Endpoint, Route
from bot.installs.clients import ClientFor
from bot.unsubscribe import unsubscribe_routes
from bot.wiring import Services


def extra_routes(
    services: Services, client: WebClient | ClientFor
) -> dict[tuple[str, str], Route | Endpoint]:
    """``client``: every workspace's Web API client, or each workspace's own (bot/installs/clients.py)."""
    routes: dict[tuple[str, str], Route | Endpoint] = dict(unsubscribe_routes(services.unsubscriber))
    settings = services.settings
    # Always mounted: a workspace may set its own messages webhook (and secret) in its settings at any time.
    routes.update(
        inbound.routes(
            services.inbound,
            services.conversation_events,
            services.clock,
            secret=settings.messages_webhook_secret,
            max_message_bytes=settings.max_message_bytes,
            secret_for=lambda team: services.workspace_settings.effective(team).webhook_secret,
        )
    )
    if settings.messages_webhook_secret:
        routes.update(
            mail_inbound.routes(
                services.mail_inbound,
                services.clock,
                secret=settings.messages_webhook_secret,
                max_message_bytes=settings.max_message_bytes,
            )
        )
    return routes
