"""Open311 GeoReport v2: the API keys of client applications and the tokens of their requests.

- `open311_key`: one row per key issued by an administrator (`aduan open311 keys create`): its
  SHA-256 (never the key), name, who created it, when it was revoked, and its rate-limit
  window (start and requests counted in it).
- `open311_token`: the token a request filed through Open311 can be looked up by, with its
  tracking number and the key that filed it.

Revision ID: 0013_open311_keys
Revises: 0012_posters
Create Date: 2026-12-06 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_open311_keys"
down_revision = "0012_posters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open311_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_key_key_hash")),
    )
    op.create_table(
        "open311_token",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["open311_key.id"],
                                name=op.f("fk_open311_token_key_id_open311_key")),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_open311_token")),
    )
    op.create_index("ix_open311_token_tracking_number", "open311_token", ["tracking_number"])
    op.create_index("ix_open311_token_key_id", "open311_token", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_open311_token_key_id", table_name="open311_token")
    op.drop_index("ix_open311_token_tracking_number", table_name="open311_token")
    op.drop_table("open311_token")
    op.drop_table("open311_key")
