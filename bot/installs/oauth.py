"""Installing from a link: Bolt's own OAuth flow, on our stores, and what a Bolt app needs to serve many workspaces.

Bolt serves ``GET /slack/install`` (an "Add to Slack" page whose link carries ``client_id``, the bot ``scope``
— bot/ids.py BOT_SCOPES —, a fresh ``state`` and ``redirect_uri`` = PUBLIC_URL + ``/slack/oauth_redirect``, and
a cookie holding the same state) and ``GET /slack/oauth_redirect``, where it checks, in this order, before it
exchanges anything (slack_bolt/oauth/oauth_flow.py ``handle_callback``): the browser's cookie holds the
``state`` (else ``invalid_browser``), and the state is one we issued, unexpired, consumed now (else
``invalid_state``: a forged or replayed state is refused before any ``oauth.v2.access``). Then it exchanges the
``code`` (``oauth.v2.access``; Slack accepts a code once) and saves the installation in our encrypted store;
on success we record the workspace (who installed it, when) and Bolt shows its "Thank you!" page.

Requests: :func:`serving_gate`, before Bolt's authorize, reads the request's bot from the store (the org's for an
org-wide install, ``is_enterprise_install``) and answers any request of a workspace without one — never
installed, uninstalled, its token revoked, its row under an unknown key — itself: no data, and no Slack call at
all (Bolt's own "not installed" path would post to the request's ``response_url``). A workspace of an org
installed org-wide is also recorded there on its first request. Bolt's ``InstallationStoreAuthorize`` then
takes that same bot (one look-up per request, :class:`RequestBots`), rotating its token first when it expires
within ``TOKEN_ROTATION_MINUTES`` (apps with token rotation on: the refresh token is stored, encrypted, and used
through ``oauth.v2.access`` with ``grant_type=refresh_token``). The app asks for bot scopes only, so the bot is
all there is to read (``installation_store_bot_only``). Its ``auth.test`` answer is kept per token: a request
costs no Web API call of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Bot, InstallationStore
from sqlalchemy.exc import SQLAlchemyError

from bot import ids
from bot.installs.store import EncryptedInstallationStore
from bot.settings import Settings
from outreach.models import Workspace
from outreach.workspaces import WorkspaceService

if TYPE_CHECKING:  # needs greenlet: imported only where installs are built (bot.installs.Installs.build)
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

log = logging.getLogger(__name__)

TOKEN_ROTATION_MINUTES = 120  # Bolt's default: rotate a token that expires within two hours
STATE_SECONDS = 600  # an install link is good for 10 minutes (Bolt's OAuthStateUtils default)
NO_AUTH_EVENTS = frozenset(
    {"app_uninstalled", "tokens_revoked"}
)  # served with no token (Bolt skips authorize)


def authorization_url(settings: Settings) -> str:
    """Slack's authorize page, on the host of SLACK_API_URL: ``https://slack.com/oauth/v2/authorize`` by default
    (GovSlack: slack-gov.com; the tests' stand-in: its own)."""
    base = settings.slack_api_url.rstrip("/").removesuffix("/api")
    return f"{base}/oauth/v2/authorize"


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + ids.OAUTH_REDIRECT_PATH


def install_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + ids.INSTALL_PATH


def oauth_app_options(
    settings: Settings,
    store: EncryptedInstallationStore,
    state_store: SQLAlchemyOAuthStateStore,
    workspaces: WorkspaceService,
    client: WebClient,
) -> dict[str, Any]:
    """The keyword arguments that make a Bolt ``App`` serve many workspaces from our stores."""
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=sorted(ids.BOT_SCOPES),
        user_scopes=[],
        redirect_uri=redirect_uri(settings),
        install_path=ids.INSTALL_PATH,
        redirect_uri_path=ids.OAUTH_REDIRECT_PATH,
        authorization_url=authorization_url(settings),
        installation_store=store,
        state_store=state_store,
        state_expiration_seconds=STATE_SECONDS,
        token_rotation_expiration_minutes=TOKEN_ROTATION_MINUTES,
        installation_store_bot_only=True,
        callback_options=CallbackOptions(success=_recorded(workspaces), failure=_failed),
        logger=log,
    )
    bots = RequestBots(store)
    authorize = InstallationStoreAuthorize(
        logger=log,
        installation_store=bots,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        token_rotation_expiration_minutes=TOKEN_ROTATION_MINUTES,
        bot_only=True,
        cache_enabled=True,  # auth.test once per token, not once per request
        client=client,
    )
    return {
        "installation_store": store,
        "installation_store_bot_only": True,
        "oauth_settings": oauth,
        "authorize": authorize,
        "before_authorize": serving_gate(bots, workspaces, install_url(settings)),
    }


class RequestBots(InstallationStore):
    """The store as Bolt's authorize sees it: the bot the gate has just read for this request (same thread, same
    ids) is handed over instead of being read again; anything else goes to the store."""

    def __init__(self, store: EncryptedInstallationStore) -> None:
        self._store = store
        self._local = threading.local()

    @property
    def logger(self) -> logging.Logger:
        return log

    def read(self, enterprise_id: str | None, team_id: str | None, org: bool) -> Bot | None:
        """The bot of the request (by the gate), kept for Bolt's authorize that comes next on this thread."""
        bot = self._store.find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=org)
        self._local.read = ((enterprise_id, team_id, org), bot)
        return bot

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        read, self._local.read = getattr(self._local, "read", None), None
        if read is not None and read[0] == (enterprise_id, team_id, bool(is_enterprise_install)):
            return read[1]  # type: ignore[no-any-return]
        return self._store.find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )

    def save_bot(self, bot: Bot) -> None:  # a rotated token
        self._store.save_bot(bot)


def _recorded(workspaces: WorkspaceService) -> Callable[[SuccessArgs], BoltResponse]:
    def success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        org = bool(installation.is_enterprise_install)
        team_id = (installation.enterprise_id if org else installation.team_id) or ""
        try:
            workspaces.installed(
                Workspace(
                    team_id=team_id,
                    installed_at=datetime.now(UTC),
                    enterprise_id=installation.enterprise_id or "",
                    name=(installation.enterprise_name if org else installation.team_name) or "",
                    enterprise_name=installation.enterprise_name or "",
                    org_install=org,
                    installed_by=installation.user_id or "",
                )
            )
        except SQLAlchemyError as err:
            log.exception("installed in %s, but the workspace could not be recorded", team_id)
            return args.default.failure(
                FailureArgs(
                    request=args.request,
                    reason="storage_error",
                    error=err,
                    suggested_status_code=500,
                    settings=args.settings,
                    default=args.default,
                )
            )
        log.info(
            "installed in %s (%s) by %s", team_id, "org-wide" if org else "workspace", installation.user_id
        )
        return args.default.success(args)

    return success


def _failed(args: FailureArgs) -> BoltResponse:
    log.warning("an install did not complete: %s", args.reason)
    return args.default.failure(args)


def serving_gate(
    bots: RequestBots, workspaces: WorkspaceService, install_link: str
) -> Callable[..., BoltResponse | None]:
    """Middleware run before Bolt's authorize: a request of a workspace without a bot token is answered here,
    with no data and no Slack call — a slash command sees how to install the app again, anything else an empty
    200 (an event is acknowledged, so that Slack does not send it again). The uninstall events themselves, and
    Slack's URL checks, pass. A workspace of an org installed org-wide is recorded on its first request (and
    refused once the org's install ended)."""
    from bot.i18n import Translator

    def gate(body: dict[str, Any], context: Any, next: Callable[[], None]) -> BoltResponse | None:
        kind = body.get("type")
        event = body.get("event") if kind == "event_callback" else None
        if kind in ("url_verification", "ssl_check") or (
            isinstance(event, dict) and event.get("type") in NO_AUTH_EVENTS
        ):
            next()
            return None
        team_id, enterprise_id = context.team_id, context.enterprise_id
        org = bool(context.is_enterprise_install)
        installed = bots.read(enterprise_id, team_id, org) is not None
        if installed and (not org or workspaces.serves(team_id, enterprise_id, org)):
            next()
            return None
        log.info(
            "a request of %s (org %s), which has not installed the app: not served", team_id, enterprise_id
        )
        if body.get("command"):
            return BoltResponse(status=200, body=Translator()("install.not_installed", url=install_link))
        return BoltResponse(status=200, body="")

    return gate
