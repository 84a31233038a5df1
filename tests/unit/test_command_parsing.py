from bot.handlers.parsing import Command, parse_command
from outreach.models import PartnerKind


def test_no_text_lists_every_prospect():
    assert parse_command("   ") == Command("search")


def test_text_that_is_no_subcommand_is_a_search():
    assert parse_command("  Acme   Media ") == Command("search", "Acme   Media")
    assert parse_command("helpdesk") == Command("search", "helpdesk")


def test_subcommands_are_case_insensitive():
    assert parse_command("HELP") == Command("help")
    assert parse_command("Drafts") == Command("drafts")


def test_marketplace_defaults_to_partners_and_takes_a_tab_and_text():
    assert parse_command("marketplace") == Command("marketplace", "", PartnerKind.PARTNER)
    assert parse_command("marketplace creators") == Command("marketplace", "", PartnerKind.CREATOR)
    assert parse_command("marketplace partners shoes") == Command("marketplace", "shoes", PartnerKind.PARTNER)
    assert parse_command("marketplace 鞋子") == Command("marketplace", "鞋子", PartnerKind.PARTNER)


def _state(**blocks):
    from bot import ids

    return {block: {ids.ACTION_INPUT: value} for block, value in blocks.items()}


def test_compose_values_are_read_from_the_view_state():
    from bot.handlers.parsing import parse_compose

    values = parse_compose(
        _state(
            sender_name={"type": "plain_text_input", "value": "Ann Lee"},
            reply_to={"type": "email_text_input", "value": " ann@brand.example "},
            subject={"type": "plain_text_input", "value": "关于合作的邀请"},
            content={"type": "plain_text_input", "value": "Hi {firstName}"},
            attachments={"type": "file_input", "files": [{"id": "F1", "name": "a.pdf"}]},
            kept_files={"type": "checkboxes", "selected_options": [{"value": "12"}, {"value": "x"}]},
        )
    )
    assert values.sender_name == "Ann Lee" and values.reply_to == "ann@brand.example"
    assert values.subject == "关于合作的邀请" and values.content == "Hi {firstName}"
    assert values.uploads == ({"id": "F1", "name": "a.pdf"},)
    assert values.kept_ids == (12,)


def test_an_empty_or_partial_state_reads_as_empty_fields():
    from bot.handlers.parsing import ComposeValues, parse_compose

    assert parse_compose({}) == ComposeValues()
    assert parse_compose(_state(content={"type": "plain_text_input", "value": None})).content == ""
