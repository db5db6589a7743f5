"""The deadline settings stored in the database, with their history (workflows/sla_settings.py).

- `setting_change`: one row per change of one setting: its name, the new and the previous
  value (JSON), when, who, and the administrator's note.

Revision ID: 0029_settings_history
Revises: 0028_accounts_admin
Create Date: 2026-12-06 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0029_settings_history"
down_revision = "0028_accounts_admin"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "setting_change",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("previous", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setting_change")),
    )
    op.create_index("ix_setting_change_name_at", "setting_change", ["name", "at"])


def downgrade() -> None:
    op.drop_index("ix_setting_change_name_at", table_name="setting_change")
    op.drop_table("setting_change")
