"""A revision token for the accounts (`app_user`), kept like the configuration tables' ones
(migration 0033, workflows/revisions.py): each process keeps the active officers by role and
agency (workflows/recipients.py) and reads them again only after any writer changed an
account. A timer firing that reminds or escalates asked the database for the same officers
every time (issue 17: 1.6 account queries a firing).

The triggers live here only; the upgrade sets a first token.

Revision ID: 0034_account_revision
Revises: 0033_config_revision
Create Date: 2026-12-06 14:10:00
"""

from alembic import op

revision = "0034_account_revision"
down_revision = "0033_config_revision"
branch_labels = None
depends_on = None

TABLE = "app_user"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # the function is migration 0033's (config_revision_touch: the table's name is the key)
        op.execute(f"CREATE TRIGGER config_revision_{TABLE} AFTER INSERT OR UPDATE OR DELETE "
                   f"OR TRUNCATE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION "
                   "config_revision_touch()")
        op.execute("INSERT INTO config_revision (name, token) VALUES "
                   f"('{TABLE}', (random() * 9.2e18 - 4.6e18)::bigint)")
    else:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER config_revision_{TABLE}_{event.lower()} AFTER {event} "
                f"ON {TABLE} BEGIN INSERT OR REPLACE INTO config_revision (name, token) "
                f"VALUES ('{TABLE}', random()); END")
        op.execute(f"INSERT INTO config_revision (name, token) VALUES ('{TABLE}', random())")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS config_revision_{TABLE} ON {TABLE}")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS config_revision_{TABLE}_{event}")
    op.execute(f"DELETE FROM config_revision WHERE name = '{TABLE}'")
