"""Templates on screen: the menu at the top of the form, the form rewritten under new block ids when a template
fills it, the template form, the list; and reading them back (parsing, errors next to renamed blocks)."""

from __future__ import annotations

import json

import pytest

from bot import ids
from bot.blocks.compose import ComposeScreen, RecipientLine, build_compose_view
from bot.blocks.templates import (
    TemplateScreen,
    build_template_list,
    build_template_view,
    menu_options,
    read_template_metadata,
)
from bot.devtools.slack_payloads import message_problems, options_problems, view_problems
from bot.handlers.parsing import (
    files_key_of,
    fill_of,
    parse_command,
    parse_compose_form,
    parse_template_form,
)
from bot.i18n import Translator
from bot.problems import block_errors
from outreach.errors import Problem
from outreach.models import Attachment, Channel, TemplateSummary
from outreach.templates import PAGE_SIZE, TemplatePage

FILE = Attachment("kit.pdf", "application/pdf", "0" * 64, b"%PDF", id=7)


def _form(fill: int = 0, files_key: int = 0, channel: Channel = Channel.EMAIL) -> dict:
    screen = ComposeScreen(
        3, channel, (RecipientLine("m1", "Ann"),), kept_files=(FILE,), fill=fill, files_key=files_key
    )
    return build_compose_view(screen, Translator())


def test_the_menu_is_the_forms_first_input_an_external_select_that_dispatches_its_choice():
    view = _form()
    assert view_problems(view) == []
    menu = view["blocks"][0]
    assert menu["type"] == "input" and menu["dispatch_action"] is True and menu["optional"] is True
    assert menu["element"]["type"] == "external_select"
    assert menu["element"]["action_id"] == ids.ACTION_TEMPLATE_MENU
    assert menu["element"]["min_query_length"] == 0  # opening the menu lists the first ones at once
    save = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids.ACTION_COMPOSE_SAVE_TEMPLATE in [e["action_id"] for e in save]


def test_a_template_fill_renames_subject_content_and_kept_files_and_nothing_else():
    before = {b.get("block_id") for b in _form()["blocks"]}
    after_view = _form(fill=2)
    after = {b.get("block_id") for b in after_view["blocks"]}
    assert before - after == {ids.BLOCK_SUBJECT, ids.BLOCK_CONTENT, ids.BLOCK_KEPT_FILES}
    assert after - before == {"subject~2", "content~2", "kept_files~2"}
    assert fill_of(after_view) == 2 and files_key_of(after_view) == 0
    files_view = _form(fill=2, files_key=1)
    assert files_key_of(files_view) == 1
    assert {"attachments~1", "kept_files~3"} <= {b.get("block_id") for b in files_view["blocks"]}
    assert view_problems(files_view) == []


def test_a_renamed_form_reads_back_as_the_plain_one():
    view = _form(fill=1, files_key=1)
    view["state"] = {
        "values": {
            "subject~1": {ids.ACTION_INPUT: {"type": "plain_text_input", "value": "Hi {firstName}"}},
            "content~1": {ids.ACTION_INPUT: {"type": "plain_text_input", "value": "Body"}},
            "kept_files~2": {ids.ACTION_INPUT: {"type": "checkboxes", "selected_options": [{"value": "7"}]}},
            "attachments~1": {ids.ACTION_INPUT: {"type": "file_input", "files": [{"id": "F1"}]}},
        }
    }
    form = parse_compose_form(view)
    assert form is not None
    v = form.values
    assert (v.subject, v.content, v.kept_ids, v.uploads) == ("Hi {firstName}", "Body", (7,), ({"id": "F1"},))


def test_problems_go_next_to_the_renamed_blocks():
    present = {b.get("block_id", "") for b in _form(fill=1)["blocks"]}
    problems = [Problem("subject", "required", "Subject is required."), Problem("recipients", "x", "Nobody.")]
    errors = block_errors(problems, Translator(), present)
    assert errors == {"subject~1": "Subject is required.", "content~1": "Nobody."}


def test_options_are_at_most_a_hundred_with_names_clipped_to_slacks_75_characters():
    found = [TemplateSummary(n, f"{'x' * 90} {n}", Channel.EMAIL, "U1", "Hello") for n in range(1, 131)]
    options = menu_options(found)
    assert len(options) == 100 and all(len(o["text"]["text"]) <= 75 for o in options)
    assert options_problems({"options": options}) == []
    assert options_problems({"options": options * 2}) != []  # the stand-in refuses what Slack would not show


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.MESSAGE])
def test_the_template_form_asks_the_name_and_shows_the_subject_only_for_an_email(channel):
    screen = TemplateScreen(
        channel, draft_id=3, subject="S", content="C", files=(FILE,), refused=("a.exe — no",)
    )
    view = build_template_view(screen, Translator("zh-CN"))
    assert view_problems(view) == []
    blocks = [b.get("block_id") for b in view["blocks"] if b["type"] == "input"]
    expected = [
        ids.BLOCK_TEMPLATE_NAME,
        ids.BLOCK_TEMPLATE_SUBJECT,
        ids.BLOCK_TEMPLATE_CONTENT,
        ids.BLOCK_TEMPLATE_FILES,
    ]
    if channel is Channel.MESSAGE:
        expected.remove(ids.BLOCK_TEMPLATE_SUBJECT)
    assert blocks == expected
    assert "模板名称" in json.dumps(view, ensure_ascii=False) and "a.exe" in json.dumps(view)
    assert read_template_metadata(view["private_metadata"]) == (channel, 3, 0)
    edit = build_template_view(TemplateScreen(channel, template_id=9, name="N", content="C"), Translator())
    assert read_template_metadata(edit["private_metadata"]) == (channel, 0, 9)


def test_the_template_form_reads_back():
    view = {
        "state": {
            "values": {
                ids.BLOCK_TEMPLATE_NAME: {ids.ACTION_INPUT: {"value": "Intro"}},
                ids.BLOCK_TEMPLATE_CONTENT: {ids.ACTION_INPUT: {"value": "Hi"}},
                ids.BLOCK_TEMPLATE_FILES: {
                    ids.ACTION_INPUT: {"selected_options": [{"value": "7"}, {"value": "x"}]}
                },
            }
        }
    }
    got = parse_template_form(view)
    assert (got.name, got.subject, got.content, got.file_ids) == ("Intro", "", "Hi", (7,))


def test_the_list_pages_and_asks_before_a_delete():
    items = tuple(
        TemplateSummary(n, f"T{n}", Channel.EMAIL if n % 2 else Channel.MESSAGE, "U1", "S", n % 3)
        for n in range(PAGE_SIZE)
    )
    text, blocks = build_template_list(TemplatePage(items, 25, 1), Translator())
    assert "25" in text and message_problems(text, blocks) == []
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    deletes = [e for e in buttons if e["action_id"] == ids.ACTION_TEMPLATE_DELETE]
    assert len(deletes) == PAGE_SIZE and all("confirm" in e for e in deletes)
    pages = [e["value"] for e in buttons if e["action_id"] == ids.ACTION_TEMPLATES_PAGE]
    assert pages == ["0", "2"]
    _, empty = build_template_list(TemplatePage((), 0, 0), Translator())
    assert "Save as template" in json.dumps(empty)


def test_templates_is_a_subcommand():
    assert parse_command("templates").name == "templates"
    assert parse_command("templates 3").text == "3"
