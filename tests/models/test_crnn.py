"""CRNN family: shapes, batch consistency, bundle round trip, config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrekit.bundle import ModelCard, save_bundle
from genrekit.errors import InvalidParameterError
from genrekit.models.crnn import CrnnConfig, build_crnn
from genrekit.models.neural import net_bundle_parts
from genrekit.models.loaders import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SR = 8000  # Hz
PARAMS = {"n_fft": 256, "hop_length": 128, "n_mels": 16}


def test_shapes_batch_consistency_and_round_trip(tmp_path) -> None:
    config = CrnnConfig(n_channels=(4, 8), hidden_size=8)
    net, params = build_crnn(config, frontend="logmel", feature_params=PARAMS, n_labels=4, sample_rate=SR)
    net.eval()
    x = 0.1 * torch.randn(3, SR, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        batch = net(x)
        single = torch.cat([net(x[i : i + 1]) for i in range(3)])
    assert batch.shape == (3, 4)
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)
    card = ModelCard(
        name="t", version="1", model_type="crnn", labels=["a", "b", "c", "d"], sample_rate=SR, window_s=1.0,
        features={"kind": "logmel", **params}, config={"architecture": config.to_dict()},
    )  # fmt: skip
    save_bundle(tmp_path, card, net_bundle_parts(net))
    _, model = load_model(tmp_path)
    proba = model.predict_proba_windows(x.numpy())
    np.testing.assert_allclose(proba, torch.softmax(batch, -1).numpy(), atol=1e-6)


def test_variable_length_input_and_unidirectional() -> None:
    config = CrnnConfig(n_channels=(4,), hidden_size=6, bidirectional=False, n_layers=2)
    net, _ = build_crnn(
        config, frontend="mfcc", feature_params={"n_mfcc": 8, "mel": PARAMS}, n_labels=2, sample_rate=SR
    )
    net.eval()
    with torch.no_grad():
        assert net(torch.zeros(2, SR // 2)).shape == (2, 2)
        assert net(torch.zeros(2, 2 * SR)).shape == (2, 2)


def test_config_checks() -> None:
    with pytest.raises(InvalidParameterError):
        CrnnConfig(hidden_size=0)
    with pytest.raises(InvalidParameterError, match="unknown CrnnConfig key"):
        CrnnConfig.from_dict({"gru_units": 3})
    with pytest.raises(InvalidParameterError, match="expected true or false"):
        CrnnConfig.from_dict({"bidirectional": "yes"})
    with pytest.raises(InvalidParameterError):
        build_crnn(CrnnConfig(), frontend="table", feature_params=None, n_labels=2, sample_rate=SR)
