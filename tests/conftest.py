"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import migrations
import workflows.tables  # noqa: F401 - every domain table, truncated between tests
from engine import Engine, FrozenClock
from engine.store import metadata

POSTGRES_URL = os.environ.get("ADUAN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
# Monday 2 March 2026, 09:00 in Penajam Paser Utara (WITA, UTC+8).
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _pg_admin_url() -> str:
    assert POSTGRES_URL
    return POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)


class PostgresDatabase:
    """A database of our own on the test server, created once and dropped at the end."""

    def __init__(self) -> None:
        self.name = f"aduan_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        base = POSTGRES_URL.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"
        migrations.upgrade(self.url)
        self.seeded = self._seeded_rows()
        self.copied = False

    def _seeded_rows(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        """The rows the migrations wrote (the shipped categories), put back by truncate."""
        db = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        with db.connect() as connection:
            found = [(table, [dict(row._mapping) for row in connection.execute(table.select())])
                     for table in metadata.sorted_tables]
        # (config_revision's rows are the triggers' own: they refill it when the seeded
        # rows go back in, and a PostgreSQL TRUNCATE replaces their tokens)
        db.dispose()
        return [(table, rows) for table, rows in found
                if rows and table.name != "config_revision"]

    def truncate(self) -> None:
        db = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with db.begin() as connection:
            if not self.copied:  # the large seeded tables (work_day) put back on the server
                for table, rows in self.seeded:  # (before the first test writes)
                    if len(rows) > 100:
                        connection.execute(text(f'CREATE TABLE "seed_{table.name}" AS '
                                                f'SELECT * FROM "{table.name}"'))
                self.copied = True
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            for table, rows in self.seeded:
                if len(rows) > 100:
                    connection.execute(text(
                        f'INSERT INTO "{table.name}" SELECT * FROM "seed_{table.name}"'))
                else:
                    connection.execute(table.insert(), rows)
        db.dispose()

    def drop(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": self.name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "aduan.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase | None]:
    if not POSTGRES_URL:
        yield None
        return
    database = PostgresDatabase()
    yield database
    database.drop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path,
                 postgres_database: PostgresDatabase | None) -> str:
    if request.param == "sqlite":
        target = tmp_path / "aduan.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    assert postgres_database is not None
    postgres_database.truncate()
    return postgres_database.url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "aduan.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def postgres_url(postgres_database: PostgresDatabase | None) -> str:
    if postgres_database is None:
        pytest.skip("set ADUAN_TEST_POSTGRES_URL to run PostgreSQL tests")
    postgres_database.truncate()
    return postgres_database.url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def make_engine(database_url: str, clock: FrozenClock) -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(clock: FrozenClock | None = clock, services: dict[str, Any] | None = None,
             helpers: dict[str, Any] | None = None, **kwargs: Any) -> Engine:
        engine = Engine(database_url, clock=clock, services=services, helpers=helpers,
                        **kwargs)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


@pytest.fixture
def regency(database_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[Any]:
    """The demo regency behind the JSON API (tests/regency.py)."""
    from tests.regency import build

    regency = build(database_url, clock, tmp_path)
    yield regency
    regency.engine.dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
                  ) -> tuple[Path, dict[str, str]]:
    """A SQLite file holding the demo regency, built once and copied by each test."""
    from tests.regency import build

    folder = tmp_path_factory.mktemp("demo")
    path = folder / "aduan.db"
    shutil.copyfile(sqlite_template, path)
    regency = build(f"sqlite:///{path}", FrozenClock(START), folder)
    regency.engine.dispose()
    return path, regency.tokens


@pytest.fixture
def site(demo_template: tuple[Path, dict[str, str]], clock: FrozenClock, tmp_path: Path
         ) -> Iterator[Any]:
    """The demo regency's pages through a browser-like test client (tests/pages.py)."""
    from tests.pages import Site
    from tests.regency import attach

    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens)
    yield Site(regency)
    regency.engine.dispose()
