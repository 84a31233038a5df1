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
