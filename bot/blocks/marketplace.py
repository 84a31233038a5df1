"""The marketplace (All partners / All creators, paged, searchable) and the partner card."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot import ids
from bot.blocks.common import (
    Block,
    actions,
    button,
    check_limits,
    clip,
    context,
    divider,
    escape,
    header,
    plain,
    section,
)
from bot.blocks.prospects import nav_buttons
from bot.i18n import Translator
from outreach.models import PartnerKind, Prospect
from outreach.prospecting import PageRequest, ProspectPage, encode_state


def _row(p: Prospect, t: Translator, key: str) -> Block:
    partner = p.partner
    lines = [f"*{escape(clip(partner.name, 80))}*"]
    details = [escape(partner.contact_name)] if partner.contact_name else []
    if partner.country:
        details.append(partner.country)
    if partner.categories:
        details.append(escape(clip(", ".join(partner.categories), 80)))
    details.append(t("list.messaging_on") if partner.messaging_enabled else t("list.messaging_off"))
    lines.append(" · ".join(details))
    if p.marked_at is not None:
        lines.append(t("market.is_prospect"))
    return section(
        "\n".join(lines),
        block_id=f"market~{partner.mpid}~{key}",
        accessory=button(t("market.open"), ids.ACTION_MARKET_OPEN, partner.mpid),
    )


def build_marketplace(page: ProspectPage, t: Translator, key: str) -> list[Block]:
    """``key``: where this render's state is kept (ProspectService.remember); the block ids end with it."""
    query = page.query
    kind = query.kind or PartnerKind.PARTNER
    tabs = []
    for tab_kind, label in (
        (PartnerKind.PARTNER, "market.all_partners"),
        (PartnerKind.CREATOR, "market.all_creators"),
    ):
        value = encode_state(replace(query, kind=tab_kind), PageRequest())
        tabs.append(
            button(t(label), ids.ACTION_MARKET_TAB, value, style="primary" if tab_kind is kind else None)
        )
    blocks: list[Block] = [header(t("market.title")), actions(*tabs, block_id=f"tabs~{key}")]
    summary = (
        t(
            "market.showing",
            first=t.number(page.first_index),
            last=t.number(page.last_index),
            total=t.number(page.total),
        )
        if page.total
        else t("market.none")
    )
    if query.text:
        summary += "  " + t("list.search_for", text=escape(clip(query.text, 100)))
    blocks.append(context(summary))
    blocks.append(divider())
    blocks.extend(_row(p, t, key) for p in page.items)
    nav = nav_buttons(page, t, ids.ACTION_MARKET_PREV, ids.ACTION_MARKET_NEXT, f"market_nav~{key}")
    if nav is not None:
        blocks.append(nav)
    return check_limits(blocks)


def build_partner_card(p: Prospect, t: Translator) -> dict[str, Any]:
    partner = p.partner
    fields = [
        (t("card.contact"), partner.contact_name or "—"),
        (t("card.email"), partner.email or "—"),
        (
            t("card.kind"),
            t("list.filter.kind_creator")
            if partner.kind is PartnerKind.CREATOR
            else t("list.filter.kind_partner"),
        ),
        (t("card.country"), partner.country or "—"),
        (t("card.website"), partner.website or "—"),
        (t("card.messaging"), t("common.yes") if partner.messaging_enabled else t("common.no")),
        ("mpid", partner.mpid),
    ]
    blocks: list[Block] = [
        header(clip(partner.name, 150)),
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{escape(clip(v, 1900))}"} for k, v in fields],
        },
    ]
    if partner.categories:
        blocks.append(context(escape(", ".join(partner.categories))))
    if partner.description:
        blocks.append(section(escape(clip(partner.description, 2900))))
    buttons = [button(t("list.more.email"), ids.ACTION_MARKET_EMAIL, partner.mpid, style="primary")]
    if p.marked_at is None:
        buttons.append(button(t("market.mark"), ids.ACTION_MARKET_MARK, partner.mpid))
    blocks.append(actions(*buttons, block_id="card_actions"))
    if p.marked_at is not None:
        blocks.append(context(t("market.is_prospect_since", when=t.when(p.marked_at))))
    return {
        "type": "modal",
        "callback_id": ids.CALLBACK_PARTNER_CARD,
        "title": plain(t("card.title"), 24),
        "close": plain(t("common.close"), 24),
        "private_metadata": partner.mpid,
        "blocks": check_limits(blocks, surface="modal"),
    }
