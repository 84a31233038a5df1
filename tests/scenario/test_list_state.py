"""The lists keep their state with what Slack really sends: an action on an ephemeral message carries no
``message`` (SLACK.md §8.1), so the page, search and filters come back from the action's own block id or value."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot import ids
from bot.devtools.harness import button, choose, full_app, mpid_of, row_of, rows, tick, wait_for
from outreach.models import Partner, PartnerKind, ProspectQuery
from outreach.prospecting import PageRequest

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]


@pytest.fixture
def app(scenario_settings):
    with full_app(scenario_settings()) as running:
        partners = [
            Partner(
                "T0001",
                f"m{i:03d}",
                f"Shop {i:03d}",
                f"Name{i}",
                "Doe",
                f"s{i}@shop.example",
                PartnerKind.CREATOR if i % 2 else PartnerKind.PARTNER,
                True,
                "FR" if i % 4 in (1, 3) else "US",
            )
            for i in range(80)
        ]
        partners += [
            Partner("T0001", "hm1", "H&M Partners", "Hanna", "Moritz", "h@hm.example"),
            Partner("T0001", "lt1", "Less <than> More", "Lea", "Tan", "l@lt.example"),
        ]
        with running.services.uow() as uow:
            uow.partners.upsert_many(
                "T0001", partners, mark_prospects={p.mpid for p in partners}, marked_by="U0001"
            )
            uow.commit()
        yield running


def shown(page):
    return [mpid_of(r) for r in rows(page)]


def ticked(page):
    return [mpid_of(r) for r in rows(page) if r["elements"][0].get("initial_options")]


def block_ids(page):
    return {b["block_id"] for b in page["blocks"] if "block_id" in b}


def summary(page):
    return page["blocks"][1]["text"]["text"]


def test_a_tick_on_page_3_of_a_search_with_two_filters_shows_page_3_of_it_again(app):
    page = app.command("U0001", "shop")
    page = app.click("U0001", page, choose(page, ids.ACTION_FILTER_KIND, "creator"))
    page = app.click("U0001", page, choose(page, ids.ACTION_FILTER_COUNTRY, "FR"))
    assert "of 40 prospects" in summary(page)  # odd numbers: creators, all in FR
    page = app.click("U0001", page, button(page, ids.ACTION_PAGE_NEXT))
    page = app.click("U0001", page, button(page, ids.ACTION_PAGE_NEXT))
    assert "Showing 21–30 of 40" in summary(page)
    third = shown(page)
    assert third == [f"m{i:03d}" for i in range(41, 60, 2)]
    before = block_ids(page)

    page = app.click("U0001", page, tick(rows(page)[4]))
    assert shown(page) == third and ticked(page) == [third[4]]  # page 3 again, the tick shown
    assert before.isdisjoint(block_ids(page))  # new block ids at each update, as Slack wants (SLACK.md §1.1)
    assert "Showing 21–30 of 40" in summary(page) and "shop" in summary(page)
    filters = next(b for b in page["blocks"] if b.get("block_id", "").startswith(ids.BLOCK_FILTERS + "~"))
    chosen = {e["action_id"]: e.get("initial_option", {}).get("value") for e in filters["elements"]}
    assert chosen[ids.ACTION_FILTER_KIND] == "creator" and chosen[ids.ACTION_FILTER_COUNTRY] == "FR"

    page = app.click("U0001", page, tick(row_of(page, third[5])))  # the next tick, on the page as it is now
    assert ticked(page) == [third[4], third[5]] and "2 picked" in json.dumps(page)


def test_select_all_then_next_then_a_tick_stays_on_page_2(app):
    page = app.command("U0001")
    page = app.click("U0001", page, button(page, ids.ACTION_SELECT_ALL))
    page = app.click("U0001", page, button(page, ids.ACTION_PAGE_NEXT))
    second = shown(page)
    page = app.click("U0001", page, tick(rows(page)[0]))
    assert shown(page) == second and "Showing 11–20" in summary(page)
    assert "11 picked" in json.dumps(page)


def test_clear_and_a_filter_change_keep_the_search(app):
    page = app.command("U0001", "shop 01")  # Shop 010 … Shop 019
    page = app.click("U0001", page, button(page, ids.ACTION_SELECT_ALL))
    page = app.click("U0001", page, button(page, ids.ACTION_CLEAR))
    assert "0 picked" in json.dumps(page) and shown(page) == [f"m{i:03d}" for i in range(10, 20)]
    page = app.click("U0001", page, choose(page, ids.ACTION_FILTER_NOT_CONTACTED, True))
    assert shown(page) == [f"m{i:03d}" for i in range(10, 20)] and "shop 01" in summary(page)


def test_a_list_forgotten_or_another_users_falls_back_to_the_first_page(app):
    page = app.command("U0001", "shop")
    page = app.click("U0001", page, button(page, ids.ACTION_PAGE_NEXT))
    with app.services.uow() as uow:  # a day later its state is purged
        uow.list_states.purge(app.services.clock.now() + timedelta(days=2))
        uow.commit()
    page = app.click("U0001", page, tick(rows(page)[0]))
    assert "Showing 1–10" in summary(page)
    theirs = app.services.prospects.remember("T0001", "U0002", ProspectQuery("shop"), PageRequest())
    assert app.services.prospects.recall("T0001", "U0001", theirs) is None  # another user's key: nothing


def test_escaped_command_text_is_unescaped_once(app):
    page = app.command("U0001", "H&M")  # Slack sends "H&amp;M"
    assert shown(page) == ["hm1"]
    text = json.dumps(page, ensure_ascii=False)
    assert "H&amp;M" in text and "&amp;amp;" not in text  # mrkdwn escapes it once: Slack shows "H&M"
    page = app.command("U0001", "<than>")
    assert shown(page) == ["lt1"] and "&amp;lt;" not in json.dumps(page)


def test_the_marketplace_pages_and_tabs_from_their_own_values(app):
    market = app.command("U0001", "marketplace creators shop")
    assert "Shop 001" in json.dumps(market) and "Shop 000" not in json.dumps(market)
    market = app.click("U0001", market, button(market, ids.ACTION_MARKET_NEXT))
    assert "Shop 021" in json.dumps(market) and "Shop 001" not in json.dumps(market)
    partners = app.click("U0001", market, button(market, ids.ACTION_MARKET_TAB))
    assert "Shop 000" in json.dumps(partners) and "Shop 001" not in json.dumps(partners)


def test_select_all_matching_confirms_what_it_ticks_then_ticks_every_page_and_clear_undoes_it(app):
    with app.services.uow() as uow:
        uow.suppressions.add("T0001", "s1@shop.example", "bounced")  # m001: a creator in FR
        uow.commit()
    page = app.command("U0001", "shop")
    page = app.click("U0001", page, choose(page, ids.ACTION_FILTER_KIND, "creator"))
    page = app.click("U0001", page, choose(page, ids.ACTION_FILTER_COUNTRY, "FR"))
    page = app.click("U0001", page, button(page, ids.ACTION_PAGE_NEXT))
    select = button(page, ids.ACTION_SELECT_MATCHING)
    label = next(
        e["text"]["text"]
        for b in page["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == ids.ACTION_SELECT_MATCHING
    )
    assert label == "Select all 40 matching (Creators · FR · “shop”)"
    seen = len(app.standin.view_log)
    app.click("U0001", page, select, expect_response=False)
    confirm = app.opened_after(seen)
    text = json.dumps(confirm, ensure_ascii=False)
    assert "*40 prospects* match Creators · FR · “shop”" in text
    assert "40 can get an in-platform message" in text and "40 have an e-mail address" in text
    assert "1 unsubscribed or bounced" in text
    assert app.services.prospects.picked_ids("T0001", "U0001") == []  # nothing ticked before it is confirmed

    before = len(app.standin.writes)
    answer = app.submit("U0001", confirm, {})
    assert answer.json()["response_action"] == "update"
    shown = wait_for(
        lambda: app._shown_after(before, "U0001", page["channel"], (page["channel"], page["ts"]))
    )
    assert "40 picked" in json.dumps(shown) and "Showing 11–20 of 40" in summary(shown)  # the same page
    assert len(app.services.prospects.picked_ids("T0001", "U0001")) == 40
    done = wait_for(lambda: "40 prospects are ticked" in json.dumps(app.standin.open_view(confirm["id"])))
    assert done
    form = app.open_form("U0001", shown, button(shown, ids.ACTION_EMAIL_PICKED))
    text = json.dumps(form)  # 10 named and 29 more: the 40 but one, the bounced address, left out and named
    assert "and 29 more" in text and "1 left out of this send" in text
    cleared = app.click("U0001", shown, button(shown, ids.ACTION_CLEAR))
    assert "0 picked" in json.dumps(cleared) and app.services.prospects.picked_ids("T0001", "U0001") == []


def test_one_page_of_matches_has_no_select_all_matching(app):
    page = app.command("U0001", "shop 01")  # ten matches: one page
    assert ids.ACTION_SELECT_MATCHING not in json.dumps(page)


def test_a_lists_clicks_are_answered_over_the_connections_kept_open(app):
    """respond() keeps its connections to Slack's response URLs open (bot/response_urls.py: with Slack, no TCP and
    TLS handshake before each click's answer), and the stand-in keeps connections open as Slack's endpoints do.
    A click can come before the app has read the answer to the last message (the stand-in shows a message before
    it answers): that click's answer takes a second connection, and from then on the two are reused. Each click
    here waits until the stand-in has written its answers; the app's thread may still not have read the last
    one when the next answer goes out (threads take turns), and on a busy machine that can happen twice in a
    row: a second connection more (2 runs in 80 here)."""
    page = app.command("U0001")
    opened = app.standin.connections

    def click(action: dict[str, object]) -> dict[str, object]:
        wait_for(lambda: app.standin.answering == 0, what="the stand-in's answers written")
        return app.click("U0001", page, action)

    for _ in range(5):
        page = click(button(page, ids.ACTION_PAGE_NEXT))
    page = click(tick(rows(page)[0]))
    assert "Showing 51–60" in summary(page) and "1 picked" in json.dumps(page)
    assert app.standin.connections - opened <= 2  # six answers; a new connection each would be six
