"""Every listener of the app, wired to the services: ``register_all(app, services)``. Each handler class gets
only the collaborators it uses."""

from __future__ import annotations

from slack_bolt import App

from bot.handlers import (
    account,
    commands,
    compose,
    conversations,
    drafts,
    home,
    marketplace,
    prospects,
    stats,
    templates,
    workspace_settings,
)
from bot.modals import Modals
from bot.wiring import Services


def register_all(app: App, services: Services) -> None:
    profiles = services.profiles
    modals = Modals(
        known=lambda team, user: p.t if (p := profiles.known(team, user)) else None,
        translator=lambda client, team, user: profiles.get(client, team, user).t,
    )
    forms = compose.ComposeHandlers(
        services.compose_flow,
        profiles,
        services.senders,
        services.files,
        modals,
    )
    market = marketplace.MarketplaceHandlers(profiles, services.prospects, forms, modals)
    listing = prospects.ProspectHandlers(
        profiles, services.prospects, forms.open_new, market.open_card, modals
    )
    draft_handlers = drafts.DraftHandlers(
        profiles,
        services.compose,
        services.compose_flow,
        services.senders,
        forms,
        services.outbox,
        services.followups,
    )
    accounts = account.AccountHandlers(profiles, services.accounts, modals)
    shared = templates.TemplateHandlers(
        services.templates,
        services.compose_flow,
        forms,
        profiles,
        modals,
        services.prospects.picked_ids,
        services.files,
    )
    numbers = stats.StatsHandlers(profiles, services.stats, services.files.allowed)
    screens: dict[str, commands.Screen] = {
        "search": listing.command,
        "marketplace": market.command,
        "drafts": draft_handlers.command,
        "templates": shared.command,
        "stats": numbers.command,
        "connect-email": accounts.connect,
        "disconnect-email": accounts.disconnect,
    }
    commands.register(app, commands.CommandHandlers(profiles, screens))
    prospects.register(app, listing)
    marketplace.register(app, market)
    compose.register(app, forms)
    drafts.register(app, draft_handlers)
    home.register(app, home.HomeHandlers(profiles, services.home, services.charts, services.clock))
    stats.register(app, numbers)
    account.register(app, accounts)
    templates.register(app, shared)
    workspace_settings.register(
        app, workspace_settings.WorkspaceSettingsHandlers(profiles, services.workspace_settings, modals)
    )
    conversations.register(
        app,
        conversations.ConversationHandlers(profiles, services.replies, services.senders, services.files),
    )
