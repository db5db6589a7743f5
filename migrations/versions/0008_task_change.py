"""The open tasks' change log, for the worklists' read cache; the escalation inbox's index.

- `task_change`: one row per statement (PostgreSQL) or per row (SQLite) that writes
  `human_task` or `human_task_group`, appended by triggers in the writer's transaction,
  whoever the writer; with `stats_change` (0006) it tells the read cache of the officers'
  and supervisors' pages (workflows/readcache.py) whether what a cached count or ranking
  was read from has changed since. Rows older than a day are pruned by the triggers.

- `ix_escalation_status_at`: the escalation inbox lists an agency's open escalations, the
  newest first, 25 at a time; with 35,000 open ones the database read them all to sort them.

The trigger statements are engine.store.TASK_TRIGGERS as of this revision; should they
change, a later revision replaces them and this one gets a frozen copy of these.

Revision ID: 0008_task_change
Revises: 0007_web_indexes
Create Date: 2026-11-28 16:00:00
"""

import sqlalchemy as sa
from alembic import op

from engine.store import TASK_TRIGGERS

revision = "0008_task_change"
down_revision = "0007_web_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_change")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_task_change_xid", "task_change", ["xid"])
    op.create_index("ix_escalation_status_at", "escalation", ["status", "at", "id"])
    for statement in TASK_TRIGGERS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_escalation_status_at", table_name="escalation")
    for statement in TASK_TRIGGERS.get(dialect, ()):
        if statement.startswith("CREATE TRIGGER "):
            name, table = statement.split()[2], statement.split(" ON ")[1].split()[0]
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if dialect == "postgresql"
                       else f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS aduan_task_changed()")
    op.drop_index("ix_task_change_xid", table_name="task_change")
    op.drop_table("task_change")
