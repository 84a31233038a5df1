"""Rendering tokens for one recipient, as plain text and as HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from babel.dates import get_month_names
from markupsafe import Markup

from outreach.clock import FixedClock
from outreach.models import Ad, AdType, Recipient
from outreach.tokens import RenderContext, Template, render_html, render_text, tracking_link

AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
ANA = Recipient(
    mpid="12345", mpname="Acme Media", first_name="Ana", last_name="Díaz", email="ana@example.com"
)
TEXT_AD = Ad("T1", "42", "Spring sale", AdType.TEXT_LINK, "https://shop.example.com/spring", "Shop spring")
BANNER = Ad(
    "T1", "7", "Summer <banner>", AdType.BANNER, "https://shop.example.com/", "https://cdn.example.com/b.png?a=1&b=2",
    width=300, height=250,
)  # fmt: skip


def ctx(**kwargs: object) -> RenderContext:
    base: dict[str, object] = {"now": AT, "ads": {"42": TEXT_AD, "7": BANNER}, "program_id": "1000"}
    base.update(kwargs)
    return RenderContext(**base)  # type: ignore[arg-type]


def text(source: str, recipient: Recipient = ANA, context: RenderContext | None = None) -> str:
    return render_text(Template.parse(source), recipient, context or ctx())


def html(source: str, recipient: Recipient = ANA, context: RenderContext | None = None) -> str:
    return render_html(Template.parse(source), recipient, context or ctx())


def test_every_recipient_and_time_token_renders_for_a_recipient_at_the_2038_instant() -> None:
    source = "{mpid}|{mpname}|{firstName}|{lastName}|{currentDay}|{currentTime}|{currentMonthYear}"
    expected = "12345|Acme Media|Ana|Díaz|January 19, 2038|19-Jan-2038 03:14:08 UTC|January, 2038"
    assert text(source) == expected
    assert html(source) == expected


def test_the_adcode_token_renders_the_ad_name_and_the_partners_tracking_link_in_text() -> None:
    assert text("See {adcode_42}!") == "See Spring sale: https://track.example.com/c/12345/42/1000!"


def test_time_tokens_come_from_the_clock_converted_to_utc() -> None:
    clock = FixedClock(datetime(2038, 1, 19, 4, 14, 8, tzinfo=timezone(timedelta(hours=1))))
    context = ctx(now=clock.now())
    assert text("{currentTime}", context=context) == "19-Jan-2038 03:14:08 UTC"
    late = datetime(2038, 1, 18, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert text("{currentDay}", context=ctx(now=late)) == "January 19, 2038"


def test_single_digit_days_are_padded_only_in_current_time() -> None:
    context = ctx(now=datetime(2030, 3, 5, 7, 8, 9, tzinfo=UTC))
    assert text("{currentDay} / {currentTime}", context=context) == "March 5, 2030 / 05-Mar-2030 07:08:09 UTC"


@pytest.mark.parametrize("month", range(1, 13))
def test_month_names_are_english_whatever_the_process_locale(month: int) -> None:
    name = get_month_names("wide", locale="en")[month]
    context = ctx(now=datetime(2038, month, 1, tzinfo=UTC))
    assert text("{currentMonthYear}|{currentTime}", context=context) == (
        f"{name}, 2038|01-{name[:3]}-2038 00:00:00 UTC"
    )


def test_a_naive_datetime_is_refused_by_the_render_context() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RenderContext(now=datetime(2038, 1, 19))


def test_an_empty_value_renders_as_empty_text() -> None:
    assert text("Hi {firstName} {lastName}!", Recipient(mpid="1", mpname="X")) == "Hi  !"


def test_unknown_and_broken_tokens_are_left_as_written() -> None:
    source = (
        "{fristName} {LastName} {first_name} {firstName {{firstName}} firstName} { firstName } ${firstName}"
    )
    assert text(source) == source


@pytest.mark.parametrize(
    "literal",
    ['{ }', '{"a": 1}', "{{", "}}", "{}", "${x}", "{{ 7*7 }}", "{% if x %}yes{% endif %}", "{10% off}",
     "{{ config.__class__ }}", "#{x}", "{{ user }}", "{{7*7}}"],
)  # fmt: skip
def test_text_that_is_not_a_token_is_sent_verbatim(literal: str) -> None:
    source = f"Hello {{firstName}}, {literal} bye"
    assert text(source) == f"Hello Ana, {literal} bye"


def test_template_looking_text_is_never_evaluated() -> None:
    source = "{{ 7*7 }} {% for i in range(3) %}x{% endfor %} ${7*7} #{7*7} <%= 7*7 %>"
    assert text(source) == source
    assert "49" not in text(source)
    assert html(source) == source.replace("<", "&lt;").replace(">", "&gt;")


def test_html_rendering_escapes_script_in_the_content() -> None:
    out = html("<script>alert(1)</script> & {firstName}")
    assert out == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Ana"


def test_html_rendering_escapes_script_in_a_partner_name_and_text_keeps_it_raw() -> None:
    evil = Recipient(mpid="9", mpname='<script>alert("x")</script>', first_name="<b>Bo</b>")
    assert html("{mpname} {firstName}", evil) == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;b&gt;Bo&lt;/b&gt;"
    )
    assert text("{mpname}", evil) == '<script>alert("x")</script>'


def test_html_rendering_returns_markup_and_keeps_line_breaks() -> None:
    out = render_html(Template.parse("Hi {firstName},\r\n\nbye"), ANA, ctx())
    assert isinstance(out, Markup)
    assert out == "Hi Ana,<br>\n<br>\nbye"


def test_a_text_link_adcode_in_html_is_a_link_with_its_link_text() -> None:
    assert html("{adcode_42}") == '<a href="https://track.example.com/c/12345/42/1000">Shop spring</a>'


def test_a_text_link_without_link_text_uses_the_ad_name() -> None:
    ad = Ad("T1", "5", "Plain & simple", AdType.TEXT_LINK, "https://x.example/")
    context = ctx(ads={"5": ad})
    assert html("{adcode_5}", context=context) == (
        '<a href="https://track.example.com/c/12345/5/1000">Plain &amp; simple</a>'
    )


def test_a_banner_adcode_in_html_is_an_escaped_image_linking_to_the_tracking_link() -> None:
    assert html("{adcode_7}") == (
        '<a href="https://track.example.com/c/12345/7/1000">'
        '<img src="https://cdn.example.com/b.png?a=1&amp;b=2" alt="Summer &lt;banner&gt;" width="300"'
        ' height="250" style="border:0;display:block;max-width:100%;height:auto"></a>'
    )


def test_a_banner_adcode_in_text_is_its_name_and_tracking_link() -> None:
    assert text("{adcode_7}") == "Summer <banner>: https://track.example.com/c/12345/7/1000"


def test_a_banner_whose_image_is_not_a_web_url_renders_as_a_plain_link() -> None:
    ad = Ad("T1", "8", "Odd", AdType.BANNER, "https://x.example/", "javascript:alert(1)")
    assert html("{adcode_8}", context=ctx(ads={"8": ad})) == (
        '<a href="https://track.example.com/c/12345/8/1000">Odd</a>'
    )


def test_tracking_link_placeholders_are_filled_with_url_quoted_values() -> None:
    context = ctx(tracking_link_template="https://t.example/{program_id}?m={mpid}&a={adid}", program_id="p 1")
    odd = Recipient(mpid="a/b?c&d", mpname="Odd")
    assert tracking_link(context, "a/b?c&d", "42") == "https://t.example/p%201?m=a%2Fb%3Fc%26d&a=42"
    assert text("{adcode_42}", odd, context) == "Spring sale: https://t.example/p%201?m=a%2Fb%3Fc%26d&a=42"
    assert html("{adcode_42}", odd, context) == (
        '<a href="https://t.example/p%201?m=a%2Fb%3Fc%26d&amp;a=42">Shop spring</a>'
    )


def test_each_recipient_gets_their_own_tracking_link() -> None:
    template = Template.parse("{adcode_42}")
    context = ctx()
    links = [render_text(template, Recipient(mpid=m, mpname=m), context) for m in ("1", "2", "1")]
    assert links == [f"Spring sale: https://track.example.com/c/{m}/42/1000" for m in ("1", "2", "1")]


def test_an_adcode_for_an_ad_missing_from_the_context_renders_empty() -> None:
    assert text("[{adcode_999}]") == "[]"
    assert html("[{adcode_999}]") == "[]"


def test_parse_splits_literals_and_slots_once() -> None:
    template = Template.parse("Hi {firstName}, {adcode_42} {adcode_42} {nope}")
    assert template.slots == ("firstName", "adcode_42", "adcode_42")
    assert template.literals == ("Hi ", ", ", " ", " {nope}")
    assert template.adids == ("42",)
    assert template.tokens == {"firstName", "adcode_42"}
    assert str(template) == "Hi {firstName}, {adcode_42} {adcode_42} {nope}"
