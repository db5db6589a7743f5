"""Revision tokens of the configuration tables, kept by triggers (workflows/revisions.py).

- `config_revision`: one row per configuration table (`calendar_day`, `setting_change`,
  `category`, `agency`) with a random `token`. A trigger on each table replaces its token
  whenever a statement writes to it, whoever the writer (the ORM, bulk SQL, psql, another
  process); TRUNCATE too on PostgreSQL. Each process caches what it builds from these tables
  (the working calendar, the SLA settings, the categories) and reads the four tokens once per
  transaction to know whether its copy is still the database's.

The triggers live here only. The upgrade sets a first token for every table, so a database
upgraded with rows already in them starts with tokens no process has seen.

Revision ID: 0033_config_revision
Revises: 0032_stats_days
Create Date: 2026-12-06 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0033_config_revision"
down_revision = "0032_stats_days"
branch_labels = None
depends_on = None

TABLES = ("calendar_day", "setting_change", "category", "agency")

_PG_FUNCTION = """
CREATE FUNCTION config_revision_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO config_revision (name, token)
    VALUES (TG_TABLE_NAME, (random() * 9.2e18 - 4.6e18)::bigint)
    ON CONFLICT (name) DO UPDATE SET token = excluded.token;
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "config_revision",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_config_revision")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in TABLES:
            op.execute(f"CREATE TRIGGER config_revision_{table} AFTER INSERT OR UPDATE OR "
                       f"DELETE OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                       "config_revision_touch()")
            op.execute("INSERT INTO config_revision (name, token) VALUES "
                       f"('{table}', (random() * 9.2e18 - 4.6e18)::bigint)")
    else:
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER config_revision_{table}_{event.lower()} AFTER {event} "
                    f"ON {table} BEGIN INSERT OR REPLACE INTO config_revision (name, token) "
                    f"VALUES ('{table}', random()); END")
            op.execute(f"INSERT INTO config_revision (name, token) VALUES ('{table}', random())")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS config_revision_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS config_revision_touch()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS config_revision_{table}_{event}")
    op.drop_table("config_revision")
