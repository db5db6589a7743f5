"""The migrations build exactly the schema the models describe, on each database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import migrations
import workflows.tables  # noqa: F401 - every domain table on the metadata
from engine.store import make_db_engine, metadata
from tests.conftest import BACKENDS, PostgresDatabase


@pytest.mark.parametrize("backend", BACKENDS)
# SQLAlchemy cannot reflect SQLite's indexes on expressions (the stored speeds' per-hour
# indexes, migration 0037): it says so and leaves them out of the comparison;
# tests/test_stats_speeds.py checks they are there and used.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning")
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index:UserWarning")
def test_the_migrated_schema_and_the_models_agree(backend, tmp_path):
    """On a database of its own, freshly migrated: the suite's shared databases may hold
    tables other tests created (a host's table in tests/test_host.py, say)."""
    if backend == "postgres":
        own = PostgresDatabase()  # created and migrated
        url = own.url
    else:
        own, url = None, f"sqlite:///{tmp_path / 'schema.db'}"
        migrations.upgrade(url)
    db = make_db_engine(url, pool=False)
    try:
        with db.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        db.dispose()
        if own is not None:
            own.drop()
    assert differences == []


def test_the_sign_in_tables_go_back_and_come_again(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path / 'back.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "0008_task_change")
    db = make_db_engine(url, pool=False)
    try:
        assert not {"sign_in_guard", "user_session"} & set(inspect(db).get_table_names())
        migrations.upgrade(url)
        assert {"sign_in_guard", "user_session"} <= set(inspect(db).get_table_names())
    finally:
        db.dispose()
