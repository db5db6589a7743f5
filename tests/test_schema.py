"""The migrations build exactly the schema the models describe, on each database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import workflows.draft_models  # the studio's drafts table, on the metadata too
import workflows.models  # noqa: F401 - the domain tables are on the metadata too
from engine.store import make_db_engine, metadata


def test_the_migrated_schema_and_the_models_agree(database_url):
    db = make_db_engine(database_url, pool=False)
    try:
        with db.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        db.dispose()
    assert differences == []


def test_the_sign_in_tables_go_back_and_come_again(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    import migrations

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
