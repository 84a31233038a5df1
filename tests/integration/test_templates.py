"""Shared templates on SQLite and PostgreSQL: saved from a draft, checked like a send, unique names per workspace,
searched for the menu, used to fill a draft (files and all), edited and deleted by their author or an admin."""

from __future__ import annotations

import pytest

from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.clock import FixedClock
from outreach.compose import ComposeService, DraftFields
from outreach.errors import NotFound, NotYours, ValidationFailed
from outreach.layouts import Layouts
from outreach.models import Ad, AdType, Channel, Partner, PartnerKind
from outreach.rendering import TrackingConfig
from outreach.templates import NAME_MAX, TemplateFields, TemplateService
from tests.attachment_samples import FakeScanner, FakeSniffer, pdf
from tests.integration.test_compose import AT

T1, T2 = "T1", "T2"


@pytest.fixture
def services(uow_factory):
    with uow_factory() as uow:
        for team in (T1, T2):
            uow.partners.upsert_many(
                team,
                [
                    Partner(
                        team, "m1", "Acme", "Ann", "Ng", "ann@acme.example", PartnerKind.PARTNER, True, "US"
                    )
                ],
                mark_prospects={"m1"},
                marked_by="U1",
            )
        uow.ads.upsert_many(T1, [Ad(T1, "42", "Sale", AdType.TEXT_LINK, "https://shop.example/w", "Shop")])
        uow.commit()
    compose = ComposeService(
        uow=uow_factory,
        clock=FixedClock(AT),
        sniffer=FakeSniffer(),
        scanner=FakeScanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
        tracking=TrackingConfig("https://t.example/c/{mpid}/{adid}/{program_id}", "77"),
        layouts=Layouts(),
    )
    return compose, TemplateService(uow_factory, FixedClock(AT), compose)


def _draft_with_file(compose, team=T1, author="U1"):
    state = compose.start(team, author, Channel.EMAIL, ["m1"], sender_name="Ann")
    result = compose.attach(team, author, state.draft_id, [("deck.pdf", pdf())])
    assert result.ok
    return compose.load(team, author, state.draft_id).draft


def _fields(name="Intro FR", subject="Hello {firstName}", content="Dear {firstName}, {adcode_42}", ids=()):
    return TemplateFields(name, subject, content, tuple(ids))


def test_a_template_keeps_the_drafts_checked_file_and_is_found_by_part_of_its_name(services):
    compose, templates = services
    draft = _draft_with_file(compose)
    file_id = draft.attachments[0].id
    saved = templates.create_from_draft(T1, "U1", draft.id, _fields(ids=[file_id]))
    assert saved.channel is Channel.EMAIL and [a.id for a in saved.attachments] == [file_id]
    assert saved.attachments[0].data == pdf() and saved.attachments[0].verdict.clean
    assert [t.name for t in templates.search(T1, "intro")] == ["Intro FR"]
    assert [t.name for t in templates.search(T1, "TRO f", Channel.EMAIL)] == ["Intro FR"]
    assert templates.search(T1, "intro", Channel.MESSAGE) == []
    assert templates.search(T1, "%") == [] and templates.search(T1, "_") == []  # wildcards are plain text
    assert templates.search(T2, "") == []  # another workspace never sees it
    with pytest.raises(NotFound):
        templates.get(T2, saved.id)


def test_names_are_unique_per_workspace_whatever_their_case_and_have_limits(services):
    compose, templates = services
    draft = _draft_with_file(compose)
    templates.create_from_draft(T1, "U1", draft.id, _fields())
    with pytest.raises(ValidationFailed) as clash:
        templates.create_from_draft(T1, "U1", draft.id, _fields(name="  intro   fr "))
    assert [(p.field, p.code) for p in clash.value.problems] == [("name", "name_taken")]
    other = _draft_with_file(compose, T2)
    assert templates.create_from_draft(T2, "U1", other.id, _fields(content="Hi")).name == "Intro FR"
    longest = templates.create_from_draft(T1, "U1", draft.id, _fields(name="ß" * NAME_MAX))  # folds to 160
    assert templates.search(T1, "ssss")[0].id == longest.id
    for bad, code in (("", "required"), ("x" * (NAME_MAX + 1), "too_long"), ("a\nb", "one_line")):
        with pytest.raises(ValidationFailed) as err:
            templates.create_from_draft(T1, "U1", draft.id, _fields(name=bad))
        assert [(p.field, p.code) for p in err.value.problems] == [("name", code)]


def test_tokens_are_checked_as_a_send_checks_them(services):
    compose, templates = services
    draft = _draft_with_file(compose)
    with pytest.raises(ValidationFailed) as err:
        templates.create_from_draft(
            T1, "U1", draft.id, _fields(subject="Hi {frstName}", content="{adcode_99} and {adcode_x y}")
        )
    fields = [(p.field, p.code) for p in err.value.problems]
    assert ("subject", "unknown_token") in fields
    assert {f for f, _ in fields} == {"subject", "content"} and len(fields) >= 3


def test_using_a_template_fills_subject_content_and_files_and_keeps_the_rest(services):
    compose, templates = services
    draft = _draft_with_file(compose)
    saved = templates.create_from_draft(T1, "U1", draft.id, _fields(ids=[draft.attachments[0].id]))
    new = compose.start(T1, "U2", Channel.EMAIL, ["m1"])
    typed = DraftFields("Bo", "bo@brand.example", "old", "old text")
    state = templates.apply(T1, "U2", new.draft_id, saved.id, typed)
    d = state.draft
    assert (d.sender_name, d.reply_to) == ("Bo", "bo@brand.example")
    assert (d.subject, d.content) == (saved.subject, saved.content)
    assert [a.data for a in d.attachments] == [pdf()]
    again = templates.apply(T1, "U2", new.draft_id, saved.id, typed)  # the same file is not attached twice
    assert len(again.draft.attachments) == 1
    message = compose.start(T1, "U2", Channel.MESSAGE, ["m1"])
    with pytest.raises(NotFound):
        templates.apply(T1, "U2", message.draft_id, saved.id, DraftFields())
    with pytest.raises(NotFound):
        templates.apply(T2, "U2", compose.start(T2, "U2", Channel.EMAIL, ["m1"]).draft_id, saved.id, typed)


def test_only_the_author_or_an_admin_edits_or_deletes_and_edits_are_checked(services):
    compose, templates = services
    draft = _draft_with_file(compose)
    saved = templates.create_from_draft(T1, "U1", draft.id, _fields(ids=[draft.attachments[0].id]))
    with pytest.raises(NotYours):
        templates.delete(T1, "U2", saved.id, is_admin=False)
    with pytest.raises(NotYours):
        templates.update(T1, "U2", saved.id, _fields(name="Mine"), is_admin=False)
    with pytest.raises(ValidationFailed):
        templates.update(T1, "U1", saved.id, _fields(content="{nope}"), is_admin=False)
    edited = templates.update(T1, "U9", saved.id, _fields(name="Intro FR v2", ids=[]), is_admin=True)
    assert edited.name == "Intro FR v2" and edited.attachments == ()
    templates.create_from_draft(T1, "U1", draft.id, _fields(name="Other"))
    with pytest.raises(ValidationFailed):
        templates.update(T1, "U1", saved.id, _fields(name="OTHER"), is_admin=False)
    templates.delete(T1, "U1", saved.id, is_admin=False)
    with pytest.raises(NotFound):
        templates.get(T1, saved.id)
    assert compose.load(T1, "U1", draft.id).draft.attachments  # the draft keeps its file


def test_five_hundred_templates_page_and_the_menu_stays_within_slacks_hundred(services, uow_factory):
    compose, templates = services
    draft = _draft_with_file(compose)
    for n in range(500):
        templates.create_from_draft(T1, "U1", draft.id, _fields(name=f"Pitch {n:03}", content="Hi"))
    assert len(templates.search(T1, "")) == 100
    assert [t.name for t in templates.search(T1, "pitch 49")] == [f"Pitch {n}" for n in range(490, 500)]
    page = templates.page(T1, 3)
    assert page.total == 500 and page.pages == 50 and page.items[0].name == "Pitch 030"
    assert templates.page(T1, 999).page == 49


def test_purging_a_workspace_removes_its_templates(services, uow_factory):
    compose, templates = services
    draft = _draft_with_file(compose)
    templates.create_from_draft(T1, "U1", draft.id, _fields(ids=[draft.attachments[0].id]))
    with uow_factory() as uow:
        uow.workspaces.purge(T1)
        uow.commit()
    assert templates.search(T1, "") == []
