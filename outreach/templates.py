"""Shared templates: a message a teammate wrote once (subject, content, files), kept per workspace by name.

The rules:

* **Per workspace, never crossing.** Every read and write names the workspace; another workspace's template id
  is :class:`~outreach.errors.NotFound`.
* **Names** are 1 to ``NAME_MAX`` characters on one line, unique in a workspace regardless of case
  (``Intro FR`` and ``intro fr`` clash; the database's unique index on the case-folded name holds it when two
  people save at once).
* **Checked like a send.** Subject (e-mail) and content go through the same checks a send makes
  (:func:`outreach.validation.check_subject`, :func:`outreach.tokens.check`): an unknown ``{token}`` or a
  malformed or unknown ``{adcode_x}`` is a problem of its field; every problem is reported at once.
* **Files are the already-scanned ones.** A template keeps the files of the draft it was saved from (those the
  form kept): the same stored attachments, never uploaded again. Using a template links them to the draft, and
  the send checks them again as it checks every file (``ComposeService.submit``/``files_refused``, the workers'
  re-scan): a template never lets a file skip the outgoing scan.
* **Who may change one.** Anyone in the workspace may see and use a template; its author or a workspace admin or
  owner may edit or delete it (:class:`NotYours` otherwise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from outreach.attachments import AttachmentCheck
from outreach.compose import CONTENT_MAX, ComposeService, ComposeState, DraftFields
from outreach.errors import NotFound, NotYours, Problem, ValidationFailed
from outreach.models import Attachment, AuditEvent, Channel, Template, TemplateSummary
from outreach.ports import Clock, UnitOfWork
from outreach.tokens import check
from outreach.validation import check_subject, control_characters

NAME_MAX = 80
MENU_LIMIT = 100  # an external select shows at most 100 options (Slack's limit)
PAGE_SIZE = 10  # templates per page of /prospects templates


@dataclass(frozen=True, slots=True)
class TemplateFields:
    """What the template form holds. ``attachment_ids``: the files to keep (of the draft or of the template)."""

    name: str
    subject: str = ""
    content: str = ""
    attachment_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class TemplatePage:
    items: tuple[TemplateSummary, ...]
    total: int
    page: int  # 0-based
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def name_key(name: str) -> str:
    """What makes two names the same: trimmed and case-folded."""
    return " ".join(name.split()).casefold()


def name_problems(name: str) -> list[Problem]:
    clean = name.strip()
    if control_characters(name.replace("\t", " ")):
        return [Problem("name", "one_line", "A template's name is one line of text.")]
    if not clean:
        return [Problem("name", "required", "Give the template a name.")]
    if len(clean) > NAME_MAX:
        return [
            Problem(
                "name",
                "too_long",
                f"The name is {len(clean)} characters long; the limit is {NAME_MAX}.",
                (("length", str(len(clean))), ("max", str(NAME_MAX))),
            )
        ]
    return []


def _taken(name: str) -> Problem:
    return Problem(
        "name",
        "name_taken",
        f"This workspace already has a template named “{name.strip()}” (names ignore case).",
        (("name", name.strip()),),
    )


class TemplateService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, compose: ComposeService) -> None:
        self._uow = uow
        self._clock = clock
        self._compose = compose

    # -- reading ------------------------------------------------------------------------------------------
    def search(
        self, team_id: str, text: str, channel: Channel | None = None, limit: int = MENU_LIMIT
    ) -> list[TemplateSummary]:
        """The workspace's templates whose name contains ``text`` (any case), by name, at most ``limit``."""
        with self._uow() as uow:
            return uow.templates.search(team_id, name_key(text), channel, min(limit, MENU_LIMIT))

    def page(self, team_id: str, page: int = 0, size: int = PAGE_SIZE) -> TemplatePage:
        with self._uow() as uow:
            total = uow.templates.count(team_id)
            last = max(0, (total - 1) // size)
            page = min(max(0, page), last)
            items = uow.templates.page(team_id, page * size, size)
        return TemplatePage(tuple(items), total, page, size)

    def get(self, team_id: str, template_id: int) -> Template:
        with self._uow() as uow:
            found = uow.templates.get(team_id, template_id)
        if found is None:
            raise NotFound("template", str(template_id))
        return found

    # -- writing ------------------------------------------------------------------------------------------
    def create_from_draft(
        self, team_id: str, author_id: str, draft_id: int, fields: TemplateFields
    ) -> Template:
        """A new template from the author's draft: its channel, the subject and content given, and those of the
        draft's files named in ``fields``. Raises ValidationFailed with every problem."""
        draft = self._compose.draft(team_id, author_id, draft_id)  # NotFound for another's draft
        with self._uow() as uow:
            files = _chosen(draft.attachments, fields.attachment_ids)
            problems = self._problems(uow, team_id, draft.channel, fields)
            if problems:
                raise ValidationFailed(problems)
            now = self._clock.now()
            template = Template(
                team_id,
                author_id,
                fields.name.strip(),
                draft.channel,
                fields.subject if draft.channel is Channel.EMAIL else "",
                fields.content,
                files,
                created_at=now,
                updated_at=now,
            )
            stored = uow.templates.add(template)
            if stored is None:
                raise ValidationFailed([_taken(fields.name)])
            self._audit(uow, team_id, author_id, "template.created", stored)
            uow.commit()
        return stored

    def update(
        self, team_id: str, user_id: str, template_id: int, fields: TemplateFields, *, is_admin: bool
    ) -> Template:
        """The template edited (its author or an admin): name, subject, content, and which of its files stay."""
        with self._uow() as uow:
            current = self._changeable(uow, team_id, user_id, template_id, is_admin)
            problems = self._problems(uow, team_id, current.channel, fields, template_id)
            if problems:
                raise ValidationFailed(problems)
            changed = dataclasses.replace(
                current,
                name=fields.name.strip(),
                subject=fields.subject if current.channel is Channel.EMAIL else "",
                content=fields.content,
                attachments=_chosen(current.attachments, fields.attachment_ids),
                updated_at=self._clock.now(),
            )
            stored = uow.templates.save(changed)
            if stored is None:
                raise ValidationFailed([_taken(fields.name)])
            self._audit(uow, team_id, user_id, "template.changed", stored)
            uow.commit()
        return stored

    def add_files(
        self,
        team_id: str,
        user_id: str,
        template_id: int,
        files: Sequence[tuple[str, bytes]],
        *,
        is_admin: bool,
    ) -> AttachmentCheck:
        """New files for a template (its author or an admin), checked as a send checks them (type, size,
        structure, virus scan; the template's files count towards the limits); the good ones are added after its
        own. The verdict of each is returned; nothing is raised for a bad file. NotFound / NotYours as ``update``."""
        with self._uow() as uow:
            current = self._changeable(uow, team_id, user_id, template_id, is_admin)
        existing = [(a.filename, a.data) for a in current.attachments]
        fresh = self._compose.check_files(files, existing)  # outside any transaction: clamd takes its time
        if not fresh.accepted:
            return fresh
        with self._uow() as uow:
            current = self._changeable(uow, team_id, user_id, template_id, is_admin)
            have = {a.sha256 for a in current.attachments}
            stored = [uow.attachments.add(team_id, a) for a in fresh.accepted if a.sha256 not in have]
            changed = dataclasses.replace(
                current, attachments=(*current.attachments, *stored), updated_at=self._clock.now()
            )
            saved = uow.templates.save(changed)
            if saved is None:  # renamed meanwhile to a name taken since: cannot happen without a name change
                raise NotFound("template", str(template_id))
            self._audit(uow, team_id, user_id, "template.changed", saved)
            uow.commit()
        return fresh

    def delete(self, team_id: str, user_id: str, template_id: int, *, is_admin: bool) -> Template:
        """Deleted by its author or an admin; NotYours for anyone else, NotFound when it is gone."""
        with self._uow() as uow:
            current = self._changeable(uow, team_id, user_id, template_id, is_admin)
            uow.templates.delete(team_id, template_id)
            self._audit(uow, team_id, user_id, "template.deleted", current)
            uow.commit()
        return current

    def may_change(self, template: Template | TemplateSummary, user_id: str, *, is_admin: bool) -> bool:
        return is_admin or template.author_id == user_id

    # -- using --------------------------------------------------------------------------------------------
    def apply(
        self, team_id: str, author_id: str, draft_id: int, template_id: int, fields: DraftFields
    ) -> ComposeState:
        """The author's draft saved with what the form holds (``fields``), its subject and content replaced by the
        template's and the template's files added to those kept. A template of the other channel is NotFound."""
        template = self.get(team_id, template_id)
        draft = self._compose.draft(team_id, author_id, draft_id)
        if template.channel is not draft.channel:
            raise NotFound("template", str(template_id))
        filled = dataclasses.replace(
            fields,
            subject=template.subject if template.channel is Channel.EMAIL else fields.subject,
            content=template.content,
        )
        state = self._compose.save(team_id, author_id, draft_id, filled, add=template.attachments)
        with self._uow() as uow:
            self._audit(uow, team_id, author_id, "template.used", template, draft_id=draft_id)
            uow.commit()
        return state

    def fill_new(self, team_id: str, author_id: str, draft_id: int, template_id: int) -> ComposeState:
        """A new draft (``/prospects templates`` → Use) filled from the template, its own header fields kept."""
        draft = self._compose.draft(team_id, author_id, draft_id)
        return self.apply(
            team_id, author_id, draft_id, template_id, DraftFields(draft.sender_name, draft.reply_to)
        )

    # -- helpers ------------------------------------------------------------------------------------------
    def _problems(
        self,
        uow: UnitOfWork,
        team_id: str,
        channel: Channel,
        fields: TemplateFields,
        template_id: int | None = None,
    ) -> list[Problem]:
        problems = name_problems(fields.name)
        if not problems:
            same = uow.templates.named(team_id, name_key(fields.name))
            if same is not None and same.id != template_id:
                problems.append(_taken(fields.name))
        adids = {a.adid for a in uow.ads.all(team_id)}
        if channel is Channel.EMAIL:
            problems += check_subject(fields.subject) or check(fields.subject, adids, field="subject")
        if not fields.content.strip():
            problems.append(Problem("content", "required", "Write the content of your message."))
        elif len(fields.content) > CONTENT_MAX:
            problems.append(
                Problem(
                    "content",
                    "too_long",
                    f"The content is longer than {CONTENT_MAX} characters.",
                    (("limit", str(CONTENT_MAX)),),
                )
            )
        problems += check(fields.content, adids, field="content")
        return problems

    @staticmethod
    def _changeable(
        uow: UnitOfWork, team_id: str, user_id: str, template_id: int, is_admin: bool
    ) -> Template:
        current = uow.templates.get(team_id, template_id)
        if current is None:
            raise NotFound("template", str(template_id))
        if not (is_admin or current.author_id == user_id):
            raise NotYours(template_id, current.author_id)
        return current

    def _audit(
        self,
        uow: UnitOfWork,
        team_id: str,
        actor_id: str,
        action: str,
        template: Template,
        *,
        draft_id: int | None = None,
    ) -> None:
        detail = f"{template.id}: {template.name}"
        uow.audit.record(
            AuditEvent(team_id, actor_id, action, self._clock.now(), draft_id=draft_id, detail=detail)
        )


def _chosen(files: Sequence[Attachment], ids: Sequence[int]) -> tuple[Attachment, ...]:
    """Those of ``files`` whose id is in ``ids``, in their order (ids of other files are ignored)."""
    wanted = set(ids)
    return tuple(a for a in files if a.id in wanted)
