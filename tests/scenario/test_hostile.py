"""Hostile input through the Slack surface: each is refused with a clear message or handled with nothing lost.
(Signatures: test_signatures.py; other workspaces' ids: test_outreach.py; attachments: integration/test_sniffer.py
and test_clamd.py; the CSV import: integration/test_import*.py and its property tests.)"""

from __future__ import annotations

import json

import pytest

from bot import ids
from bot.devtools.harness import full_app, input_values, more, rows, wait_for
from outreach.models import DraftStatus, Partner

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

RLO = "\u202e"


@pytest.fixture
def app(scenario_settings):
    settings = scenario_settings()
    with full_app(settings) as running:
        with running.services.uow() as uow:
            uow.partners.upsert_many(
                "T0001",
                [
                    Partner(
                        "T0001",
                        "p1",
                        f"Acme{RLO}moc.live",
                        "Al<b>",
                        "*Ng*",
                        "al@acme.example",
                        messaging_enabled=True,
                    ),
                ],
                mark_prospects={"p1"},
                marked_by="U0001",
            )
            uow.commit()
        yield running


def email_form(app):
    page = app.command("U0001")
    return app.open_form("U0001", page, more(rows(page)[0], "email"))


def test_ten_thousand_characters_of_search_are_cut_and_said_so(app):
    page = app.command("U0001", "x" * 10_000)
    text = json.dumps(page)
    assert "No prospects match" in text and "cut to its first 200 characters" in text
    assert len(text) < 20_000  # the long text is not echoed back whole


def test_markup_in_names_is_shown_as_text_not_markup(app):
    page = app.command("U0001")
    option_text = rows(page)[0]["elements"][0]["options"][0]["text"]["text"]
    assert "Al&lt;b&gt;" in option_text  # escaped for mrkdwn: no injected formatting or mentions


def test_template_looking_content_is_sent_verbatim(app, smtp_server):
    form = email_form(app)
    content = "Hi {firstName}: {{ 7*7 }} {% if x %}no{% endif %} ${HOME} <script>alert(1)</script>"
    answer = app.submit(
        "U0001",
        form,
        input_values(
            sender_name="Ann", reply_to="ann@brand.example", subject="{{ 7*7 }} for {mpname}", content=content
        ),
    ).json()
    assert answer["response_action"] == "update"
    (email,) = wait_for(smtp_server.messages, what="the e-mail")
    text = email.get_body(("plain",)).get_content()
    assert "Hi Al<b>: {{ 7*7 }} {% if x %}no{% endif %} ${HOME} <script>alert(1)</script>" in text
    html = email.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert (
        email["Subject"] == f"{{{{ 7*7 }}}} for Acme{RLO}moc.live"
    )  # the name as imported, nothing evaluated


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hi\r\nBcc: everyone@example.com"),
        ("sender_name", "Ann\nLee"),
        ("reply_to", "a@b.example\r\nBcc: x@y.example"),
    ],
)
def test_line_breaks_in_header_fields_are_refused_next_to_the_field(app, smtp_server, field, value):
    form = email_form(app)
    fields = {
        "sender_name": "Ann",
        "reply_to": "ann@brand.example",
        "subject": "Hello",
        "content": "Hi",
        field: value,
    }
    answer = app.submit("U0001", form, input_values(**fields)).json()
    assert answer["response_action"] == "errors" and field in answer["errors"]
    assert smtp_server.messages() == []
    (draft,) = app.services.compose.drafts("T0001", "U0001")
    assert draft.status is DraftStatus.DRAFT  # kept, not sent


def test_a_misspelt_token_in_the_subject_blocks_sending(app, smtp_server):
    form = email_form(app)
    answer = app.submit(
        "U0001",
        form,
        input_values(sender_name="Ann", reply_to="ann@brand.example", subject="For {LastName}", content="Hi"),
    ).json()
    assert answer["response_action"] == "errors" and "{lastName}" in answer["errors"][ids.BLOCK_SUBJECT]
    assert smtp_server.messages() == []


def test_control_characters_in_imported_names_are_refused_and_right_to_left_names_kept(app):
    from outreach.importing import import_partners

    csv = (
        "mpid,mpname,first_name,last_name,email,kind\n"
        "h1,Bell\x07Corp,,,b@bell.example,partner\n"
        "h2,שלום Media,דנה,,d@shalom.example,partner\n"
        "h3,Nul,A\x00nn,,n@nul.example,partner\n"
    ).encode()
    report = import_partners(csv, "T0001", app.services.uow, filename="hostile.csv")
    assert [(e.line, e.reason) for e in report.rejected] == [
        (2, "mpname contains control characters (U+0007)"),
        (4, "first_name contains control characters (U+0000)"),
    ]
    assert app.services.prospects.get("T0001", "h2").partner.name == "שלום Media"
