"""Uninstalls: ``app_uninstalled`` and ``tokens_revoked`` (Events API) end a workspace's install at once.

Each listener first deletes the workspace's tokens — from then on its requests are answered by the gate with
nothing, and background work finds no token for it — with Bolt's own token-revocation listeners
(``slack_bolt.listener.builtins.TokenRevocationListeners``, what ``App.enable_token_revocation_listeners``
registers), which call our store's ``delete_all`` / ``delete_bot`` / ``delete_installation``; then marks it
uninstalled and stops its sends (:meth:`WorkspaceService.uninstalled`: no delivery of it goes out that was not
already in flight, and its data is deleted after the retention). Both events come
without a usable token (Slack revoked it), and Bolt serves them without one (``no_auth_test_events`` in
slack_bolt/middleware/authorization/internals.py).

* ``app_uninstalled``: every token of the workspace — or, without a ``team_id``, of the org (an org-wide
  install: slack_bolt's tests/scenario_tests/test_events_token_revocations.py).
* ``tokens_revoked``: the tokens listed; when the bot's is among them the app can no longer act there, which
  counts as an uninstall. User tokens alone (the app asks for none) change nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from outreach.workspaces import WorkspaceService

log = logging.getLogger(__name__)


def register(app: App, workspaces: WorkspaceService) -> None:
    delete_all = app.default_app_uninstalled_event_listener()
    delete_revoked = app.default_tokens_revoked_event_listener()

    def app_uninstalled(context: BoltContext) -> None:
        delete_all(context=context)
        marked = workspaces.uninstalled(context.team_id, context.enterprise_id)
        log.info("uninstalled from %s (org %s): %s", context.team_id, context.enterprise_id, marked)

    def tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        delete_revoked(event=event, context=context)
        if (event.get("tokens") or {}).get("bot"):
            marked = workspaces.uninstalled(context.team_id, context.enterprise_id)
            log.info("bot token revoked in %s (org %s): %s", context.team_id, context.enterprise_id, marked)

    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
