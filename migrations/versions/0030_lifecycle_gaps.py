"""Lifecycle gaps of issue 16.

- `complaint_routing`: per report, the routing table's suggestion (authority, handler level,
  agency) when it waited for its disposition, and where the complainant is referred when it
  is not the regency's authority (`refer_to`).
- The escalation ladder's working level: a follow-up or resolution deadline held by an OPD's
  liaison is now held one rung below the OPD's head (rung 0, as a unit's), so that missing it
  goes to the head first. Running and paused deadlines still at their holder's rung are
  moved down; those already escalated keep their rung.

Revision ID: 0030_lifecycle_gaps
Revises: 0029_settings_history
Create Date: 2026-12-06 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0030_lifecycle_gaps"
down_revision = "0029_settings_history"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The ladder always starts technical_officer (0), opd (1) (workflows/config.py checks it).
MOVED = ("state IN ('running', 'paused') AND step IN ('follow_up', 'resolution')")


def upgrade() -> None:
    op.create_table(
        "complaint_routing",
        sa.Column("complaint_id", ID, autoincrement=False, nullable=False),
        sa.Column("authority", sa.String(length=20), nullable=True),
        sa.Column("handler_level", sa.String(length=30), nullable=True),
        sa.Column("agency_code", sa.String(length=60), nullable=True),
        sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refer_to", sa.String(length=200), nullable=True),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"],
                                name=op.f("fk_complaint_routing_complaint_id_complaint")),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaint_routing")),
    )
    op.execute(f"UPDATE sla_record SET holder_rung = 0, rung = 0 WHERE {MOVED} "
               "AND holder_rung = 1 AND rung = 1")


def downgrade() -> None:
    op.execute(f"UPDATE sla_record SET holder_rung = 1, rung = 1 WHERE {MOVED} "
               "AND holder_rung = 0 AND rung = 0 AND complaint_id IN "
               "(SELECT id FROM complaint WHERE unit_id IS NULL)")
    op.drop_table("complaint_routing")
