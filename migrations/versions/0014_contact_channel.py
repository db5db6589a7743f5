"""How a citizen who gave a phone number wants to be told of their report's changes.

- `complaint.contact_channel`: `sms`, `whatsapp` or `email` (the citizen's choice on the web
  form or in the API; NULL for reports filed before: the channel they filed by is used).

Revision ID: 0014_contact_channel
Revises: 0011_definition_note
Create Date: 2026-12-06 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_contact_channel"
down_revision = "0011_definition_note"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaint") as batch:
        batch.add_column(sa.Column("contact_channel", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaint") as batch:
        batch.drop_column("contact_channel")
