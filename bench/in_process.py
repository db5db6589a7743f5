"""What the in-process page benchmarks share (bench/board_writes.py, bench/page_writes.py):
the domain over a benchmark's kept database, the demo officers' principals, and the figures
of a list of timings."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.engine import percentile
from engine import Engine
from workflows import access
from workflows.config import RegencyConfig
from workflows.domain import Domain
from workflows.models import User
from workflows.storage import Storage
from workflows.users import Passwords


@contextmanager
def domain_over(database_url: str, usernames: Iterable[str], prefix: str
                ) -> Iterator[tuple[Domain, dict[str, access.Principal]]]:
    """The domain on `database_url` (uploads in a temporary folder), and the principal of
    each named officer; the engine is disposed of at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        engine = Engine(database_url)
        config = RegencyConfig()
        domain = Domain(engine, config, Storage(Path(tmp), config.max_attachment_bytes),
                        Passwords.fast())
        try:
            with domain.context.reads() as session:
                principals = {u: access.principal_for(session, session.scalars(
                    select(User).where(User.username == u)).one()) for u in usernames}
            yield domain, principals
        finally:
            engine.dispose()


def figures(times: list[float]) -> dict[str, Any]:
    """Median and p95 of timings in seconds, in milliseconds."""
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(percentile(ordered, 95) * 1000, 1)}
