"""Installs and tokens, as Slack hands them out, for the stand-in (bot/devtools/slack_standin.py).

* **The authorize page** (``https://slack.com/oauth/v2/authorize``): the installer approves, and Slack sends the
  browser to the app's ``redirect_uri`` with ``code`` and the app's ``state`` unchanged. Slack refuses a
  ``client_id`` it does not know, a request with no ``scope``, and a ``redirect_uri`` that is not one of the
  app's Redirect URLs (``bad_redirect_uri``): https://api.slack.com/authentication/oauth-v2 (steps 1–3; "the
  redirect_uri … must match … one of the Redirect URLs"), :meth:`SlackOAuth.approve`.
* **oauth.v2.access** exchanges a code for a bot token (https://api.slack.com/methods/oauth.v2.access): the
  client id and secret come as HTTP Basic auth (recommended) or form fields; ``invalid_client_id``,
  ``bad_client_secret``; ``invalid_code`` for a code never issued or expired, ``code_already_used`` for one
  exchanged before (the method's error table, mirrored in slack_kit's oauth.access.json / oauth.v2.access.json);
  ``bad_redirect_uri`` when ``redirect_uri`` differs from the one the code was issued for ("This must match the
  originally submitted URI (if one was sent)"). A code lives 10 minutes: Slack calls it temporary without a
  figure in what we found; 10 minutes is Bolt's own state lifetime, and shorter than nothing (the stricter
  reading). The answer's shape is bolt-python's mock (tests/mock_web_api_server/mock_handler.py
  ``OAUTH_V2_ACCESS_RESPONSE``): ``access_token``, ``token_type: bot``, ``scope``, ``bot_user_id``, ``app_id``,
  ``team`` / ``enterprise`` (``{id, name}`` or null), ``authed_user``, ``is_enterprise_install``. An org-wide
  install (Enterprise Grid, ``org_deploy_enabled``) has ``team: null``, the org's ``enterprise`` and
  ``is_enterprise_install: true`` (https://api.slack.com/enterprise/apps/reference).
* **Token rotation** (apps with it on): the token is ``xoxe.xoxb-…``, with ``expires_in`` (43,200 s) and a
  ``refresh_token``; ``grant_type=refresh_token`` gives a new token and refresh token (the same mock's
  ``OAUTH_V2_ACCESS_BOT_REFRESH_RESPONSE``); a refresh token works once here (``invalid_refresh_token`` after:
  no source says Slack accepts one twice — the stricter reading); an expired token is ``token_expired``
  (https://api.slack.com/authentication/rotation).
* **Each token is one install's**: a workspace's (``team_id``) or an org's (its ``enterprise_id``; it acts in every
  workspace of the org). An uninstall or a revocation ends every token of the install (``invalid_auth`` after:
  the stand-in's answer to any unknown token).
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CODE_SECONDS = 600
ROTATION_SECONDS = 43_200  # bolt-python's mock: expires_in 43200 (12 hours)
APP_ID = "A0001"

Answer = dict[str, Any]


class OAuthRefused(Exception):
    """What Slack's authorize page shows instead of sending the browser back (``error``)."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


@dataclass
class Grant:
    """A token Slack issued: to a workspace (``team_id``), or to an org for every workspace of it."""

    token: str
    enterprise_id: str
    team_id: str  # "" for an org-wide install
    bot_user_id: str
    bot_id: str
    expires_at: float | None = None
    refresh_token: str = ""

    @property
    def key(self) -> str:
        """Whose rate limits and objects the token's calls are: the workspace, or the org."""
        return self.team_id or self.enterprise_id


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: str
    user: str
    team_id: str
    enterprise_id: str
    org: bool
    issued: float = field(default_factory=time.monotonic)
    used: bool = False


class SlackOAuth:
    """The app's credentials, the codes handed out on the authorize page, and every token issued."""

    def __init__(
        self,
        team_name: Callable[[str], str],
        enterprise_of: Callable[[str], str],
        *,
        client_id: str = "1000.2000",
        client_secret: str = "standin-client-secret",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_urls: list[str] = []  # the app's Redirect URLs (manifest oauth_config.redirect_urls)
        self.token_rotation = False
        self.rotation_seconds = ROTATION_SECONDS  # a rotating token's lifetime (tests shorten it)
        self.grants: dict[str, Grant] = {}  # token -> grant
        self.exchanges: list[
            tuple[str, str]
        ] = []  # (code, error or "ok") of every oauth.v2.access with a code
        self._team_name = team_name
        self._enterprise_of = enterprise_of
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, Grant] = {}  # refresh token -> the grant it renews
        self._serial = itertools.count(1)

    # -- the installer's browser, on Slack's authorize page ----------------------------------------------
    def approve(self, authorize_url: str, *, user: str, team_id: str = "", enterprise_id: str = "") -> str:
        """The installer ``user`` approves the install the app's link asks for — in ``team_id``, or org-wide
        in ``enterprise_id`` — and Slack answers with where it sends the browser: ``redirect_uri?code=…&state=…``.
        Raises :class:`OAuthRefused` where Slack would show an error instead."""
        parts = urllib.parse.urlsplit(authorize_url)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
        if not parts.path.endswith("/oauth/v2/authorize"):
            raise OAuthRefused("oauth_authorization_url_mismatch")
        if query.get("client_id") != self.client_id:
            raise OAuthRefused("invalid_client_id")
        if not query.get("scope"):
            raise OAuthRefused("invalid_scope")
        redirect = query.get("redirect_uri", "")
        if self.redirect_urls and (redirect or self.redirect_urls[0]) not in self.redirect_urls:
            raise OAuthRefused("bad_redirect_uri")
        org = not team_id
        code = f"{next(self._serial)}.{secrets.token_hex(16)}"
        self._codes[code] = _Code(
            self.client_id,
            redirect,
            query["scope"],
            user,
            team_id,
            enterprise_id or (self._enterprise_of(team_id) if team_id else ""),
            org,
        )
        target = redirect or self.redirect_urls[0]
        back = urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        return f"{target}{'&' if '?' in target else '?'}{back}"

    # -- oauth.v2.access ---------------------------------------------------------------------------------
    def access(self, args: dict[str, Any], authorization: str) -> Answer:
        client_id, client_secret = _credentials(args, authorization)
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant_type = str(args.get("grant_type") or "authorization_code")
        if grant_type == "refresh_token":
            return self._refreshed(str(args.get("refresh_token", "")))
        if grant_type != "authorization_code":
            return {"ok": False, "error": "invalid_grant_type"}
        code_value = str(args.get("code", ""))
        code = self._codes.get(code_value)
        error = ""
        if code is None or time.monotonic() - code.issued > CODE_SECONDS:
            error = "invalid_code"
        elif code.used:
            error = "code_already_used"
        elif str(args.get("redirect_uri") or "") != code.redirect_uri:
            error = "bad_redirect_uri"
        self.exchanges.append((code_value, error or "ok"))
        if error or code is None:
            return {"ok": False, "error": error}
        code.used = True
        grant = self._issue(code.enterprise_id, "" if code.org else code.team_id)
        return self._answer(grant, code.scopes, installer=code.user)

    def revoke(self, key: str) -> list[str]:
        """Every token of the install of ``key`` (a workspace's id, or an org's) ends, as an uninstall ends them."""
        gone = [token for token, grant in self.grants.items() if grant.key == key]
        for token in gone:
            grant = self.grants.pop(token)
            self._refresh.pop(grant.refresh_token, None)
        return gone

    def grant(self, token: str) -> Grant | str:
        """The grant of a token in use, or the error Slack answers."""
        grant = self.grants.get(token)
        if grant is None:
            return "invalid_auth"
        if grant.expires_at is not None and time.time() >= grant.expires_at:
            return "token_expired"
        return grant

    def add_grant(self, grant: Grant) -> Grant:
        self.grants[grant.token] = grant
        return grant

    # -- inside ----------------------------------------------------------------------------------------------
    def _issue(self, enterprise_id: str, team_id: str) -> Grant:
        n = next(self._serial)
        key = team_id or enterprise_id
        token = f"xoxb-{key}-{n}-{secrets.token_hex(12)}"
        grant = Grant(token, enterprise_id, team_id, bot_user_id=f"UBOT{key}", bot_id=f"BBOT{key}")
        if self.token_rotation:
            grant.token = "xoxe." + token
            grant.expires_at = time.time() + self.rotation_seconds
            grant.refresh_token = f"xoxe-1-{key}-{n}-{secrets.token_hex(16)}"
            self._refresh[grant.refresh_token] = grant
        return self.add_grant(grant)

    def _refreshed(self, refresh_token: str) -> Answer:
        old = self._refresh.pop(refresh_token, None)
        if old is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        grant = self._issue(old.enterprise_id, old.team_id)
        return self._answer(grant, "", installer="")

    def _answer(self, grant: Grant, scopes: str, *, installer: str) -> Answer:
        team = {"id": grant.team_id, "name": self._team_name(grant.team_id)} if grant.team_id else None
        enterprise = (
            {"id": grant.enterprise_id, "name": self._team_name(grant.enterprise_id)}
            if grant.enterprise_id
            else None
        )
        answer: Answer = {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": installer} if installer else {},
            "scope": scopes,
            "token_type": "bot",
            "access_token": grant.token,
            "bot_user_id": grant.bot_user_id,
            "team": team,
            "enterprise": enterprise,
            "is_enterprise_install": not grant.team_id,
        }
        if grant.expires_at is not None:
            answer["expires_in"] = int(grant.expires_at - time.time())
            answer["refresh_token"] = grant.refresh_token
        return answer


def _credentials(args: dict[str, Any], authorization: str) -> tuple[str, str]:
    """The client id and secret: HTTP Basic auth first (what slack_sdk sends), else the form's fields."""
    if authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return str(args.get("client_id", "")), str(args.get("client_secret", ""))
