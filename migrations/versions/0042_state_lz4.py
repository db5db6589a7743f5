"""A process instance's saved state is compressed with lz4 on PostgreSQL (issue 17: the real
timer firing's database share).

Every firing, completion and start rewrites `process_instance.state`, a JSON text of 4 to
25 KB (a report sixty days at follow-up keeps about 21 KB). PostgreSQL compresses a value
over about 2 KB before it moves it out of line, with pglz unless told otherwise, and
decompresses it at each read. lz4 compresses the same states to within a few per cent of
pglz's size at about a third of its CPU (BENCHMARKS.md, Issue 17, seventh round: backend CPU
of a read and an update of a real state 0.87-0.98 -> 0.58-0.61 ms). Storing the state
uncompressed (`SET STORAGE EXTERNAL`) was measured too: four times the table and the WAL.

`SET COMPRESSION` changes only the column's setting: nothing is rewritten, and a value keeps
the method it was written with until it is written again (PostgreSQL reads both). A server
built without lz4 support (its `default_toast_compression` does not offer it) keeps pglz.
SQLite stores the text as it is: nothing to do there. The downgrade sets the column back to
the server's default method (pglz unless configured otherwise).

Revision ID: 0042_state_lz4
Revises: 0041_stats_trigger_plans
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042_state_lz4"
down_revision = "0041_stats_trigger_plans"
branch_labels = None
depends_on = None

HAS_LZ4 = sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                  "WHERE name = 'default_toast_compression'")


def _set(method: str) -> None:
    op.execute(f"ALTER TABLE process_instance ALTER COLUMN state SET COMPRESSION {method}")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.execute(HAS_LZ4).scalar():
        _set("lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set("default")
