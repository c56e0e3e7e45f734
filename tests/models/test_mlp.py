"""MLP family: MFCC-statistics and table inputs, standardisation, bundle round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrekit.bundle import ModelCard, save_bundle
from genrekit.errors import InvalidParameterError
from genrekit.models.baselines import TableWaveformClassifier
from genrekit.models.mlp import MlpConfig, Standardize, build_mlp
from genrekit.models.neural import MeanStdPool, TorchWaveformClassifier, net_bundle_parts
from genrekit.models.loaders import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SR = 8000  # Hz
MFCC = {"n_mfcc": 6, "mel": {"n_fft": 256, "hop_length": 128, "n_mels": 16}}


def test_mean_std_pool_exact() -> None:
    x = torch.tensor([[[1.0, 3.0], [2.0, 2.0]]])
    torch.testing.assert_close(MeanStdPool()(x), torch.tensor([[2.0, 2.0, 1.0, 0.0]]), atol=1e-4, rtol=0)


def test_standardize_fit() -> None:
    rows = np.array([[1.0, 5.0, 7.0], [3.0, 5.0, 9.0]])
    layer = Standardize(3).fit(rows)
    out = layer(torch.tensor(rows, dtype=torch.float32))
    torch.testing.assert_close(out, torch.tensor([[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0]]))
    with pytest.raises(InvalidParameterError):
        layer.fit(np.zeros((2, 4)))


def test_mfcc_stats_mlp_round_trip(tmp_path) -> None:
    config = MlpConfig(hidden_sizes=(8,))
    net, params = build_mlp(config, n_labels=3, sample_rate=SR, feature_params=MFCC)
    net.eval()
    x = 0.1 * torch.randn(4, SR, generator=torch.Generator().manual_seed(0))
    assert net.features(x).shape == (4, 12)
    card = ModelCard(
        name="t", version="1", model_type="mlp", labels=["a", "b", "c"], sample_rate=SR, window_s=1.0,
        features={"kind": "mfcc_stats", **params}, config={"architecture": config.to_dict()},
    )  # fmt: skip
    save_bundle(tmp_path, card, net_bundle_parts(net))
    _, model = load_model(tmp_path)
    assert isinstance(model, TorchWaveformClassifier)
    with torch.no_grad():
        expected = torch.softmax(net(x), -1).numpy()
    np.testing.assert_allclose(model.predict_proba_windows(x.numpy()), expected, atol=1e-6)


def test_table_mlp_round_trip(tmp_path) -> None:
    config = MlpConfig(input="table", hidden_sizes=(8, 4))
    net, params = build_mlp(config, n_labels=2, sample_rate=22050, n_table_features=3)
    assert params == {}
    rows = np.array([[1.0, 100.0, -5.0], [2.0, 300.0, -7.0], [0.5, 150.0, -6.0]])
    net.body.input_norm.fit(rows)
    net.eval()
    columns = ["a", "b", "c"]
    card = ModelCard(
        name="t", version="1", model_type="mlp", labels=["x", "y"], sample_rate=22050, window_s=30.0,
        features={"kind": "table", "columns": columns, "sample_rate": 22050}, config={"architecture": config.to_dict()},
    )  # fmt: skip
    save_bundle(tmp_path, card, net_bundle_parts(net, temperature=0.5))
    _, model = load_model(tmp_path)
    assert isinstance(model, TableWaveformClassifier)
    with torch.no_grad():
        expected = torch.softmax(net(torch.tensor(rows, dtype=torch.float32)) / 0.5, -1).numpy()
    np.testing.assert_allclose(model.estimator.predict_proba(rows), expected, atol=1e-6)


def test_config_checks() -> None:
    with pytest.raises(InvalidParameterError):
        MlpConfig.from_dict({"input": "spectrogram"})
    with pytest.raises(InvalidParameterError):
        MlpConfig(hidden_sizes=(0,))
    with pytest.raises(InvalidParameterError, match="n_table_features"):
        build_mlp(MlpConfig(input="table"), n_labels=2, sample_rate=22050)
