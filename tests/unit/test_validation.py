"""Header field checks of the e-mail form: control characters, one bare reply-to address, lengths."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.validation import (
    SENDER_NAME_MAX,
    SUBJECT_MAX,
    check_email_address,
    check_headers,
)

GOOD = {"sender_name": "Ann Lee", "reply_to": "ann@example.com", "subject": "Let's work together"}


def problems_with(**changes):
    return check_headers(**{**GOOD, **changes})


def codes(problems):
    return [(p.field, p.code) for p in problems]


def test_a_good_form_has_no_problems():
    assert check_headers(**GOOD) == []


def test_chinese_sender_name_and_subject_are_fine():
    assert problems_with(sender_name="张伟", subject="关于合作的邀请") == []


@pytest.mark.parametrize("field", ["sender_name", "reply_to", "subject"])
@pytest.mark.parametrize("bad", ["\r", "\n", "\r\n", "\x00", "\t", "\x7f", "\u2028", "\x85"])
def test_a_control_character_in_any_field_is_a_problem_naming_that_field(field, bad):
    value = GOOD[field]
    value = value[:3] + bad + "Bcc: victim@example.com" if field != "reply_to" else value + bad
    (problem,) = problems_with(**{field: value})
    assert (problem.field, problem.code) == (field, "control_characters")
    assert f"U+{ord(bad[0]):04X}" in problem.message


def test_header_injection_through_the_subject_is_caught_with_the_characters_named():
    (problem,) = problems_with(subject="Hello\r\nBcc: everyone@example.com")
    assert problem.field == "subject"
    assert problem.param("characters") == "U+000D, U+000A"


def test_every_problem_is_reported_at_once():
    problems = check_headers("Ann\n", "not an address", "")
    assert codes(problems) == [
        ("sender_name", "control_characters"),
        ("reply_to", "invalid_email"),
        ("subject", "required"),
    ]


@pytest.mark.parametrize("field", ["sender_name", "reply_to", "subject"])
@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_field_is_required(field, empty):
    assert codes(problems_with(**{field: empty})) == [(field, "required")]


def test_the_subject_may_be_250_characters_but_not_251():
    assert problems_with(subject="关" * SUBJECT_MAX) == []
    (problem,) = problems_with(subject="关" * (SUBJECT_MAX + 1))
    assert (problem.field, problem.code, problem.param("max")) == ("subject", "too_long", "250")


def test_the_sender_name_may_be_100_characters_but_not_101():
    assert problems_with(sender_name="x" * SENDER_NAME_MAX) == []
    (problem,) = problems_with(sender_name="x" * (SENDER_NAME_MAX + 1))
    assert (problem.field, problem.code, problem.param("length")) == ("sender_name", "too_long", "101")


@pytest.mark.parametrize("addr", ["a@b.com, c@d.com", "a@b.com;c@d.com", "a@b.com c@d.com"])
def test_reply_to_with_several_addresses_is_refused_clearly(addr):
    (problem,) = problems_with(reply_to=addr)
    assert (problem.field, problem.code) == ("reply_to", "multiple_addresses")
    assert "exactly one" in problem.message


@pytest.mark.parametrize(
    "addr", ["Ann Lee <ann@example.com>", '"Lee, Ann" <ann@example.com>', "<ann@example.com>"]
)
def test_reply_to_with_a_display_name_is_refused_clearly(addr):
    (problem,) = problems_with(reply_to=addr)
    assert (problem.field, problem.code) == ("reply_to", "display_name")
    assert "without a name" in problem.message


@pytest.mark.parametrize("addr", ["ann", "ann@", "@example.com", "ann@example", "ann..lee@example.com"])
def test_a_malformed_reply_to_says_why(addr):
    (problem,) = problems_with(reply_to=addr)
    assert (problem.field, problem.code) == ("reply_to", "invalid_email")
    assert problem.param("reason")


@pytest.mark.parametrize("addr", ["用户@例子.广告", "pelé@example.com", "ann@bücher.de", " ann@example.com "])
def test_internationalised_and_padded_reply_to_addresses_are_accepted(addr):
    assert problems_with(reply_to=addr) == []


def test_check_email_address_normalises_the_domain_and_trims():
    assert check_email_address("  Ann@Example.COM ") == "Ann@example.com"
    assert check_email_address("用户@例子.广告") == "用户@例子.广告"


@pytest.mark.parametrize(
    "addr",
    ["", "   ", "ann", "Ann <ann@example.com>", "a@b.com, c@d.com", "ann@example.com\r\nBcc: x@y.com"],
)
def test_check_email_address_returns_none_for_anything_but_one_address(addr):
    assert check_email_address(addr) is None


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("WWW@0.AA", "www@0.aa"),
        ("Info@Example.COM", "info@example.com"),
        ("Ann@Example.COM", "Ann@example.com"),
    ],
)
def test_role_mailboxes_are_lowercased_and_other_local_parts_kept(address, normalised):
    # RFC 2142 role names (info, www, postmaster …) are case-insensitive; any other local part may not be.
    assert check_email_address(address) == normalised


@settings(max_examples=300, deadline=None)
@given(
    address=st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,70}@[A-Za-z0-9.-]{1,40}\.[A-Za-z]{2,8}", fullmatch=True
    )
    | st.emails()
)
def test_the_fast_email_check_agrees_with_email_validator(address):
    try:
        expected = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    assert check_email_address(address) == expected
