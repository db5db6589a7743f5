"""Followers of a report can stop its news (docs/channels.md, "Nearby reports and 'me too'").

- `me_too.stop_token`: a follower's own key, in the link of their e-mails; cleared when they
  stop (or for a citizen who only counted).

Revision ID: 0025_follow_stop
Revises: 0024_whatsapp
Create Date: 2026-12-06 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_follow_stop"
down_revision = "0024_whatsapp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("me_too") as batch_op:
        batch_op.add_column(sa.Column("stop_token", sa.String(length=43), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_me_too_stop_token"), ["stop_token"])


def downgrade() -> None:
    with op.batch_alter_table("me_too") as batch_op:
        batch_op.drop_constraint(op.f("uq_me_too_stop_token"), type_="unique")
        batch_op.drop_column("stop_token")
