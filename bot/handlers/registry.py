"""Every listener of the app, wired to the services: ``register_all(app, services)``."""

from __future__ import annotations

from slack_bolt import App

from bot.handlers import account, commands, compose, drafts, home, marketplace, prospects
from bot.wiring import Services


def register_all(app: App, services: Services) -> None:
    compose_handlers = compose.ComposeHandlers(services)
    market = marketplace.MarketplaceHandlers(services, compose_handlers)
    listing = prospects.ProspectHandlers(services, compose_handlers.open_new, market.open_card)
    draft_handlers = drafts.DraftHandlers(services, compose_handlers)
    accounts = account.AccountHandlers(services)
    screens: dict[str, commands.Screen] = {
        "search": listing.command,
        "marketplace": market.command,
        "drafts": draft_handlers.command,
        "connect-email": accounts.connect,
        "disconnect-email": accounts.disconnect,
    }
    commands.register(app, commands.CommandHandlers(services.profiles, screens))
    prospects.register(app, listing)
    marketplace.register(app, market)
    compose.register(app, compose_handlers)
    drafts.register(app, draft_handlers)
    home.register(app, home.HomeHandlers(services))
    account.register(app, accounts)
