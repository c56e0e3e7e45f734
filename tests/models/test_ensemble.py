"""Ensembles: label union, weights, resampling and sub-windows, self-contained bundles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrekit.bundle import ModelCard, load_bundle, save_bundle
from genrekit.errors import InvalidParameterError
from genrekit.models.cnn import Cnn1dConfig, build_cnn1d
from genrekit.models.ensemble import EnsembleClassifier, ensemble_bundle_parts
from genrekit.models.neural import net_bundle_parts
from genrekit.models.loaders import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

class Fixed:
    """A member that returns fixed probabilities and records what it was given."""

    def __init__(self, labels: list[str], proba: list[float], sample_rate: int, window_s: float) -> None:
        self.labels = labels
        self.proba = np.asarray(proba, dtype=np.float32)
        self.sample_rate = sample_rate
        self.window_s = window_s
        self.seen: list[tuple[int, ...]] = []

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        self.seen.append(windows.shape)
        return np.tile(self.proba, (windows.shape[0], 1))


def test_union_of_labels_and_weighted_mean() -> None:
    a = Fixed(["jazz", "rock"], [0.2, 0.8], 8000, 1.0)
    b = Fixed(["blues", "rock"], [0.6, 0.4], 8000, 1.0)
    ensemble = EnsembleClassifier([a, b], weights=[3.0, 1.0])
    assert ensemble.labels == ["blues", "jazz", "rock"]
    proba = ensemble.predict_proba_windows(np.zeros((2, 8000), dtype=np.float32))
    expected = 0.75 * np.array([0.0, 0.2, 0.8]) + 0.25 * np.array([0.6, 0.0, 0.4])
    np.testing.assert_allclose(proba, np.tile(expected, (2, 1)), atol=1e-7)
    assert proba.dtype == np.float32


def test_members_get_their_rate_and_window() -> None:
    long = Fixed(["a", "b"], [0.5, 0.5], 22050, 3.0)
    short = Fixed(["a", "b"], [1.0, 0.0], 16000, 1.0)
    ensemble = EnsembleClassifier([long, short])
    assert ensemble.sample_rate == 22050 and ensemble.window_s == 3.0
    ensemble.predict_proba_windows(np.zeros((2, 3 * 22050), dtype=np.float32))
    assert long.seen == [(2, 3 * 22050)]
    assert short.seen == [(6, 16000)]  # 3 one-second sub-windows per window, at 16 kHz


def test_sub_window_probabilities_are_averaged() -> None:
    class Loudness(Fixed):
        def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
            loud = (np.abs(windows).max(axis=1) > 0.5).astype(np.float32)
            return np.stack([loud, 1 - loud], axis=1)

    member = Loudness(["loud", "quiet"], [0, 0], 8000, 1.0)
    other = Fixed(["loud", "quiet"], [0.5, 0.5], 8000, 4.0)
    window = np.zeros((1, 4 * 8000), dtype=np.float32)
    window[0, :8000] = 0.9  # one loud second out of four
    proba = EnsembleClassifier([member, other], weights=[1.0, 0.0]).predict_proba_windows(window)
    np.testing.assert_allclose(proba, [[0.25, 0.75]], atol=1e-7)


def test_checks() -> None:
    a = Fixed(["x", "y"], [0.5, 0.5], 8000, 1.0)
    with pytest.raises(InvalidParameterError):
        EnsembleClassifier([])
    with pytest.raises(InvalidParameterError):
        EnsembleClassifier([a], weights=[-1.0])
    with pytest.raises(InvalidParameterError):
        EnsembleClassifier([a], labels=["x"])
    with pytest.raises(InvalidParameterError):
        EnsembleClassifier([a]).predict_proba_windows(np.zeros(10))


def member_bundle(path, labels: list[str], sample_rate: int, seed: int):
    torch.manual_seed(seed)
    config = Cnn1dConfig(n_channels=(4, 4))
    net = build_cnn1d(config, n_labels=len(labels)).eval()
    card = ModelCard(
        name=f"m{seed}", version="1", model_type="cnn1d", labels=labels, sample_rate=sample_rate, window_s=1.0,
        features={"kind": "waveform"}, config={"architecture": config.to_dict()},
    )  # fmt: skip
    save_bundle(path, card, net_bundle_parts(net))
    return load_bundle(path)


def test_bundle_is_self_contained(tmp_path) -> None:
    first = member_bundle(tmp_path / "m1", ["jazz", "rock"], 8000, 1)
    second = member_bundle(tmp_path / "m2", ["blues", "jazz", "rock"], 16000, 2)
    config, tensors, model = ensemble_bundle_parts([first, second], weights=[1.0, 2.0])
    card = ModelCard(
        name="ens", version="1", model_type="ensemble", labels=model.labels, sample_rate=model.sample_rate,
        window_s=model.window_s, config=config,
    )  # fmt: skip
    save_bundle(tmp_path / "ens", card, tensors)
    for member in ("m1", "m2"):
        for name in ("card.json", "model.safetensors"):
            (tmp_path / member / name).unlink()
    _, loaded = load_model(tmp_path / "ens")
    assert loaded.labels == ["blues", "jazz", "rock"] and loaded.sample_rate == 16000
    x = 0.1 * np.random.default_rng(0).standard_normal((3, 16000)).astype(np.float32)
    proba = loaded.predict_proba_windows(x)
    np.testing.assert_allclose(proba, model.predict_proba_windows(x), atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(proba[:, 0] <= 2 / 3 + 1e-6)  # only the second member (weight 2/3) knows blues


def test_sub_windows_follow_the_serving_tail_rule() -> None:
    """A window that is not a whole number of member windows ends with an end-aligned sub-window,
    as :func:`genrekit.audio.windows.slice_windows` cuts a song: the tail is heard, never padded."""

    class Loudness(Fixed):
        def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
            self.seen.append(windows.shape)
            loud = (np.abs(windows).max(axis=1) > 0.5).astype(np.float32)
            return np.stack([loud, 1 - loud], axis=1)

    member = Loudness(["loud", "quiet"], [0, 0], 8000, 1.0)
    other = Fixed(["loud", "quiet"], [0.5, 0.5], 8000, 2.3)
    window = np.zeros((1, int(2.3 * 8000)), dtype=np.float32)
    window[0, -100:] = 0.9  # only the last 100 samples are loud
    proba = EnsembleClassifier([member, other], weights=[1.0, 0.0]).predict_proba_windows(window)
    assert member.seen == [(3, 8000)]
    np.testing.assert_allclose(proba, [[1 / 3, 2 / 3]], atol=1e-6)
