"""The SMS gateway's inbound messages (docs/channels.md, "SMS").

- `sms_inbound`: one row per message or part delivered by the gateway, keyed by the gateway's
  message id (a repeated delivery is stored once): the sender, the text, the long message's
  `ref`/`part`/`parts`, when it was received and processed, and the reply sent.

Revision ID: 0015_sms_inbound
Revises: 0014_contact_channel
Create Date: 2026-12-06 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_sms_inbound"
down_revision = "0014_contact_channel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_inbound",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=True),
        sa.Column("part", sa.Integer(), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=True),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound")),
    )
    op.create_index("ix_sms_inbound_sender", "sms_inbound", ["sender"])


def downgrade() -> None:
    op.drop_index("ix_sms_inbound_sender", table_name="sms_inbound")
    op.drop_table("sms_inbound")
