"""'Me too' on nearby open reports, and nearby lookups counted per address.

- `me_too`: one citizen's "saya juga mengalami ini" on a report, once per citizen (phone,
  e-mail, or browser session); with a phone or e-mail, a follower told of status changes.
- `nearby_lookup`: the report form's nearby lookups, per address, for the rate limit.

Revision ID: 0016_me_too
Revises: 0015_sms_inbound
Create Date: 2026-12-06 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_me_too"
down_revision = "0015_sms_inbound"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "me_too",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("complaint_id", ID, nullable=False),
        sa.Column("citizen", sa.String(length=220), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"],
                                name=op.f("fk_me_too_complaint_id_complaint")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_me_too")),
        sa.UniqueConstraint("complaint_id", "citizen", name=op.f("uq_me_too_citizen")),
    )
    op.create_index("ix_me_too_complaint_id", "me_too", ["complaint_id"])
    op.create_table(
        "nearby_lookup",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nearby_lookup")),
    )
    op.create_index("ix_nearby_lookup_at", "nearby_lookup", ["at"])
    op.create_index("ix_nearby_lookup_address_at", "nearby_lookup", ["address", "at"])


def downgrade() -> None:
    op.drop_index("ix_nearby_lookup_address_at", table_name="nearby_lookup")
    op.drop_index("ix_nearby_lookup_at", table_name="nearby_lookup")
    op.drop_table("nearby_lookup")
    op.drop_index("ix_me_too_complaint_id", table_name="me_too")
    op.drop_table("me_too")
