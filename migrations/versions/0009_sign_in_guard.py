"""Sign-in serialized per account, and sessions the server can end.

- `sign_in_guard`: one row per username tried at /login; a sign-in locks it (PostgreSQL:
  INSERT ... ON CONFLICT DO UPDATE) so that the attempts on one account are checked and
  counted one at a time (workflows/throttle.py).
- `user_session`: the pages' signed-in sessions (the hash of the cookie's session id);
  signing out, a new password and a disabled account delete them.

Revision ID: 0009_sign_in_guard
Revises: 0008_task_change
Create Date: 2026-11-29 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_sign_in_guard"
down_revision = "0008_task_change"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_guard",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_sign_in_guard")),
    )
    op.create_table(
        "user_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"],
                                name=op.f("fk_user_session_user_id_app_user")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_user_session")),
    )
    op.create_index("ix_user_session_user_id", "user_session", ["user_id"])
    op.create_index("ix_user_session_created_at", "user_session", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_user_session_created_at", table_name="user_session")
    op.drop_index("ix_user_session_user_id", table_name="user_session")
    op.drop_table("user_session")
    op.drop_table("sign_in_guard")
