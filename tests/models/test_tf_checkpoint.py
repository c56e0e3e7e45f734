"""The TensorFlow checkpoint reader: varints, protobuf wire format, SSTable blocks, bundles."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import struct
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from safetensors import safe_open

from genrekit.models.musicnn import MSD_TAGS, MTT_TAGS, PRETRAINED_CONFIGS, pretrained_path
from genrekit.models.tf_checkpoint import (
    TABLE_MAGIC,
    BundleEntry,
    CheckpointError,
    crc32c,
    decode_varint,
    encode_varint,
    mask_crc32c,
    parse_block,
    parse_bundle_entry,
    parse_protobuf,
    read_checkpoint,
    read_checkpoint_index,
    read_sstable,
)

# --------------------------------------------------------------------------- builders


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | wire_type) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _field(number, 0, encode_varint(value))


def _bytes_field(number: int, value: bytes) -> bytes:
    return _field(number, 2, encode_varint(len(value)) + value)


def _entry_proto(dtype: int, shape: tuple[int, ...], offset: int, data: bytes) -> bytes:
    shape_proto = b"".join(_bytes_field(2, _varint_field(1, d)) for d in shape)
    return (
        _varint_field(1, dtype)
        + _bytes_field(2, shape_proto)
        + (_varint_field(4, offset) if offset else b"")
        + _varint_field(5, len(data))
        + _field(6, 5, struct.pack("<I", mask_crc32c(crc32c(data))))
    )


def _block(entries: list[tuple[bytes, bytes]], restart_interval: int = 2) -> bytes:
    """A LevelDB block with prefix-compressed keys and a restart every ``restart_interval`` entries."""
    out = bytearray()
    restarts = []
    previous = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = len(os.path.commonprefix([previous, key]))
        out += encode_varint(shared) + encode_varint(len(key) - shared) + encode_varint(len(value))
        out += key[shared:] + value
        previous = key
    for restart in restarts:
        out += struct.pack("<I", restart)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", mask_crc32c(crc32c(block + b"\x00")))


def _table(entries: list[tuple[bytes, bytes]], block_size: int = 2) -> bytes:
    """A whole table: data blocks of ``block_size`` entries, an empty metaindex, an index and a footer."""
    out = bytearray()
    index_entries = []
    for start in range(0, len(entries), block_size):
        chunk = entries[start : start + block_size]
        block = _block(chunk)
        handle = encode_varint(len(out)) + encode_varint(len(block))
        out += _with_trailer(block)
        index_entries.append((chunk[-1][0], handle))
    meta = _block([])
    meta_handle = encode_varint(len(out)) + encode_varint(len(meta))
    out += _with_trailer(meta)
    index = _block(index_entries, restart_interval=1)
    index_handle = encode_varint(len(out)) + encode_varint(len(index))
    out += _with_trailer(index)
    footer = (meta_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out + footer)


def _write_checkpoint(prefix: Path, arrays: dict[str, np.ndarray], dtypes: dict[str, int]) -> None:
    data = bytearray()
    entries = [(b"", _varint_field(1, 1) + _varint_field(3, 1))]  # header: 1 shard, little-endian, version
    for name in sorted(arrays):
        raw = arrays[name].astype(arrays[name].dtype.newbyteorder("<")).tobytes()
        entries.append((name.encode(), _entry_proto(dtypes[name], arrays[name].shape, len(data), raw)))
        data += raw
    Path(f"{prefix}.index").write_bytes(_table(entries))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))


# ------------------------------------------------------------------------------ varints


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"), (2**63, b"\x80" * 9 + b"\x01")],
)
def test_varint_known_encodings(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert decode_varint(b"\xff" + encoded + b"\xff", 1) == (value, 1 + len(encoded))


def test_varint_rejects_truncated_and_overlong() -> None:
    with pytest.raises(CheckpointError, match="truncated"):
        decode_varint(b"\x80\x80")
    with pytest.raises(CheckpointError, match="longer"):
        decode_varint(b"\x80" * 11 + b"\x01")


# ----------------------------------------------------------------------------- protobuf


def test_parse_protobuf_all_wire_types() -> None:
    message = (
        _varint_field(1, 150)
        + _bytes_field(2, b"hi")
        + _field(3, 1, struct.pack("<Q", 2**40 + 5))
        + _field(4, 5, struct.pack("<I", 0xDEADBEEF))
        + _varint_field(1, 7)
    )
    assert parse_protobuf(message) == {1: [150, 7], 2: [b"hi"], 3: [2**40 + 5], 4: [0xDEADBEEF]}


def test_parse_protobuf_rejects_groups_and_truncation() -> None:
    with pytest.raises(CheckpointError, match="wire type 3"):
        parse_protobuf(_field(1, 3, b""))
    with pytest.raises(CheckpointError, match="truncated"):
        parse_protobuf(_field(2, 2, encode_varint(5) + b"abc"))


def test_parse_bundle_entry() -> None:
    data = np.arange(6, dtype="<f4").tobytes()
    entry = parse_bundle_entry(_entry_proto(1, (2, 3), 64, data))
    assert entry == BundleEntry(dtype=1, shape=(2, 3), shard_id=0, offset=64, size=24, crc32c=mask_crc32c(crc32c(data)))


def test_parse_bundle_entry_scalar_shape() -> None:
    assert parse_bundle_entry(_varint_field(1, 1) + _varint_field(5, 4)).shape == ()


# -------------------------------------------------------------------------------- crc32c


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue check value
    assert crc32c(b"") == 0
    assert mask_crc32c(0) == 0xA282EAD8


# ------------------------------------------------------------------------------ sstable


def test_parse_block_prefix_compression() -> None:
    entries = [(b"conv/bias", b"1"), (b"conv/kernel", b"22"), (b"dense/bias", b""), (b"dense/kernel", b"4444")]
    block = _block(entries, restart_interval=3)
    assert parse_block(block) == entries
    assert block.count(b"conv") == 1  # the second key stored only its suffix


def test_read_sstable_multiple_blocks() -> None:
    entries = [(f"key{i:02d}".encode(), bytes([i]) * i) for i in range(7)]
    assert read_sstable(_table(entries, block_size=3)) == dict(entries)


def test_read_sstable_rejects_bad_magic_and_checksum() -> None:
    table = bytearray(_table([(b"a", b"1"), (b"b", b"2")]))
    with pytest.raises(CheckpointError, match="magic"):
        read_sstable(bytes(table[:-1] + b"\x00"))
    assert table[4:5] == b"1"  # first entry: 3 length varints, key "a", value "1"
    table[4] = ord("0")
    with pytest.raises(CheckpointError, match="checksum"):
        read_sstable(bytes(table))
    assert read_sstable(bytes(table), verify=False) == {b"a": b"0", b"b": b"2"}


# --------------------------------------------------------------------------- checkpoint


def test_read_checkpoint_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "conv2d/kernel": rng.standard_normal((7, 38, 1, 4)).astype(np.float32),
        "conv2d/bias": rng.standard_normal(4).astype(np.float32),
        "global_step": np.array(1234, dtype=np.int64),
        "half": rng.standard_normal((3, 2)).astype(np.float16),
    }
    _write_checkpoint(tmp_path / "model", arrays, {"conv2d/kernel": 1, "conv2d/bias": 1, "global_step": 9, "half": 19})
    header, entries = read_checkpoint_index(tmp_path / "model")
    assert header.n_shards == 1
    assert list(entries) == sorted(arrays)
    out = read_checkpoint(tmp_path / "model")
    assert set(out) == set(arrays)
    for name, array in arrays.items():
        assert out[name].dtype == array.dtype and out[name].shape == array.shape
        np.testing.assert_array_equal(out[name], array)


def test_read_checkpoint_detects_corrupt_data(tmp_path: Path) -> None:
    _write_checkpoint(tmp_path / "m", {"w": np.ones(4, np.float32)}, {"w": 1})
    shard = tmp_path / "m.data-00000-of-00001"
    shard.write_bytes(np.array([1, 1, 1, 2], np.float32).tobytes())
    with pytest.raises(CheckpointError, match="crc32c"):
        read_checkpoint(tmp_path / "m")
    np.testing.assert_array_equal(read_checkpoint(tmp_path / "m", verify_crc=False)["w"], [1, 1, 1, 2])


def test_read_checkpoint_missing_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot read checkpoint index"):
        read_checkpoint(tmp_path / "nothing")
    _write_checkpoint(tmp_path / "m", {"w": np.ones(2, np.float32)}, {"w": 1})
    (tmp_path / "m.data-00000-of-00001").unlink()
    with pytest.raises(CheckpointError, match="shard"):
        read_checkpoint(tmp_path / "m")


def test_read_checkpoint_unsupported_dtype(tmp_path: Path) -> None:
    _write_checkpoint(tmp_path / "m", {"c": np.ones(2, np.float32)}, {"c": 8})  # DT_COMPLEX64
    with pytest.raises(CheckpointError, match="dtype"):
        read_checkpoint(tmp_path / "m")


# ------------------------------------------------------------------ the real musicnn wheel


REPO_ROOT = Path(__file__).resolve().parents[2]
WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_DIRS = (REPO_ROOT / ".cache" / "musicnn-wheel", Path("/tmp/mn"), Path.home() / ".cache" / "genrekit")


def _find_wheel() -> Path | None:
    """The musicnn 0.1.0 wheel: ``$GENREKIT_MUSICNN_WHEEL``, else the test setup's ``.cache/musicnn-wheel/``.

    ``scripts/test-setup.sh`` runs ``pip download --no-deps musicnn==0.1.0 -d .cache/musicnn-wheel``.
    """
    candidates = [Path(p) for p in [os.environ.get("GENREKIT_MUSICNN_WHEEL", "")] if p]
    candidates += [d / WHEEL_NAME for d in WHEEL_DIRS]
    return next((c for c in candidates if c.is_file()), None)


def _load_converter_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convert_musicnn", REPO_ROOT / "scripts" / "convert_musicnn.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tensor_differences(committed: Path, converted: Path) -> list[str]:
    with safe_open(str(committed), framework="np") as old, safe_open(str(converted), framework="np") as new:
        if old.metadata() != new.metadata():
            return ["metadata"]
        if set(old.keys()) != set(new.keys()):
            return ["tensor names"]
        return [k for k in old.keys() if old.get_tensor(k).tobytes() != new.get_tensor(k).tobytes()]


@pytest.mark.slow
def test_wheel_checkpoints_match_committed_safetensors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Converting the wheel's TF checkpoints with ``scripts/convert_musicnn.py`` reproduces the
    committed safetensors files byte for byte (weights, metadata, layout), and the wheel's tag
    lists equal ``MSD_TAGS``/``MTT_TAGS``.

    Needs the wheel (see :func:`_find_wheel`); skipped without it.
    """
    wheel = _find_wheel()
    if wheel is None:
        pytest.skip(f"{WHEEL_NAME} not found in .cache/musicnn-wheel/ (scripts/test-setup.sh) or $GENREKIT_MUSICNN_WHEEL")
    with zipfile.ZipFile(wheel) as archive:
        configuration = ast.parse(archive.read("musicnn/configuration.py").decode("utf-8"))
    labels = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in configuration.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.endswith("_LABELS")
    }
    assert labels == {"MSD_LABELS": MSD_TAGS, "MTT_LABELS": MTT_TAGS}
    assert _load_converter_script().main([str(wheel), "--out", str(tmp_path)]) == 0
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in capsys.readouterr().out
    for name in PRETRAINED_CONFIGS:
        committed, converted = pretrained_path(name), tmp_path / f"{name}.safetensors"
        assert converted.read_bytes() == committed.read_bytes(), (name, _tensor_differences(committed, converted))
