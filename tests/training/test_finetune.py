"""Fine-tuning the musicnn backbone (genrekit.training.finetune, scripts/finetune_backbone.py):
a one-fold, one-epoch smoke run on a tiny synthetic corpus, the folds, the cost projection and
the device check. The real run is documented in docs/results.md."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from genrekit.errors import InvalidParameterError
from genrekit.models.heads import WINDOW_LENGTH
from genrekit.training import finetune
from genrekit.training.corpus import GTZAN_VALID, SMALL_SOURCES, list_corpus
from tests.predict.test_classifier import music_like
from tests.training.test_recipe import _manifest

REPO = Path(__file__).resolve().parents[2]
SR = 16000
PITCH = {"blues": 220.0, "classical": 660.0}


def _clip(path: Path, pitch_hz: float, seed: int) -> None:
    """Exactly one window long (one training and one scoring window)."""
    n = WINDOW_LENGTH
    t = np.arange(n) / SR
    y = 0.5 * music_like(n / SR + 0.01, sr=SR, seed=seed)[:n] + 0.2 * np.sin(2 * np.pi * pitch_hz * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 genres x (2 GTZAN train + 1 GTZAN valid + 1 extra-pool) clips."""
    root = tmp_path_factory.mktemp("finetune-data")
    seed = 0
    for split, n in (("train", 2), ("valid", 1)):
        for genre, hz in PITCH.items():
            for i in range(n):
                seed += 1
                _clip(root / "gtzan-dev" / split / genre / f"{genre}.{split}{i}.wav", hz, seed)
    rows = []
    for genre, hz in PITCH.items():
        seed += 1
        _clip(root / "extra-pool" / genre / f"x_{genre}.wav", hz, seed)
        rows.append((f"{genre}/x_{genre}.wav", genre, "some/source", f"artist=a{seed}"))
    _manifest(root / "extra-pool", rows)
    return root


def test_one_fold_one_epoch_changes_the_backbone_and_not_the_baseline(tiny: Path) -> None:
    config = finetune.FinetuneConfig(epochs=1, batch_size=3, folds=(GTZAN_VALID,), train_windows="inference")
    result = finetune.run_finetune(tiny, config)
    assert [row["fold"] for row in result["folds"]] == [GTZAN_VALID]
    row = result["folds"][0]
    # trained on GTZAN train (4) + the pooled extra-pool source (2), scored on GTZAN valid (2)
    assert (row["n_train_clips"], row["n_train_windows"], row["n_test_tracks"]) == (6, 6, 2)
    for model in ("baseline", "finetuned"):
        assert set(row[model]) == {"accuracy", "macro_recall"}
        assert all(0.0 <= v <= 1.0 for v in row[model].values())
        assert set(result["mean_over_folds"][model]) == {"mean_accuracy", "mean_macro_recall"}
    assert len(row["epoch_loss"]) == 1 and math.isfinite(row["epoch_loss"][0])
    assert row["backbone_max_abs_change"] > 1e-7
    assert row["baseline_backbone_max_abs_change"] == 0.0
    table = finetune.markdown_table(result)
    assert GTZAN_VALID in table and "fine-tuned macro-recall" in table and "mean over folds" in table


def test_folds_follow_the_recipe_and_caps_keep_genres_balanced(tiny: Path) -> None:
    clips = list_corpus(tiny)
    folds, used = finetune.select_folds(clips, finetune.FinetuneConfig())
    assert [name for name, _ in folds] == [GTZAN_VALID, SMALL_SOURCES]
    assert len(used) == 8  # the GTZAN train split trains every fold, no fold holds it out
    capped, used = finetune.select_folds(clips, finetune.FinetuneConfig(max_clips_per_fold=1))
    assert all(len(idx) == 1 for _, idx in capped) and len(used) == 3
    with pytest.raises(InvalidParameterError, match="unknown folds"):
        finetune.select_folds(clips, finetune.FinetuneConfig(folds=("nowhere",)))


def test_bad_options_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="epochs"):
        finetune.FinetuneConfig(epochs=0)
    with pytest.raises(InvalidParameterError, match="init"):
        finetune.FinetuneConfig(init="imagenet")
    with pytest.raises(InvalidParameterError, match="lr_backbone"):
        finetune.FinetuneConfig(lr_backbone=0.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_cuda_without_cuda_fails_clearly(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidParameterError, match="no CUDA device"):
        finetune.run_finetune(tiny, finetune.FinetuneConfig(device="cuda"))
    spec = importlib.util.spec_from_file_location("finetune_backbone", REPO / "scripts" / "finetune_backbone.py")
    script = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(script)  # type: ignore[union-attr]
    assert script.main(["--data", str(tiny), "--device", "cuda", "--quiet"]) == 2
    assert "--device cuda: no CUDA device" in capsys.readouterr().err


def test_step_measure_and_cost_projection() -> None:
    step = finetune.measure_step(1, n_steps=1)
    assert step["seconds_per_step"] > 0 and 6.0 < step["gflop_per_window"] < 11.0  # musicnn: about 8.4
    counts = {"a": {"clips": 2, "regular_windows": 20, "scoring_windows": 8},
              "b": {"clips": 1, "regular_windows": 10, "scoring_windows": 4},
              finetune.TRAIN_ONLY: {"clips": 3, "regular_windows": 30, "scoring_windows": 12}}
    fixed = {"seconds_per_window": 0.5, "gflop_per_window": 6.7}
    cost = finetune.project_cost(counts, fixed, epochs=2, gpu_fraction=0.1, gpu_tflops=67.0)
    assert set(cost["folds"]) == {"a", "b"}
    assert cost["folds"]["a"]["train_windows"] == 40 and cost["folds"]["b"]["train_windows"] == 50
    assert cost["folds"]["a"]["measured_seconds_per_epoch"] == 20.0
    assert cost["folds"]["a"]["gpu_projected_seconds_per_epoch"] == pytest.approx(40 * 1e-3, abs=0.05)
    # two epochs of training plus one forward-only pass (a third of a step) over train + scoring windows
    assert cost["folds"]["a"]["measured_seconds_fold"] == pytest.approx((2 * 40 + 48 / 3) * 0.5, abs=0.05)


def test_window_counts_of_the_shared_corpus(shared_data: Path) -> None:
    counts = finetune.corpus_window_counts(shared_data)
    clips = [c for c in list_corpus(shared_data) if c.in_taxonomy]
    assert sum(c["clips"] for c in counts.values()) == len(clips)
    assert GTZAN_VALID in counts and finetune.TRAIN_ONLY in counts
    for c in counts.values():
        assert c["clips"] <= c["scoring_windows"] <= 4 * c["clips"] and c["scoring_windows"] <= c["regular_windows"]


def test_training_patches_give_the_embedding_serving_computes(tiny: Path) -> None:
    """The precomputed patches feed the backbone what a bundle's embedder computes from the window."""
    from genrekit.audio import load_audio
    from genrekit.models.heads import extract_embeddings
    from genrekit.models.musicnn import load_pretrained

    clip = list_corpus(tiny)[0]
    (item,) = finetune.clip_patches([clip], max_windows=4, train_windows="all")
    backbone = load_pretrained(finetune.BACKBONE)
    with torch.no_grad():
        ours = backbone.features(item.score)[finetune.EMBEDDING].numpy()
    y, _ = load_audio(clip.path, sr=SR)
    expected = extract_embeddings(y[None, :WINDOW_LENGTH], (finetune.BACKBONE,), (finetune.EMBEDDING,),
                                  models={finetune.BACKBONE: backbone})
    np.testing.assert_allclose(ours, expected, atol=1e-5)
