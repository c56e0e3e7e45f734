"""End-to-end training of every family on tiny synthetic data: the bundle loads and predicts.

The folder tree holds 3 labels x 4 clips of 2 s (tones, noise, clicks), so each family
trains for one epoch in seconds. The feature cache is shared by the whole module.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.models.loaders import load_model
from genrekit.training.config import resolve_config
from genrekit.training.data import table_columns
from genrekit.training.trainers import train

SR = 22050  # Hz
CLIP_S = 2.0  # seconds per synthetic clip
LABELS = ["clicks", "noise", "tones"]
NET_SETS = [
    "epochs=1", "batch_size=8", "crops_per_track=2", "window_s=1.0", "max_track_s=2.0", "split.valid_fraction=0.25",
]  # fmt: skip
FAMILY_SETS = {
    "mlp": ["model.hidden_sizes=[8]", "features.mel.n_mels=32"],
    "cnn1d": ["model.n_channels=[4,8]"],
    "cnn2d_mfcc": ["model.n_channels=[4,8]"],
    "cnn2d_logmel": ["model.n_channels=[4,8]", "features.n_mels=32"],
    "crnn": ["model.n_channels=[4,8]", "model.hidden_size=8", "features.n_mels=32"],
    "musicnn_head": ["epochs=2", "split.valid_fraction=0.25", "max_track_s=2.0"],
}


def write_tree(root: Path, n_per_label: int = 4) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(SR * CLIP_S)) / SR
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for i in range(n_per_label):
            if label == "tones":
                y = 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t)
            elif label == "noise":
                y = 0.1 * rng.standard_normal(t.size)
            else:
                y = 0.01 * rng.standard_normal(t.size)
                y[:: SR // (3 + i)] = 0.8
            sf.write(root / label / f"{label}{i}.wav", y.astype(np.float32), SR)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("songs"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def family_config(family: str, *extra: str):
    sets = FAMILY_SETS[family] if family == "musicnn_head" else NET_SETS + FAMILY_SETS[family]
    return resolve_config(family, overrides=[*sets, *extra])


def check_bundle(out: Path, n_labels: int = 3) -> None:
    card, model = load_model(out)
    assert model.labels == card.labels and len(card.labels) == n_labels
    n = int(round(model.window_s * model.sample_rate))
    windows = 0.1 * np.random.default_rng(1).standard_normal((2, n)).astype(np.float32)
    proba = model.predict_proba_windows(windows)
    assert proba.shape == (2, n_labels)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(proba >= 0)


@pytest.mark.parametrize("family", list(FAMILY_SETS))
def test_each_family_trains_and_its_bundle_predicts(family: str, tree: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / family
    result = train(family_config(family), tree, out_dir=out, cache_dir=cache_dir, progress=False)
    check_bundle(out)
    card = result.card
    training = card.training
    assert card.model_type == family and card.labels == LABELS
    assert training["seed"] == 0 and training["config"]["family"] == family
    assert len(training["data"]["fingerprint"]) == 64
    assert sum(training["data"]["label_counts"]["train"].values()) == training["data"]["n_tracks"]["train"] == 9
    assert set(training["library_versions"]) >= {"torch", "numpy", "sklearn", "genrekit"}
    assert training["device"] == "cpu" and training["seconds"] > 0
    assert not set(training["track_ids"]["train"]) & set(training["track_ids"]["valid"])
    assert training["fit"]["epochs_run"] == (2 if family == "musicnn_head" else 1)
    assert card.metrics["valid"]["n_tracks"] == 3 and 0.0 <= card.metrics["valid"]["accuracy"] <= 1.0


@pytest.mark.slow
def test_table_baselines_from_audio(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "songs", n_per_label=2)
    params = {"svm": ["model.n_calibration_folds=1"], "random_forest": ["model.n_estimators=10"]}
    for family in ("knn", "svm", "logreg", "random_forest"):
        config = resolve_config(family, overrides=["split.valid_fraction=0.5", *params.get(family, [])])
        result = train(config, root, out_dir=tmp_path / family, cache_dir=tmp_path / "cache", progress=False)
        assert result.card.features["columns"] == table_columns() and len(table_columns()) == 57
        assert result.card.window_s == 30.0 and result.card.metrics["valid"]["n_tracks"] == 3
    _, model = load_model(tmp_path / "svm")
    proba = model.predict_proba_windows(0.1 * np.random.default_rng(0).standard_normal((1, SR)).astype(np.float32))
    assert proba.shape == (1, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def write_feature_table(path: Path) -> Path:
    from genrekit.datasets import gtzan_filtered_splits

    splits = gtzan_filtered_splits()
    rng = np.random.default_rng(0)
    columns = table_columns()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "length", *columns, "label"])
        for genre_index, genre in enumerate(["blues", "metal", "pop"]):
            for side, n in (("train", 10), ("valid", 4), ("test", 3)):
                for track_id in [t for t in splits[side] if t.startswith(genre)][:n]:
                    values = rng.normal(size=len(columns)) + 2.0 * genre_index
                    writer.writerow([f"{track_id}.wav", 661794, *values, genre])
    return path


@pytest.mark.parametrize("family", ["knn", "svm", "logreg", "random_forest", "mlp"])
def test_feature_table_with_filtered_split(family: str, tmp_path: Path) -> None:
    table = write_feature_table(tmp_path / "features_30_sec.csv")
    sets = {
        "svm": ["model.n_calibration_folds=3"],
        "random_forest": ["model.n_estimators=20"],
        "mlp": ["epochs=20", "learning_rate=0.02"],
    }
    config = resolve_config(family, overrides=["split.scheme=filtered", *sets.get(family, [])])
    result = train(config, table, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    data = result.card.training["data"]
    assert data["layout"] == "feature_table"
    assert data["n_tracks"] == {"train": 30, "valid": 12, "test_not_used": 9}
    assert result.card.training["split"]["scheme"] == "filtered"
    assert all(t.startswith(("blues", "metal", "pop")) for t in result.card.training["track_ids"]["valid"])
    assert result.card.metrics["valid"]["accuracy"] >= 0.75  # chance is 1/3; the classes are 2 std apart in 57 dims
    _, model = load_model(tmp_path / "out")
    assert model.window_s == 30.0 and model.labels == ["blues", "metal", "pop"]
    assert any("feature table" in line for line in result.card.limitations)


def test_feature_table_refuses_audio_families(tmp_path: Path) -> None:
    table = write_feature_table(tmp_path / "features.csv")
    with pytest.raises(InvalidParameterError, match="needs audio"):
        train(
            resolve_config("cnn2d_logmel"),
            table,
            out_dir=tmp_path / "out",
            cache_dir=tmp_path / "cache",
            progress=False,
        )


def test_resume_continues_the_run(tree: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cnn"
    train(family_config("cnn2d_logmel"), tree, out_dir=out, cache_dir=cache_dir, progress=False)
    config = family_config("cnn2d_logmel", "epochs=2")
    result = train(config, tree, out_dir=out, cache_dir=cache_dir, resume=True, progress=False)
    assert result.fit is not None and result.fit.resumed_from_epoch == 1
    assert [h["epoch"] for h in result.card.training["fit"]["history"]] == [1, 2]
    with pytest.raises(InvalidParameterError, match="another config"):
        train(
            family_config("cnn2d_logmel", "epochs=3", "seed=5"),
            tree,
            out_dir=out,
            cache_dir=cache_dir,
            resume=True,
            progress=False,
        )


def test_ensemble_of_trained_bundles(tree: Path, cache_dir: Path, tmp_path: Path) -> None:
    members = []
    for family in ("cnn2d_logmel", "mlp"):
        train(family_config(family), tree, out_dir=tmp_path / family, cache_dir=cache_dir, progress=False)
        members.append(str(tmp_path / family))
    config = resolve_config(
        "ensemble",
        overrides=["split.valid_fraction=0.25", "max_track_s=2.0"],
        options={"model": {"members": members, "weights": [2, 1]}},
    )
    result = train(config, tree, out_dir=tmp_path / "ens", cache_dir=cache_dir, progress=False)
    assert result.card.model_type == "ensemble" and len(result.card.config["members"]) == 2
    assert result.card.config["weights"] == pytest.approx([2 / 3, 1 / 3])
    assert "accuracy" in result.card.metrics["valid"]
    check_bundle(tmp_path / "ens")


def test_genres_kfold_and_unreadable_files(tmp_path: Path, cache_dir: Path) -> None:
    root = write_tree(tmp_path / "songs", n_per_label=3)
    (root / "noise" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    config = family_config("cnn2d_mfcc", "genres=[noise,tones]", "split.scheme=kfold", "split.n_folds=3")
    with pytest.warns(UserWarning, match="could not be read"):
        result = train(config, root, out_dir=tmp_path / "out", cache_dir=cache_dir, progress=False)
    data = result.card.training["data"]
    assert result.card.labels == ["noise", "tones"]
    assert data["n_tracks"]["test_not_used"] >= 2
    assert [f["track_id"] for f in data["left_out"]["unreadable"]] == ["noise/broken"]
    check_bundle(tmp_path / "out", n_labels=2)


def test_bad_requests(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="no track labelled"):
        train(resolve_config("knn", options={"genres": ["polka", "tones"]}), tree, out_dir=tmp_path, progress=False)
    with pytest.raises(InvalidParameterError, match="unknown Cnn2dConfig key"):
        train(
            family_config("cnn2d_logmel", "model.width=3"),
            tree,
            out_dir=tmp_path / "x",
            cache_dir=tmp_path / "c",
            progress=False,
        )
    with pytest.raises(DatasetError):
        train(resolve_config("knn"), tmp_path / "missing", out_dir=tmp_path / "y", progress=False)


def test_card_is_json_with_sorted_keys(tree: Path, cache_dir: Path, tmp_path: Path) -> None:
    train(family_config("cnn1d"), tree, out_dir=tmp_path, cache_dir=cache_dir, progress=False)
    text = (tmp_path / "card.json").read_text()
    card = json.loads(text)
    assert list(card) == sorted(card)
    assert card["training"]["config"]["model"] == {"n_channels": [4, 8]}
    assert card["features"] == {"kind": "waveform"}


def test_real_feature_table_beats_chance(shared_data: Path, tmp_path: Path) -> None:
    table = shared_data / "gtzan-features_30_sec-trainvalid.csv"
    config = resolve_config("logreg", options={"split": {"scheme": "filtered"}})
    result = train(config, table, out_dir=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    counts = result.card.training["data"]["n_tracks"]
    assert counts["train"] == 443 and counts["valid"] == 197
    assert result.card.metrics["valid"]["accuracy"] > 0.25  # 10 genres: chance is about 0.1


@pytest.mark.slow
def test_real_audio_musicnn_head(shared_data: Path, tmp_path: Path) -> None:
    config = resolve_config(
        "musicnn_head", overrides=["epochs=10", "max_track_s=3.0"], options={"genres": ["metal", "pop"]}
    )
    result = train(config, shared_data / "gtzan-dev", out_dir=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    assert result.card.labels == ["metal", "pop"]
    assert result.card.training["data"]["n_tracks"] == {"train": 16, "valid": 7, "test_not_used": 0}
    check_bundle(tmp_path, n_labels=2)
