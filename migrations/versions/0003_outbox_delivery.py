"""Outbox delivery: the sender's lease (claimed_by, claimed_until) and the provider's message id.

Revision ID: 0003_outbox_delivery
Revises: 0002_domain
Create Date: 2026-11-28 10:12:31.892552
"""

from alembic import op
import sqlalchemy as sa


revision = '0003_outbox_delivery'
down_revision = '0002_domain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('provider_id', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('provider_id')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
