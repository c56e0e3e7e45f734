"""The default-model recipe (``genrekit train --config configs/default.toml``), run end to end on a
tiny synthetic corpus with ``configs/ci_tiny_default.toml``: grouped folds, card figures,
out-of-taxonomy score, determinism. The full rebuild is documented in docs/results.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.cli.main import main
from genrekit.errors import InvalidParameterError
from genrekit.training.corpus import GTZAN_VALID, SMALL_SOURCES, list_corpus, product_cover
from genrekit.training.recipe_config import RecipeConfig
from tests.predict.test_classifier import music_like

REPO = Path(__file__).resolve().parents[2]
SR = 16000


def _tone_clip(path: Path, pitch_hz: float, seed: int) -> None:
    """3.2 s: a genre-like pitch centre over the shared music-like texture."""
    t = np.arange(int(3.2 * SR)) / SR
    y = 0.5 * music_like(3.2, sr=SR, seed=seed) + 0.2 * np.sin(2 * np.pi * pitch_hz * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR)


def _manifest(root: Path, rows: list[tuple[str, str, str, str]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "genre", "source_repo", "original_label"])
        for row in rows:
            writer.writerow(row)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-data")
    pitch = {"blues": 220.0, "classical": 660.0}
    seed = 0
    for split, n in (("train", 2), ("valid", 1)):
        for genre, hz in pitch.items():
            for i in range(n):
                seed += 1
                _tone_clip(root / "gtzan-dev" / split / genre / f"{genre}.{split}{i}.wav", hz, seed)
    extra = []
    for source in ("first/source", "second/source"):
        for genre, hz in pitch.items():
            seed += 1
            name = f"{genre}/{source.split('/')[0]}_{genre}.wav"
            _tone_clip(root / "extra-pool" / name, hz, seed)
            extra.append((name, genre, source, f"artist=someone {seed % 2}"))
    _manifest(root / "extra-pool", extra)
    outside = []
    for i in range(4):
        seed += 1
        name = f"electronic/e{i}.wav"
        _tone_clip(root / "out-of-taxonomy" / name, 1500.0, seed)
        outside.append((name, "electronic", "first/source", f"artist=dj {i % 2}"))
    _manifest(root / "out-of-taxonomy", outside)
    return root


def test_corpus_lists_sources_groups_and_pools_small_sources(tiny_data: Path) -> None:
    clips = list_corpus(tiny_data, min_source_clips=2)
    assert len(clips) == 6 + 4 + 4
    assert {c.source for c in clips if c.in_taxonomy} == {"gtzan", "first/source", "second/source"}
    assert {c.group for c in clips if not c.in_taxonomy} == {"first/source:dj 0", "first/source:dj 1"}
    pooled = list_corpus(tiny_data, min_source_clips=3)
    assert {c.source for c in pooled if c.in_taxonomy} == {"gtzan", SMALL_SOURCES}
    assert [c.split for c in clips[:6]].count("valid") == 2


def test_product_cover() -> None:
    from genrekit.training.corpus import feature_columns

    cols = feature_columns(("MSD_musicnn",), ("penultimate", "taggram"))
    assert product_cover(cols) == (("MSD_musicnn",), ("penultimate", "taggram"))


@pytest.mark.parametrize("name", ["default.toml", "augment_search.toml"])
def test_committed_recipes_parse(name: str) -> None:
    import tomllib

    config = RecipeConfig.from_dict(tomllib.loads((REPO / "configs" / name).read_text()))
    assert config.candidates and config.seed == 0


def test_augment_must_name_a_degradation() -> None:
    base = {"kind": "default_model", "candidates": [{"name": "a", "features": "MSD:pen", "augment": "vinyl"}]}
    with pytest.raises(InvalidParameterError, match="augment must be one of"):
        RecipeConfig.from_dict(base)
    base["candidates"][0].update(augment="mp3", augment_copies=0)
    with pytest.raises(InvalidParameterError, match="augment_copies"):
        RecipeConfig.from_dict(base)


def test_recipe_config_rejects_unknown_keys_and_bad_ensembles() -> None:
    good = {"kind": "default_model", "candidates": [{"name": "a", "features": "MSD:pen"}]}
    assert RecipeConfig.from_dict(good).candidates[0].head == "logreg"
    with pytest.raises(InvalidParameterError, match="unknown"):
        RecipeConfig.from_dict({**good, "epochs": 3})
    with pytest.raises(InvalidParameterError, match="listed before"):
        RecipeConfig.from_dict({**good, "candidates": [{"name": "e", "members": ["a"]}, {"name": "a"}]})
    with pytest.raises(InvalidParameterError, match="features"):
        RecipeConfig.from_dict({**good, "candidates": [{"name": "a", "features": "MSD:everything"}]})


@pytest.mark.slow
def test_tiny_recipe_builds_a_bundle_with_grouped_cv_figures_and_an_ood_score(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from genrekit.predict import Classifier

    args = ["train", "--config", str(REPO / "configs" / "ci_tiny_default.toml"), "--data", str(tiny_data),
            "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    first = capsys.readouterr().out.strip().split("\t")
    card = json.loads((tmp_path / "a" / "card.json").read_text())

    held_out = card["metrics"]["held_out"]
    assert set(held_out) == {GTZAN_VALID, "first/source", "second/source"}
    for figures in held_out.values():
        assert figures["n_tracks"] == 2
        low, high = figures["accuracy"]["ci95"]
        assert low <= figures["accuracy"]["value"] <= high
    search = card["training"]["search"]
    assert [row["name"] for row in search] == ["logreg MSD:pen", "torch linear MSD:tags",
                                               "logreg MSD:pen, 2 degraded copies"]
    assert search[2]["recipe"]["augment"] == "mix" and search[2]["recipe"]["augment_copies"] == 2
    # every clip embedded once, and each in-taxonomy clip's 2 degraded copies once, all cached
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 14 + 2 * 10
    ood = card["metrics"]["out_of_taxonomy"]
    assert set(ood["methods"]) == {"max_prob", "energy", "detector+energy"}
    assert ood["chosen"] in ("energy", "detector+energy")
    thresholds = card["config"]["uncertainty"]
    assert card["config"]["head"]["ood"] is True
    # a threshold ships only where, on unseen sources, it catches more outside music than it
    # calls in-taxonomy music unknown; then it is the one the held-out figures describe
    if ood["thresholded"]:
        assert thresholds["ood_threshold"] == ood["threshold"]
    else:
        assert "ood_threshold" not in thresholds
    levels = card["metrics"]["uncertainty_levels_held_out"]
    assert {"confident", "mixed", "unknown", "per_source", "protocol"} <= set(levels)
    assert set(thresholds["levels"]) <= {"confident", "mixed", "unknown"}
    for entry in thresholds["levels"].values():
        assert entry["low"] <= entry["rate"] <= entry["high"] and entry["statement"]
    assert card["config"]["max_windows"] == 4

    clf = Classifier.load(tmp_path / "a")
    pred = clf.predict(next((tiny_data / "out-of-taxonomy" / "electronic").glob("*.wav")), top_k=0)
    assert pred.uncertainty.ood_score is not None and 0.0 <= pred.uncertainty.ood_score <= 1.0

    # same seed, same data: the same card (its hash leaves out the creation time)
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    second = capsys.readouterr().out.strip().split("\t")
    assert first[-1].startswith("card_sha256=") and first[-1] == second[-1]
