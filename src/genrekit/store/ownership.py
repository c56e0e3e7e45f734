"""Which owner's rows a query sees: one API key's, the open mode's, or everyone's."""

from __future__ import annotations

from typing import Any

from genrekit.store.tables import Classification


class _AllOwners:
    """Type of :data:`ALL_OWNERS`."""

    def __repr__(self) -> str:
        return "ALL_OWNERS"


ALL_OWNERS = _AllOwners()  # an ``owner_key_id`` meaning "rows of every owner" (admin tools, tests)
Owner = str | None | _AllOwners


def owned_by(statement: Any, owner_key_id: Owner) -> Any:
    """``statement`` (a SELECT joining ``classifications``) limited to the rows of one API key.

    ``None`` keeps the open mode's rows (no key); :data:`ALL_OWNERS` keeps every row.
    """
    if isinstance(owner_key_id, _AllOwners):
        return statement
    if owner_key_id is None:
        return statement.where(Classification.owner_key_id.is_(None))
    return statement.where(Classification.owner_key_id == owner_key_id)
