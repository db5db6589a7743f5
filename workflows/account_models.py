"""What the administration of accounts keeps beside each account (workflows/account_admin.py):
its edit version, whether its password must be changed, and when it last signed in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class AccountState(Base):
    """One account's administrative state; an account without a row has version 0, no
    password to change and has never signed in since this table exists.

    - `version` grows with every administrator's change: a form made from an older version
      is refused (409) instead of overwriting what another administrator did meanwhile.
    - `must_change_password`: set by a password reset (a temporary password); every page
      leads to the change-password page and the API refuses the account until it is done.
    - `last_sign_in_at`: the last successful sign-in on the pages.
    - `reset_link_hash`, `reset_link_expires_at`: a one-time link to choose a new password
      (only the link's SHA-256 is kept), until it is used or expires."""

    __tablename__ = "account_state"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("app_user.id"), primary_key=True,
                                         autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reset_link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reset_link_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
