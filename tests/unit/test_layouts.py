"""Our e-mail layout: a sandboxed, autoescaping Jinja2 environment; user text only ever goes in as data."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from outreach.layouts import Layouts, build_environment
from outreach.models import Recipient
from outreach.tokens import RenderContext, Template, render_html


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Collect:
    collector = _Collect()
    collector.feed(html)
    collector.close()
    return collector


def test_the_environment_is_sandboxed_autoescaping_and_loads_our_templates() -> None:
    env = build_environment()
    assert isinstance(env, SandboxedEnvironment)
    assert env.autoescape is True
    assert "email.html" in env.list_templates()


def test_the_sandbox_refuses_unsafe_attribute_access_in_our_own_templates() -> None:
    env = build_environment()
    with pytest.raises(SecurityError):
        env.from_string("{{ x.__class__.__mro__[1].__subclasses__() }}").render(x="")


def test_the_email_layout_is_a_mobile_friendly_html_document_around_the_body() -> None:
    html = Layouts().email_html(Markup("<p>Hello <b>Ana</b></p>"), footer="Acme Inc., 1 Main St")
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "max-width:600px" in html
    assert "<p>Hello <b>Ana</b></p>" in html
    collected = parse(html)
    assert {"html", "body", "table", "p", "b"} <= set(collected.tags)
    assert "Acme Inc., 1 Main St" in "".join(collected.text)


def test_the_footer_is_escaped_and_keeps_its_line_breaks() -> None:
    html = Layouts().email_html(Markup("x"), footer="<script>alert(1)</script>\nUnsubscribe: reply STOP")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>\nUnsubscribe: reply STOP" in html


def test_without_a_footer_no_footer_row_is_rendered() -> None:
    assert "border-top" not in Layouts().email_html(Markup("x"))


def test_a_body_given_as_plain_text_is_escaped_not_trusted() -> None:
    html = Layouts().email_html("<img src=x onerror=alert(1)>")  # type: ignore[arg-type]
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_user_text_that_looks_like_jinja_is_shown_not_evaluated() -> None:
    context = RenderContext(now=datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC))
    body = render_html(
        Template.parse("{{ 7*7 }} {% if true %}yes{% endif %} {{ config }} {firstName}"),
        Recipient(mpid="1", mpname="Acme", first_name="Ana"),
        context,
    )
    html = Layouts().email_html(body, footer="{{ 6*7 }}", title="{{ 5*5 }}")
    assert "{{ 7*7 }} {% if true %}yes{% endif %} {{ config }} Ana" in html
    assert "{{ 6*7 }}" in html
    assert "<title>{{ 5*5 }}</title>" in html
    assert "49" not in html and "42" not in html and "25" not in html


def test_layouts_share_one_environment_when_given_one() -> None:
    env = build_environment()
    assert Layouts(env).email_html(Markup("a")) == Layouts(env).email_html(Markup("a"))
