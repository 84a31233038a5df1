"""What the compose form shows after each of its use cases (:mod:`outreach.compose_flow`'s outcomes): pure
builders of views, ``views.submission`` answers and DMs, no client."""

from __future__ import annotations

from typing import Any

from bot import ids
from bot.blocks.common import Block, actions, button, section
from bot.blocks.compose import (
    CheckingScreen,
    ComposeScreen,
    FileLine,
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
from outreach.compose import ComposeState
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
    Sent,
    SentToSelf,
    Submitted,
    Unconfirmed,
)
from outreach.models import Channel, Recipient


def label(r: Recipient) -> str:
    who = r.contact_name
    return f"{who} ({r.mpname})" if who else r.mpname


def screen_of(state: ComposeState, warnings: tuple[str, ...] = ()) -> ComposeScreen:
    d = state.draft
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
    )


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
        return build_compose_view(screen_of(outcome.state), t)
    if isinstance(outcome, NotAllowed):
        return build_refusal_view(t, usergroup, outcome.channel or Channel.EMAIL)
    if isinstance(outcome, AlreadySending):
        channel = outcome.channel or Channel.EMAIL
        return build_notice_view(t("compose.title_email"), t("compose.already_sending"), draft_id, channel, t)
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
    outcome: Sent, draft_id: int, channel: Channel, t: Translator, not_fetched: tuple[FileLine, ...] = ()
) -> dict[str, Any]:
    """The view after a send was asked for: sending started; the form again with warnings to confirm; or what
    stopped it (files refused — ``not_fetched``: those that could not even be fetched —, problems)."""
    if isinstance(outcome, Unconfirmed):
        notes = (t("compose.warnings_confirm"), *(describe(w, t) for w in outcome.warnings))
        return build_compose_view(screen_of(outcome.state, notes), t, confirm=outcome.digest)
    if isinstance(outcome, Planned):
        files = tuple(FileLine(name, "ok") for name in outcome.files)
        screen = CheckingScreen(draft_id, channel, files, done=True, sent_count=outcome.plan.recipients)
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
    outcome: Submitted, draft_id: int, channel: Channel, t: Translator, *, usergroup: str, present: set[str]
) -> dict[str, Any]:
    """The answer to a compose form's ``view_submission`` (``present``: the form's block ids): errors next to
    the fields, or the view that replaces the form."""
    if isinstance(outcome, Gone):
        return {"response_action": "errors", "errors": {ids.BLOCK_CONTENT: t("compose.gone")}}
    if isinstance(outcome, NotAllowed):
        return {"response_action": "errors", "errors": {ids.BLOCK_CONTENT: refusal_text(t, usergroup)}}
    if isinstance(outcome, Invalid):
        return {"response_action": "errors", "errors": block_errors(outcome.problems, t, present)}
    if isinstance(outcome, FilesToFetch):
        raise ValueError("files to fetch are shown as they are checked (build_checking_view)")
    return {"response_action": "update", "view": build_sent_view(outcome, draft_id, channel, t)}


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
