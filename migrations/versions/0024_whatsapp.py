"""WhatsApp Cloud API (docs/channels.md, "WhatsApp").

- `whatsapp_inbound`: each message a citizen sent, keyed by WhatsApp's message id (a
  repeated delivery is stored once), with the platform's timestamp and the photo's state.
- `whatsapp_conversation`: one row per phone number: the step, the report being written,
  the citizen's last message (the 24-hour window), a lease while a report is being filed.
- `whatsapp_media`: the photos of a report still being written.
- `outbox.delivery_status`, `delivery_status_at`: what WhatsApp reported of a message we
  sent (sent, delivered, read, failed); `outbox.provider_id` indexed to find the row.

Revision ID: 0024_whatsapp
Revises: 0017_admin_audit
Create Date: 2026-12-06 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_whatsapp"
down_revision = "0017_admin_audit"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "whatsapp_inbound",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("media_state", sa.String(length=10), nullable=True),
        sa.Column("media_error", sa.String(length=40), nullable=True),
        sa.Column("processed", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_inbound")),
    )
    op.create_index("ix_whatsapp_inbound_sender", "whatsapp_inbound",
                    ["sender", "processed", "sent_at"])
    op.create_table(
        "whatsapp_conversation",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("step", sa.String(length=10), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("busy_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_report", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_conversation")),
        sa.UniqueConstraint("phone", name=op.f("uq_whatsapp_conversation_phone")),
    )
    op.create_index("ix_whatsapp_conversation_last_inbound_at", "whatsapp_conversation",
                    ["last_inbound_at"])
    op.create_table(
        "whatsapp_media",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["whatsapp_conversation.id"],
                                name=op.f("fk_whatsapp_media_conversation_id_"
                                          "whatsapp_conversation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_media")),
        sa.UniqueConstraint("message_id", name=op.f("uq_whatsapp_media_message_id")),
    )
    op.create_index("ix_whatsapp_media_conversation_id", "whatsapp_media", ["conversation_id"])
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("delivery_status_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index("ix_outbox_provider_id", ["provider_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_provider_id")
        batch_op.drop_column("delivery_status_at")
        batch_op.drop_column("delivery_status")
    op.drop_index("ix_whatsapp_media_conversation_id", table_name="whatsapp_media")
    op.drop_table("whatsapp_media")
    op.drop_index("ix_whatsapp_conversation_last_inbound_at",
                  table_name="whatsapp_conversation")
    op.drop_table("whatsapp_conversation")
    op.drop_index("ix_whatsapp_inbound_sender", table_name="whatsapp_inbound")
    op.drop_table("whatsapp_inbound")
