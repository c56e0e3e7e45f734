"""Bundle files: checksums of every file (weights and ONNX graph), card validation, the
model-type registry, and the format layer importing neither torch nor the models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genrekit.bundle import (
    CARD_FILENAME,
    ONNX_FILENAME,
    WEIGHTS_FILENAME,
    ModelCard,
    add_bundle_file,
    checked_file,
    load_bundle,
    read_card,
    save_bundle,
)
from genrekit.errors import BundleError
from genrekit.models.loaders import build_model, known_model_types, load_model


def _card(model_type: str = "logreg") -> ModelCard:
    return ModelCard(name="t", version="1", model_type=model_type, labels=["a", "b"], sample_rate=8000, window_s=1.0)


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    return save_bundle(tmp_path / "b", _card("no_such_type"), {"w": torch.arange(4, dtype=torch.float32)})


def test_round_trip_fills_checksum_version_and_date(bundle: Path) -> None:
    card, tensors = load_bundle(bundle)
    assert torch.equal(tensors["w"], torch.arange(4, dtype=torch.float32))
    assert set(card.sha256) == {WEIGHTS_FILENAME}
    assert card.genrekit_version and card.created
    assert (bundle / WEIGHTS_FILENAME).stat().st_mode & 0o044 == 0o044  # readable by others, like a checkout


def test_checksum_mismatch_is_refused(bundle: Path) -> None:
    weights = bundle / WEIGHTS_FILENAME
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(bundle)
    load_bundle(bundle, verify=False)  # explicitly unchecked reads still work


def test_a_file_without_a_checksum_in_the_card_is_refused(bundle: Path) -> None:
    (bundle / ONNX_FILENAME).write_bytes(b"graph")
    with pytest.raises(BundleError, match="checksum"):
        checked_file(bundle, read_card(bundle), ONNX_FILENAME)
    card = add_bundle_file(bundle, ONNX_FILENAME)
    assert checked_file(bundle, card, ONNX_FILENAME) == bundle / ONNX_FILENAME
    (bundle / ONNX_FILENAME).write_bytes(b"other graph")
    with pytest.raises(BundleError, match="corrupt or was edited"):
        checked_file(bundle, read_card(bundle), ONNX_FILENAME)


def test_unknown_card_keys_are_refused(bundle: Path) -> None:
    data = json.loads((bundle / CARD_FILENAME).read_text())
    data["colour"] = "blue"
    (bundle / CARD_FILENAME).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="unknown keys: colour"):
        read_card(bundle)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": ["a", "a"]}, "distinct"),
        ({"sample_rate": 0}, "positive"),
        ({"format_version": 99}, "newer"),
    ],
)
def test_invalid_cards_are_refused(bundle: Path, change: dict, message: str) -> None:
    data = {**json.loads((bundle / CARD_FILENAME).read_text()), **change}
    (bundle / CARD_FILENAME).write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message):
        read_card(bundle)


def test_missing_and_malformed_bundles(tmp_path: Path, bundle: Path) -> None:
    with pytest.raises(BundleError, match="not a directory"):
        read_card(tmp_path / "absent")
    (bundle / CARD_FILENAME).write_text("{not json")
    with pytest.raises(BundleError, match="malformed"):
        read_card(bundle)
    (bundle / CARD_FILENAME).unlink()
    with pytest.raises(BundleError, match=CARD_FILENAME):
        read_card(bundle)


def test_unknown_model_type_names_the_known_ones(bundle: Path) -> None:
    with pytest.raises(BundleError, match="unknown model_type 'no_such_type'.*musicnn_head"):
        load_model(bundle)
    assert {"musicnn_head", "logreg", "cnn1d", "ensemble"} <= set(known_model_types())


def test_tensors_that_do_not_fit_the_model_type(tmp_path: Path) -> None:
    card = _card("musicnn_head")
    with pytest.raises(BundleError):
        build_model(card, {"w": torch.zeros(1)})


def test_the_format_layer_imports_neither_torch_nor_the_models(bundle: Path) -> None:
    code = (
        "import sys\n"
        "from genrekit.bundle import read_card, checked_file, WEIGHTS_FILENAME\n"
        f"card = read_card({str(bundle)!r})\n"
        f"checked_file({str(bundle)!r}, card, WEIGHTS_FILENAME)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith('genrekit.models')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
