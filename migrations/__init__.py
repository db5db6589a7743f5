"""Alembic migrations of Aduan's database schema; `aduan db upgrade` applies them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(HERE / "versions"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from engine.store import make_db_engine

    db = make_db_engine(database_url, pool=False)
    try:
        with db.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        db.dispose()
