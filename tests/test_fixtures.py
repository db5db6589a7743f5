"""The test fixtures' own guarantee: each PostgreSQL test starts from the migrated state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine import FrozenClock
from engine.store import metadata
from tests.conftest import POSTGRES_URL, START, PostgresDatabase
from tests.regency import attach, build


def contents(url: str) -> dict[str, Any]:
    """Every table's rows (config_revision's names only: its tokens are new each time)
    and every sequence's state."""
    db = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with db.connect() as connection:
        rows = {t.name: sorted(map(repr, connection.execute(t.select())))
                for t in metadata.sorted_tables if t.name != "config_revision"}
        rows["config_revision"] = connection.execute(
            text("SELECT name FROM config_revision ORDER BY name")).scalars().all()
        rows["sequences"] = connection.execute(text(
            "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")).all()
    db.dispose()
    return rows


def test_a_reset_leaves_the_database_as_the_migrations_left_it(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("set ADUAN_TEST_POSTGRES_URL to run PostgreSQL tests")
    postgres_database = PostgresDatabase()  # a new one: what the migrations left, untouched
    try:
        migrated = contents(postgres_database.url)
        postgres_database.truncate()
        assert contents(postgres_database.url) == migrated
        written_and_reset(postgres_database, tmp_path)
        assert contents(postgres_database.url) == migrated
        assert all(value is None for name, value in migrated["sequences"])
    finally:
        postgres_database.drop()


def written_and_reset(postgres_database: PostgresDatabase, tmp_path: Path) -> None:
    before = contents(postgres_database.url)
    regency = build(postgres_database.url, FrozenClock(START), tmp_path)
    regency.submit()
    regency.engine.dispose()
    written = contents(postgres_database.url)
    assert written != before
    assert any(value for name, value in written["sequences"])
    postgres_database.truncate()


def test_the_demo_regency_comes_back_as_it_was_built(
        postgres_database: PostgresDatabase | None, tmp_path: Path) -> None:
    if postgres_database is None:
        pytest.skip("set ADUAN_TEST_POSTGRES_URL to run PostgreSQL tests")
    url = postgres_database.url
    tokens = postgres_database.restore_regency(tmp_path)
    built = contents(url)
    regency = attach(url, FrozenClock(START), tmp_path, tokens)
    number = regency.submit()["tracking_number"]
    assert regency.client.get(f"/api/v1/complaints/{number}",
                              headers=regency.headers("admin.kominfo")).status_code == 200
    regency.engine.dispose()
    assert contents(url) != built

    assert postgres_database.restore_regency(tmp_path) == tokens
    assert contents(url) == built
    regency = attach(url, FrozenClock(START), tmp_path, tokens)
    try:  # the officers' tokens still sign in; the report filed since is gone
        response = regency.client.get(f"/api/v1/complaints/{number}",
                                      headers=regency.headers("admin.kominfo"))
        assert response.status_code == 404, response.get_json()
        assert regency.submit()["tracking_number"] == number
    finally:
        regency.engine.dispose()
