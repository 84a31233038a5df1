"""Block builders are pure: data in, blocks out, within Slack limits (checked again by slack_sdk models)."""

import json
from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.compose import ComposeScreen, RecipientLine, build_compose_view, read_metadata
from bot.blocks.help import build_help
from bot.blocks.prospects import build_prospect_list
from bot.i18n import Translator
from outreach.models import Channel, Partner, PartnerKind, Prospect, ProspectQuery
from outreach.prospecting import PageRequest, ProspectPage, decode_state, encode_state


def _sdk_valid(blocks):
    for b in blocks:
        SdkBlock.parse(b).validate_json()


def _prospect(i, messaging=True, contacted=None):
    partner = Partner(
        "T1",
        f"{1000 + i}",
        f"Company <{i}> & Co",
        f"First{i}",
        f"Last{i}",
        f"p{i}@x.example",
        PartnerKind.PARTNER,
        messaging,
        "US",
    )
    return Prospect(partner, last_contacted_at=contacted)


def _page(n=10, picked=frozenset(), picked_count=0, number=1, has_prev=False, has_next=True, flt=None):
    items = tuple(_prospect(i, messaging=i % 2 == 0) for i in range(n))
    return ProspectPage(
        items,
        123,
        number,
        picked,
        picked_count,
        "c-first",
        "c-last",
        has_prev,
        has_next,
        flt or ProspectQuery(),
    )


def test_a_page_has_one_row_per_prospect_with_a_tick_and_a_more_menu():
    blocks = build_prospect_list(_page(), ["US", "CN"], Translator(), "n1")
    rows = [b for b in blocks if b.get("block_id", "").startswith(ids.BLOCK_PICKS + "~")]
    assert len(rows) == 10
    checkbox, more = rows[0]["elements"]
    assert checkbox["action_id"] == ids.ACTION_PICK and checkbox["options"][0]["value"] == "1000"
    assert more["action_id"] == ids.ACTION_ROW_MORE
    _sdk_valid(blocks)
    assert len(blocks) <= 50


def test_message_is_offered_only_for_prospects_with_messaging_enabled():
    blocks = build_prospect_list(_page(2), [], Translator(), "n1")
    rows = [b for b in blocks if b.get("block_id", "").startswith(ids.BLOCK_PICKS + "~")]
    values = [[o["value"] for o in row["elements"][1]["options"]] for row in rows]
    assert values[0] == ["message:1000", "email:1000", "details:1000"]  # messaging on
    assert values[1] == ["email:1001", "details:1001"]  # messaging off


def test_picked_prospects_come_back_ticked_and_the_counter_counts_every_page():
    blocks = build_prospect_list(_page(picked=frozenset({"1003"}), picked_count=7), [], Translator(), "n1")
    rows = {b["block_id"].split("~")[1]: b for b in blocks if b.get("block_id", "").startswith("picks~")}
    assert rows["1003"]["elements"][0].get("initial_options")
    assert "initial_options" not in rows["1004"]["elements"][0]
    text = json.dumps(blocks)
    assert "7 picked" in text and "Email (7)" in text and "Message (7)" in text


def _shown_texts(node):
    """Every text Slack shows (text objects), not the values it only carries back."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text"):
            yield node["text"]
        for value in node.values():
            yield from _shown_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _shown_texts(item)


def test_user_text_is_escaped_for_mrkdwn():
    blocks = build_prospect_list(_page(1, flt=ProspectQuery(text="<!channel> & co")), [], Translator(), "n")
    text = "\n".join(_shown_texts(blocks))
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
    assert "Company &lt;0&gt; &amp; Co" in text


def test_block_ids_change_between_renders():
    a = {b.get("block_id") for b in build_prospect_list(_page(), [], Translator(), "n1")}
    b = {b.get("block_id") for b in build_prospect_list(_page(), [], Translator(), "n2")}
    assert not (a - {None}) & (b - {None})


def test_paging_buttons_carry_the_filter_and_the_cursor():
    flt = ProspectQuery(
        text="acme", kind=PartnerKind.CREATOR, messaging_enabled=True, country="CN", not_contacted=True
    )
    blocks = build_prospect_list(_page(number=2, has_prev=True, flt=flt), ["CN"], Translator(), "n")
    nav = next(b for b in blocks if b.get("block_id", "").startswith("nav~"))
    prev, nxt = nav["elements"]
    assert decode_state(prev["value"]) == (flt, PageRequest(before="c-first", number=1))
    assert decode_state(nxt["value"]) == (flt, PageRequest(after="c-last", number=3))


@pytest.mark.parametrize("garbage", ["", "{", "[]", '{"n": "x"}', '{"k": "alien"}', "null"])
def test_a_tampered_state_falls_back_to_the_first_unfiltered_page(garbage):
    assert decode_state(garbage) == (ProspectQuery(), PageRequest())


def test_state_round_trips_chinese_search_text():
    flt = ProspectQuery(text="张伟")
    assert decode_state(encode_state(flt, PageRequest(at="x", number=4))) == (
        flt,
        PageRequest(at="x", number=4),
    )


def test_the_list_speaks_chinese_for_chinese_users():
    text = json.dumps(build_prospect_list(_page(), [], Translator("zh-CN"), "n"), ensure_ascii=False)
    assert "潜在客户" in text and "全选" in text and "电子邮件" in text


def test_the_email_form_has_every_field_of_the_web_console():
    screen = ComposeScreen(
        7,
        Channel.EMAIL,
        (RecipientLine("1", "Ann (Acme)"),),
        sender_name="Ann Lee",
        reply_to="ann@brand.example",
    )
    view = build_compose_view(screen, Translator("zh-CN"))
    View(**view).validate_json()
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["模板", "发件人名称", "回复电子邮件", "主题", "内容", "附件", "稍后发送"]
    files = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_ATTACHMENTS)["element"]
    assert files["filetypes"] == ["csv", "pdf", "jpg", "jpeg", "png", "gif"] and files["max_files"] == 10
    assert read_metadata(view["private_metadata"]) == (7, Channel.EMAIL)
    assert "{firstName}" in json.dumps(view, ensure_ascii=False)


def test_the_message_form_has_no_email_fields():
    view = build_compose_view(ComposeScreen(1, Channel.MESSAGE, (RecipientLine("1", "A"),)), Translator())
    View(**view).validate_json()
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        ids.BLOCK_TEMPLATE_MENU,
        ids.BLOCK_CONTENT,
        ids.BLOCK_ATTACHMENTS,
        ids.BLOCK_SEND_AT,
    ]


def test_a_long_recipient_list_is_shortened():
    many = tuple(RecipientLine(str(i), f"Name {i}") for i in range(250))
    view = build_compose_view(ComposeScreen(1, Channel.EMAIL, many), Translator())
    assert "and 240 more" in view["blocks"][1]["text"]["text"]  # under the template menu


def test_help_lists_every_token():
    text = json.dumps(build_help(Translator()))
    for token in (
        "{adcode_<adid>}",
        "{mpid}",
        "{mpname}",
        "{firstName}",
        "{lastName}",
        "{currentDay}",
        "{currentTime}",
        "{currentMonthYear}",
    ):
        assert token in text


def test_times_in_rows_use_the_viewers_zone():
    page = ProspectPage(
        (_prospect(1, contacted=datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)),),
        1,
        1,
        frozenset(),
        0,
        "a",
        "a",
        False,
        False,
    )
    text = json.dumps(build_prospect_list(page, [], Translator("en", "Asia/Tokyo"), "n"))
    assert "12:14" in text


def test_a_very_long_list_says_more_than(monkeypatch):
    monkeypatch.setattr("outreach.prospecting.TOTAL_SHOWN", 100)
    page = ProspectPage(tuple(_prospect(i) for i in range(10)), 101, 1, frozenset(), 0, "a", "b", False, True)
    text = json.dumps(build_prospect_list(page, [], Translator(), "n"))
    assert "of more than 100 prospects" in text


def test_select_all_matching_names_the_filters_within_a_buttons_75_characters():
    from bot.blocks.prospects import select_matching_label
    from outreach.models import PartnerKind

    t = Translator("en")
    query = ProspectQuery("a rather long search text, longer than anything", PartnerKind.CREATOR, True, "FR")
    page = ProspectPage((), 1234, 1, frozenset(), 0, None, None, False, True, query)
    label = select_matching_label(page, t)
    assert label.startswith("Select all 1,234 matching (Creators · Messaging enabled · FR · “a rather")
    assert len(label) <= 75 and label.endswith("…")
    many = ProspectPage((), 10_001, 1, frozenset(), 0, None, None, False, True, ProspectQuery())
    assert select_matching_label(many, t) == "Select all matching (more than 10,000)"
    assert select_matching_label(many, Translator("zh-CN")) == "选择全部匹配项（超过 10,000 个）"
