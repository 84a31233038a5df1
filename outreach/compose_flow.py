"""The compose form's rules, as the user meets them: each use case takes what the form says and returns one
value saying what came of it, for the Slack adapter to render. Nothing here knows Slack.

Rules:

* **Nothing typed is lost.** Every submit, close, save, preview and test first saves the form's fields to the
  draft; only then is anything checked.
* **Only senders send.** Who may send is Slack's to say (a user group), so a use case takes ``may_send`` as a
  callable, asked only when the answer matters (after the save: a refused user loses nothing).
* **A draft being sent is no longer a draft.** Submitting it again (Slack delivering a submission twice, a
  double click) plans nothing more: :class:`AlreadySending`.
* **Warnings are confirmed before a send.** Tokens empty for some recipients, prospects a teammate contacted
  lately: the form comes back with them (:class:`Unconfirmed`, with a digest of them); submitting the form
  again with that digest (``Submission.confirmed``) sends anyway. Other warnings than those confirmed —
  the recipients or the text changed meanwhile — are shown again.
* **Files are checked before a send.** Uploads are fetched by the caller after it has answered Slack
  (:class:`FilesToFetch`), then :meth:`ComposeFlow.attach_and_send` checks them; when one is refused (or
  could not be fetched) the good ones stay on the draft and nothing is sent (:class:`FilesRefused`).
* **An untouched new draft is not kept** when its form is closed (or was closed before it could be shown).
* **A test goes only to the author's own address**, and only from a sender.
* **Send later.** A form with a send time is checked exactly as for Send, then kept for that time
  (:meth:`ComposeService.schedule`: :class:`Scheduled`) instead of planned; a time in the past is a problem of
  its field like any other.

A submitted form's way (:meth:`ComposeFlow.submit`): save → may send? → problems? → files to fetch? →
unconfirmed warnings? → the send plan is stored (:meth:`ComposeService.submit`) and the worker woken.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from outreach.attachments import FileVerdict
from outreach.compose import ComposeService, ComposeState, DraftFields, SchedulePlan, SendPlan
from outreach.errors import DeliveryFailed, DraftNotEditable, NotFound, Problem, ValidationFailed
from outreach.models import Channel, DraftStatus, OutgoingEmail, OutgoingMessage, Recipient

MaySend = Callable[[], bool]
PREVIEW_CHOICES = 100  # recipients a preview offers to render for (a static menu's limit)


# -- what came of it ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Gone:
    """The draft is not the author's, or no longer exists."""


@dataclass(frozen=True, slots=True)
class AlreadySending:
    """The draft is being (or was) sent, or is scheduled: nothing changed."""

    channel: Channel | None = None  # the draft's, when it was read
    scheduled: bool = False  # it waits for its time (Cancel in /prospects drafts makes it a draft again)


@dataclass(frozen=True, slots=True)
class NotAllowed:
    """The author may not send (what they typed is saved)."""

    channel: Channel | None = None  # the draft's, when it was read


@dataclass(frozen=True, slots=True)
class Editable:
    """The draft, ready to be shown in its form."""

    state: ComposeState


@dataclass(frozen=True, slots=True)
class Invalid:
    """What the form's fields get wrong: every problem at once; nothing was sent."""

    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class FilesToFetch:
    """Saved and checked; the uploads are to be fetched (after Slack is answered), then ``attach_and_send``."""

    state: ComposeState


@dataclass(frozen=True, slots=True)
class FilesRefused:
    """Some files were refused (or could not be fetched): the good ones are on the draft, nothing was sent."""

    verdicts: tuple[FileVerdict, ...]  # of the files fetched, in their order


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """Warnings the user has not confirmed: show the form again with them; ``digest`` confirms these."""

    state: ComposeState
    warnings: tuple[Problem, ...]
    digest: str


@dataclass(frozen=True, slots=True)
class Planned:
    """The send plan is stored and the worker woken."""

    plan: SendPlan
    files: tuple[str, ...]  # the names of the files it sends


@dataclass(frozen=True, slots=True)
class Scheduled:
    """Checked and kept for its time (SCHEDULED): the workers send it then."""

    plan: SchedulePlan
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlanRefused:
    """The plan could not be stored (a file not scanned clean, nobody left to send to): still a draft."""

    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Requeued:
    """The failed recipients are queued again."""

    count: int


@dataclass(frozen=True, slots=True)
class NoAddress:
    """A test needs the author's own e-mail address, and none is known."""


@dataclass(frozen=True, slots=True)
class NotSentToSelf:
    """The test e-mail could not be sent."""

    reason: str


@dataclass(frozen=True, slots=True)
class SentToSelf:
    """The test e-mail went to the author's own address."""

    address: str


@dataclass(frozen=True, slots=True)
class Preview:
    """The message as one recipient gets it, and the recipients the user may choose from."""

    draft_id: int
    rendered: OutgoingEmail | OutgoingMessage
    choices: tuple[Recipient, ...]
    chosen: str  # the mpid shown ("" when there is none)


Opened = Gone | AlreadySending | NotAllowed | Editable
Sent = Gone | AlreadySending | FilesRefused | Unconfirmed | Planned | Scheduled | PlanRefused
Submitted = Sent | NotAllowed | Invalid | FilesToFetch
DraftSent = Gone | NotAllowed | SendPlan | PlanRefused
Retried = Gone | NotAllowed | Requeued
Tested = Gone | NotAllowed | NoAddress | NotSentToSelf | SentToSelf


@dataclass(frozen=True, slots=True)
class Submission:
    """A compose form as the user sent it."""

    team_id: str
    author_id: str
    draft_id: int
    fields: DraftFields
    confirmed: str = ""  # the digest of the warnings the user was shown and sends anyway


def warnings_digest(warnings: Sequence[Problem]) -> str:
    """Names these warnings (what they are about, and a key of whom they name), so that a confirmation of
    them is not taken for a confirmation of others."""
    text = "|".join(f"{p.field}:{p.code}:{dict(p.params).get('key', '')}" for p in warnings)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ComposeFlow:
    """The compose form's use cases, over :class:`ComposeService`; ``work_waiting`` is called when a send plan
    is stored (it wakes the delivery worker)."""

    def __init__(self, compose: ComposeService, work_waiting: Callable[[], None]) -> None:
        self._compose = compose
        self._work_waiting = work_waiting

    # -- opening and closing ------------------------------------------------------------------------------
    def start(
        self,
        team_id: str,
        author_id: str,
        channel: Channel,
        mpids: Callable[[], Sequence[str]],
        may_send: MaySend,
        *,
        sender_name: str = "",
        reply_to: str = "",
    ) -> NotAllowed | Editable:
        """A new draft to the partners ``mpids()`` names (read only for a sender)."""
        if not may_send():
            return NotAllowed(channel)
        return Editable(
            self._compose.start(
                team_id, author_id, channel, mpids(), sender_name=sender_name, reply_to=reply_to
            )
        )

    def open(self, team_id: str, author_id: str, draft_id: int, may_send: MaySend) -> Opened:
        """A saved draft, to edit (a sender's, still a draft)."""
        try:
            state = self._compose.load(team_id, author_id, draft_id)
        except NotFound:
            return Gone()
        if state.draft.status is not DraftStatus.DRAFT:
            return AlreadySending(state.draft.channel, state.draft.status is DraftStatus.SCHEDULED)
        if not may_send():
            return NotAllowed(state.draft.channel)
        return Editable(state)

    def abandon(self, team_id: str, author_id: str, draft_id: int) -> None:
        """A new draft whose form was closed before it could be shown: nothing was typed, nothing is kept."""
        with contextlib.suppress(NotFound, DraftNotEditable):
            self._compose.delete(team_id, author_id, draft_id)

    def close(self, team_id: str, author_id: str, draft_id: int, fields: DraftFields) -> None:
        """The form was closed: keep what was typed; a draft with nothing in it is not kept."""
        state = self.save(team_id, author_id, draft_id, fields)
        draft = state.draft if state else None
        if draft is not None and not (draft.subject.strip() or draft.content.strip() or draft.attachments):
            self.abandon(team_id, author_id, draft_id)

    def save(self, team_id: str, author_id: str, draft_id: int, fields: DraftFields) -> ComposeState | None:
        """What was typed, saved; None when the draft is gone or no longer a draft."""
        try:
            return self._compose.save(team_id, author_id, draft_id, fields)
        except (NotFound, DraftNotEditable):
            return None

    def attach(
        self, team_id: str, author_id: str, draft_id: int, files: Sequence[tuple[str, bytes]]
    ) -> tuple[FileVerdict, ...] | None:
        """Uploads checked (type, size, structure, virus scan) and the good ones attached, without sending — so
        that a template can keep them; each file's verdict, or None when the draft is gone or no longer a draft."""
        try:
            return self._compose.attach(team_id, author_id, draft_id, files).files
        except (NotFound, DraftNotEditable):
            return None

    # -- sending ------------------------------------------------------------------------------------------
    def submit(self, form: Submission, may_send: MaySend, *, uploads: bool = False) -> Submitted:
        """The form's Send: save, then every check; with ``uploads`` the files are to be fetched first
        (:class:`FilesToFetch`), else the plan is stored unless warnings wait for a confirmation."""
        try:
            state = self._compose.save(form.team_id, form.author_id, form.draft_id, form.fields)
        except NotFound:
            return Gone()
        except DraftNotEditable:
            return AlreadySending()
        if not may_send():
            return NotAllowed(state.draft.channel)
        problems = self._compose.check(state)
        if problems:
            return Invalid(tuple(problems))
        if uploads:
            return FilesToFetch(state)
        return self._confirmed_send(form, state)

    def attach_and_send(
        self, form: Submission, files: Sequence[tuple[str, bytes]], *, all_fetched: bool = True
    ) -> Sent:
        """The fetched uploads checked and attached, then as :meth:`submit` goes on. ``all_fetched``: False
        when some could not be fetched (nothing is sent then; the good ones are kept)."""
        try:
            result = self._compose.attach(form.team_id, form.author_id, form.draft_id, files)
            if not all_fetched or not result.ok:
                return FilesRefused(result.files)
            state = self._compose.load(form.team_id, form.author_id, form.draft_id)  # with its new files
        except NotFound:
            return Gone()
        except DraftNotEditable:
            return AlreadySending()
        return self._confirmed_send(form, state)

    def _confirmed_send(
        self, form: Submission, state: ComposeState
    ) -> Gone | AlreadySending | Unconfirmed | Planned | Scheduled | PlanRefused:
        warnings = tuple(self._compose.warnings(state))
        if warnings:
            digest = warnings_digest(warnings)
            if form.confirmed != digest:
                return Unconfirmed(state, warnings, digest)
        team_id, author_id, draft_id = form.team_id, form.author_id, form.draft_id
        if state.draft.send_at is not None:
            return self._schedule(team_id, author_id, draft_id)
        try:
            plan = self._plan(team_id, author_id, draft_id)
            if isinstance(plan, PlanRefused):
                return plan
            draft = self._compose.draft(
                team_id, author_id, draft_id
            )  # the draft alone: any number of recipients
        except NotFound:
            return Gone()
        return Planned(plan, tuple(a.filename for a in draft.attachments))

    def _schedule(
        self, team_id: str, author_id: str, draft_id: int
    ) -> Gone | AlreadySending | Scheduled | PlanRefused:
        try:
            plan = self._compose.schedule(team_id, author_id, draft_id)
            draft = self._compose.draft(team_id, author_id, draft_id)
        except ValidationFailed as err:
            return PlanRefused(err.problems)
        except DraftNotEditable:
            return AlreadySending()
        except NotFound:
            return Gone()
        return Scheduled(plan, tuple(a.filename for a in draft.attachments))

    def _plan(self, team_id: str, author_id: str, draft_id: int) -> SendPlan | PlanRefused:
        try:
            plan = self._compose.submit(team_id, author_id, draft_id)
        except ValidationFailed as err:
            return PlanRefused(err.problems)
        self._work_waiting()
        return plan

    def send_draft(self, team_id: str, author_id: str, draft_id: int, may_send: MaySend) -> DraftSent:
        """A saved draft's Send (from the list of drafts): the plan (``already_submitted`` when it was stored
        before), warnings or not."""
        if not may_send():
            return NotAllowed()
        try:
            return self._plan(team_id, author_id, draft_id)
        except NotFound:
            return Gone()

    def retry_failed(self, team_id: str, author_id: str, draft_id: int, may_send: MaySend) -> Retried:
        """Queue the recipients whose delivery failed again."""
        if not may_send():
            return NotAllowed()
        try:
            count = self._compose.retry_failed(team_id, author_id, draft_id)
        except NotFound:
            return Gone()
        self._work_waiting()
        return Requeued(count)

    # -- trying it out ------------------------------------------------------------------------------------
    def send_test(
        self,
        team_id: str,
        author_id: str,
        draft_id: int,
        fields: DraftFields,
        *,
        may_send: MaySend,
        address: str,
    ) -> Tested:
        """What was typed, saved, then e-mailed to ``address`` (the author's own), rendered for the first
        recipient."""
        if self.save(team_id, author_id, draft_id, fields) is None:
            return Gone()
        if not may_send():
            return NotAllowed()
        if not address:
            return NoAddress()
        try:
            self._compose.send_test(team_id, author_id, draft_id, address)
        except (DeliveryFailed, ValidationFailed, NotFound) as err:
            return NotSentToSelf(str(err))
        return SentToSelf(address)

    def preview(
        self,
        team_id: str,
        author_id: str,
        draft_id: int,
        *,
        fields: DraftFields | None = None,
        mpid: str = "",
    ) -> Preview | None:
        """The message as ``mpid`` (by default the first who will get it) gets it, after saving ``fields`` when
        given; None when the draft is gone or has nobody to render it for."""
        try:
            if fields is not None:
                state = self._compose.save(team_id, author_id, draft_id, fields)
            else:
                state = self._compose.load(team_id, author_id, draft_id)
            rendered = self._compose.preview(team_id, author_id, draft_id, mpid or None)
            choices = self._compose.first_recipients(team_id, author_id, draft_id, PREVIEW_CHOICES)
        except (NotFound, DraftNotEditable):
            return None
        chosen = mpid or (state.recipients[0].mpid if state.recipients else "")
        return Preview(draft_id, rendered, tuple(choices), chosen)
