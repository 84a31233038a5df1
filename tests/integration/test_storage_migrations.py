"""The schema comes from the migrations, and the migrations agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import make_engine
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Base

POSTGRES_ONLY_INDEXES = {"ix_partners_search_trgm"}
SQLITE_ONLY_TABLE = "partners_search"  # the FTS5 index and its shadow tables, made by migration 0003


def test_the_migrated_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            dialect = conn.dialect.name

            def include(obj, name, type_, reflected, compare_to):
                if type_ == "index" and dialect != "postgresql" and name in POSTGRES_ONLY_INDEXES:
                    return False
                return not (type_ == "table" and dialect == "sqlite" and name.startswith(SQLITE_ONLY_TABLE))

            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrading_again_is_a_no_op_at_head(database_url):
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()


def test_postgres_gets_the_trigram_index_for_search(database_url):
    engine = make_engine(database_url)
    try:
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("partners")}
        if engine.dialect.name == "postgresql":
            assert "ix_partners_search_trgm" in indexes
        assert {"ix_partners_list", "ix_partners_prospects", "ix_partners_country"} <= indexes
    finally:
        engine.dispose()


def test_a_new_sqlite_file_and_its_folder_are_created_by_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'fresh.db'}"
    upgrade(url)
    assert (tmp_path / "var" / "fresh.db").exists()
    assert current_revision(url) == head_revision()


def test_0008_fills_in_who_contacted_each_partner_last(tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007")
    engine = make_engine(url)
    try:
        with engine.begin() as c:
            for mpid, contacted in (("m1", "2038-01-18 10:00:00"), ("m2", None)):
                c.execute(
                    text(
                        "INSERT INTO partners (team_id, mpid, name, first_name, last_name, email, kind,"
                        " messaging_enabled, country, website, categories, description, sort_name, search_text,"
                        " prospect_status, marked_by, last_contacted_at, created_at, updated_at) VALUES"
                        " ('T1', :m, :m, '', '', '', 'partner', 0, '', '', '[]', '', :m, :m, '', '', :c,"
                        " '2038-01-01', '2038-01-01')"
                    ),
                    {"m": mpid, "c": contacted},
                )
            for author, sent_at in (("U_OLD", "2038-01-10 10:00:00"), ("U_LAST", "2038-01-18 10:00:00")):
                draft = c.execute(
                    text(
                        "INSERT INTO drafts (team_id, author_id, channel, sender_name, reply_to, subject, content,"
                        " status, created_at, updated_at) VALUES ('T1', :a, 'email', '', '', '', '', 'sent',"
                        " '2038-01-01', '2038-01-01') RETURNING id"
                    ),
                    {"a": author},
                ).scalar_one()
                c.execute(
                    text(
                        "INSERT INTO deliveries (team_id, draft_id, mpid, status, attempts, last_error,"
                        " provider_message_id, sent_at, claimed_by, created_at, updated_at) VALUES ('T1', :d,"
                        " 'm1', 'sent', 1, '', '', :s, '', '2038-01-01', '2038-01-01')"
                    ),
                    {"d": draft, "s": sent_at},
                )
        upgrade(url)
        with engine.connect() as c:
            rows = dict(c.execute(text("SELECT mpid, last_contacted_by FROM partners")).all())
        assert rows == {"m1": "U_LAST", "m2": ""}
    finally:
        engine.dispose()


def test_0016_leaves_existing_drafts_plain_sends_and_partners_without_a_time_zone(tmp_path):
    from sqlalchemy import text

    from storage.db import make_session_factory
    from storage.unit_of_work import SqlUnitOfWork

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0015")
    engine = make_engine(url)
    try:
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO partners (team_id, mpid, name, first_name, last_name, email, kind, messaging_enabled,"
                    " country, website, categories, description, sort_name, search_text, prospect_status, marked_by,"
                    " last_contacted_by, created_at, updated_at) VALUES ('T1', 'm1', 'Acme', '', '', '', 'partner', 0,"
                    " '', '', '[]', '', 'acme', 'm1', '', '', '', '2038-01-01', '2038-01-01')"
                )
            )
            draft_id = c.execute(
                text(
                    "INSERT INTO drafts (team_id, author_id, channel, sender_name, reply_to, subject, content, status,"
                    " created_at, updated_at) VALUES ('T1', 'U1', 'email', '', '', 'Hi', 'Hello', 'draft',"
                    " '2038-01-01', '2038-01-01') RETURNING id"
                )
            ).scalar_one()
        upgrade(url)
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            draft = uow.drafts.get("T1", draft_id)
            assert (draft.followups, draft.send_at, draft.local_zone) == ((), None, "")
            assert (draft.parent_id, draft.step, draft.delay_days, draft.root_id) == (None, 0, 0, draft_id)
            assert uow.drafts.steps("T1", draft_id) == []
            assert uow.partners.get("T1", "m1").timezone == ""
    finally:
        engine.dispose()
