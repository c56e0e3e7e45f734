"""Train any model family on any dataset and write a bundle: :func:`train`.

The steps are the same for every family:

1. load the data (:mod:`genrekit.datasets` loaders, or the Kaggle feature table), keep
   the asked genres, split by track (:func:`genrekit.training.splits.make_splits`);
2. fit: the recipe the family names as its trainer (:data:`genrekit.training.fitters.FITTERS`)
   computes what it needs through the feature cache (decoded excerpts, table features,
   musicnn embeddings), fits (scikit-learn for the classical baselines,
   :func:`genrekit.training.loop.fit_net` for torch models, with early stopping and
   calibration on the valid split) and measures track-level metrics on the valid split;
3. save the bundle (``card.json`` + ``model.safetensors``) whose card records the
   config, seed, data fingerprint, label counts, library versions, device and time.

The test split (where the scheme has one) is never read here.
"""

from __future__ import annotations

import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrekit._version import __version__
from genrekit.bundle.card import ModelCard
from genrekit.bundle.io import load_bundle, save_bundle
from genrekit.datasets import FeatureCache
from genrekit.errors import DatasetError
from genrekit.models.families import get_family
from genrekit.training import data as tdata
from genrekit.training.config import TrainConfig, check_model_section
from genrekit.training.fitters import CHECKPOINT_DIRNAME, FITTERS, FitContext, FitOutput, Split
from genrekit.training.loop import FitResult


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    bundle_dir : Path
    card : ModelCard
        As written.
    seconds : float
        Wall time of the whole run (data preparation included).
    fit : FitResult or None
        Epoch history for torch families.
    """

    bundle_dir: Path
    card: ModelCard
    seconds: float
    fit: FitResult | None = None


def library_versions() -> dict[str, str]:
    """Versions of the libraries a trained model depends on."""
    import sklearn

    return {
        "genrekit": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def train(
    config: TrainConfig,
    data: str | Path,
    *,
    out_dir: str | Path,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    config_sources: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``config.family`` on ``data`` and write a bundle to ``out_dir``.

    Parameters
    ----------
    config : TrainConfig
        See :func:`genrekit.training.config.resolve_config`.
    data : path
        Dataset folder or manifest (:func:`genrekit.datasets.load_dataset`), or the Kaggle
        ``features_30_sec.csv`` (table families only).
    out_dir : path
        Bundle directory; checkpoints go to ``<out_dir>/checkpoint``.
    resume : bool
        Continue from the checkpoint in ``out_dir`` (torch families).
    cache_dir : path, optional
        Feature cache folder (default :func:`genrekit.datasets.default_cache_dir`).
    progress : bool
        Progress bars on stderr.
    log : callable, optional
        Receives progress messages (one line each).
    config_sources : dict, optional
        Where the config came from (file, ``--set`` items, options), recorded in the card
        next to the resolved config.
    on_epoch : callable, optional
        Torch families: receives each epoch's history entry (see
        :func:`~genrekit.training.loop.fit_net`).

    Returns
    -------
    TrainResult

    Raises
    ------
    InvalidParameterError, DatasetError
        Bad config, unreadable data, or a split without training tracks.
    """
    started = time.perf_counter()
    log = log or (lambda message: None)
    check_model_section(config)
    fitter = FITTERS[get_family(config.family).trainer]
    out = Path(out_dir)
    if resume and not fitter.resumable:
        log(f"{config.family} trains in one step; --resume retrains it")
        resume = False
    if not resume and (out / CHECKPOINT_DIRNAME).is_dir():
        log(f"starting afresh: removing the old checkpoint in {out / CHECKPOINT_DIRNAME}")
        shutil.rmtree(out / CHECKPOINT_DIRNAME)
    loaded = tdata.load_training_data(data, scheme=config.split.scheme)
    split = _split(loaded, config, log)
    cache = FeatureCache(cache_dir)

    def train_member(member_config: TrainConfig, member_out: Path, member_resume: bool) -> TrainResult:
        return train(
            member_config, data, out_dir=member_out, resume=member_resume, cache_dir=cache.root, progress=progress, log=log
        )

    ctx = FitContext(
        config, data, loaded, split, cache, out, train_member, resume=resume, progress=progress, log=log, on_epoch=on_epoch
    )
    output = fitter.fit(ctx)
    card, seconds = _save(ctx, output, started=started, config_sources=config_sources)
    log(
        f"wrote {out} in {seconds:.1f} s"
        + (
            f"; valid accuracy {output.metrics['accuracy']:.3f}, macro-F1 {output.metrics['macro_f1']:.3f} "
            f"({output.metrics['n_tracks']} tracks)"
            if output.metrics
            else ""
        )
    )
    return TrainResult(bundle_dir=out, card=card, seconds=seconds, fit=output.fit)


def _split(loaded: tdata.LoadedData, config: TrainConfig, log: Callable[[str], None]) -> Split:
    """The asked genres split by track; valid tracks whose label is absent from train are left out."""
    records = tdata.select_genres(loaded.records, config.genres)
    scheme, splits = tdata.split_records(records, config)
    labels = sorted({r.label for r in splits["train"]})
    if len(labels) < 2:
        raise DatasetError(f"the training split holds {len(labels)} label(s); at least two are needed")
    valid, unknown = tdata.drop_unknown_labels(splits["valid"], labels)
    if unknown:
        log(f"{len(unknown)} valid track(s) have labels absent from train and are left out")
    log(
        f"data {loaded.name} ({loaded.layout}): {len(splits['train'])} train, {len(valid)} valid, "
        f"{len(splits['test'])} test tracks (split {scheme}); labels: {', '.join(labels)}"
    )
    return Split(scheme, labels, splits["train"], valid, splits["test"], unknown)


def _save(
    ctx: FitContext, output: FitOutput, *, started: float, config_sources: dict[str, Any] | None
) -> tuple[ModelCard, float]:
    """Write the bundle of a fitted model with its card (config, data, split, fit, versions).

    Returns the card as read back and the seconds (wall time) since ``started``
    (:func:`time.perf_counter`), as recorded in the card."""
    config, loaded, split = ctx.config, ctx.loaded, ctx.split
    failed = {f["path"] for f in ctx.failures}
    used_train = [r for r in split.train if str(r.path) not in failed or loaded.table is not None]
    used_valid = [r for r in split.valid if str(r.path) not in failed or loaded.table is not None]
    fingerprint = tdata.data_fingerprint(
        tdata.with_split(used_train, "train") + tdata.with_split(used_valid, "valid"), loaded.root, loaded.fingerprint
    )
    seconds = time.perf_counter() - started
    training: dict[str, Any] = {
        "family": config.family,
        "config": config.to_dict(),
        "config_sources": dict(config_sources or {}),
        "seed": config.seed,
        "data": {
            "spec": str(ctx.data_spec),
            "name": loaded.name,
            "layout": loaded.layout,
            "fingerprint": fingerprint,
            "n_tracks": {"train": len(used_train), "valid": len(used_valid), "test_not_used": len(split.test)},
            "label_counts": {"train": tdata.label_counts(used_train), "valid": tdata.label_counts(used_valid)},
            "left_out": {
                "unreadable": ctx.failures,
                "valid_label_not_in_train": [r.track_id for r in split.unknown],
            },
        },
        "split": {"scheme": split.scheme, **{k: v for k, v in config.split.to_dict().items() if k != "scheme"}},
        "track_ids": {"train": [r.track_id for r in used_train], "valid": [r.track_id for r in used_valid]},
        "library_versions": library_versions(),
        "device": output.fit.device if output.fit is not None else "cpu",
        "seconds": round(seconds, 3),
        **output.info,
    }
    if output.fit is not None:
        fit = output.fit
        training["fit"] = {
            "epochs_run": fit.epochs_run,
            "best_epoch": fit.best_epoch,
            "stopped_early": fit.stopped_early,
            "temperature": fit.temperature,
            "resumed_from_epoch": fit.resumed_from_epoch,
            "seconds": round(fit.seconds, 3),
            "history": fit.history,
        }
    metrics = {"valid": output.metrics} if output.metrics else {}
    limitations = [
        f"trained on {len(used_train)} tracks of {loaded.name} ({', '.join(split.labels)}); "
        "music of any other genre is forced into these labels",
    ]
    if loaded.layout == "feature_table":
        limitations.append(
            "trained on the published feature table; genrekit's table_features approximate those values, so "
            "predictions on new audio may differ from the table's"
        )
    card = ModelCard(
        name=config.model_name,
        version="1",
        training=training,
        metrics=metrics,
        limitations=limitations,
        provenance=output.card_fields.pop("provenance", {}) or {"trained_with": f"genrekit {__version__}"},
        tags=output.card_fields.pop("tags", []),
        **output.card_fields,
    )
    save_bundle(ctx.out_dir, card, output.tensors)
    card, _ = load_bundle(ctx.out_dir)
    return card, seconds
