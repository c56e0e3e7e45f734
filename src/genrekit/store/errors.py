"""Errors raised by the storage queries; the service maps each to its HTTP problem answer."""

from __future__ import annotations

from genrekit.errors import GenrekitError


class StoreError(GenrekitError):
    """Base class of the storage errors."""


class NotFound(StoreError):
    """The row does not exist, or belongs to another owner (the two look the same)."""


class BadCursor(StoreError):
    """A page cursor that no query ever returned (malformed or tampered with)."""
