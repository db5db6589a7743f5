"""QR posters: a printed QR code for an agency and optionally a place.

- `poster`: the code the QR link carries (/lapor?poster=<code>), the agency, the place's
  name and coordinates, and two counters: the report form opened through it (scans) and
  reports filed through it (workflows/posters.py).

Revision ID: 0012_posters
Revises: 0011_definition_note
Create Date: 2026-12-06 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_posters"
down_revision = "0011_definition_note"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "poster",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("place_name", sa.String(length=200), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("scan_count", sa.Integer(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"],
                                name=op.f("fk_poster_agency_id_agency")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poster")),
        sa.UniqueConstraint("code", name=op.f("uq_poster_code")),
    )
    op.create_index("ix_poster_agency_id", "poster", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_poster_agency_id", table_name="poster")
    op.drop_table("poster")
