"""What the compose form shows after each of its use cases (:mod:`outreach.compose_flow`'s outcomes): pure
builders of views, ``views.submission`` answers and DMs, no client."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot import ids
from bot.blocks.common import Block, actions, button, section
from bot.blocks.compose import (
    CheckingScreen,
    ComposeScreen,
    FileLine,
    FollowupLine,
    RecipientLine,
    build_checking_view,
    build_compose_view,
    build_notice_view,
    build_preview_view,
    verdict_message,
)
from bot.i18n import Translator
from bot.problems import block_errors, describe
from outreach.attachments import FileVerdict
from outreach.compose import ComposeState, SchedulePlan
from outreach.compose_flow import (
    AlreadySending,
    Editable,
    FilesRefused,
    FilesToFetch,
    Gone,
    Invalid,
    NoAddress,
    NotAllowed,
    NotSentToSelf,
    Opened,
    Planned,
    PlanRefused,
    Preview,
    Scheduled,
    Sent,
    SentToSelf,
    Submitted,
    Unconfirmed,
)
from outreach.models import Channel, Recipient
from outreach.scheduling import wall_time


def label(r: Recipient) -> str:
    who = r.contact_name
    return f"{who} ({r.mpname})" if who else r.mpname


@dataclass(frozen=True, slots=True)
class FormKeys:
    """The keys of a form's follow-up steps, in order, and the key of the next one added (its metadata)."""

    keys: tuple[int, ...] = ()
    next_key: int = 1


def followup_lines(state: ComposeState, form: FormKeys) -> tuple[tuple[FollowupLine, ...], int]:
    """The draft's steps with the keys the form gave them (new keys for steps it did not show), and the next key."""
    keys = list(form.keys[: len(state.draft.followups)])
    next_key = max(form.next_key, max(keys, default=0) + 1)
    while len(keys) < len(state.draft.followups):
        keys.append(next_key)
        next_key += 1
    lines = tuple(
        FollowupLine(key, step.days, step.subject, step.content)
        for key, step in zip(keys, state.draft.followups, strict=True)
    )
    return lines, next_key


def screen_of(
    state: ComposeState,
    warnings: tuple[str, ...] = (),
    *,
    form: FormKeys | None = None,
    zone: str = "UTC",
    fill: int = 0,
    files_key: int = 0,
) -> ComposeScreen:
    d = state.draft
    followups, next_key = followup_lines(state, form or FormKeys())
    return ComposeScreen(
        draft_id=state.draft_id,
        channel=d.channel,
        recipients=tuple(RecipientLine(p.mpid, label(p)) for p in state.recipients),
        skipped=tuple((RecipientLine(p.mpid, label(p)), why) for p, why in state.skipped),
        recipient_count=state.recipient_count,
        skipped_count=state.skipped_count,
        sender_name=d.sender_name,
        reply_to=d.reply_to,
        subject=d.subject,
        content=d.content,
        kept_files=d.attachments,
        warnings=warnings,
        followups=followups,
        next_key=next_key,
        send_at=d.send_at,
        send_local=bool(d.local_zone),
        zoned=state.zoned,
        zone=zone,
        fill=fill,
        files_key=files_key,
    )


def with_new_step(screen: ComposeScreen) -> ComposeScreen:
    """The form with one more (empty) follow-up step, under a key never used in it."""
    step = FollowupLine(screen.next_key)
    return replace(screen, followups=(*screen.followups, step), next_key=screen.next_key + 1)


def step_blocks(keys: tuple[int, ...]) -> dict[str, str]:
    """Where each follow-up field's problems are shown: ``followup.2.days`` → the second step's days block."""
    return {
        f"followup.{n}.{part}": ids.followup_block(key, part)
        for n, key in enumerate(keys, 1)
        for part in ("days", "subject", "content")
    }


def scheduled_text(plan: SchedulePlan, t: Translator) -> str:
    """When a scheduled send goes, as its author reads it."""
    count = t.number(plan.recipients)
    if plan.local_zone:
        wall = wall_time(plan.send_at, plan.local_zone)
        return t("compose.scheduled_local", date=f"{wall:%Y-%m-%d}", time=f"{wall:%H:%M}", count=count)
    return t("compose.scheduled", when=t.when(plan.send_at), count=count)


def refusal_text(t: Translator, usergroup: str) -> str:
    """Why the user may not send: the senders' user group named when there is one."""
    return t("perm.refused_group", group=f"<!subteam^{usergroup}>") if usergroup else t("perm.refused")


def build_refusal_view(t: Translator, usergroup: str, channel: Channel) -> dict[str, Any]:
    return build_notice_view(t("perm.title"), refusal_text(t, usergroup), 0, channel, t)


def build_gone_view(t: Translator, draft_id: int = 0, title: str = "compose.title_email") -> dict[str, Any]:
    return build_notice_view(t(title), t("compose.gone"), draft_id, Channel.EMAIL, t)


def build_opened_view(outcome: Opened, draft_id: int, t: Translator, usergroup: str) -> dict[str, Any]:
    """A draft's form, or why it cannot be shown."""
    if isinstance(outcome, Editable):
        return build_compose_view(screen_of(outcome.state, zone=t.tz.key), t)
    if isinstance(outcome, NotAllowed):
        return build_refusal_view(t, usergroup, outcome.channel or Channel.EMAIL)
    if isinstance(outcome, AlreadySending):
        channel = outcome.channel or Channel.EMAIL
        why = t("compose.already_scheduled") if outcome.scheduled else t("compose.already_sending")
        return build_notice_view(t("compose.title_email"), why, draft_id, channel, t)
    return build_gone_view(t, draft_id)


def file_lines(verdicts: tuple[FileVerdict, ...], t: Translator) -> tuple[FileLine, ...]:
    """One line per checked file: accepted, or refused with the reason (its name is on the line already)."""
    return tuple(
        FileLine(v.filename, "ok")
        if v.problem is None
        else FileLine(v.filename, "rejected", describe(v.problem, t).removeprefix(f"{v.filename}: "))
        for v in verdicts
    )


def build_sent_view(
    outcome: Sent,
    draft_id: int,
    channel: Channel,
    t: Translator,
    not_fetched: tuple[FileLine, ...] = (),
    *,
    form: FormKeys | None = None,
) -> dict[str, Any]:
    """The view after a send was asked for: sending started, or scheduled; the form again with warnings to
    confirm (its follow-up steps under the keys ``form`` gave them); or what stopped it (files refused —
    ``not_fetched``: those that could not even be fetched —, problems)."""
    if isinstance(outcome, Unconfirmed):
        notes = (t("compose.warnings_confirm"), *(describe(w, t) for w in outcome.warnings))
        again = screen_of(outcome.state, notes, form=form, zone=t.tz.key)
        return build_compose_view(again, t, confirm=outcome.digest)
    if isinstance(outcome, Planned):
        files = tuple(FileLine(name, "ok") for name in outcome.files)
        plan = outcome.plan
        screen = CheckingScreen(
            draft_id, channel, files, done=True, sent_count=plan.recipients, followups=plan.followups
        )
        return build_checking_view(screen, t)
    if isinstance(outcome, Scheduled):
        files = tuple(FileLine(name, "ok") for name in outcome.files)
        text = scheduled_text(outcome.plan, t)
        screen = CheckingScreen(
            draft_id, channel, files, done=True, scheduled=text, followups=outcome.plan.followups
        )
        return build_checking_view(screen, t)
    if isinstance(outcome, FilesRefused):
        lines = not_fetched + file_lines(outcome.verdicts, t)
        return build_checking_view(CheckingScreen(draft_id, channel, lines, done=True), t)
    if isinstance(outcome, PlanRefused):
        lines = tuple(FileLine(p.field, "rejected", describe(p, t)) for p in outcome.problems)
        return build_checking_view(CheckingScreen(draft_id, channel, lines, done=True), t)
    if isinstance(outcome, AlreadySending):
        return build_notice_view(t("compose.title_email"), t("compose.already_sending"), draft_id, channel, t)
    return build_gone_view(t, draft_id)


def submission_answer(
    outcome: Submitted,
    draft_id: int,
    channel: Channel,
    t: Translator,
    *,
    usergroup: str,
    present: set[str],
    form: FormKeys | None = None,
) -> dict[str, Any]:
    """The answer to a compose form's ``view_submission`` (``present``: the form's block ids; ``form``: its
    follow-up steps' keys): errors next to the fields, or the view that replaces the form."""
    content = next((b for b in present if ids.base_of(b) == ids.BLOCK_CONTENT), ids.BLOCK_CONTENT)
    if isinstance(outcome, Gone):
        return {"response_action": "errors", "errors": {content: t("compose.gone")}}
    if isinstance(outcome, NotAllowed):
        return {"response_action": "errors", "errors": {content: refusal_text(t, usergroup)}}
    if isinstance(outcome, Invalid):
        steps = step_blocks(form.keys if form else ())
        return {"response_action": "errors", "errors": block_errors(outcome.problems, t, present, steps)}
    if isinstance(outcome, FilesToFetch):
        raise ValueError("files to fetch are shown as they are checked (build_checking_view)")
    return {"response_action": "update", "view": build_sent_view(outcome, draft_id, channel, t, form=form)}


def self_test_text(
    outcome: NotAllowed | NoAddress | NotSentToSelf | SentToSelf, t: Translator, usergroup: str
) -> str:
    """What the author is told in a DM after "Send test to me"."""
    if isinstance(outcome, NotAllowed):
        return refusal_text(t, usergroup)
    if isinstance(outcome, NoAddress):
        return t("compose.no_own_address")
    if isinstance(outcome, NotSentToSelf):
        return t("compose.test_failed", reason=outcome.reason)
    return t("compose.test_sent", address=outcome.address)


def build_preview(preview: Preview, t: Translator) -> dict[str, Any]:
    lines = tuple(RecipientLine(p.mpid, label(p)) for p in preview.choices)
    return build_preview_view(preview.draft_id, preview.rendered, lines, preview.chosen, t)


def closed_dm(view: dict[str, Any], draft_id: int, t: Translator) -> tuple[str, list[Block]]:
    """What the user is told in a DM (its text and blocks) when the modal that was to show ``view`` was closed."""
    if view.get("callback_id") == ids.CALLBACK_CHECKING:  # a verdict: the same blocks read well in a DM
        return verdict_message(view)
    notes = [b["elements"][0]["text"] for b in view.get("blocks", []) if b.get("type") == "context"]
    warnings = "\n".join(n for n in notes if n.startswith(":warning:"))  # warnings waiting for "Send again"
    text = t("compose.unconfirmed_dm", warnings=warnings)
    open_button = actions(
        button(t("drafts.open"), ids.ACTION_DRAFT_OPEN, str(draft_id), style="primary"), block_id="dm_open"
    )
    return text, [section(text), open_button]
