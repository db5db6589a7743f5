"""The studio's drafts: diagrams a process designer is working on, saved on the server.

- `studio_draft`: one row per draft, its files as JSON ({file name: text}), the deployed
  version it was opened from (none: the shipped files), and a save counter (`version`) that
  turns the second of two concurrent saves into a conflict (workflows/drafts.py).

Revision ID: 0010_studio_drafts
Revises: 0009_sign_in_guard
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_studio_drafts"
down_revision = "0009_sign_in_guard"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studio_draft",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("based_on_version", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(length=80), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studio_draft")),
    )
    op.create_index("ix_studio_draft_saved_at", "studio_draft", ["saved_at"])


def downgrade() -> None:
    op.drop_index("ix_studio_draft_saved_at", table_name="studio_draft")
    op.drop_table("studio_draft")
