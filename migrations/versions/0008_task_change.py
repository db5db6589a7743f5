"""The open tasks' change log, for the worklists' read cache; the escalation inbox's index.

- `task_change`: one row per statement (PostgreSQL) or per row (SQLite) that writes
  `human_task` or `human_task_group`, appended by triggers in the writer's transaction,
  whoever the writer; with `stats_change` (0006) it tells the read cache of the officers'
  and supervisors' pages (workflows/readcache.py) whether what a cached count or ranking
  was read from has changed since. Rows older than a day are pruned by the triggers.

- `ix_escalation_status_at`: the escalation inbox lists an agency's open escalations, the
  newest first, 25 at a time; with 35,000 open ones the database read them all to sort them.

The trigger statements are a frozen copy of engine.store.TASK_TRIGGERS as of this revision
(that constant installs them on databases made by create_all); a later change to them is a
later revision.

Revision ID: 0008_task_change
Revises: 0007_web_indexes
Create Date: 2026-11-28 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_task_change"
down_revision = "0007_web_indexes"
branch_labels = None
depends_on = None

# The trigger statements as they were at this revision (frozen: a migration never imports
# live code, which may change after it has run).
TASK_TRIGGERS = {
    'postgresql': (
        'CREATE OR REPLACE FUNCTION aduan_task_changed() RETURNS trigger LANGUAGE plpgsql'
        ' AS $$ BEGIN INSERT INTO task_change (xid, at) VALUES (pg_current_xact_id()::tex'
        't::bigint, now()); IF random() < 0.001 THEN DELETE FROM task_change WHERE id IN '
        '(SELECT id FROM (SELECT id, at FROM task_change ORDER BY id LIMIT 5000 FOR UPDAT'
        "E SKIP LOCKED) AS oldest WHERE at < now() - interval '1 day'); END IF; RETURN NU"
        'LL; END $$',
        'CREATE TRIGGER trg_human_task_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCAT'
        'E ON human_task FOR EACH STATEMENT EXECUTE FUNCTION aduan_task_changed()',
        'CREATE TRIGGER trg_human_task_group_change AFTER INSERT OR UPDATE OR DELETE OR T'
        'RUNCATE ON human_task_group FOR EACH STATEMENT EXECUTE FUNCTION aduan_task_chang'
        'ed()',
    ),
    'sqlite': (
        'CREATE TRIGGER trg_human_task_change_insert AFTER INSERT ON human_task FOR EACH '
        "ROW BEGIN INSERT INTO task_change (at) VALUES (strftime('%Y-%m-%d %H:%M:%f', 'no"
        "w')); END",
        'CREATE TRIGGER trg_human_task_change_update AFTER UPDATE ON human_task FOR EACH '
        "ROW BEGIN INSERT INTO task_change (at) VALUES (strftime('%Y-%m-%d %H:%M:%f', 'no"
        "w')); END",
        'CREATE TRIGGER trg_human_task_change_delete AFTER DELETE ON human_task FOR EACH '
        "ROW BEGIN INSERT INTO task_change (at) VALUES (strftime('%Y-%m-%d %H:%M:%f', 'no"
        "w')); END",
        'CREATE TRIGGER trg_human_task_group_change_insert AFTER INSERT ON human_task_gro'
        "up FOR EACH ROW BEGIN INSERT INTO task_change (at) VALUES (strftime('%Y-%m-%d %H"
        ":%M:%f', 'now')); END",
        'CREATE TRIGGER trg_human_task_group_change_update AFTER UPDATE ON human_task_gro'
        "up FOR EACH ROW BEGIN INSERT INTO task_change (at) VALUES (strftime('%Y-%m-%d %H"
        ":%M:%f', 'now')); END",
        'CREATE TRIGGER trg_human_task_group_change_delete AFTER DELETE ON human_task_gro'
        "up FOR EACH ROW BEGIN INSERT INTO task_change (at) VALUES (strftime('%Y-%m-%d %H"
        ":%M:%f', 'now')); END",
        'CREATE TRIGGER trg_task_change_prune AFTER INSERT ON task_change FOR EACH ROW WH'
        'EN NEW.id % 1000 = 0 BEGIN DELETE FROM task_change WHERE id IN (SELECT id FROM ('
        "SELECT id, at FROM task_change ORDER BY id LIMIT 5000) WHERE at < strftime('%Y-%"
        "m-%d %H:%M:%f', 'now', '-1 day')); END",
    ),
}


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
