"""Every listener of the app, wired to the services: ``register_all(app, services)``."""

from __future__ import annotations

from slack_bolt import App

from bot.handlers import account, commands, compose, drafts, home, marketplace, prospects
from bot.modals import Modals
from bot.wiring import Services


def register_all(app: App, services: Services) -> None:
    modals = Modals(
        known=lambda team, user: p.t if (p := services.profiles.known(team, user)) else None,
        translator=lambda client, team, user: services.profiles.get(client, team, user).t,
    )
    compose_handlers = compose.ComposeHandlers(services, modals)
    market = marketplace.MarketplaceHandlers(services, compose_handlers, modals)
    listing = prospects.ProspectHandlers(services, compose_handlers.open_new, market.open_card)
    draft_handlers = drafts.DraftHandlers(services, compose_handlers)
    accounts = account.AccountHandlers(services, modals)
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
    home.register(app, home.HomeHandlers(services.profiles, services.home))
    account.register(app, accounts)
