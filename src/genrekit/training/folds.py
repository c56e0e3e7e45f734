"""Training one model family on one fold of a comparison (``genrekit compare``, ``genrekit tune``).

The evaluation code decides the folds and scores the held-out tracks; the training happens
here: a CSV manifest of the fold's train and valid records, the family's config with the
comparison's options and overrides, and :func:`genrekit.training.trainers.train`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

def write_manifest(path: Path, splits: Mapping[str, Sequence[Any]]) -> Path:
    """A CSV manifest (path, label, split, group, track_id) of the train and valid records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "split", "group", "track_id"])
        for side in ("train", "valid"):
            for r in splits.get(side, []):
                writer.writerow([str(Path(r.path).resolve()), r.label, side, r.group or "", r.track_id])
    return path


def family_overrides(overrides: Sequence[str], family: str) -> list[str]:
    """The ``key=value`` overrides that apply to ``family``.

    An item ``family:key=value`` applies to that family only; a plain ``key=value`` to all.
    """
    out = []
    for item in overrides:
        key = item.partition("=")[0]
        if ":" in key:
            prefix, _, rest = item.partition(":")
            if prefix.strip() == family:
                out.append(rest)
        else:
            out.append(item)
    return out


def train_family_fold(
    family: str,
    fold_dir: Path,
    splits: Mapping[str, Sequence[Any]],
    *,
    seed: int,
    device: str,
    n_jobs: int | None,
    epochs: int | None,
    overrides: Sequence[str],
    cache_dir: str | Path | None,
    log: Callable[[str], None],
    file_data: Mapping[str, Any] | None = None,
) -> tuple[Any, float]:
    """Train ``family`` on the fold's train/valid records into ``fold_dir / "bundle"``.

    ``file_data`` (a config file's content, e.g. a tuned config) replaces the family's defaults.

    Returns
    -------
    (TrainResult, float)
        The training result (its ``bundle_dir``) and the training time in seconds.
    """
    from genrekit.training.config import resolve_config
    from genrekit.training.trainers import train

    manifest = write_manifest(fold_dir / "manifest.csv", splits)
    options: dict[str, Any] = {
        "seed": seed,
        "device": device,
        "n_jobs": n_jobs,
        "split": {"scheme": "dataset"},
        "name": f"compare-{family}-{fold_dir.name}",
    }
    if epochs is not None:
        options["epochs"] = epochs
    config = resolve_config(family, file_data=file_data, overrides=family_overrides(overrides, family), options=options)
    started = time.perf_counter()
    result = train(config, manifest, out_dir=fold_dir / "bundle", cache_dir=cache_dir, progress=False, log=log)
    return result, time.perf_counter() - started
