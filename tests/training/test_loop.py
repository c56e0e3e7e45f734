"""The torch loop: class balance, metrics, temperature, early stopping, exact resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from genrekit.errors import InvalidParameterError
from genrekit.models.cnn import Cnn2dConfig, build_cnn2d
from genrekit.models.neural import WaveformNet
from genrekit.training.config import AugmentConfig, TrainConfig
from genrekit.training.loop import (
    CHECKPOINT_BEST,
    CHECKPOINT_STATE,
    CHECKPOINT_TENSORS,
    EvalData,
    TrainData,
    class_weights,
    epoch_indices,
    fit_net,
    track_level,
    track_metrics,
)

SR = 8000  # Hz


def test_class_weights_balance_the_classes() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    torch.testing.assert_close(weights, torch.tensor([4 / 6, 2.0, 0.0]))
    counts = np.array([3, 1])
    assert float((weights[:2].numpy() * counts).sum()) == pytest.approx(4.0)


def test_epoch_indices() -> None:
    labels = np.array([0] * 9 + [1])
    rng = np.random.default_rng(0)
    plain = epoch_indices(labels, 2, rng, balanced=False)
    assert sorted(plain.tolist()) == sorted(list(range(10)) * 2)
    balanced = epoch_indices(labels, 200, rng, balanced=True)
    share_minority = np.mean(labels[balanced] == 1)
    assert share_minority == pytest.approx(0.5, abs=0.03)


def test_track_level_and_metrics() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]])
    owner = np.array([0, 0, 1, 2])
    tracks = track_level(probs, owner, 3)
    np.testing.assert_allclose(tracks, [[0.55, 0.45], [0.1, 0.9], [0.6, 0.4]])
    metrics = track_metrics(tracks, np.array([0, 1, 1]))
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["macro_f1"] == pytest.approx(2 / 3)  # F1 0.667 for both classes
    assert metrics["nll"] == pytest.approx(-np.mean(np.log([0.55, 0.9, 0.4])))


def rows_problem() -> tuple[TrainData, EvalData]:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    x = centres[labels] + rng.normal(scale=0.5, size=(60, 2))
    owner = np.repeat(np.arange(30), 2)
    train = TrainData(labels=labels, rows=torch.tensor(x, dtype=torch.float32))
    valid = EvalData(torch.tensor(x[::1], dtype=torch.float32), owner, labels[::2])
    return train, valid


def row_config(**changes) -> TrainConfig:
    base = TrainConfig(
        family="mlp", epochs=20, batch_size=16, learning_rate=0.05, patience=0, sample_rate=SR, window_s=1.0,
        device="cpu", augment=AugmentConfig(gain_db=0.0), calibrate=True,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def linear_net() -> WaveformNet:
    torch.manual_seed(0)
    return WaveformNet(nn.Identity(), nn.Linear(2, 3))


def test_fit_net_learns_rows_and_calibrates() -> None:
    train, valid = rows_problem()
    result = fit_net(linear_net(), train, valid, row_config(), n_labels=3, progress=False)
    assert result.best_metrics["accuracy"] == 1.0
    assert result.epochs_run == 20 and len(result.history) == 20
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert 0.05 <= result.temperature <= 20.0
    assert result.device == "cpu"


def test_early_stopping_stops_after_patience_epochs() -> None:
    train, valid = rows_problem()
    config = row_config(learning_rate=1e-12, patience=2, epochs=50, calibrate=False)
    result = fit_net(linear_net(), train, valid, config, n_labels=3, progress=False)
    assert result.stopped_early
    assert result.epochs_run == 3 and result.best_epoch == 1


def wave_problem() -> tuple[TrainData, EvalData]:
    generator = torch.Generator().manual_seed(1)
    t = torch.arange(2 * SR) / SR
    tracks = [
        torch.sin(2 * torch.pi * (300 + 200 * (i % 2)) * t) * 0.3 + 0.01 * torch.randn(2 * SR, generator=generator)
        for i in range(6)
    ]
    labels = np.array([i % 2 for i in range(6)])
    windows = torch.stack([track[:SR] for track in tracks[:4]])
    return TrainData(labels=labels, tracks=tracks), EvalData(windows, np.arange(4), labels[:4])


def wave_net() -> WaveformNet:
    torch.manual_seed(0)
    net, _ = build_cnn2d(
        Cnn2dConfig(n_channels=(4, 4), dropout=0.5), frontend="logmel",
        feature_params={"n_fft": 256, "hop_length": 128, "n_mels": 16}, n_labels=2, sample_rate=SR,
    )  # fmt: skip
    return net


def wave_config(epochs: int) -> TrainConfig:
    augment = AugmentConfig(
        gain_db=3.0, time_shift_s=0.05, pitch_shift_semitones=1.0, mixup_alpha=0.3, freq_mask_bins=2, time_mask_frames=3
    )
    return TrainConfig(
        family="cnn2d_logmel", epochs=epochs, batch_size=4, crops_per_track=2, sample_rate=SR, window_s=1.0,
        device="cpu", augment=augment, calibrate=False, patience=0, balance="sampler",
    )  # fmt: skip


def test_resume_continues_exactly(tmp_path) -> None:
    train, _ = wave_problem()
    straight = wave_net()
    fit_net(straight, train, None, wave_config(2), n_labels=2, checkpoint_dir=tmp_path / "a", progress=False)

    first = wave_net()
    fit_net(first, train, None, wave_config(1), n_labels=2, checkpoint_dir=tmp_path / "b", progress=False)
    resumed = wave_net()
    result = fit_net(
        resumed, train, None, wave_config(2), n_labels=2, checkpoint_dir=tmp_path / "b", resume=True, progress=False
    )
    assert result.resumed_from_epoch == 1 and len(result.history) == 2
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    assert not torch.equal(next(first.parameters()), next(resumed.parameters()))


def test_checkpoints_are_pickle_free_and_checked(tmp_path) -> None:
    train, valid = wave_problem()
    fit_net(wave_net(), train, valid, wave_config(1), n_labels=2, checkpoint_dir=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CHECKPOINT_STATE, CHECKPOINT_TENSORS, CHECKPOINT_BEST])
    tensors = load_file(str(tmp_path / CHECKPOINT_TENSORS))
    assert any(k.startswith("optim.") for k in tensors) and "rng.torch" in tensors
    changed = dataclasses.replace(wave_config(2), learning_rate=0.5)
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        fit_net(wave_net(), train, valid, changed, n_labels=2, checkpoint_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(InvalidParameterError, match="no checkpoint"):
        fit_net(
            wave_net(),
            train,
            valid,
            wave_config(2),
            n_labels=2,
            checkpoint_dir=tmp_path / "none",
            resume=True,
            progress=False,
        )


def test_data_checks() -> None:
    with pytest.raises(InvalidParameterError):
        TrainData(labels=np.array([0]))
    with pytest.raises(InvalidParameterError):
        TrainData(labels=np.array([0, 1]), rows=torch.zeros(3, 2))
    with pytest.raises(InvalidParameterError):
        EvalData(torch.zeros(2, 3), np.array([0, 5]), np.array([0, 1]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_a_gpu_is_an_error() -> None:
    from genrekit.training.loop import select_device

    assert select_device("auto").type == "cpu"
    with pytest.raises(InvalidParameterError, match="CUDA"):
        select_device("cuda")
