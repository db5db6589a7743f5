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
from sqlalchemy import create_engine, exists, select, text

import migrations
import workflows.tables  # noqa: F401 - every domain table, truncated between tests
from engine import Engine, FrozenClock
from engine.store import metadata

POSTGRES_URL = os.environ.get("ADUAN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
# Monday 2 March 2026, 09:00 in Penajam Paser Utara (WITA, UTC+8).
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
STATES = "aduan_test_states"  # PostgreSQL: the schema where each start state's rows are kept


def _pg_admin_url() -> str:
    assert POSTGRES_URL
    return POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)


class PostgresDatabase:
    """A database of our own on the test server, created once and dropped at the end.

    Each test starts from a state copied aside on the server: the migrated one (`truncate`)
    or the demo regency's (`restore_regency`). A restore empties every table by DELETE and
    copies the state's rows back, with triggers and foreign keys off (the session is a
    replica's, which the test server's superuser may be), then sets the sequences where
    they were and gives the revision tokens new values, as any write would. TRUNCATE gave
    each of the fifty-odd tables a new file: on a busy disk a second a test, the suite's
    largest fixed cost; and its triggers left rows behind that a new database lacks."""

    def __init__(self) -> None:
        self.name = f"aduan_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        base = POSTGRES_URL.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"
        migrations.upgrade(self.url)
        self.db = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.states: dict[str, tuple[list[str], list[Any]]] = {}
        self._copy_aside("migrated")
        self.regency_tokens: dict[str, str] | None = None

    def _copy_aside(self, state: str) -> None:
        """The present rows of every table that has some, and the sequences' values."""
        with self.db.begin() as connection:
            tables = [t.name for t in metadata.sorted_tables
                      if connection.execute(select(exists().select_from(t))).scalar()]
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {STATES}"))
            for name in tables:  # (a schema of their own: not the product's tables)
                connection.execute(text(
                    f'CREATE TABLE {STATES}."{state}_{name}" AS SELECT * FROM "{name}"'))
            sequences = connection.execute(text(
                "SELECT schemaname || '.' || sequencename, coalesce(last_value, start_value), "
                "last_value IS NOT NULL FROM pg_sequences WHERE schemaname = 'public'")).all()
        self.states[state] = (tables, sequences)

    def _restore(self, state: str) -> None:
        tables, sequences = self.states[state]
        with self.db.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text("; ".join(
                [f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables)]
                + [f'INSERT INTO "{name}" SELECT * FROM {STATES}."{state}_{name}"'
                   for name in tables])))
            connection.execute(text(
                "SELECT setval(CAST(name AS regclass), value, called) FROM unnest("
                "CAST(:names AS text[]), CAST(:values AS bigint[]), CAST(:called AS boolean[])"
                ") AS s(name, value, called)"),
                {"names": [row[0] for row in sequences], "values": [row[1] for row in sequences],
                 "called": [row[2] for row in sequences]})
            connection.execute(text(  # no process may take a cached value for this state's
                "UPDATE config_revision SET token = (random() * 9.2e18 - 4.6e18)::bigint"))

    def truncate(self) -> None:
        """Every table as the migrations left it (the shipped categories, the calendar)."""
        self._restore("migrated")

    def restore_regency(self, folder: Path) -> dict[str, str]:
        """The demo regency (tests/regency.py), built by the first call; returns its
        officers' API tokens."""
        if self.regency_tokens is None:
            from tests.regency import build

            self.truncate()
            regency = build(self.url, FrozenClock(START), folder)
            regency.engine.dispose()
            self._copy_aside("regency")
            self.regency_tokens = regency.tokens
        else:
            self._restore("regency")
        return dict(self.regency_tokens)

    def drop(self) -> None:
        self.db.dispose()
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
def regency(database_url: str, clock: FrozenClock, tmp_path: Path,
            demo_template: tuple[Path, dict[str, str]],
            postgres_database: PostgresDatabase | None) -> Iterator[Any]:
    """The demo regency behind the JSON API (tests/regency.py), as built once per process
    (a copied SQLite file, or rows copied back on PostgreSQL)."""
    from tests.regency import attach

    if database_url.startswith("sqlite:"):
        template, tokens = demo_template
        shutil.copyfile(template, database_url.removeprefix("sqlite:///"))
    else:
        assert postgres_database is not None
        tokens = postgres_database.restore_regency(tmp_path)
    regency = attach(database_url, clock, tmp_path, tokens)
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
