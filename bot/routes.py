"""The HTTP routes besides Slack's own: inbound replies (in-platform messages, raw e-mail), one-click
unsubscribe and the App Home's chart."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient

from bot import inbound, mail_inbound
from bot.charts import chart_routes
from bot.http import Endpoint, Route
from bot.installs.clients import ClientFor
from bot.unsubscribe import unsubscribe_routes
from bot.wiring import Services


def extra_routes(
    services: Services, client: WebClient | ClientFor
) -> dict[tuple[str, str], Route | Endpoint]:
    """``client``: every workspace's Web API client, or each workspace's own (bot/installs/clients.py)."""
    routes: dict[tuple[str, str], Route | Endpoint] = dict(unsubscribe_routes(services.unsubscriber))
    routes.update(
        chart_routes(
            services.charts,
            services.stats,
            services.draw_chart,
            services.clock,
            _serves(services),
        )
    )
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


def _serves(services: Services) -> Callable[[str], bool]:
    """Whether a workspace is still served: always with one workspace (SLACK_BOT_TOKEN); installed from a link,
    while it is installed (an uninstalled workspace's chart links show nothing)."""

    def serves(team_id: str) -> bool:
        if services.installs is None:
            return True
        found = services.workspaces.find(team_id)
        return found is not None and found.installed

    return serves
