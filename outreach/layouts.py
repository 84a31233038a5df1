"""Our own e-mail layouts, rendered with Jinja2.

Jinja2 is only for templates we ship in ``outreach/templates``: the environment is sandboxed and
autoescapes HTML. User text never goes through Jinja as a template, only as data: a message body is
rendered by :mod:`outreach.tokens` first and handed in as :class:`markupsafe.Markup`; anything passed as a
plain ``str`` is escaped.

Nothing is built at import time: the composition root calls :func:`build_environment` (or makes one
:class:`Layouts`) once and shares it; a Jinja environment is safe to use from several threads.
"""

from __future__ import annotations

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

__all__ = ["Layouts", "build_environment"]


def build_environment() -> SandboxedEnvironment:
    """A sandboxed, autoescaping environment loading ``outreach/templates`` (package data)."""
    return SandboxedEnvironment(
        loader=PackageLoader("outreach", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class Layouts:
    """The HTML shells our messages are sent in."""

    def __init__(self, env: SandboxedEnvironment | None = None) -> None:
        self._env = env if env is not None else build_environment()

    def email_html(self, body_html: Markup, footer: str = "", *, title: str = "") -> str:
        """A complete HTML e-mail around ``body_html``.

        ``footer`` and ``title`` are plain text: escaped, the footer's line breaks kept. A ``body_html``
        that is a plain ``str`` rather than ``Markup`` is escaped too, never trusted.
        """
        footer_html = Markup("<br>\n").join(escape(line) for line in footer.splitlines())
        return self._env.get_template("email.html").render(body=body_html, footer=footer_html, title=title)
