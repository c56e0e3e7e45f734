"""API keys: create, list, revoke and authenticate, storing only the SHA-256 of each secret.

A key is ``gk_`` followed by 43 URL-safe characters (32 random bytes); it is shown once,
when created. The database keeps its SHA-256, its role and a short public id (what
``genrekit keys list`` shows and ``revoke`` takes). A 256-bit random secret needs no slow
password hash: finding a key from its SHA-256 is as hard as guessing the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from genrekit.errors import InvalidParameterError
from genrekit.store.tables import ApiKey

KEY_PREFIX = "gk_"
KEY_SECRET_BYTES = 32  # random bytes in a key
KEY_ID_BYTES = 6  # random bytes in a key's public id (12 hex characters)
ROLES = ("read", "editor", "admin")  # each role can do everything the ones before it can


def role_rank(role: str) -> int:
    """Position of ``role`` in :data:`ROLES` (higher can do more); raises for an unknown role."""
    try:
        return ROLES.index(role)
    except ValueError as error:
        raise InvalidParameterError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}") from error


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a key or share token (what the database stores instead of it)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """What can be shown about a key (never its secret)."""

    id: str
    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    rate_limit_per_minute: int | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.role, row.created_at, row.revoked_at, row.rate_limit_per_minute)


def create_key(
    session: Session, *, role: str, name: str = "", rate_limit_per_minute: int | None = None
) -> tuple[KeyInfo, str]:
    """Create a key and commit.

    Parameters
    ----------
    role : {"read", "editor", "admin"}
    name : str
        A label for people (who or what uses the key).
    rate_limit_per_minute : int >= 0 or None
        Classification requests per minute for this key; ``None`` uses the server's
        ``rate_limit_per_minute``, 0 means unlimited.

    Returns
    -------
    info : KeyInfo
    secret : str
        The key itself; it cannot be recovered later.
    """
    role_rank(role)
    if rate_limit_per_minute is not None and rate_limit_per_minute < 0:
        raise InvalidParameterError(f"rate_limit_per_minute must be >= 0, got {rate_limit_per_minute}")
    secret = KEY_PREFIX + secrets.token_urlsafe(KEY_SECRET_BYTES)
    row = ApiKey(
        id=secrets.token_hex(KEY_ID_BYTES),
        name=name[:200],
        role=role,
        key_hash=hash_secret(secret),
        created_at=dt.datetime.now(dt.timezone.utc),
        revoked_at=None,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    session.add(row)
    session.commit()
    return _info(row), secret


def list_keys(session: Session, *, include_revoked: bool = True) -> list[KeyInfo]:
    """Every key, oldest first."""
    statement = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        statement = statement.where(ApiKey.revoked_at.is_(None))
    return [_info(row) for row in session.scalars(statement)]


def revoke_key(session: Session, *, key_id: str) -> KeyInfo | None:
    """Revoke the key with this public id (at once) and commit; ``None`` when there is none."""
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.timezone.utc)
        session.commit()
    return _info(row)


def authenticate(session: Session, *, secret: str) -> KeyInfo | None:
    """The active key whose secret this is, or ``None``."""
    if not secret.startswith(KEY_PREFIX):
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    return _info(row)


def count_active_keys(session: Session) -> int:
    """Keys not revoked."""
    return len(list_keys(session, include_revoked=False))
