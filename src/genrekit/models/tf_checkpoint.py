"""Read TensorFlow (TF1/TF2 "V2" format) checkpoints without TensorFlow.

A checkpoint ``<prefix>`` is a pair of files:

* ``<prefix>.index``: an SSTable (LevelDB table format) mapping each variable name to a
  serialized ``BundleEntryProto`` (dtype, shape, shard, byte offset and size, crc32c);
  the empty key holds a ``BundleHeaderProto`` (number of shards, endianness, version);
* ``<prefix>.data-SSSSS-of-NNNNN``: the raw tensor bytes, little-endian, concatenated.

Only what a weights converter needs is implemented: uncompressed (or snappy-free) table
blocks, numeric dtypes, unsliced tensors. Everything is decoded by hand (varints and the
protobuf wire format), so neither ``tensorflow`` nor the ``.proto`` classes are needed.

References: LevelDB ``doc/table_format.md``; TensorFlow
``tensorflow/core/protobuf/tensor_bundle.proto`` and ``tensorflow/core/util/tensor_bundle``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrekit.errors import BundleError

TABLE_MAGIC = 0xDB4775248B80FB57  # LevelDB table footer magic number
FOOTER_SIZE = 48  # bytes: two block handles padded to 40 bytes + 8-byte magic
BLOCK_TRAILER_SIZE = 5  # bytes: 1-byte compression type + 4-byte masked crc32c
_NO_COMPRESSION = 0
_SNAPPY_COMPRESSION = 1

# tensorflow/core/framework/types.proto DataType -> little-endian numpy dtype
TF_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}
DT_STRING = 7

# protobuf wire types
_WIRE_VARINT = 0
_WIRE_FIXED64 = 1
_WIRE_LEN = 2
_WIRE_FIXED32 = 5


class CheckpointError(BundleError):
    """A TensorFlow checkpoint file is missing, malformed or uses an unsupported feature."""


# ----------------------------------------------------------------------------- varints


def decode_varint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Decode one unsigned LEB128 varint.

    Parameters
    ----------
    data : bytes
        Buffer holding the varint.
    pos : int
        Byte offset where the varint starts.

    Returns
    -------
    value, next_pos : int, int
        The decoded value and the offset just past it.

    Raises
    ------
    CheckpointError
        The buffer ends inside the varint, or the varint is longer than 10 bytes.
    """
    result = 0
    shift = 0
    for _ in range(10):
        if pos >= len(data):
            raise CheckpointError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise CheckpointError("varint longer than 10 bytes")


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer as an unsigned LEB128 varint (used to build test tables)."""
    if value < 0:
        raise ValueError("varints encode non-negative integers only")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# ------------------------------------------------------------------------- protobuf wire


def parse_protobuf(data: bytes) -> dict[int, list[int | bytes]]:
    """Split a serialized protobuf message into its raw fields.

    Parameters
    ----------
    data : bytes
        One serialized message.

    Returns
    -------
    dict of int to list
        Field number -> values in order of appearance: ``int`` for varint and fixed-width
        fields (fixed32/fixed64 read as unsigned little-endian), ``bytes`` for
        length-delimited fields (sub-messages, strings, packed arrays).

    Raises
    ------
    CheckpointError
        Truncated data or a deprecated/unknown wire type (groups).
    """
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(data):
        key, pos = decode_varint(data, pos)
        number, wire_type = key >> 3, key & 0x7
        value: int | bytes
        if wire_type == _WIRE_VARINT:
            value, pos = decode_varint(data, pos)
        elif wire_type == _WIRE_FIXED64:
            if pos + 8 > len(data):
                raise CheckpointError("truncated fixed64 field")
            (value,) = struct.unpack_from("<Q", data, pos)
            pos += 8
        elif wire_type == _WIRE_LEN:
            length, pos = decode_varint(data, pos)
            if pos + length > len(data):
                raise CheckpointError("truncated length-delimited field")
            value = bytes(data[pos : pos + length])
            pos += length
        elif wire_type == _WIRE_FIXED32:
            if pos + 4 > len(data):
                raise CheckpointError("truncated fixed32 field")
            (value,) = struct.unpack_from("<I", data, pos)
            pos += 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire_type} (field {number})")
        fields.setdefault(number, []).append(value)
    return fields


def _last_int(fields: dict[int, list[int | bytes]], number: int, default: int = 0) -> int:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, int):
        raise CheckpointError(f"protobuf field {number} should be an integer")
    return value


def _to_int64(value: int) -> int:
    """Reinterpret a decoded varint as a two's-complement int64."""
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor lives in the data shards (a decoded ``BundleEntryProto``).

    Attributes
    ----------
    dtype : int
        TensorFlow ``DataType`` enum value.
    shape : tuple of int
        Tensor shape.
    shard_id : int
        Index of the ``.data-SSSSS-of-NNNNN`` file.
    offset : int
        Byte offset in that shard.
    size : int
        Number of bytes.
    crc32c : int or None
        Masked crc32c of the bytes, when recorded.
    n_slices : int
        Number of partitioned-variable slices (only 0 is supported by :func:`read_checkpoint`).
    """

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None
    n_slices: int = 0


def parse_tensor_shape(data: bytes) -> tuple[int, ...]:
    """Decode a serialized ``TensorShapeProto`` (field 2: dims with field 1 ``size``)."""
    fields = parse_protobuf(data)
    if _last_int(fields, 3):
        raise CheckpointError("tensor shape has unknown rank")
    dims: list[int] = []
    for dim in fields.get(2, []):
        if not isinstance(dim, bytes):
            raise CheckpointError("tensor shape dim should be a message")
        dims.append(_to_int64(_last_int(parse_protobuf(dim), 1)))
    return tuple(dims)


def parse_bundle_entry(data: bytes) -> BundleEntry:
    """Decode a serialized ``BundleEntryProto``.

    Fields: 1 dtype, 2 shape, 3 shard_id, 4 offset, 5 size, 6 crc32c (fixed32), 7 slices.
    """
    fields = parse_protobuf(data)
    shape_bytes = fields.get(2, [b""])[-1]
    if not isinstance(shape_bytes, bytes):
        raise CheckpointError("bundle entry shape should be a message")
    crc_values = fields.get(6)
    return BundleEntry(
        dtype=_last_int(fields, 1),
        shape=parse_tensor_shape(shape_bytes),
        shard_id=_last_int(fields, 3),
        offset=_to_int64(_last_int(fields, 4)),
        size=_to_int64(_last_int(fields, 5)),
        crc32c=int(crc_values[-1]) if crc_values else None,
        n_slices=len(fields.get(7, [])),
    )


@dataclass(frozen=True)
class BundleHeader:
    """A decoded ``BundleHeaderProto``: 1 num_shards, 2 endianness (0 little), 3 version."""

    n_shards: int
    endianness: int


def parse_bundle_header(data: bytes) -> BundleHeader:
    """Decode the ``BundleHeaderProto`` stored under the empty key."""
    fields = parse_protobuf(data)
    return BundleHeader(n_shards=_last_int(fields, 1, 1), endianness=_last_int(fields, 2))


# ---------------------------------------------------------------------------- crc32c


def _make_crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``; pure Python, about 1 s per 10 MB."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc32c(crc: int) -> int:
    """LevelDB/TensorFlow masked CRC: rotate right by 15 bits and add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------------------- SSTable


def parse_block_handle(data: bytes, pos: int = 0) -> tuple[tuple[int, int], int]:
    """Decode a LevelDB ``BlockHandle`` (varint offset, varint size); returns it and the next offset."""
    offset, pos = decode_varint(data, pos)
    size, pos = decode_varint(data, pos)
    return (offset, size), pos


def parse_block(block: bytes) -> list[tuple[bytes, bytes]]:
    """Decode the entries of one table block (trailer already removed).

    A block is a run of entries ``varint shared | varint non_shared | varint value_len |
    key_delta | value`` whose keys share a prefix with the previous key, then an array of
    ``uint32`` restart offsets and their ``uint32`` count.

    Returns
    -------
    list of (key, value)
        In stored order.
    """
    if len(block) < 4:
        raise CheckpointError("table block shorter than its restart count")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * n_restarts
    if end < 0:
        raise CheckpointError("table block restart array overflows the block")
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < end:
        shared, pos = decode_varint(block, pos)
        non_shared, pos = decode_varint(block, pos)
        value_len, pos = decode_varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > end:
            raise CheckpointError("corrupt table block entry")
        key = key[:shared] + bytes(block[pos : pos + non_shared])
        pos += non_shared
        entries.append((key, bytes(block[pos : pos + value_len])))
        pos += value_len
    return entries


def _read_block(table: bytes, handle: tuple[int, int], verify: bool) -> bytes:
    offset, size = handle
    if offset + size + BLOCK_TRAILER_SIZE > len(table):
        raise CheckpointError("table block handle points past the end of the file")
    block = table[offset : offset + size]
    compression = table[offset + size]
    if compression == _SNAPPY_COMPRESSION:
        raise CheckpointError("snappy-compressed checkpoint index blocks are not supported")
    if compression != _NO_COMPRESSION:
        raise CheckpointError(f"unknown table block compression type {compression}")
    if verify:
        (stored,) = struct.unpack_from("<I", table, offset + size + 1)
        actual = mask_crc32c(crc32c(table[offset : offset + size + 1]))
        if stored != actual:
            raise CheckpointError("table block checksum mismatch")
    return block


def read_sstable(data: bytes, *, verify: bool = True) -> dict[bytes, bytes]:
    """All key/value pairs of a LevelDB-format table held in memory.

    Parameters
    ----------
    data : bytes
        The whole table file.
    verify : bool
        Check each block's masked crc32c.

    Returns
    -------
    dict of bytes to bytes
    """
    if len(data) < FOOTER_SIZE:
        raise CheckpointError("file too short to be a table")
    footer = data[-FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
    if magic != TABLE_MAGIC:
        raise CheckpointError("bad table magic number; not a checkpoint .index file")
    _, pos = parse_block_handle(footer, 0)  # metaindex handle: unused by checkpoints
    index_handle, _ = parse_block_handle(footer, pos)
    out: dict[bytes, bytes] = {}
    for _, handle_bytes in parse_block(_read_block(data, index_handle, verify)):
        handle, _ = parse_block_handle(handle_bytes)
        out.update(parse_block(_read_block(data, handle, verify)))
    return out


# ------------------------------------------------------------------------- checkpoint


def read_checkpoint_index(prefix: str | os.PathLike[str], *, verify: bool = True) -> tuple[BundleHeader, dict[str, BundleEntry]]:
    """Parse ``<prefix>.index``.

    Returns
    -------
    header : BundleHeader
    entries : dict of str to BundleEntry
        Variable name -> location, sorted by name.
    """
    index_path = Path(f"{os.fspath(prefix)}.index")
    try:
        table = read_sstable(index_path.read_bytes(), verify=verify)
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint index {index_path}: {error}") from error
    header_bytes = table.pop(b"", None)
    if header_bytes is None:
        raise CheckpointError(f"{index_path} has no bundle header (empty key)")
    header = parse_bundle_header(header_bytes)
    if header.endianness != 0:
        raise CheckpointError(f"{index_path} is big-endian; only little-endian checkpoints are supported")
    entries = {key.decode("utf-8"): parse_bundle_entry(value) for key, value in sorted(table.items())}
    return header, entries


def read_checkpoint(prefix: str | os.PathLike[str], *, verify_crc: bool = True) -> dict[str, np.ndarray]:
    """Every numeric variable of a TensorFlow V2-format checkpoint.

    Parameters
    ----------
    prefix : path-like
        Checkpoint prefix: ``<prefix>.index`` and ``<prefix>.data-*-of-*`` must exist
        (for musicnn's wheel the prefix is ``.../MSD_musicnn/`` as the files are named
        ``.index`` and ``.data-00000-of-00001``).
    verify_crc : bool
        Check each tensor's masked crc32c (pure Python, about 1 s per 10 MB).

    Returns
    -------
    dict of str to np.ndarray
        Variable name -> array with its TF shape and dtype (native byte order). String
        tensors are skipped.

    Raises
    ------
    CheckpointError
        Missing or corrupt files, sliced variables, unsupported dtypes, checksum mismatch.
    """
    header, entries = read_checkpoint_index(prefix)
    shards: dict[int, bytes] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, entry in entries.items():
        if entry.dtype == DT_STRING:
            continue
        if entry.n_slices:
            raise CheckpointError(f"variable {name!r} is partitioned into slices; not supported")
        dtype = TF_DTYPES.get(entry.dtype)
        if dtype is None:
            raise CheckpointError(f"variable {name!r} has unsupported dtype enum {entry.dtype}")
        if entry.shard_id not in shards:
            shard_path = Path(f"{os.fspath(prefix)}.data-{entry.shard_id:05d}-of-{header.n_shards:05d}")
            try:
                shards[entry.shard_id] = shard_path.read_bytes()
            except OSError as error:
                raise CheckpointError(f"cannot read checkpoint shard {shard_path}: {error}") from error
        shard = shards[entry.shard_id]
        n_items = int(np.prod(entry.shape, dtype=np.int64))
        if entry.size != n_items * dtype.itemsize or entry.offset + entry.size > len(shard):
            raise CheckpointError(f"variable {name!r}: size {entry.size} does not match shape {entry.shape}")
        raw = shard[entry.offset : entry.offset + entry.size]
        if verify_crc and entry.crc32c is not None and mask_crc32c(crc32c(raw)) != entry.crc32c:
            raise CheckpointError(f"variable {name!r}: crc32c mismatch")
        arrays[name] = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(entry.shape)
    return arrays
