"""Officers and integrations: accounts, roles, agency, passwords and API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.access import digest
from workflows.errors import Conflict, Invalid, Message, NotFound
from workflows.models import ROLES, Agency, ApiToken, User

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise Invalid("the password is too short", {"password": "use at least 8 characters"})
    return _hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(session: Session, *, username: str, full_name: str, roles: list[str],
                agency_code: str | None, now: datetime, email: str | None = None,
                phone: str | None = None, password: str | None = None,
                language: str = "id") -> User:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise Invalid("unknown roles", {"roles": Message("use some of: %(roles)s",
                                                         roles=", ".join(ROLES))})
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise Conflict("user %(username)r already exists", username=username)
    agency = None
    if agency_code:
        agency = session.scalars(select(Agency).where(Agency.code == agency_code)).first()
        if agency is None:
            raise Invalid("unknown agency %(code)r",
                          {"agency": "use a code listed by /api/v1/agencies"}, code=agency_code)
    user = User(username=username, full_name=full_name, roles=list(roles), email=email,
                phone=phone, agency_id=agency.id if agency else None, language=language,
                password_hash=hash_password(password) if password else None, active=True,
                created_at=now)
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, username: str, now: datetime, name: str = "cli"
                 ) -> tuple[User, str]:
    """A new bearer token for a user; only its hash is stored, so show it once."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    token = "adn_" + secrets.token_urlsafe(24)
    session.add(ApiToken(user_id=user.id, token_hash=digest(token), name=name,
                         created_at=now))
    return user, token


def user_document(session: Session, user: User) -> dict[str, Any]:
    agency = session.get(Agency, user.agency_id) if user.agency_id else None
    return {"username": user.username, "full_name": user.full_name, "roles": user.roles,
            "agency": agency.code if agency else None, "email": user.email,
            "active": user.active}


def list_users(session: Session) -> list[dict[str, Any]]:
    return [user_document(session, u) for u in session.scalars(
        select(User).order_by(User.username))]
