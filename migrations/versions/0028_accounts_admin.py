"""Accounts administered in the browser (workflows/account_admin.py).

- `account_state`: beside each account, the version its administrators' forms are checked
  against, whether its password must be changed (after a reset), its last sign-in, and
  the one-time link to choose a new password (its hash and expiry).

Revision ID: 0028_accounts_admin
Revises: 0027_officer_desk
Create Date: 2026-12-06 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0028_accounts_admin"
down_revision = "0027_officer_desk"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "account_state",
        sa.Column("user_id", ID, autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reset_link_hash", sa.String(length=64), nullable=True),
        sa.Column("reset_link_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"],
                                name=op.f("fk_account_state_user_id_app_user")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_state")),
        sa.UniqueConstraint("reset_link_hash", name=op.f("uq_account_state_reset_link_hash")),
    )
    op.create_index("ix_account_state_last_sign_in_at", "account_state", ["last_sign_in_at"])


def downgrade() -> None:
    op.drop_index("ix_account_state_last_sign_in_at", table_name="account_state")
    op.drop_table("account_state")
