"""``GET /classifications/{id}/explanation``: computed on demand from kept audio, cached, never on the classify path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from genrekit.service import create_app
from tests.service.conftest import FAKE_LABELS, FAKE_SR, FakeClassifier, assert_problem, make_settings, make_wav, upload


@pytest.fixture(scope="module")
def small_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained log-mel CNN bundle with the fake model's labels (the torch model the route explains with)."""
    import torch

    from genrekit.bundle import ModelCard, save_bundle
    from genrekit.models.cnn import Cnn2dConfig, build_cnn2d
    from genrekit.models.neural import net_bundle_parts

    torch.manual_seed(0)
    arch = Cnn2dConfig(n_channels=(4,), dropout=0.0)
    net, params = build_cnn2d(
        arch, frontend="logmel", feature_params={"n_fft": 512, "hop_length": 256, "n_mels": 16},
        n_labels=len(FAKE_LABELS), sample_rate=FAKE_SR,
    )  # fmt: skip
    card = ModelCard(
        name="fake-genres", version="1.0", model_type="cnn2d_logmel", labels=list(FAKE_LABELS), sample_rate=FAKE_SR,
        window_s=1.0, features={"kind": "logmel", **params}, config={"architecture": arch.to_dict()},
    )  # fmt: skip
    return save_bundle(tmp_path_factory.mktemp("cnn") / "bundle", card, net_bundle_parts(net.eval()))


def test_unknown_classification_is_404(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, keep_audio=True), classifier=FakeClassifier())) as client:
        assert_problem(client.get("/api/v1/classifications/nope/explanation"), 404, "not-found")


def test_a_server_without_kept_audio_says_why_it_cannot_explain(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, deployment="deployed"), classifier=FakeClassifier())) as client:
        created = upload(client, make_wav(1.0)).json()
        body = assert_problem(client.get(f"/api/v1/classifications/{created['id']}/explanation"), 409, "explanation-unavailable")
        assert "keep_audio" in body["detail"] and "genrekit explain" in body["detail"]


def test_a_result_of_another_model_is_not_explained_with_this_one(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, keep_audio=True)
    with TestClient(create_app(settings, classifier=FakeClassifier(version="1.0"))) as client:
        created = upload(client, make_wav(1.0)).json()
    with TestClient(create_app(settings, classifier=FakeClassifier(version="2.0"))) as client:
        body = assert_problem(client.get(f"/api/v1/classifications/{created['id']}/explanation"), 409)
        assert "2.0" in body["detail"]


def test_explanation_is_computed_once_then_cached(tmp_path: Path, small_cnn: Path) -> None:
    settings = make_settings(tmp_path, keep_audio=True, model=small_cnn)
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        created = upload(client, make_wav(2.5, sr=FAKE_SR)).json()
        url = f"/api/v1/classifications/{created['id']}/explanation"
        first = client.get(url)
        assert first.status_code == 200, first.text
        data = first.json()
        assert data["cached"] is False and data["classification_id"] == created["id"]
        assert data["labels"] == FAKE_LABELS and data["predicted"] in FAKE_LABELS
        assert len(data["windows"]) == 3 and data["saliency"]["n_bins"] == 16
        assert {"deletion_drop", "random_drop"} <= set(data["faithfulness"])
        second = client.get(url).json()
        assert second["cached"] is True and second["windows"] == data["windows"]


def test_the_route_module_does_not_load_torch() -> None:
    code = (
        "import sys; import genrekit.service.routes.explanations, genrekit.service.api; "
        "assert 'torch' not in sys.modules and 'genrekit.explain' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_the_served_onnx_model_is_explained_on_its_own_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped model runs on ONNX Runtime; "Why?" uses that graph, never loading a PyTorch model."""
    from genrekit.predict import Classifier
    from genrekit.service.answers import explanations

    def no_torch_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the explanation loaded a PyTorch model")

    monkeypatch.setattr("genrekit.models.loaders.load_model", no_torch_model, raising=False)
    monkeypatch.setenv(explanations.MAX_WINDOWS_ENV, "1")
    classifier = Classifier.load()
    settings = make_settings(tmp_path, keep_audio=True)
    with TestClient(create_app(settings, classifier=classifier)) as client:
        created = upload(client, make_wav(3.5, sr=16000, freq_hz=220.0)).json()
        response = client.get(f"/api/v1/classifications/{created['id']}/explanation")
        assert response.status_code == 200, response.text
        data = response.json()
    assert data["model"]["model_type"] == "musicnn_head" and len(data["windows"]) == 1
    assert data["saliency"]["spectrogram"] == "musicnn log-mel" and list(data["saliency"]["methods"]) == ["occlusion"]
    assert data["faithfulness"]["method"] == "occlusion" and data["predicted"] in data["labels"]
