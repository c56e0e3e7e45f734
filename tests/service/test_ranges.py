"""Pure HTTP byte-range parsing (RFC 9110 section 14)."""

from __future__ import annotations

import pytest

from genrekit.service.answers.ranges import ByteRange, if_range_allows, parse_range
from genrekit.service.errors import RangeNotSatisfiableError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=0-", (0, 999)),
        ("bytes=500-", (500, 999)),
        ("bytes=990-5000", (990, 999)),  # clipped to the end
        ("bytes=999-999", (999, 999)),
        ("bytes=-1", (999, 999)),
        ("bytes=-250", (750, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the resource: all of it
        ("Bytes = 10 - 19 ", (10, 19)),
    ],
)
def test_single_ranges(header: str, expected: tuple[int, int]) -> None:
    byte_range = parse_range(header, 1000)
    assert byte_range == ByteRange(*expected, 1000)
    assert byte_range.n_bytes == expected[1] - expected[0] + 1
    assert byte_range.content_range == f"bytes {expected[0]}-{expected[1]}/1000"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "items=0-9",
        "bytes=0-9,20-29",  # several ranges
        "bytes=9-0",
        "bytes=a-b",
        "0-9",
        "bytes=1" + "0" * 40 + "-",  # a number too long to be a position
    ],
)
def test_other_headers_ask_for_everything(header: str | None) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=5000-5001", "bytes=-0"])
def test_unsatisfiable_ranges_are_416_with_the_size(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError) as caught:
        parse_range(header, 1000)
    assert caught.value.status == 416
    assert caught.value.headers == {"Content-Range": "bytes */1000"}


def test_if_range_needs_the_same_strong_etag() -> None:
    etag = '"abc123"'
    assert if_range_allows(None, etag)
    assert if_range_allows('"abc123"', etag)
    assert not if_range_allows('"other"', etag)
    assert not if_range_allows('W/"abc123"', etag)
    assert not if_range_allows("Wed, 21 Oct 2015 07:28:00 GMT", etag)
