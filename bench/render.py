"""Token rendering throughput: a 1 KB body with 5 tokens, parsed once, rendered for many recipients.

Prints ``name value unit target`` lines (see bench/README.md). Target: at least 50,000 renders per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from outreach.models import Ad, AdType, Recipient
from outreach.tokens import RenderContext, Template, check, render_html, render_text

TARGET = ">=50000"
SECONDS = 1.0


def _body() -> str:
    filler = (
        "We love what you publish & think our audience would too. Our spring <collection> is out, "
        "with free shipping over $50 and a 12% commission for new partners.\n"
    )
    head = "Hi {firstName} {lastName},\n\nI'm reaching out to {mpname} on {currentDay}.\n"
    tail = "\nHere is our best performer: {adcode_42}\n\nThanks!\n"
    body = head
    while len(body) + len(filler) + len(tail) <= 1024:
        body += filler
    body += tail
    return body.ljust(1024, " ")


def _rate(
    render: Callable[[Template, Recipient, RenderContext], str],
    template: Template,
    recipients: list[Recipient],
    ctx: RenderContext,
) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + SECONDS
    while True:
        for recipient in recipients:
            render(template, recipient, ctx)
        count += len(recipients)
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    text = _body()
    template = Template.parse(text)
    assert len(text) == 1024 and len(template.slots) == 5, (len(text), template.slots)
    assert not check(text, {"42"})
    ad = Ad("T1", "42", "Spring collection", AdType.TEXT_LINK, "https://shop.example.com/spring")
    ctx = RenderContext(now=datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC), ads={"42": ad}, program_id="1000")
    recipients = [
        Recipient(mpid=str(1000 + i), mpname=f"Publisher <{i}>", first_name="Ana", last_name=f"Díaz {i}")
        for i in range(1000)
    ]
    print(f"render_plain_per_s {_rate(render_text, template, recipients, ctx):.0f} renders/s {TARGET}")
    print(f"render_html_per_s {_rate(render_html, template, recipients, ctx):.0f} renders/s {TARGET}")
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < SECONDS:
        Template.parse(text)
        n += 1
    print(f"parse_per_s {n / (time.perf_counter() - start):.0f} parses/s")
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < SECONDS:
        check(text, {"42"})
        n += 1
    print(f"check_per_s {n / (time.perf_counter() - start):.0f} checks/s")
    hostile = "{" * 50_000 + "{ " * 25_000 + "${" * 25_000
    start = time.perf_counter()
    check(hostile, {"42"})
    Template.parse(hostile)
    print(f"check_parse_200k_braces_ms {(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
