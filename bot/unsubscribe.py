"""``/unsubscribe``: one-click (RFC 8058: a mail client POSTs ``List-Unsubscribe=One-Click``) and, for a person who
follows the link in an e-mail's footer, a page with a button (a GET changes nothing: link scanners open links)."""

from __future__ import annotations

import html
import logging
import urllib.parse
from collections.abc import Callable

from bot.http import Request, Response, Route
from outreach.models import AuditEvent
from outreach.ports import Clock, UnitOfWork
from outreach.unsubscribe import UnsubscribeLinks

log = logging.getLogger(__name__)
PATH = "/unsubscribe"

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; line-height: 1.5">{body}</body></html>"""


def _page(status: int, body: str) -> Response:
    return Response.text(status, PAGE.format(body=body), "text/html; charset=utf-8")


def _token(request: Request) -> str:
    return urllib.parse.parse_qs(request.query).get("t", [""])[0]


def unsubscribe_routes(
    links: UnsubscribeLinks, uow: Callable[[], UnitOfWork], clock: Clock
) -> dict[tuple[str, str], Route]:
    def show(request: Request) -> Response:
        found = links.verify(_token(request))
        if found is None:
            return _page(400, "<h1>This link is not valid.</h1><p>Nothing was changed.</p>")
        _, email = found
        action = html.escape(f"{PATH}?t={urllib.parse.quote(_token(request))}", quote=True)
        return _page(
            200,
            f"<h1>Unsubscribe {html.escape(email)}?</h1>"
            "<p>You will not receive e-mails from this brand's partnership team again.</p>"
            f'<form method="post" action="{action}"><button type="submit">Unsubscribe</button></form>',
        )

    def confirm(request: Request) -> Response:
        found = links.verify(_token(request))
        if found is None:
            return _page(400, "<h1>This link is not valid.</h1><p>Nothing was changed.</p>")
        team_id, email = found
        with uow() as unit:
            if unit.suppressions.add(team_id, email, "unsubscribed", "one-click" if request.body else "page"):
                unit.audit.record(AuditEvent(team_id, "", "email.unsubscribed", clock.now(), detail=email))
            unit.commit()
        log.info("an address of %s unsubscribed", team_id)
        return _page(200, f"<h1>Done.</h1><p>{html.escape(email)} will not be e-mailed again.</p>")

    return {("GET", PATH): show, ("POST", PATH): confirm}
