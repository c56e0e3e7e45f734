"""The whole feedback loop on small generated data, with one service that is never restarted:
classify, correct, retrain, promote (the service answers with the new version), a worse
challenger refused, and a rollback.

The model is the workbench's ``logreg`` family on the 57 table features (trained in seconds);
the data are 1-second clips of three synthetic "genres" (tones, noise, pulses).
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

pytest.importorskip("sklearn")

from genrekit.cli.main import main as cli_main  # noqa: E402
from genrekit.lifecycle.versions import ModelRegistry  # noqa: E402
from genrekit.lifecycle.retrain import PromotionRule, retrain  # noqa: E402
from genrekit.service import create_app  # noqa: E402
from genrekit.service.access import keys  # noqa: E402
from tests.service.conftest import make_settings  # noqa: E402

SR = 22050  # Hz
LABELS = ("noise", "pulse", "tone")
TEST_FRACTION = 0.34  # one of the three artist groups of each label is held out
SEED = 0


def clip(label: str, seed: int, duration_s: float = 1.0) -> np.ndarray:
    """One second of a synthetic genre: a steady tone, white noise, or gated high pulses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    if label == "tone":
        y = 0.5 * np.sin(2 * np.pi * rng.uniform(200, 400) * t)
    elif label == "noise":
        y = 0.3 * rng.standard_normal(t.size)
    else:
        y = 0.5 * (np.sin(2 * np.pi * rng.uniform(3, 5) * t) > 0) * np.sin(2 * np.pi * rng.uniform(900, 1200) * t)
    return (y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def wav_bytes(label: str, seed: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, clip(label, seed), SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def base_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """18 clips: 3 labels x 3 artist groups x 2 clips, in a manifest."""
    root = tmp_path_factory.mktemp("base")
    rows = []
    for k, label in enumerate(LABELS):
        for i in range(6):
            path = root / f"{label}{i}.wav"
            sf.write(path, clip(label, 100 * k + i), SR)
            rows.append({"path": path.name, "label": label, "group": f"{label}-artist{i // 2}"})
    return write_manifest(root / "base.csv", rows)


def first_champion(base: Path, out: Path, cache: Path) -> Path:
    """The first model: trained on the training side of the split retrain will hold out."""
    from genrekit.training.config import resolve_config
    from genrekit.training.data import load_training_data
    from genrekit.training.splits import make_splits
    from genrekit.training.trainers import train

    records = load_training_data(base, scheme="random").records
    splits = make_splits(records, "random", seed=SEED, test_fraction=TEST_FRACTION, valid_fraction=0.0)
    assert len(splits["test"]) == 6 and {r.label for r in splits["test"]} == set(LABELS)
    rows = [{"path": str(r.path), "label": r.label, "group": r.group, "split": "train"} for r in splits["train"]]
    manifest = write_manifest(out.parent / "first.csv", rows)
    config = resolve_config("logreg", options={"split": {"scheme": "dataset"}, "device": "cpu", "name": "loop-model"})
    return train(config, manifest, out_dir=out, progress=False, cache_dir=cache).bundle_dir


def wait_for_version(client: TestClient, headers: dict[str, str], version: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/api/v1/models", headers=headers).json()["data"][0]["version"] == version:
            return
        time.sleep(0.1)
    raise AssertionError(f"the service never answered with model version {version}")


def classify(client: TestClient, headers: dict[str, str], label: str, seed: int) -> dict[str, Any]:
    response = client.post(
        "/api/v1/classify", files={"file": (f"{label}-{seed}.wav", wav_bytes(label, seed), "audio/wav")}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def correct(client: TestClient, headers: dict[str, str], classification_id: str, genre: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/classifications/{classification_id}/feedback", json={"genre": genre}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.slow
def test_classify_correct_retrain_promote_refuse_and_roll_back(base_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    registry = ModelRegistry(tmp_path / "registry")
    registry.register(first_champion(base_data, tmp_path / "first", cache), source="test")
    registry.promote("1", reason="first model")
    settings = make_settings(
        tmp_path, require_keys=True, model_registry=registry.root, model_poll_s=0.1, feedback_keep_audio=True, keep_audio=True
    )
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.genrekit.new_session() as session:
            editor = {"Authorization": f"Bearer {keys.create_key(session, role='editor')[1]}"}
            reader = {"Authorization": f"Bearer {keys.create_key(session, role='read')[1]}"}
            admin = {"Authorization": f"Bearer {keys.create_key(session, role='admin')[1]}"}
        wait_for_version(client, editor, "1")

        # classify and correct (a read key may classify but not correct)
        first = classify(client, editor, "pulse", 900)
        assert first["model"]["version"] == "1"
        mine = classify(client, reader, "tone", 901)
        denied = client.post(f"/api/v1/classifications/{mine['id']}/feedback", json={"genre": "tone"}, headers=reader)
        assert denied.status_code == 403
        bad = client.post(f"/api/v1/classifications/{first['id']}/feedback", json={"genre": "jazz"}, headers=editor)
        assert bad.status_code == 422
        for k, label in enumerate(LABELS):
            result = classify(client, editor, label, 910 + k)
            stored = correct(client, editor, result["id"], label)
            assert stored["audio_kept"] is True and stored["model"]["version"] == "1"

        # retrain with the good corrections: promoted, and served without a restart
        good = retrain(
            registry=registry, database_url=settings.resolved_database_url, data=base_data, work_dir=tmp_path / "r1",
            rule=PromotionRule(metric="accuracy"), seed=SEED, test_fraction=TEST_FRACTION, valid_fraction=0.0,
            cache_dir=cache, log=lambda message: None,
        )
        assert good.promoted, good.reason
        assert good.evaluation["corrections"]["used"] == 3 and good.evaluation["held_out"]["n_tracks"] == 6
        wait_for_version(client, editor, good.challenger)
        assert classify(client, editor, "noise", 920)["model"]["version"] == good.challenger
        assert client.get(f"/api/v1/classifications/{first['id']}", headers=editor).json()["model"]["version"] == "1"

        # editors' wrong corrections (noise and tones swapped; class weights are balanced, so a
        # one-sided mistake would be outvoted): the challenger is worse and refused
        for seed in range(930, 938):
            correct(client, editor, classify(client, editor, "noise", seed)["id"], "tone")
            correct(client, editor, classify(client, editor, "tone", seed)["id"], "noise")
        worse = retrain(
            registry=registry, database_url=settings.resolved_database_url, data=base_data, work_dir=tmp_path / "r2",
            rule=PromotionRule(metric="accuracy"), seed=SEED, test_fraction=TEST_FRACTION, valid_fraction=0.0,
            cache_dir=cache, log=lambda message: None,
        )
        assert not worse.promoted, worse.evaluation
        assert worse.evaluation["challenger"]["accuracy"] < worse.evaluation["champion"]["accuracy"]
        assert registry.champion_id() == good.challenger
        assert [e["action"] for e in registry.history()][-2:] == ["register", "refuse"]
        models = client.get("/api/v1/models", headers=editor).json()
        assert models["champion"] == good.challenger and {v["id"] for v in models["versions"]} == {"1", good.challenger, worse.challenger}

        # roll back from the command line: the running service follows
        assert cli_main(["models", "--registry", str(registry.root), "rollback"]) == 0
        wait_for_version(client, editor, "1")
        assert classify(client, editor, "tone", 950)["model"]["version"] == "1"
        # and promote again through the API (admin only): served at once
        assert client.post(f"/api/v1/models/{good.challenger}/promote", headers=editor).status_code == 403
        promoted = client.post(f"/api/v1/models/{good.challenger}/promote", headers=admin)
        assert promoted.status_code == 200, promoted.text
        assert client.get("/api/v1/models", headers=reader).json()["data"][0]["version"] == good.challenger
        assert client.post("/api/v1/models/nope/promote", headers=admin).status_code == 404
