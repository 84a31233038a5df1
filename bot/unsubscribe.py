"""``/unsubscribe``: one-click (RFC 8058: a mail client POSTs ``List-Unsubscribe=One-Click``) and, for a person who
follows the link in an e-mail's footer, a page with a button (a GET changes nothing: link scanners open links)."""

from __future__ import annotations

import html
import urllib.parse

from bot.http import Request, Response, Route
from outreach.unsubscribe import Unsubscriber

PATH = "/unsubscribe"

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; line-height: 1.5">{body}</body></html>"""
NOT_VALID = "<h1>This link is not valid.</h1><p>Nothing was changed.</p>"


def _page(status: int, body: str) -> Response:
    return Response.text(status, PAGE.format(body=body), "text/html; charset=utf-8")


def _token(request: Request) -> str:
    return urllib.parse.parse_qs(request.query).get("t", [""])[0]


def unsubscribe_routes(unsubscriber: Unsubscriber) -> dict[tuple[str, str], Route]:
    def show(request: Request) -> Response:
        email = unsubscriber.address(_token(request))
        if email is None:
            return _page(400, NOT_VALID)
        action = html.escape(f"{PATH}?t={urllib.parse.quote(_token(request))}", quote=True)
        return _page(
            200,
            f"<h1>Unsubscribe {html.escape(email)}?</h1>"
            "<p>You will not receive e-mails from this brand's partnership team again.</p>"
            f'<form method="post" action="{action}"><button type="submit">Unsubscribe</button></form>',
        )

    def confirm(request: Request) -> Response:
        email = unsubscriber.unsubscribe(_token(request), one_click=bool(request.body))
        if email is None:
            return _page(400, NOT_VALID)
        return _page(200, f"<h1>Done.</h1><p>{html.escape(email)} will not be e-mailed again.</p>")

    return {("GET", PATH): show, ("POST", PATH): confirm}
