"""The reports' change log the pages keep their counts by (issue 17).

- `case_change` (workflows/readcount_models.py): one row per row written of `complaint`,
  `sla_record` or `escalation`, naming its report, appended by the triggers below in the
  writer's transaction whoever the writer. The SLA board (workflows/readcounts.py) keeps its
  counts per report and, after a write, recounts only the reports this log names instead
  of every open one. Rows older than a day are pruned by the triggers.

The trigger statements live here only (no live code imported): a later change replaces them
in a revision of its own.

Revision ID: 0031_read_counts
Revises: 0030_lifecycle_gaps
Create Date: 2026-12-06 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0031_read_counts"
down_revision = "0030_lifecycle_gaps"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_CHILDREN = (("sla_record", "s"), ("escalation", "e"))

POSTGRES = (
    # the oldest rows, a day old or more (a page's counts are checked every request)
    "CREATE OR REPLACE FUNCTION aduan_case_change_prune() RETURNS void LANGUAGE sql AS $$ "
    "DELETE FROM case_change WHERE id IN (SELECT id FROM (SELECT id, at "
    "FROM case_change ORDER BY id LIMIT 5000 FOR UPDATE SKIP LOCKED) AS oldest "
    "WHERE at < now() - interval '1 day') $$",
    "CREATE OR REPLACE FUNCTION aduan_case_change_log(changed bigint, src text) "
    "RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO case_change (complaint_id, source, xid, at) "
    "VALUES (changed, src, pg_current_xact_id()::text::bigint, now()); "
    "IF random() < 0.001 THEN PERFORM aduan_case_change_prune(); END IF; END $$",
    "CREATE OR REPLACE FUNCTION aduan_case_complaint_changed() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN PERFORM aduan_case_change_log("
    "CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, 'c'); RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION aduan_case_child_changed() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP <> 'DELETE' THEN PERFORM aduan_case_change_log(NEW.complaint_id, TG_ARGV[0]); "
    "END IF; "
    "IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.complaint_id IS DISTINCT FROM "
    "NEW.complaint_id) THEN PERFORM aduan_case_change_log(OLD.complaint_id, TG_ARGV[0]); "
    "END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION aduan_case_truncated() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN PERFORM aduan_case_change_log(NULL, TG_ARGV[0]); "
    "RETURN NULL; END $$",
    "CREATE TRIGGER trg_complaint_case_change AFTER INSERT OR UPDATE OR DELETE ON complaint "
    "FOR EACH ROW EXECUTE FUNCTION aduan_case_complaint_changed()",
    "CREATE TRIGGER trg_complaint_case_truncated AFTER TRUNCATE ON complaint "
    "FOR EACH STATEMENT EXECUTE FUNCTION aduan_case_truncated('c')",
    *(statement for table, src in _CHILDREN for statement in (
        f"CREATE TRIGGER trg_{table}_case_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION aduan_case_child_changed('{src}')",
        f"CREATE TRIGGER trg_{table}_case_truncated AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION aduan_case_truncated('{src}')")),
)
POSTGRES_TRIGGERS = (("trg_complaint_case_change", "complaint"),
                     ("trg_complaint_case_truncated", "complaint"),
                     *((f"trg_{t}_case_change", t) for t, _ in _CHILDREN),
                     *((f"trg_{t}_case_truncated", t) for t, _ in _CHILDREN))
POSTGRES_FUNCTIONS = ("aduan_case_complaint_changed()", "aduan_case_child_changed()",
                      "aduan_case_truncated()", "aduan_case_change_log(bigint, text)",
                      "aduan_case_change_prune()")


def _sqlite_log(value: str, src: str) -> str:
    """The statement appending one row (fixed text: no input is ever part of it)."""
    return ("INSERT INTO case_change (complaint_id, source, at) "  # noqa: S608
            f"VALUES ({value}, '{src}', {_NOW});")


# SQLite has no transaction ids: one writer at a time makes case_change.id follow commit
# order. Statement triggers do not exist there: one row per row written.
SQLITE = (
    "CREATE TRIGGER trg_complaint_case_insert AFTER INSERT ON complaint FOR EACH ROW BEGIN "
    + _sqlite_log("NEW.id", "c") + " END",
    "CREATE TRIGGER trg_complaint_case_update AFTER UPDATE ON complaint FOR EACH ROW BEGIN "
    + _sqlite_log("NEW.id", "c") + " END",
    "CREATE TRIGGER trg_complaint_case_delete AFTER DELETE ON complaint FOR EACH ROW BEGIN "
    + _sqlite_log("OLD.id", "c") + " END",
    *(statement for table, src in _CHILDREN for statement in (
        f"CREATE TRIGGER trg_{table}_case_insert AFTER INSERT ON {table} FOR EACH ROW BEGIN "
        + _sqlite_log("NEW.complaint_id", src) + " END",
        f"CREATE TRIGGER trg_{table}_case_update AFTER UPDATE ON {table} FOR EACH ROW BEGIN "
        + _sqlite_log("NEW.complaint_id", src)
        + f" INSERT INTO case_change (complaint_id, source, at) SELECT OLD.complaint_id, "
          f"'{src}', {_NOW} WHERE OLD.complaint_id IS NOT NEW.complaint_id; END",
        f"CREATE TRIGGER trg_{table}_case_delete AFTER DELETE ON {table} FOR EACH ROW BEGIN "
        + _sqlite_log("OLD.complaint_id", src) + " END")),
    "CREATE TRIGGER trg_case_change_prune AFTER INSERT ON case_change "
    "FOR EACH ROW WHEN NEW.id % 1000 = 0 BEGIN "
    "DELETE FROM case_change WHERE id IN (SELECT id FROM (SELECT id, at "
    "FROM case_change ORDER BY id LIMIT 5000) "
    "WHERE at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 day')); END",
)
SQLITE_TRIGGERS = tuple(statement.split()[2] for statement in SQLITE)


def upgrade() -> None:
    op.create_table(
        "case_change",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=1), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_change")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_case_change_xid", "case_change", ["xid"])
    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRES, "sqlite": SQLITE}.get(dialect, ()):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, table in POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    elif dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_case_change_xid", table_name="case_change")
    op.drop_table("case_change")
