"""Checking a text's tokens before anything is sent, and reporting values missing for some recipients."""

from __future__ import annotations

import pytest

from outreach.errors import Problem
from outreach.models import Recipient
from outreach.tokens import MissingValues, Template, check

ADIDS = frozenset({"42", "7"})


def missing_values(template: Template, recipients: list[Recipient]) -> list[Problem]:
    """The problems of a tally over ``recipients``, as the compose form's check makes them."""
    tally = MissingValues(template, field="content")
    for recipient in recipients:
        tally.add(recipient)
    return tally.problems()


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_a_text_with_only_valid_tokens_has_no_problems() -> None:
    source = (
        "Hi {firstName} {lastName} of {mpname} ({mpid}), {currentDay} {currentTime} {currentMonthYear}"
        " {adcode_42} {adcode_7}"
    )
    assert check(source, ADIDS) == []


def test_an_unknown_token_names_its_line_and_the_closest_valid_token() -> None:
    problem = only(check("Hello,\n{fristName} there", ADIDS))
    assert problem == Problem(
        field="content",
        code="unknown_token",
        message="Unknown token {fristName} on line 2 — did you mean {firstName}?",
        params=(
            ("token", "{fristName}"),
            ("suggestion", "{firstName}"),
            ("position", "7"),
            ("line", "2"),
            ("lines", "2"),
            ("count", "1"),
        ),
    )


@pytest.mark.parametrize(
    ("written", "suggestion"),
    [
        ("{LastName}", "{lastName}"),
        ("{FIRSTNAME}", "{firstName}"),
        ("{first_name}", "{firstName}"),
        ("{last-name}", "{lastName}"),
        ("{fristName}", "{firstName}"),
        ("{lastNme}", "{lastName}"),
        ("{mpnam}", "{mpname}"),
        ("{MPID}", "{mpid}"),
        ("{currentday}", "{currentDay}"),
        ("{current_month_year}", "{currentMonthYear}"),
        ("{AdCode_42}", "{adcode_42}"),
        ("{adcode42}", "{adcode_42}"),
    ],
)
def test_unknown_tokens_get_a_case_insensitive_then_closest_suggestion(written: str, suggestion: str) -> None:
    problem = only(check(f"x {written} y", ADIDS))
    assert problem.code == "unknown_token"
    assert problem.param("token") == written
    assert problem.param("suggestion") == suggestion
    assert problem.message == f"Unknown token {written} on line 1 — did you mean {suggestion}?"


def test_an_unknown_token_with_nothing_close_lists_the_valid_tokens() -> None:
    problem = only(check("{zzz}", ADIDS))
    assert problem.code == "unknown_token"
    assert problem.param("suggestion") is None
    assert problem.message == (
        "Unknown token {zzz} on line 1 — valid tokens are {mpid}, {mpname}, {firstName}, {lastName},"
        " {currentDay}, {currentTime}, {currentMonthYear}, {adcode_<adid>}."
    )


def test_an_adid_that_does_not_exist_in_the_workspace_is_reported() -> None:
    problem = only(check("Try {adcode_42} and\n\n{adcode_999}", ADIDS))
    assert problem.code == "unknown_adid"
    assert problem.param("adid") == "999"
    assert problem.param("line") == "3"
    assert problem.message == "Unknown ad {adcode_999} on line 3 — there is no ad 999 in this workspace."


@pytest.mark.parametrize(
    ("source", "written", "reason"),
    [
        ("Hi {firstName, welcome", "{firstName", "the closing brace is missing"),
        ("Hi firstName}, welcome", "firstName}", "the opening brace is missing"),
        ("Hi { firstName }, welcome", "{ firstName }", "there are spaces inside the braces"),
        ("Hi {firstName }, welcome", "{firstName }", "there are spaces inside the braces"),
        ("Hi {{firstName}}, welcome", "{{firstName}}", "tokens use single braces"),
        ("Hi {{ firstName }}, welcome", "{{ firstName }}", "tokens use single braces"),
        ("Hi {{firstName}, welcome", "{{firstName}", "tokens use single braces"),
        ("Hi {firstName}}, welcome", "{firstName}}", "tokens use single braces"),
        ("Hi ${firstName}, welcome", "${firstName}", "tokens have no $ in front"),
    ],
)
def test_a_brace_that_looks_like_a_broken_token_is_reported(source: str, written: str, reason: str) -> None:
    problem = only(check(source, ADIDS))
    assert problem.code == "broken_token"
    assert problem.param("token") == written
    assert problem.param("suggestion") == "{firstName}"
    assert problem.param("position") == "3"
    assert problem.message == f"Broken token {written} on line 1 — {reason}: write {{firstName}}."


@pytest.mark.parametrize(
    ("source", "suggestion"),
    [
        ("{ LastName }", "{lastName}"),
        ("{{first_name}}", "{firstName}"),
        ("{ adcode_42 }", "{adcode_42}"),
        ("{adcode_42", "{adcode_42}"),
        ("{currentDay", "{currentDay}"),
        ("{fristName", "{firstName}"),
    ],
)
def test_broken_tokens_suggest_the_well_formed_token(source: str, suggestion: str) -> None:
    problem = only(check(source, ADIDS))
    assert (problem.code, problem.param("suggestion")) == ("broken_token", suggestion)


@pytest.mark.parametrize(
    "source",
    [
        "{ }", "{}", "{{", "}}", '{"a": 1, "b": {"c": [1, 2]}}', "${x}", "{{ 7*7 }}", "{% if %}",
        "{% if user %}hi{% endif %}", "{10% off}", "{{ user }}", "{ user }", "{Current offers}",
        "Prices {from $5}", "a } b { c", "function() { return x; }", "{{x}}", "$", "{",
    ],
)  # fmt: skip
def test_text_that_is_not_a_token_is_not_an_error(source: str) -> None:
    assert check(source, ADIDS) == []


def test_every_problem_is_returned_at_once_in_order_of_appearance() -> None:
    source = "{fristName}\n{adcode_1} {firstName\n{LastName} ok {firstName}"
    problems = check(source, ADIDS)
    assert [(p.code, p.param("token"), p.param("line")) for p in problems] == [
        ("unknown_token", "{fristName}", "1"),
        ("unknown_adid", "{adcode_1}", "2"),
        ("broken_token", "{firstName", "2"),
        ("unknown_token", "{LastName}", "3"),
    ]


def test_the_same_mistake_is_reported_once_with_every_line_it_is_on() -> None:
    problem = only(check("{fristName}\n\n{fristName} and {fristName}\n{fristName}", ADIDS))
    assert problem.param("lines") == "1,3,4"
    assert problem.param("count") == "4"
    assert problem.message == "Unknown token {fristName} on lines 1, 3 and 4 — did you mean {firstName}?"


def test_problems_belong_to_the_field_given() -> None:
    assert only(check("{fristName}", ADIDS, field="subject")).field == "subject"


ALL_SET = Recipient(mpid="1", mpname="Acme", first_name="Ana", last_name="Díaz")
NO_FIRST = Recipient(mpid="2", mpname="Beta", first_name="", last_name="Bo")
BLANK_FIRST = Recipient(mpid="3", mpname="", first_name="  ", last_name="")


def test_a_value_empty_for_some_recipients_is_reported_with_those_recipients() -> None:
    template = Template.parse("Hi {firstName} from {mpname}")
    problems = missing_values(template, [ALL_SET, NO_FIRST, BLANK_FIRST])
    assert [p.code for p in problems] == ["missing_value", "missing_value"]
    first, name = problems
    assert first.field == "content"
    assert first.param("token") == "{firstName}"
    assert first.param("mpids") == "2,3"
    assert first.param("names") == "Beta (2); 3 (3)"
    assert (first.param("count"), first.param("total")) == ("2", "3")
    assert first.message == (
        "{firstName} is empty for 2 of 3 recipients: Beta (2), 3 (3)"
        " — sent as is, it will be left blank for them."
    )
    assert name.param("token") == "{mpname}"
    assert name.param("mpids") == "3"


def test_missing_values_only_looks_at_tokens_the_text_uses() -> None:
    assert (
        missing_values(Template.parse("Hi {firstName}, {currentDay} {adcode_42}"), [ALL_SET, NO_FIRST][:1])
        == []
    )
    assert missing_values(Template.parse("Hello {lastName}"), [ALL_SET, NO_FIRST]) == []


def test_many_missing_recipients_are_summarised_with_the_first_five_named_and_a_key_for_all() -> None:
    recipients = [Recipient(mpid=str(i), mpname=f"P{i}") for i in range(8)]
    problem = only(missing_values(Template.parse("{firstName}"), recipients))
    assert problem.message.startswith("{firstName} is empty for 8 of 8 recipients: P0 (0), P1 (1), P2 (2)")
    assert "P4 (4) and 3 more —" in problem.message
    assert problem.param("mpids") == "0,1,2,3,4"
    assert problem.param("names") == "P0 (0); P1 (1); P2 (2); P3 (3); P4 (4); … +3"
    # The key stands for every one of them: another set of empty recipients gives another key.
    same = only(missing_values(Template.parse("{firstName}"), list(recipients)))
    other = only(missing_values(Template.parse("{firstName}"), recipients[:7]))
    assert problem.param("key") == same.param("key") != other.param("key")


def test_the_tally_keeps_little_however_many_recipients_it_sees() -> None:
    tally = MissingValues(Template.parse("Hi {firstName} {lastName}"), field="subject")
    for i in range(100_000):
        tally.add(Recipient(mpid=f"m{i}", mpname=f"M{i}", first_name="" if i % 2 else "Ana", last_name="Lee"))
    problem = only(tally.problems())
    assert (problem.field, problem.param("count"), problem.param("total")) == ("subject", "50000", "100000")
    assert problem.param("names").endswith("; … +49995")
    assert len(problem.message) < 300


@pytest.mark.parametrize("source", ["{" * 20_000, "}" * 20_000, "{ " * 10_000, "${" * 10_000])
def test_long_runs_of_braces_are_plain_text(source: str) -> None:
    assert check(source, ADIDS) == []
    assert Template.parse(source).literals == (source,)


def test_a_token_after_a_long_run_of_braces_is_reported_as_broken() -> None:
    problem = only(check("{" * 10_000 + "firstName}", ADIDS))
    assert (problem.code, problem.param("position")) == ("broken_token", "0")
