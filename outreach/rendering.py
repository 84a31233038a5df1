"""Turning a draft into the message one recipient gets: tokens filled, our layout around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from outreach.layouts import Layouts
from outreach.models import Ad, Attachment, Draft, OutgoingEmail, OutgoingMessage, Partner, Recipient
from outreach.tokens import RenderContext, Template, render_html, render_text


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    link_template: str
    program_id: str


@dataclass(frozen=True)
class PreparedDraft:
    """A draft parsed once for a whole send: rendering per recipient is then only joins."""

    draft: Draft
    subject: Template
    content: Template
    ctx: RenderContext
    attachments: tuple[Attachment, ...] = field(default=())
    headers: tuple[tuple[str, str], ...] = ()  # every e-mail of the draft carries these (a reply's threading)


def prepare(draft: Draft, ads: dict[str, Ad], tracking: TrackingConfig, now: datetime) -> PreparedDraft:
    ctx = RenderContext(
        now=now, ads=ads, tracking_link_template=tracking.link_template, program_id=tracking.program_id
    )
    return PreparedDraft(
        draft, Template.parse(draft.subject), Template.parse(draft.content), ctx, draft.attachments
    )


def email_for(
    prepared: PreparedDraft,
    partner: Partner,
    layouts: Layouts,
    headers: tuple[tuple[str, str], ...] = (),
    footer: str = "",
) -> OutgoingEmail:
    recipient = Recipient.of(partner)
    draft = prepared.draft
    text = render_text(prepared.content, recipient, prepared.ctx)
    if footer:
        text = f"{text}\n\n-- \n{footer}"
    subject = " ".join(render_text(prepared.subject, recipient, prepared.ctx).split())
    html = layouts.email_html(render_html(prepared.content, recipient, prepared.ctx), footer, title=subject)
    return OutgoingEmail(
        to=partner.email,
        sender_name=draft.sender_name,
        reply_to=draft.reply_to,
        subject=subject,
        text=text,
        html=html,
        attachments=prepared.attachments,
        headers=(*prepared.headers, *headers),
    )


def message_for(prepared: PreparedDraft, partner: Partner) -> OutgoingMessage:
    draft = prepared.draft
    return OutgoingMessage(
        team_id=draft.team_id,
        mpid=partner.mpid,
        author_id=draft.author_id,
        text=render_text(prepared.content, Recipient.of(partner), prepared.ctx),
        attachments=prepared.attachments,
        idempotency_key=f"{draft.team_id}:{draft.id}:{partner.mpid}",
    )
