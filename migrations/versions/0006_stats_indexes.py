"""Statistics: the change log behind the figures' cache, the cohort's date on SLA records and
escalations, and the partial index of open reports.

- `stats_change`: one row per INSERT, UPDATE or DELETE of a complaint, an SLA record or an
  escalation (with the complaint's date of receipt), appended by triggers in the writer's
  transaction, whoever the writer; the statistics cache (workflows/stats/cache.py) reads it to
  know whether a period changed since it computed its figures. Rows older than a day are
  pruned by the triggers.
- `sla_record.complaint_created_at`, `escalation.complaint_created_at`: the complaint's
  `created_at` (the statistics cohort), copied by a trigger on INSERT whatever the writer
  sends and kept in step should a complaint's `created_at` change; backfilled here. The
  statistics pick a period's SLA records and escalations from their own index.
- `ix_complaint_open_created_at`: reports not closed, archived or returned, by date of
  receipt (the Ombudsman's 60-day threshold reads only these).

On PostgreSQL the backfill rewrites every SLA record and escalation once (about a minute
for three million rows on a small server); run it in a quiet hour.

Revision ID: 0006_stats_indexes
Revises: 0005_login_attempt
Create Date: 2026-11-29 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_stats_indexes"
down_revision = "0005_login_attempt"
branch_labels = None
depends_on = None

OPEN = "status NOT IN ('CLOSED', 'ARCHIVED', 'RETURNED')"

# The same statements as workflows.models.STATS_TRIGGERS at this revision (a migration keeps
# its own copy: the models may change later, this step may not).
TRIGGERS = {
    "postgresql": (
        "CREATE OR REPLACE FUNCTION aduan_complaint_created_at() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN NEW.complaint_created_at := "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id); RETURN NEW; END $$",
        "CREATE OR REPLACE FUNCTION aduan_complaint_moved() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE sla_record SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; "
        "UPDATE escalation SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; RETURN NULL; END $$",
        # the oldest rows, a day old or more (a cached figure lives an hour at most)
        "CREATE OR REPLACE FUNCTION aduan_stats_prune() RETURNS void LANGUAGE sql AS $$ "
        "DELETE FROM stats_change WHERE id IN (SELECT id FROM (SELECT id, at "
        "FROM stats_change ORDER BY id LIMIT 5000 FOR UPDATE SKIP LOCKED) AS oldest "
        "WHERE at < now() - interval '1 day') $$",
        "CREATE OR REPLACE FUNCTION aduan_stats_log(new_at timestamptz, old_at timestamptz, "
        "op text) RETURNS void LANGUAGE plpgsql AS $$ DECLARE "
        "xid bigint := pg_current_xact_id()::text::bigint; BEGIN "
        "IF op <> 'DELETE' THEN "
        "INSERT INTO stats_change (received_at, xid, at) VALUES (new_at, xid, now()); END IF; "
        "IF op = 'DELETE' OR (op = 'UPDATE' AND old_at IS DISTINCT FROM new_at) THEN "
        "INSERT INTO stats_change (received_at, xid, at) VALUES (old_at, xid, now()); END IF; "
        "IF random() < 0.001 THEN PERFORM aduan_stats_prune(); END IF; END $$",
        "CREATE OR REPLACE FUNCTION aduan_complaint_changed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN PERFORM aduan_stats_log("
        "CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.created_at END, "
        "CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.created_at END, TG_OP); "
        "RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION aduan_child_changed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN PERFORM aduan_stats_log("
        "CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.complaint_created_at END, "
        "CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.complaint_created_at END, TG_OP); "
        "RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION aduan_stats_truncated() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN INSERT INTO stats_change (received_at, xid, at) "
        "VALUES (NULL, pg_current_xact_id()::text::bigint, now()); RETURN NULL; END $$",
        "CREATE TRIGGER trg_sla_record_created_at BEFORE INSERT OR UPDATE OF complaint_id, "
        "complaint_created_at ON sla_record "
        "FOR EACH ROW EXECUTE FUNCTION aduan_complaint_created_at()",
        "CREATE TRIGGER trg_escalation_created_at BEFORE INSERT OR UPDATE OF complaint_id, "
        "complaint_created_at ON escalation "
        "FOR EACH ROW EXECUTE FUNCTION aduan_complaint_created_at()",
        "CREATE TRIGGER trg_complaint_moved AFTER UPDATE OF created_at ON complaint "
        "FOR EACH ROW WHEN (NEW.created_at IS DISTINCT FROM OLD.created_at) "
        "EXECUTE FUNCTION aduan_complaint_moved()",
        "CREATE TRIGGER trg_complaint_stats AFTER INSERT OR UPDATE OR DELETE ON complaint "
        "FOR EACH ROW EXECUTE FUNCTION aduan_complaint_changed()",
        "CREATE TRIGGER trg_sla_record_stats AFTER INSERT OR UPDATE OR DELETE ON sla_record "
        "FOR EACH ROW EXECUTE FUNCTION aduan_child_changed()",
        "CREATE TRIGGER trg_escalation_stats AFTER INSERT OR UPDATE OR DELETE ON escalation "
        "FOR EACH ROW EXECUTE FUNCTION aduan_child_changed()",
        "CREATE TRIGGER trg_complaint_truncated AFTER TRUNCATE ON complaint "
        "FOR EACH STATEMENT EXECUTE FUNCTION aduan_stats_truncated()",
    ),
    # SQLite's triggers cannot change NEW (AFTER triggers write the row again) and have no
    # transaction ids: one writer at a time makes stats_change.id follow commit order.
    "sqlite": (
        "CREATE TRIGGER trg_sla_record_created_at AFTER INSERT ON sla_record FOR EACH ROW "
        "BEGIN UPDATE sla_record SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_escalation_created_at AFTER INSERT ON escalation FOR EACH ROW "
        "BEGIN UPDATE escalation SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_sla_record_created_at_kept AFTER UPDATE OF complaint_id, "
        "complaint_created_at ON sla_record FOR EACH ROW WHEN NEW.complaint_created_at IS NOT "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) BEGIN "
        "UPDATE sla_record SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_escalation_created_at_kept AFTER UPDATE OF complaint_id, "
        "complaint_created_at ON escalation FOR EACH ROW WHEN NEW.complaint_created_at IS NOT "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) BEGIN "
        "UPDATE escalation SET complaint_created_at = "
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id) "
        "WHERE id = NEW.id; END",
        "CREATE TRIGGER trg_complaint_moved AFTER UPDATE OF created_at ON complaint "
        "FOR EACH ROW WHEN NEW.created_at IS NOT OLD.created_at BEGIN "
        "UPDATE sla_record SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; "
        "UPDATE escalation SET complaint_created_at = NEW.created_at "
        "WHERE complaint_id = NEW.id; END",
        "CREATE TRIGGER trg_complaint_stats_insert AFTER INSERT ON complaint FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (NEW.created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_complaint_stats_update AFTER UPDATE ON complaint FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (NEW.created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); "
        "INSERT INTO stats_change (received_at, at) SELECT OLD.created_at, "
        "strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE OLD.created_at IS NOT NEW.created_at; END",
        "CREATE TRIGGER trg_complaint_stats_delete AFTER DELETE ON complaint FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (OLD.created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_sla_record_stats_insert AFTER INSERT ON sla_record FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_sla_record_stats_update AFTER UPDATE ON sla_record FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); "
        "INSERT INTO stats_change (received_at, at) SELECT OLD.complaint_created_at, "
        "strftime('%Y-%m-%d %H:%M:%f', 'now') "
        "WHERE OLD.complaint_created_at IS NOT NEW.complaint_created_at "
        "AND OLD.complaint_created_at IS NOT NULL; END",
        "CREATE TRIGGER trg_sla_record_stats_delete AFTER DELETE ON sla_record FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (OLD.complaint_created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_escalation_stats_insert AFTER INSERT ON escalation FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_escalation_stats_update AFTER UPDATE ON escalation FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) VALUES ("
        "(SELECT created_at FROM complaint WHERE id = NEW.complaint_id), "
        "strftime('%Y-%m-%d %H:%M:%f', 'now')); "
        "INSERT INTO stats_change (received_at, at) SELECT OLD.complaint_created_at, "
        "strftime('%Y-%m-%d %H:%M:%f', 'now') "
        "WHERE OLD.complaint_created_at IS NOT NEW.complaint_created_at "
        "AND OLD.complaint_created_at IS NOT NULL; END",
        "CREATE TRIGGER trg_escalation_stats_delete AFTER DELETE ON escalation FOR EACH ROW "
        "BEGIN INSERT INTO stats_change (received_at, at) "
        "VALUES (OLD.complaint_created_at, strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        "CREATE TRIGGER trg_stats_change_prune AFTER INSERT ON stats_change "
        "FOR EACH ROW WHEN NEW.id % 1000 = 0 BEGIN "
        "DELETE FROM stats_change WHERE id IN (SELECT id FROM (SELECT id, at "
        "FROM stats_change ORDER BY id LIMIT 5000) "
        "WHERE at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 day')); END",
    ),
}

FUNCTIONS = ("aduan_complaint_created_at()", "aduan_complaint_moved()",
             "aduan_stats_log(timestamptz, timestamptz, text)", "aduan_stats_prune()", "aduan_complaint_changed()",
             "aduan_child_changed()", "aduan_stats_truncated()")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "stats_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_change")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_stats_change_xid", "stats_change", ["xid"])
    for table in ("sla_record", "escalation"):
        op.add_column(table, sa.Column("complaint_created_at", sa.DateTime(timezone=True),
                                       nullable=True))
        if dialect == "postgresql":
            op.execute(f"UPDATE {table} AS t SET complaint_created_at = c.created_at "
                       "FROM complaint AS c WHERE c.id = t.complaint_id")
        else:
            op.execute(f"UPDATE {table} SET complaint_created_at = (SELECT created_at "
                       f"FROM complaint WHERE complaint.id = {table}.complaint_id)")
        op.create_index(f"ix_{table}_complaint_created_at", table, ["complaint_created_at"])
    op.create_index("ix_complaint_open_created_at", "complaint", ["created_at", "id", "agency_id"],
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    for statement in TRIGGERS.get(dialect, ()):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in TRIGGERS.get(dialect, ()):
        if statement.startswith("CREATE TRIGGER "):
            name, table = statement.split()[2], statement.split(" ON ")[1].split()[0]
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if dialect == "postgresql"
                       else f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_index("ix_complaint_open_created_at", table_name="complaint")
    for table in ("escalation", "sla_record"):
        op.drop_index(f"ix_{table}_complaint_created_at", table_name=table)
        # in place (SQLite 3.35 and later too): a table copy would trip the foreign keys
        op.execute(f"ALTER TABLE {table} DROP COLUMN complaint_created_at")
    op.drop_index("ix_stats_change_xid", table_name="stats_change")
    op.drop_table("stats_change")
