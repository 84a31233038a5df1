"""The /prospects list: a page of prospects with ticks, filters, bulk actions and paging."""

from __future__ import annotations

from bot import ids
from bot.blocks.common import (
    Block,
    actions,
    button,
    check_limits,
    clip,
    confirm_dialog,
    context,
    divider,
    escape,
    header,
    option,
    plain,
    section,
)
from bot.i18n import Translator
from outreach.models import Prospect, ProspectQuery
from outreach.prospecting import PageRequest, ProspectPage, encode_state


def _row(p: Prospect, picked: bool, t: Translator, key: str) -> Block:
    partner = p.partner
    who = partner.contact_name or partner.name
    title = f"*{escape(clip(who, 30))}* — {escape(clip(partner.name, 30))}"
    messaging = t("list.messaging_on") if partner.messaging_enabled else t("list.messaging_off")
    last = t("list.last_contacted", when=t.when(p.last_contacted_at))
    description = f"{partner.mpid} · {messaging} · {last}"
    pick_option = option(title, partner.mpid, description, markdown=True)
    checkbox: Block = {"type": "checkboxes", "action_id": ids.ACTION_PICK, "options": [pick_option]}
    if picked:
        checkbox["initial_options"] = [pick_option]
    more: list[Block] = []
    if partner.messaging_enabled:
        more.append(option(t("list.more.message"), f"message:{partner.mpid}"))
    more.append(option(t("list.more.email"), f"email:{partner.mpid}"))
    more.append(option(t("list.more.details"), f"details:{partner.mpid}"))
    overflow: Block = {"type": "overflow", "action_id": ids.ACTION_ROW_MORE, "options": more}
    return actions(checkbox, overflow, block_id=ids.block_id(ids.BLOCK_PICKS, f"{partner.mpid}~{key}"))


def _filters(flt: ProspectQuery, countries: list[str], t: Translator, key: str) -> Block:
    def select(action_id: str, placeholder: str, choices: list[tuple[str, str]], current: str) -> Block:
        opts = [option(label, value) for label, value in choices]
        element: Block = {
            "type": "static_select",
            "action_id": action_id,
            "placeholder": plain(placeholder),
            "options": opts,
        }
        chosen = [o for o in opts if o["value"] == current]
        if chosen:
            element["initial_option"] = chosen[0]
        return element

    kind = select(
        ids.ACTION_FILTER_KIND,
        t("list.filter.kind"),
        [
            (t("list.filter.kind_any"), "any"),
            (t("list.filter.kind_partner"), "partner"),
            (t("list.filter.kind_creator"), "creator"),
        ],
        flt.kind.value if flt.kind else "any",
    )
    messaging_value = "any" if flt.messaging_enabled is None else ("on" if flt.messaging_enabled else "off")
    messaging = select(
        ids.ACTION_FILTER_MESSAGING,
        t("list.filter.messaging"),
        [
            (t("list.filter.messaging_any"), "any"),
            (t("list.filter.messaging_on"), "on"),
            (t("list.filter.messaging_off"), "off"),
        ],
        messaging_value,
    )
    elements = [kind, messaging]
    if countries:
        choices = [(t("list.filter.country_any"), "any")] + [(c, c) for c in countries[:99]]
        elements.append(
            select(ids.ACTION_FILTER_COUNTRY, t("list.filter.country"), choices, flt.country or "any")
        )
    nc_option = option(t("list.filter.not_contacted"), "not_contacted")
    not_contacted: Block = {
        "type": "checkboxes",
        "action_id": ids.ACTION_FILTER_NOT_CONTACTED,
        "options": [nc_option],
    }
    if flt.not_contacted:
        not_contacted["initial_options"] = [nc_option]
    elements.append(not_contacted)
    return actions(*elements, block_id=ids.block_id(ids.BLOCK_FILTERS, key))


def nav_buttons(page: ProspectPage, t: Translator, prev_id: str, next_id: str, block_id: str) -> Block | None:
    """Previous / Next for a keyset-paged list; each button carries the list's state with its cursor."""
    buttons: list[Block] = []
    if page.has_prev:
        back = PageRequest(before=page.first_cursor, number=page.number - 1)
        buttons.append(button(t("list.prev"), prev_id, encode_state(page.query, back)))
    if page.has_next:
        ahead = PageRequest(after=page.last_cursor, number=page.number + 1)
        buttons.append(button(t("list.next"), next_id, encode_state(page.query, ahead)))
    return actions(*buttons, block_id=block_id) if buttons else None


def filters_named(flt: ProspectQuery, t: Translator) -> str:
    """The search and filters in words ("Creators · FR · “shop”"), the search text escaped (Slack decodes
    ``&amp;``, ``&lt;``, ``&gt;`` in every text object, so "<!channel>" typed in a search stays text); empty when
    there are none."""
    named = []
    if flt.kind is not None:
        named.append(
            t("list.filter.kind_creator" if flt.kind.value == "creator" else "list.filter.kind_partner")
        )
    if flt.messaging_enabled is not None:
        named.append(t("list.filter.messaging_on" if flt.messaging_enabled else "list.filter.messaging_off"))
    if flt.country:
        named.append(flt.country)
    if flt.not_contacted:
        named.append(t("list.filter.not_contacted"))
    if flt.text:
        named.append(f"“{escape(clip(flt.text, 40))}”")
    return " · ".join(named)


def select_matching_label(page: ProspectPage, t: Translator) -> str:
    """ "Select all 1,234 matching (Creators · FR)", within a button's 75 characters."""
    if page.total_is_lower_bound:
        label = t("list.select_matching_many", count=t.number(page.total - 1))
    else:
        label = t("list.select_matching", count=t.number(page.total))
    named = filters_named(page.query, t)
    return clip(f"{label} ({named})" if named else label, 75)


def build_prospect_list(page: ProspectPage, countries: list[str], t: Translator, key: str) -> list[Block]:
    """``key``: where this render's state is kept (ProspectService.remember). Every block id ends with it, so
    an action says which render it came from, and each render has new block ids (SLACK.md §1.1)."""
    flt = page.query
    state = encode_state(flt, PageRequest(at=page.first_cursor, number=page.number))
    blocks: list[Block] = [header(t("list.title"))]
    if page.total_is_lower_bound:
        summary = t(
            "list.showing_many",
            first=t.number(page.first_index),
            last=t.number(page.last_index),
            total=t.number(page.total - 1),
        )
    elif page.total:
        summary = t(
            "list.showing",
            first=t.number(page.first_index),
            last=t.number(page.last_index),
            total=t.number(page.total),
        )
    else:
        summary = t("list.none")
    if flt.text:
        summary += "  " + t("list.search_for", text=escape(clip(flt.text, 100)))
    blocks.append(section(summary))
    notes = [t("list.picked", count=t.number(page.picked_count))]
    if page.search_cut:
        notes.append(t("list.search_cut", limit=200))
    blocks.append(context(*notes))
    blocks.append(_filters(flt, countries, t, key))
    bulk = [button(t("list.select_all"), ids.ACTION_SELECT_ALL, state)]
    if page.has_next or page.has_prev:  # more than this page matches: offer every match at once
        bulk.append(button(select_matching_label(page, t), ids.ACTION_SELECT_MATCHING, state))
    if page.picked_count:
        bulk.append(
            button(
                t("list.clear"),
                ids.ACTION_CLEAR,
                state,
                confirm=confirm_dialog(
                    t("list.clear_confirm_title"),
                    t("list.clear_confirm", count=page.picked_count),
                    t("list.clear"),
                    t("common.cancel"),
                ),
            )
        )
        bulk.append(
            button(
                t("list.email_picked", count=page.picked_count),
                ids.ACTION_EMAIL_PICKED,
                state,
                style="primary",
            )
        )
        bulk.append(
            button(t("list.message_picked", count=page.picked_count), ids.ACTION_MESSAGE_PICKED, state)
        )
    blocks.append(actions(*bulk, block_id=ids.block_id(ids.BLOCK_BULK, key)))
    blocks.append(divider())
    for p in page.items:
        blocks.append(_row(p, p.partner.mpid in page.picked_on_page, t, key))
    if not page.items:
        blocks.append(section(t("list.empty_hint")))
    nav = nav_buttons(page, t, ids.ACTION_PAGE_PREV, ids.ACTION_PAGE_NEXT, ids.block_id(ids.BLOCK_NAV, key))
    if nav is not None:
        blocks.append(nav)
    return check_limits(blocks)
