"""Alembic environment: runs migrations against the URL handed over by `aduan db upgrade`."""

from alembic import context

import workflows.tables  # noqa: F401 - registers every domain table on the metadata
from engine.store import make_db_engine, metadata

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")


def run() -> None:
    db = make_db_engine(url, pool=False)
    try:
        with db.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        db.dispose()


run()
