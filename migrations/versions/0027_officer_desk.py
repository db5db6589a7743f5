"""The officers' desk (workflows/desk_models.py).

- `ix_outbox_inbox` on outbox (user_id, channel, status, id): an officer's in-app
  notifications, unread or all, newest first, read by one index range (the unread count in
  the navigation bar of every page, and the notification centre).

Revision ID: 0027_officer_desk
Revises: 0026_agencies_categories
Create Date: 2026-12-06 09:00:00
"""

from alembic import op

revision = "0027_officer_desk"
down_revision = "0026_agencies_categories"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_inbox", "outbox", ["user_id", "channel", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_inbox", table_name="outbox")
