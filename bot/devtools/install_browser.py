"""An installer's browser going through the app's "Add to Slack" link, against the stand-in's authorize page.

What a browser does (https://api.slack.com/authentication/oauth-v2): it opens ``GET /slack/install``, which sets
a cookie (``slack-app-oauth-state``, slack_sdk's ``OAuthStateUtils``) and shows the link to Slack's authorize
page; Slack, once the installer approves, sends it to the app's redirect URL with ``code`` and ``state``; the
browser follows, sending the cookie back. Used by the scenario tests (two workspaces installed through the real
redirect) and by anyone wanting to see the flow: each step is its own function, so a test can forge or replay
one.
"""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import ids

if TYPE_CHECKING:
    from bot.devtools.slack_standin import SlackStandIn

STATE_COOKIE = "slack-app-oauth-state"  # slack_sdk.oauth.OAuthStateUtils.default_cookie_name
_LINK = re.compile(r'<a href="([^"]+)"')


@dataclass(frozen=True)
class Page:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class InstallLink:
    url: str  # Slack's authorize page, with client_id, scope, state and redirect_uri
    cookie: str  # what the browser keeps: "slack-app-oauth-state=<state>"


def get(url: str, cookie: str = "") -> Page:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return Page(resp.status, resp.read().decode(), dict(resp.headers))
    except urllib.error.HTTPError as err:
        with err:
            return Page(err.code, err.read().decode(), dict(err.headers))


def open_install_page(app_url: str) -> InstallLink:
    """``GET /slack/install``: the "Add to Slack" link, and the cookie the page set."""
    page = get(app_url.rstrip("/") + ids.INSTALL_PATH)
    assert page.status == 200, page
    found = _LINK.search(page.body)
    assert found, "no Add to Slack link on the install page"
    set_cookie = page.headers.get("Set-Cookie", "")
    return InstallLink(html.unescape(found.group(1)), set_cookie.split(";", 1)[0])


def install(
    app_url: str, slack: SlackStandIn, *, user: str, team_id: str = "", enterprise_id: str = ""
) -> Page:
    """The whole flow: open the install page, approve on Slack (in ``team_id``, or org-wide in
    ``enterprise_id``), follow the redirect back with the cookie; returns the app's last page."""
    link = open_install_page(app_url)
    back = slack.install(link.url, user=user, team_id=team_id, enterprise_id=enterprise_id)
    return get(back, link.cookie)
