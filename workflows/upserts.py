"""Upserts (INSERT ... ON CONFLICT) in each database's words, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

T = TypeVar("T")


def by_dialect(build: Callable[[Any], T]) -> dict[str, T]:
    """`build(insert)` with each supported dialect's `insert` (the one that knows ON
    CONFLICT), by dialect name: statements built at import instead of at each use, where
    building one and its cache key cost hundreds of Python calls."""
    return {"postgresql": build(postgresql_insert), "sqlite": build(sqlite_insert)}


def run(connection: Connection, statements: dict[str, Any], parameters: dict[str, Any]
        ) -> Any:
    """Execute the statement of `statements` (from `by_dialect`) in the connection's
    dialect."""
    return connection.execute(statements[connection.dialect.name], parameters)
