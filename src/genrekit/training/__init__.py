"""The training workbench: configs, splits, augmentation, the torch loop and the fit recipes.

* :func:`train` (:mod:`genrekit.training.trainers`): data -> split -> fit -> bundle, the fit
  step being the recipe the family names (:mod:`genrekit.training.fitters`);
* :class:`TrainConfig` and :func:`resolve_config` (:mod:`genrekit.training.config`);
* :func:`fit_net` (:mod:`genrekit.training.loop`): the torch loop with early stopping and
  resumable checkpoints;
* :mod:`genrekit.training.augment`: crop, gain, shift, pitch shift, mixup, SpecAugment;
* :func:`make_splits` (:mod:`genrekit.training.splits`): leak-free splits.

Names are imported lazily, so ``import genrekit.training.splits`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train": "genrekit.training.trainers",
    "TrainResult": "genrekit.training.trainers",
    "TrainConfig": "genrekit.training.config",
    "AugmentConfig": "genrekit.training.config",
    "SplitConfig": "genrekit.training.config",
    "FAMILIES": "genrekit.models.families",
    "resolve_config": "genrekit.training.config",
    "load_config_file": "genrekit.training.config",
    "fit_net": "genrekit.training.loop",
    "make_splits": "genrekit.training.splits",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genrekit.training' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
