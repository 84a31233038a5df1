"""Property tests for the token parser: it never raises, never loses text and never invents tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import assume, given
from hypothesis import strategies as st
from markupsafe import escape

from outreach.models import Ad, AdType, Recipient
from outreach.tokens import TOKEN_NAMES, RenderContext, Template, check, render_html, render_text

ADIDS = frozenset({"42"})
CTX = RenderContext(
    now=datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    ads={"42": Ad("T1", "42", "Sale", AdType.TEXT_LINK, "https://shop.example.com/")},
)
VALID = [*TOKEN_NAMES, "adcode_42"]
FRAGMENTS = [
    "{", "}", "{{", "}}", "$", " ", "\n", "\t", "%", '"', ":", "7*7", "x", "a-b", "_", "adcode_", "42",
    "firstName", "fristName", "LastName", "first_name", "mpid", "adcode_42", "adcode_9", "currentDay",
    "é", "<b>", "\r\n",
]  # fmt: skip
bracey = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)
any_text = st.one_of(st.text(), bracey)
plain = st.text().filter(lambda s: not any(c in s for c in "{}$"))
recipients = st.builds(Recipient, mpid=plain, mpname=plain, first_name=plain, last_name=plain)


def reassemble(template: Template) -> str:
    parts = [template.literals[0]]
    for slot, literal in zip(template.slots, template.literals[1:], strict=True):
        parts += ["{" + slot + "}", literal]
    return "".join(parts)


@given(any_text)
def test_parse_never_raises_and_never_loses_text(text: str) -> None:
    template = Template.parse(text)
    assert len(template.literals) == len(template.slots) + 1
    assert reassemble(template) == text
    assert all(slot in TOKEN_NAMES or slot.startswith("adcode_") for slot in template.slots)


@given(any_text)
def test_check_never_raises_and_points_at_what_it_reports(text: str) -> None:
    for problem in check(text, ADIDS):
        position, token = int(problem.param("position") or -1), problem.param("token") or ""
        assert text[position:].startswith(token)
        assert problem.code in {"unknown_token", "unknown_adid", "broken_token"}


@given(any_text, recipients)
def test_rendering_a_text_with_no_valid_tokens_returns_it_unchanged(text: str, recipient: Recipient) -> None:
    template = Template.parse(text)
    assume(not template.slots)
    assert render_text(template, recipient, CTX) == text
    assert render_html(template, recipient, CTX) == str(escape(text.replace("\r\n", "\n"))).replace(
        "\n", "<br>\n"
    )


@given(st.lists(st.one_of(plain, st.sampled_from(VALID).map(lambda n: "{" + n + "}"))), recipients)
def test_a_text_of_literals_and_known_tokens_renders_with_no_token_left(
    pieces: list[str], recipient: Recipient
) -> None:
    text = "".join(pieces)
    assert check(text, ADIDS) == []
    rendered = render_text(Template.parse(text), recipient, CTX)
    for name in VALID:
        assert "{" + name + "}" not in rendered
    assert "{" not in rendered and "}" not in rendered
    assert rendered == "".join(render_text(Template.parse(piece), recipient, CTX) for piece in pieces)
