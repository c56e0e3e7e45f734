"""1D and 2D CNN families: shapes, batch consistency, bundle round trip, config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrekit.bundle import ModelCard, save_bundle
from genrekit.errors import InvalidParameterError
from genrekit.models.loaders import load_model
from genrekit.models.cnn import (
    Cnn1dConfig,
    Cnn2dConfig,
    block_pools,
    build_cnn1d,
    build_cnn2d,
)
from genrekit.models.neural import TorchWaveformClassifier, net_bundle_parts

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SR = 8000  # Hz, small to keep the tests fast
N_SAMPLES = 8000  # one second


def waves(n: int, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(n, N_SAMPLES, generator=torch.Generator().manual_seed(seed))


def tiny_cnn2d(kind: str) -> tuple[torch.nn.Module, dict]:
    params = (
        {"n_fft": 256, "hop_length": 128, "n_mels": 16}
        if kind == "logmel"
        else {"n_mfcc": 8, "mel": {"n_fft": 256, "hop_length": 128, "n_mels": 16}}
    )
    return build_cnn2d(Cnn2dConfig(n_channels=(4, 8)), frontend=kind, feature_params=params, n_labels=3, sample_rate=SR)


def test_cnn1d_shapes_and_batch_consistency() -> None:
    net = build_cnn1d(Cnn1dConfig(n_channels=(4, 8, 8)), n_labels=3).eval()
    x = waves(4)
    with torch.no_grad():
        batch = net(x)
        single = torch.cat([net(x[i : i + 1]) for i in range(4)])
    assert batch.shape == (4, 3)
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_cnn2d_features_and_logits(kind: str) -> None:
    net, params = tiny_cnn2d(kind)
    net.eval()
    x = waves(3)
    features = net.features(x)
    n_bins = 16 if kind == "logmel" else 8
    assert features.shape == (3, n_bins, 1 + N_SAMPLES // 128)
    assert (params["sr"] if kind == "logmel" else params["mel"]["sr"]) == SR
    with torch.no_grad():
        batch = net(x)
        single = torch.cat([net(x[i : i + 1]) for i in range(3)])
    assert batch.shape == (3, 3)
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)


def test_training_step_changes_weights() -> None:
    net, _ = tiny_cnn2d("logmel")
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(net(waves(4)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_block_pools_stop_pooling_small_frequency_axes() -> None:
    assert block_pools(64, 4, 2) == [(2, 2)] * 4
    assert block_pools(8, 4, 2) == [(2, 2), (2, 2), (1, 2), (1, 2)]
    assert block_pools(20, 3, 3) == [(3, 3), (3, 3), (1, 3)]


@pytest.mark.parametrize("family", ["cnn1d", "cnn2d_logmel", "cnn2d_mfcc"])
def test_bundle_round_trip(family: str, tmp_path) -> None:
    if family == "cnn1d":
        config = Cnn1dConfig(n_channels=(4, 8))
        net, features = build_cnn1d(config, n_labels=3), {"kind": "waveform"}
    else:
        kind = "logmel" if family == "cnn2d_logmel" else "mfcc"
        config = Cnn2dConfig(n_channels=(4, 8))
        net, params = tiny_cnn2d(kind)
        features = {"kind": kind, **params}
    net.eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                module.running_mean.normal_()
    card = ModelCard(
        name="t", version="1", model_type=family, labels=["a", "b", "c"], sample_rate=SR, window_s=1.0,
        features=features, config={"architecture": config.to_dict()},
    )  # fmt: skip
    save_bundle(tmp_path, card, net_bundle_parts(net, temperature=2.0))
    _, model = load_model(tmp_path)
    assert isinstance(model, TorchWaveformClassifier)
    assert model.temperature == 2.0
    x = waves(2, seed=1)
    proba = model.predict_proba_windows(x.numpy())
    with torch.no_grad():
        expected = torch.softmax(net(x) / 2.0, dim=-1).numpy()
    assert proba.shape == (2, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba, expected, atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_config_checks() -> None:
    with pytest.raises(InvalidParameterError):
        Cnn2dConfig(n_channels=())
    with pytest.raises(InvalidParameterError):
        Cnn1dConfig(dropout=1.0)
    with pytest.raises(InvalidParameterError, match="unknown Cnn2dConfig key"):
        Cnn2dConfig.from_dict({"channels": [4]})
    assert Cnn2dConfig.from_dict({"n_channels": [4, 8]}).n_channels == (4, 8)
    assert Cnn2dConfig.from_dict(Cnn2dConfig().to_dict()) == Cnn2dConfig()
    with pytest.raises(InvalidParameterError, match="front end"):
        build_cnn2d(Cnn2dConfig(), frontend="waveform", feature_params=None, n_labels=3, sample_rate=SR)
    with pytest.raises(InvalidParameterError, match="sample rate"):
        build_cnn2d(Cnn2dConfig(), frontend="logmel", feature_params={"sr": 16000}, n_labels=3, sample_rate=SR)
