"""The production path: the app loads a real bundle with ``Classifier.load`` at startup, and
the API answers exactly what the Python API (and so the CLI) answers for the same file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

from genrekit.bundle import ModelCard, default_bundle_path, save_bundle
from genrekit.models.loaders import register_model_type
from genrekit.predict import Classifier
from genrekit.service import create_app
from tests.service.conftest import make_settings

SR = 8000  # Hz
LABELS = ["low", "mid", "high"]


class CentroidModel:
    """Softmax over (low, mid, high) from the window's zero-crossing rate: deterministic and cheap."""

    labels = LABELS
    sample_rate = SR
    window_s = 1.0

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        zcr = np.mean(np.abs(np.diff(np.signbit(windows), axis=1)), axis=1)
        logits = self.scale * np.stack([0.05 - zcr, -np.abs(zcr - 0.2), zcr - 0.4], axis=1)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@register_model_type("service_test_centroid")
def _load(card: ModelCard, tensors: dict[str, torch.Tensor]) -> CentroidModel:
    return CentroidModel(float(tensors["scale"]))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    card = ModelCard(
        name="centroid-test",
        version="0.1",
        model_type="service_test_centroid",
        labels=LABELS,
        sample_rate=SR,
        window_s=1.0,
        limitations=["knows only pitch height"],
    )
    return save_bundle(tmp_path_factory.mktemp("bundle") / "centroid", card, {"scale": torch.tensor(20.0)})


def _tones(duration_s: float, freqs_hz: list[float]) -> bytes:
    t = np.arange(int(duration_s * SR)) / SR
    parts = np.array_split(t, len(freqs_hz))
    y = np.concatenate([0.4 * np.sin(2 * np.pi * f * p) for f, p in zip(freqs_hz, parts, strict=True)])
    y += 0.02 * np.random.default_rng(0).standard_normal(y.size)
    buffer = io.BytesIO()
    sf.write(buffer, y.astype(np.float32), SR, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_app_loads_the_bundle_and_matches_the_python_api(tmp_path: Path, bundle: Path) -> None:
    data = _tones(4.0, [100.0, 100.0, 1500.0, 3000.0])
    song = tmp_path / "song.wav"
    song.write_bytes(data)
    expected = Classifier.load(bundle).predict(str(song), name="song.wav").to_dict()
    with TestClient(create_app(make_settings(tmp_path, model=bundle))) as client:
        assert client.get("/readyz").status_code == 200
        model = client.get("/api/v1/models").json()["data"][0]
        assert model["name"] == "centroid-test" and model["labels"] == LABELS
        assert model["limitations"] == ["knows only pitch height"]
        response = client.post("/api/v1/classify", files={"file": ("song.wav", data, "audio/wav")})
        assert response.status_code == 200, response.text
        body = response.json()
    assert body["name"] == expected["name"] and body["model"] == expected["model"]
    assert [g["genre"] for g in body["genres"]] == [g["genre"] for g in expected["genres"]]
    np.testing.assert_allclose(
        [g["score"] for g in body["genres"]], [g["score"] for g in expected["genres"]], atol=1e-6
    )
    assert [(s["start_s"], s["end_s"], s["genre"]) for s in body["segments"]] == [
        (s["start_s"], s["end_s"], s["genre"]) for s in expected["segments"]
    ]
    assert [s["genre"] for s in body["segments"]][0] == "low" and body["segments"][-1]["genre"] == "high"
    assert body["warnings"] == expected["warnings"]


@pytest.mark.slow
def test_default_bundle_on_a_real_clip(tmp_path: Path, shared_data: Path) -> None:
    if not (default_bundle_path() / "card.json").is_file():
        pytest.skip(f"no default bundle at {default_bundle_path()} yet")
    clip = next(iter(sorted((shared_data / "gtzan-dev" / "valid").glob("*/*.flac"))))
    with TestClient(create_app(make_settings(tmp_path))) as client:
        assert client.get("/readyz").status_code == 200
        labels = client.get("/api/v1/models").json()["data"][0]["labels"]
        response = client.post("/api/v1/classify", files={"file": (clip.name, clip.read_bytes(), "audio/flac")})
        assert response.status_code == 200, response.text
        body = response.json()
    assert sorted(g["genre"] for g in body["genres"]) == sorted(labels)
    assert abs(sum(g["score"] for g in body["genres"]) - 1.0) < 1e-3
    assert body["segments"] and body["duration_s"] > 1.0


def test_silent_and_short_inputs_are_answered_as_in_python(tmp_path: Path, bundle: Path) -> None:
    """Silence and too-short audio get the same answer in the API as from Classifier.predict:
    a result with warnings (and the uncertainty ``unknown`` for silence), never an error."""
    clf = Classifier.load(bundle)
    inputs = {"silent.wav": np.zeros(3 * SR, np.float32), "short.wav": 0.3 * np.sin(np.arange(SR // 4) * 0.3)}
    with TestClient(create_app(make_settings(tmp_path, model=bundle))) as client:
        for name, y in inputs.items():
            buffer = io.BytesIO()
            sf.write(buffer, y.astype(np.float32), SR, format="WAV", subtype="FLOAT")
            (tmp_path / name).write_bytes(buffer.getvalue())
            expected = clf.predict(str(tmp_path / name), name=name).to_dict()
            response = client.post("/api/v1/classify", files={"file": (name, buffer.getvalue(), "audio/wav")})
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["warnings"] == expected["warnings"] and body["warnings"]
            assert body["uncertainty"]["level"] == expected["uncertainty"]["level"]
            visuals = client.get(f"/api/v1/classifications/{body['id']}/visuals")
            assert visuals.status_code == 200  # computed after the answer, silence included
    assert "unknown" == clf.predict(str(tmp_path / "silent.wav")).uncertainty.level
