"""The ``musicnn_head`` model type: frozen musicnn backbones + a trained head, saved as a bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genrekit.bundle import load_bundle, save_bundle
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.base import WaveformClassifier
from genrekit.models.heads import (
    MIN_WINDOW_LENGTH,
    WINDOW_LENGTH,
    WINDOW_S,
    MusicnnHead,
    MusicnnHeadClassifier,
    MusicnnHeadConfig,
    build_musicnn_head_bundle_tensors,
    embedding_dims,
    extract_embeddings,
    musicnn_head_card,
)
from genrekit.models.musicnn import MSD_TAGS, MTT_TAGS, load_pretrained
from genrekit.models.onnx_runtime import load_onnx_bundle
from genrekit.models.loaders import load_model

LABELS = ["blues", "classical", "rock"]


@pytest.fixture(scope="module")
def backbones() -> dict:
    return {"MSD_musicnn": load_pretrained("MSD_musicnn"), "MTT_vgg": load_pretrained("MTT_vgg")}


@pytest.fixture(scope="module")
def windows() -> np.ndarray:
    """Three 2.992 s windows: a chord, noise, and a click train."""
    t = np.arange(WINDOW_LENGTH) / 16000
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 4
    noise = np.random.default_rng(0).standard_normal(WINDOW_LENGTH) * 0.1
    clicks = np.zeros(WINDOW_LENGTH)
    clicks[::8000] = 0.9
    return np.stack([chord, noise, clicks]).astype(np.float32)


def _random_model(backbones: dict, config: MusicnnHeadConfig, seed: int = 0) -> MusicnnHeadClassifier:
    torch.manual_seed(seed)
    model = MusicnnHeadClassifier(LABELS, config, {n: backbones[n] for n in config.all_backbones})
    n_inputs = model.n_inputs
    model.head.set_standardization(torch.randn(20, n_inputs) * 3 + 1)
    model.head.set_temperature(1.7)
    return model


def test_window_geometry() -> None:
    assert WINDOW_LENGTH == 187 * 256 == 47872
    assert WINDOW_S == pytest.approx(2.992)
    assert round(WINDOW_S * 16000) == WINDOW_LENGTH
    assert MIN_WINDOW_LENGTH == 186 * 256


def test_bundle_round_trip_gives_identical_probabilities(tmp_path: Path, backbones: dict, windows: np.ndarray) -> None:
    config = MusicnnHeadConfig(backbones=("MSD_musicnn", "MTT_vgg"), embeddings=("taggram",), hidden_units=(8,))
    model = _random_model(backbones, config)
    assert isinstance(model, WaveformClassifier)
    probs, tags = model.predict_all_windows(windows)
    assert probs.shape == (3, 3) and probs.dtype == np.float32
    assert tags["MTT_vgg"].shape == (3, 50) and tags["MSD_musicnn"].shape == (3, 50)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)

    card = musicnn_head_card(model, name="test-head", metrics={"note": "random weights"})
    save_bundle(tmp_path, card, model.bundle_tensors())
    loaded_card, loaded = load_model(tmp_path)
    assert isinstance(loaded, MusicnnHeadClassifier)
    assert loaded_card.model_type == "musicnn_head" and loaded_card.labels == LABELS
    assert loaded_card.sample_rate == 16000 and loaded_card.window_s == WINDOW_S
    assert loaded_card.tags == MSD_TAGS
    assert loaded_card.provenance["backbones"]["MTT_vgg"]["license"] == "ISC"
    assert loaded.config == config
    loaded_probs, loaded_tags = loaded.predict_all_windows(windows)
    np.testing.assert_array_equal(loaded_probs, probs)
    for name in ("MSD_musicnn", "MTT_vgg"):
        np.testing.assert_array_equal(loaded_tags[name], tags[name])
    assert loaded.tag_names == {"MSD_musicnn": MSD_TAGS, "MTT_vgg": MTT_TAGS}
    _, tensors = load_bundle(tmp_path)
    assert float(tensors["head.temperature"]) == pytest.approx(1.7)
    assert "backbone.MSD_musicnn.timbral.0.conv.weight" in tensors
    onnx_model = load_onnx_bundle(tmp_path, loaded_card)  # the graph save_bundle wrote, run without torch
    onnx_probs, onnx_tags = onnx_model.predict_all_windows(windows)
    np.testing.assert_allclose(onnx_probs, probs, atol=1e-4)
    for name in ("MSD_musicnn", "MTT_vgg"):
        np.testing.assert_allclose(onnx_tags[name], tags[name], atol=1e-4)
    assert onnx_model.tag_names == loaded.tag_names


def test_tag_backbones_add_tags_but_not_head_inputs(tmp_path: Path, backbones: dict, windows: np.ndarray) -> None:
    alone = _random_model(backbones, MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",)))
    config = MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",), tag_backbones=("MTT_vgg",))
    model = _random_model(backbones, config)
    assert model.n_inputs == alone.n_inputs == 200
    probs, tags = model.predict_all_windows(windows)
    np.testing.assert_allclose(probs, alone.predict_proba_windows(windows), atol=1e-6)  # same seed, same head
    assert sorted(tags) == ["MSD_musicnn", "MTT_vgg"] and tags["MTT_vgg"].shape == (3, 50)
    save_bundle(tmp_path, musicnn_head_card(model, name="tagged"), model.bundle_tensors(), artifacts=False)
    card, loaded = load_model(tmp_path)
    assert loaded.config == config and "MTT_vgg" in card.provenance["backbones"]
    assert loaded.tag_names == {"MSD_musicnn": MSD_TAGS, "MTT_vgg": MTT_TAGS}
    loaded_probs, loaded_tags = loaded.predict_all_windows(windows)
    np.testing.assert_array_equal(loaded_probs, probs)
    np.testing.assert_array_equal(loaded_tags["MTT_vgg"], tags["MTT_vgg"])
    with pytest.raises(InvalidParameterError, match="tag_backbones"):
        MusicnnHeadConfig(backbones=("MSD_musicnn",), tag_backbones=("MSD_musicnn",))
    with pytest.raises(InvalidParameterError, match="unknown backbone"):
        MusicnnHeadConfig(tag_backbones=("MTT_big",))


def test_probabilities_follow_the_head(backbones: dict, windows: np.ndarray) -> None:
    """predict_proba = softmax(head((embedding - mean) / scale) / temperature) on the extracted embeddings."""
    config = MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate", "max_pool"))
    model = _random_model(backbones, config, seed=1)
    emb = extract_embeddings(windows, ("MSD_musicnn",), ("penultimate", "max_pool"), models=backbones, batch_size=2)
    assert emb.shape == (3, 200 + 753)
    x = (torch.from_numpy(emb) - model.head.mean) / model.head.scale
    expected = torch.softmax(model.head.net(x) / 1.7, dim=1).detach().numpy()
    np.testing.assert_allclose(model.predict_proba_windows(windows), expected, atol=1e-5)


def test_tags_are_the_backbone_taggram(backbones: dict, windows: np.ndarray) -> None:
    model = _random_model(backbones, MusicnnHeadConfig())
    patches = model.embedder.patches(torch.from_numpy(windows))
    assert patches.shape == (3, 187, 96)
    with torch.inference_mode():
        expected = torch.sigmoid(backbones["MSD_musicnn"](patches)).numpy()
    np.testing.assert_allclose(model.predict_tags_windows(windows)["MSD_musicnn"], expected, atol=1e-6)


def test_extract_embeddings_is_batch_independent(backbones: dict, windows: np.ndarray) -> None:
    whole = extract_embeddings(windows, ("MTT_vgg",), ("pool5", "taggram"), models=backbones, batch_size=3)
    single = extract_embeddings(windows, ("MTT_vgg",), ("pool5", "taggram"), models=backbones, batch_size=1)
    np.testing.assert_allclose(whole, single, atol=1e-5)
    assert embedding_dims(("MTT_vgg",), ("pool5", "taggram")) == [("MTT_vgg/pool5", 256), ("MTT_vgg/taggram", 50)]
    longer = np.pad(windows, ((0, 0), (0, 500)))
    np.testing.assert_array_equal(
        extract_embeddings(longer, ("MTT_vgg",), ("pool5",), models=backbones),
        extract_embeddings(windows, ("MTT_vgg",), ("pool5",), models=backbones),
    )  # only the first 187 frames count; frame 186 ends at sample 47872


def test_train_mode_keeps_backbones_frozen(backbones: dict) -> None:
    model = _random_model(backbones, MusicnnHeadConfig())
    model.train()
    assert model.head.training
    assert not any(m.training for m in model.backbones.values())
    assert all(not p.requires_grad for m in model.backbones.values() for p in m.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_bad_windows(backbones: dict) -> None:
    model = _random_model(backbones, MusicnnHeadConfig())
    with pytest.raises(InvalidParameterError, match="47616"):
        model.predict_proba_windows(np.zeros((1, 16000), np.float32))
    with pytest.raises(InvalidParameterError, match="shape"):
        model.predict_proba_windows(np.zeros(WINDOW_LENGTH, np.float32))
    with pytest.raises(InvalidParameterError, match="NaN"):
        model.predict_proba_windows(np.full((1, WINDOW_LENGTH), np.nan, np.float32))
    assert model.predict_proba_windows(np.zeros((0, WINDOW_LENGTH), np.float32)).shape == (0, 3)


def test_config_validation_and_round_trip() -> None:
    config = MusicnnHeadConfig(backbones=("MSD_musicnn", "MTT_musicnn"), hidden_units=(64, 32), dropout=0.2)
    assert MusicnnHeadConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(InvalidParameterError, match="unknown"):
        MusicnnHeadConfig.from_dict({"backbone": ["MSD_musicnn"]})
    with pytest.raises(InvalidParameterError, match="penultimate"):
        MusicnnHeadConfig(backbones=("MSD_vgg",), embeddings=("penultimate",))
    with pytest.raises(InvalidParameterError, match="unknown backbone"):
        MusicnnHeadConfig(backbones=("MSD_big",))
    with pytest.raises(InvalidParameterError, match="dropout"):
        MusicnnHeadConfig(dropout=1.0)
    with pytest.raises(InvalidParameterError, match="temperature"):
        MusicnnHead(10, 3).set_temperature(0.0)


def test_loader_rejects_mismatched_bundles(tmp_path: Path, backbones: dict) -> None:
    config = MusicnnHeadConfig(backbones=("MTT_vgg",), embeddings=("taggram",))
    model = _random_model(backbones, config)
    card = musicnn_head_card(model, name="t")
    tensors = build_musicnn_head_bundle_tensors(model.backbones, model.head)

    save_bundle(tmp_path / "rate", card.__class__(**{**card.to_dict(), "sample_rate": 22050}), tensors, artifacts=False)
    with pytest.raises(BundleError, match="16000"):
        load_model(tmp_path / "rate")
    save_bundle(tmp_path / "head", card, {k: v for k, v in tensors.items() if k != "head.mean"}, artifacts=False)
    with pytest.raises(BundleError, match="head tensors"):
        load_model(tmp_path / "head")
    save_bundle(tmp_path / "backbone", card, {k: v for k, v in tensors.items() if "vgg.0.conv" not in k}, artifacts=False)
    with pytest.raises(BundleError, match="missing"):
        load_model(tmp_path / "backbone")
    save_bundle(tmp_path / "extra", card, {**tensors, "other.x": torch.zeros(1)}, artifacts=False)
    with pytest.raises(BundleError, match="unexpected"):
        load_model(tmp_path / "extra")


def _with_ood(model: MusicnnHeadClassifier, seed: int = 1) -> MusicnnHeadClassifier:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.head.ood_weight.copy_(torch.randn(model.n_inputs, generator=generator) * 0.1)
        model.head.ood_energy.fill_(-0.7)
        model.head.ood_bias.fill_(0.3)
    return model


def test_ood_logits_follow_their_formula_and_survive_the_bundle(tmp_path: Path, backbones: dict, windows: np.ndarray) -> None:
    config = MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",), hidden_units=(8,), ood=True)
    model = _with_ood(_random_model(backbones, config))
    probs, tags, ood = model.predict_outputs_windows(windows)
    assert ood is not None and ood.shape == (3,)
    features = torch.from_numpy(extract_embeddings(windows, ("MSD_musicnn",), ("penultimate",), models=backbones))
    head = model.head
    z = (features - head.mean) / head.scale
    energy = torch.logsumexp(head.net(z) / head.temperature, dim=-1)
    expected = (z @ head.ood_weight + head.ood_energy * energy + head.ood_bias).detach().numpy()
    np.testing.assert_allclose(ood, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(probs, model.predict_proba_windows(windows))

    save_bundle(tmp_path, musicnn_head_card(model, name="with-ood"), model.bundle_tensors())
    card, loaded = load_model(tmp_path)
    assert card.config["head"]["ood"] is True and loaded.config.ood
    np.testing.assert_array_equal(loaded.predict_outputs_windows(windows)[2], ood)


def test_heads_without_ood_give_none_and_refuse_ood_logits(backbones: dict, windows: np.ndarray) -> None:
    model = _random_model(backbones, MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",)))
    assert model.predict_outputs_windows(windows)[2] is None
    assert "head.ood_weight" not in model.bundle_tensors()
    with pytest.raises(InvalidParameterError, match="out-of-taxonomy"):
        model.head.ood_logits(torch.zeros(1, 200))
    with pytest.raises(InvalidParameterError, match="ood"):
        MusicnnHeadClassifier(LABELS, MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",), ood=True),
                              {"MSD_musicnn": backbones["MSD_musicnn"]}, MusicnnHead(200, 3))
