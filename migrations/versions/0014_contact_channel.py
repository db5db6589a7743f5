"""How a citizen who gave a phone number wants to be told of their report's changes.

- `complaint.contact_channel`: `sms`, `whatsapp` or `email` (the citizen's choice on the web
  form or in the API; NULL for reports filed before: the channel they filed by is used).

Revision ID: 0014_contact_channel
Revises: 0013_open311_keys
Create Date: 2026-12-06 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_contact_channel"
down_revision = "0013_open311_keys"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite 3.35+ drops a column in place): a batch copy of the complaint
# table would break the triggers that name it.
def upgrade() -> None:
    op.add_column("complaint", sa.Column("contact_channel", sa.String(10), nullable=True))


def downgrade() -> None:
    op.drop_column("complaint", "contact_channel")
