"""``genrekit explain`` on a small CNN that learned tones, and on real clips with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from genrekit.cli.main import main
from genrekit.explain.song import ExplainSettings, explain_file

SR = 8000  # Hz
WINDOW_S = 1.0
TONES_HZ = {"low": 300.0, "high": 2500.0, "none": 0.0}  # "none": noise only, so a tone is positive evidence
FAST = ["--max-windows", "2", "--integrated-gradients", "--ig-steps", "4"]


def tone_clip(freq_hz: float, duration_s: float, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    tone = 0.4 * np.sin(2 * np.pi * freq_hz * t) if freq_hz > 0 else 0.0 * t
    return (tone + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def tone_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small 2D log-mel CNN fitted (seconds) to tell a low tone from a high one."""
    from genrekit.bundle import ModelCard, save_bundle
    from genrekit.models.cnn import Cnn2dConfig, build_cnn2d
    from genrekit.models.neural import net_bundle_parts

    torch.manual_seed(0)
    arch = Cnn2dConfig(n_channels=(4, 8), dropout=0.0)
    net, params = build_cnn2d(
        arch, frontend="logmel", feature_params={"n_fft": 256, "hop_length": 128, "n_mels": 32}, n_labels=3, sample_rate=SR
    )
    labels = sorted(TONES_HZ)
    x = torch.from_numpy(np.stack([tone_clip(TONES_HZ[lab], WINDOW_S, seed=i) for i in range(8) for lab in labels]))
    y = torch.tensor([j for _ in range(8) for j in range(len(labels))])
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    card = ModelCard(
        name="tone-cnn",
        version="1",
        model_type="cnn2d_logmel",
        labels=labels,
        sample_rate=SR,
        window_s=WINDOW_S,
        features={"kind": "logmel", **params},
        config={"architecture": arch.to_dict()},
    )
    return save_bundle(tmp_path_factory.mktemp("tone-cnn") / "bundle", card, net_bundle_parts(net))


def write_wav(path: Path, y: np.ndarray, sr: int) -> Path:
    sf.write(path, y, sr, subtype="PCM_16")
    return path


def test_cnn_explanation_json_and_png(tone_cnn: Path, tmp_path: Path) -> None:
    song = write_wav(tmp_path / "high.wav", tone_clip(TONES_HZ["high"], 3.0, seed=99), SR)
    out = tmp_path / "why"
    code = main(["explain", str(song), "--model", str(tone_cnn), "--out", str(out), *FAST])
    data = json.loads((out / "explanation.json").read_text())
    assert data["predicted"] == "high"
    assert (out / "explanation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [w["start_s"] for w in data["windows"]] == [0.25, 1.75]  # two windows, one centred in each half
    assert sum(w["share"] for w in data["windows"]) == pytest.approx(1.0, abs=1e-3)
    saliency = data["saliency"]
    assert saliency["spectrogram"] == "log-mel" and saliency["n_bins"] == 32
    shape = saliency["map_shape"]
    assert np.asarray(saliency["methods"]["occlusion"]).shape == tuple(shape)
    assert np.asarray(saliency["methods"]["integrated_gradients"]).shape == tuple(shape)
    faith = data["faithfulness"]
    assert set(faith) >= {"deletion_drop", "random_drop"}
    assert faith["passed"] and code == 0  # the CNN listens to the tone's band


def test_format_option_is_checked(tone_cnn: Path, tmp_path: Path) -> None:
    song = write_wav(tmp_path / "x.wav", tone_clip(300.0, 1.0, seed=1), SR)
    assert main(["explain", str(song), "--model", str(tone_cnn), "--format", "svg"]) == 1
    assert main(["explain", str(song), "--model", str(tone_cnn), "--format", "json", "--out", str(tmp_path / "j"), *FAST]) == 0
    assert (tmp_path / "j" / "explanation.json").is_file() and not (tmp_path / "j" / "explanation.png").exists()


def real_clips(shared_data: Path) -> list[Path]:
    valid = shared_data / "gtzan-dev" / "valid"
    return [sorted((valid / genre).glob("*.*"))[0] for genre in ("metal", "classical")]


@pytest.mark.slow
@pytest.mark.shared_data
def test_musicnn_head_explanation_is_faithful_on_a_real_classical_clip(shared_data: Path, tmp_path: Path) -> None:
    """The metal clip is explained (and checked) through the CLI below: one explanation each."""
    from genrekit.models.loaders import load_model

    loaded = load_model(None)  # the shipped musicnn head
    settings = ExplainSettings(max_windows=1, ig_steps=4)  # 0.25 s patches: 0.5 s ones fail on classical.00000
    data = explain_file(real_clips(shared_data)[1], settings=settings, loaded=loaded).data
    faith = data["faithfulness"]
    assert faith["deletion_drop"] > faith["random_drop"], faith
    assert data["saliency"]["spectrogram"] == "musicnn log-mel" and data["saliency"]["n_bins"] == 96


@pytest.mark.slow
@pytest.mark.shared_data
def test_explain_cli_on_a_real_clip_with_the_shipped_model(shared_data: Path, tmp_path: Path) -> None:
    clip = real_clips(shared_data)[0]
    out = tmp_path / "why"
    assert main(["explain", str(clip), "--out", str(out), "--max-windows", "1", "--ig-steps", "4"]) == 0
    data = json.loads((out / "explanation.json").read_text())
    assert data["model"]["model_type"] == "musicnn_head"
    assert data["faithfulness"]["deletion_drop"] > data["faithfulness"]["random_drop"]
    assert data["faithfulness"]["passed"]
    assert (out / "explanation.png").stat().st_size > 10_000
