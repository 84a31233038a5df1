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
