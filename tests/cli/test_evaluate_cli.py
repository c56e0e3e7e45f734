"""``genrekit evaluate`` end to end on a tiny synthetic dataset with a tiny registered model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from genrekit.bundle import ModelCard, save_bundle
from genrekit.cli.main import main
from genrekit.models.loaders import register_model_type

SR = 8000  # Hz
ZCR_MODEL_TYPE = "test_zero_crossing"


class ZeroCrossingModel:
    """'high' when the zero-crossing rate is above a threshold, else 'low'."""

    labels = ["high", "low"]
    sample_rate = SR
    window_s = 0.5

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        signs = np.signbit(windows)
        zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
        p_high = 1.0 / (1.0 + np.exp(-40.0 * (zcr - self.threshold)))
        return np.stack([p_high, 1.0 - p_high], axis=1).astype(np.float32)


@register_model_type(ZCR_MODEL_TYPE)
def _load_zcr(card: ModelCard, tensors: dict[str, torch.Tensor]) -> ZeroCrossingModel:
    return ZeroCrossingModel(float(tensors["threshold"][0]))


def _tone(path: Path, freq_hz: float, seed: int) -> None:
    t = np.arange(int(1.2 * SR)) / SR
    rng = np.random.default_rng(seed)
    y = 0.4 * np.sin(2 * np.pi * freq_hz * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t)) + 0.001 * rng.normal(size=t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR)


@pytest.fixture()
def tiny(tmp_path):
    data = tmp_path / "data"
    for i in range(3):
        _tone(data / "low" / f"low_{i}.wav", 150 + 20 * i, i)
    for i in range(2):
        _tone(data / "high" / f"high_{i}.wav", 1800 + 100 * i, 10 + i)
    _tone(data / "high" / "high_mislabelled.wav", 200, 20)  # sounds low: one error
    _tone(data / "polka" / "polka_0.wav", 1000, 30)  # label unknown to the model
    (data / "low" / "broken.wav").write_bytes(b"this is not audio at all\n" * 20)
    card = ModelCard(
        name="tiny-zcr",
        version="0.1",
        model_type=ZCR_MODEL_TYPE,
        labels=["high", "low"],
        sample_rate=SR,
        window_s=0.5,
        training={"track_ids": {"train": ["low/low_0"]}},
    )
    bundle = save_bundle(tmp_path / "bundle", card, {"threshold": torch.tensor([0.2])})
    return data, bundle, tmp_path / "report"


@pytest.mark.slow
def test_evaluate_writes_report_and_reports_exclusions_and_failures(tiny, capsys):
    data, bundle, out = tiny
    code = main(["evaluate", str(bundle), "--data", str(data), "--out", str(out), "--n-bootstrap", "200"])
    captured = capsys.readouterr()
    assert code == 1  # one file failed to decode
    assert "broken.wav" in captured.err and "skipped" in captured.err
    assert "'polka' is unknown to the model" in captured.err
    assert "used to fit or tune" in captured.err  # low/low_0 is listed as a training track
    assert "| Accuracy | 0.833 [" in captured.out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_tracks"] == 6
    assert metrics["accuracy"]["value"] == pytest.approx(5 / 6)
    assert metrics["confusion"] == [[2, 1], [0, 3]]
    assert metrics["info"]["split"] == "all"
    assert metrics["info"]["excluded (label unknown to the model)"] == ["polka: 1"]
    assert [f["path"].endswith("broken.wav") for f in metrics["info"]["failures"]] == [True]
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == 6
    wrong = [r for r in rows if r["correct"] == "0"]
    assert len(wrong) == 1 and wrong[0]["path"].endswith("high_mislabelled.wav") and wrong[0]["predicted"] == "low"
    for name in ("confusion_matrix.png", "reliability.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    assert "## Per class" in (out / "summary.md").read_text()


def test_evaluate_genres_filter_and_quiet(tiny, capsys):
    data, bundle, out = tiny
    (data / "low" / "broken.wav").unlink()
    code = main(
        ["evaluate", str(bundle), "--data", str(data), "--out", str(out), "--genres", "low", "--quiet", "--n-bootstrap", "50"]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.splitlines()[0].startswith("accuracy: 1.000")
    assert json.loads((out / "metrics.json").read_text())["n_tracks"] == 3


def test_evaluate_rejects_unknown_genre_and_missing_split(tiny, capsys):
    data, bundle, out = tiny
    assert main(["evaluate", str(bundle), "--data", str(data), "--genres", "jazz", "--out", str(out)]) == 1
    assert "--genres names labels the model lacks: jazz" in capsys.readouterr().err
    assert main(["evaluate", str(bundle), "--data", str(data), "--split", "test", "--out", str(out)]) == 1
    assert "no 'test' tracks" in capsys.readouterr().err
    assert not (out / "metrics.json").exists()


def test_evaluate_without_data_is_a_usage_error():
    with pytest.raises(SystemExit) as excinfo:
        main(["evaluate"])
    assert excinfo.value.code == 2
