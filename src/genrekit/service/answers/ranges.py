"""HTTP byte ranges (RFC 9110 section 14): parse ``Range`` and check ``If-Range``.

Pure functions on header strings. One range is served (206); a header that asks for
several ranges, uses another unit or is malformed is ignored, so the whole resource is
sent (200), as the RFC allows. A range that starts past the end is refused (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genrekit.service.errors import RangeNotSatisfiableError

_RANGE_SPEC = re.compile(r"^\s*(\d{0,30})\s*-\s*(\d{0,30})\s*$")  # longer numbers are malformed


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``first`` to ``last`` (both included) of a resource of ``n_total`` bytes."""

    first: int
    last: int
    n_total: int

    @property
    def n_bytes(self) -> int:
        """Length of the range (bytes)."""
        return self.last - self.first + 1

    @property
    def content_range(self) -> str:
        """Value of the ``Content-Range`` header, e.g. ``bytes 0-499/1234``."""
        return f"bytes {self.first}-{self.last}/{self.n_total}"


def parse_range(header: str | None, n_total: int) -> ByteRange | None:
    """The byte range a ``Range`` header asks for.

    Parameters
    ----------
    header : str or None
        The ``Range`` header: ``bytes=first-last``, ``bytes=first-`` or ``bytes=-suffix_length``.
    n_total : int >= 0
        Size of the resource (bytes).

    Returns
    -------
    ByteRange or None
        The range, with ``last`` clipped to the end of the resource (a suffix longer than
        the resource gives all of it); ``None`` to send the whole resource (no header,
        another unit, several ranges, bad syntax).

    Raises
    ------
    RangeNotSatisfiableError
        The range starts at or past the end, or is an empty suffix (``bytes=-0``).
    """
    if not header:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _RANGE_SPEC.match(spec)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":
        suffix = int(last_text)
        if suffix == 0 or n_total == 0:
            raise RangeNotSatisfiableError(f"range {spec.strip()!r} selects no bytes", n_bytes=n_total)
        return ByteRange(max(0, n_total - suffix), n_total - 1, n_total)
    first = int(first_text)
    last = int(last_text) if last_text else None
    if last is not None and last < first:
        return None
    if first >= n_total:
        raise RangeNotSatisfiableError(
            f"range {spec.strip()!r} starts past the end of the {n_total} bytes", n_bytes=n_total
        )
    return ByteRange(first, n_total - 1 if last is None else min(last, n_total - 1), n_total)


def if_range_allows(if_range: str | None, etag: str) -> bool:
    """Whether a ``Range`` may be honoured given the request's ``If-Range`` header.

    Parameters
    ----------
    if_range : str or None
        The ``If-Range`` header: an entity tag (or a date, which never matches here: the
        resource sends no ``Last-Modified``).
    etag : str
        The resource's strong entity tag, quotes included.

    Returns
    -------
    bool
        True without ``If-Range`` or when it is the same strong tag.
    """
    return if_range is None or if_range.strip() == etag
