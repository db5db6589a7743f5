"""A deployed version's change note: why the process designer deployed it.

- `process_definition.note`: free text, written once at deploy (the studio requires one;
  the CLI and the shipped diagrams' install leave it empty).

Revision ID: 0011_definition_note
Revises: 0010_studio_drafts
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_definition_note"
down_revision = "0010_studio_drafts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_definition") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_definition") as batch:
        batch.drop_column("note")
