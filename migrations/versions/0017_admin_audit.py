"""The administrators' audit log (workflows/admin_audit.py).

- `admin_audit`: one row per administrative change: when, who, the action, the target, the
  target's state before and after (secrets masked), the administrator's note.

Revision ID: 0017_admin_audit
Revises: 0016_me_too
Create Date: 2026-12-06 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_admin_audit"
down_revision = "0016_me_too"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "admin_audit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target_kind", sa.String(length=30), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
    )
    op.create_index("ix_admin_audit_at", "admin_audit", ["at"])
    op.create_index("ix_admin_audit_actor", "admin_audit", ["actor"])
    op.create_index("ix_admin_audit_action", "admin_audit", ["action"])
    op.create_index("ix_admin_audit_target", "admin_audit", ["target_kind", "target"])


def downgrade() -> None:
    for name in ("ix_admin_audit_target", "ix_admin_audit_action", "ix_admin_audit_actor",
                 "ix_admin_audit_at"):
        op.drop_index(name, table_name="admin_audit")
    op.drop_table("admin_audit")
