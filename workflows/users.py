"""Officers and integrations: accounts, roles, agency, passwords and API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.access import digest
from workflows.errors import Conflict, Invalid, Message, NotFound
from workflows.models import ROLES, Agency, ApiToken, User

MIN_PASSWORD_LENGTH = 8


class Passwords:
    """Hashes and checks sign-in passwords with argon2id.

    The cost is a setting (ADUAN_ARGON2_*, web/config.py): by default argon2-cffi's
    (RFC 9106's low-memory profile: 3 passes over 64 MiB). A hash keeps the parameters it
    was made with, so a hash made at another cost still verifies; a new cost applies to
    passwords set afterwards (a sign-in does not rehash: the session fingerprint is the
    hash's, and a new hash would end the officer's other sessions). Tests use the cheapest
    cost (`fast()`).
    """

    def __init__(self, time_cost: int = RFC_9106_LOW_MEMORY.time_cost,
                 memory_kib: int = RFC_9106_LOW_MEMORY.memory_cost,
                 parallelism: int = RFC_9106_LOW_MEMORY.parallelism) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                     parallelism=parallelism)
        self._dummy: str | None = None
        self._cheap: PasswordHasher | None = None

    @classmethod
    def fast(cls) -> Passwords:
        """The cheapest argon2id hashing: for tests and demos only, never for accounts."""
        return cls(time_cost=1, memory_kib=8, parallelism=1)

    def hash_random(self, secret: str) -> str:
        """The hash of a machine-made secret (a temporary password: workflows/account_admin.py
        temporary_password, some 79 bits of chance) at argon2id's cheapest cost: the cost
        guards passwords people choose, which can be guessed; nobody guesses 2^79. It keeps
        an import of hundreds of accounts within one request; the password the owner then
        chooses is hashed at the configured cost."""
        if len(secret) < 16:
            raise ValueError("hash_random is for machine-made secrets of 16 characters or more")
        return self.cheap.hash(secret)

    @property
    def cheap(self) -> PasswordHasher:
        if self._cheap is None:
            self._cheap = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
        return self._cheap

    def hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Invalid("the password is too short",
                          {"password": f"use at least {MIN_PASSWORD_LENGTH} characters"})
        return self.hasher.hash(password)

    def matches(self, user: User | None, password: str) -> bool:
        """Whether the password is the user's. An unknown user (None) or one without a
        password costs as much time as a known one, so the answer's speed reveals nothing."""
        stored = user.password_hash if user is not None else None
        if not stored:
            stored = self._dummy_hash()
        try:
            return self.hasher.verify(stored, password) and user is not None \
                and bool(user.password_hash)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy


def create_user(session: Session, passwords: Passwords, *, username: str, full_name: str,
                roles: list[str], agency_code: str | None, now: datetime,
                email: str | None = None,
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
                password_hash=passwords.hash(password) if password else None, active=True,
                created_at=now)
    session.add(user)
    session.flush()
    return user


def find(session: Session, username: str) -> User:
    """The account of that username (NotFound otherwise)."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user {username!r} does not exist; `aduan users list` lists them")
    return user


def create_token(session: Session, username: str, now: datetime, name: str = "cli"
                 ) -> tuple[User, str]:
    """A new bearer token for a user; only its hash is stored, so show it once."""
    user = find(session, username)
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
