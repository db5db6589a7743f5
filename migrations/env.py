"""Alembic environment: runs migrations against the URL handed over by `aduan db upgrade`."""

from alembic import context

import workflows.draft_models  # the studio's drafts table, on the metadata too
import workflows.metoo_models  # "me too" and nearby lookups too
import workflows.models  # registers the domain tables on the metadata
import workflows.open311_models  # the Open311 keys and tokens too
import workflows.poster_models  # the QR posters table, on the metadata too
import workflows.sms_models  # noqa: F401 - the SMS gateway's inbound messages too
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
