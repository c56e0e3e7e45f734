"""The model loaders: ``card.model_type`` -> the loader that builds the model.

Model modules register their loader with :func:`register_model_type`; :func:`build_model`
turns a bundle's card and tensors into a model (importing the built-in model modules on
first use) and :func:`load_model` reads a bundle and builds it. This is the PyTorch path
(training, export, fallback); serving a bundle that ships its ONNX graph needs none of it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from genrekit.bundle.card import ModelCard
from genrekit.bundle.io import load_bundle
from genrekit.errors import BundleError
from genrekit.models.families import FAMILY_MODULES

if TYPE_CHECKING:
    import torch

    from genrekit.models.base import WaveformClassifier

ModelLoader = Callable[[ModelCard, "dict[str, torch.Tensor]"], "WaveformClassifier"]

_MODEL_LOADERS: dict[str, ModelLoader] = {}

BUILTIN_MODEL_TYPE_MODULES = tuple(dict.fromkeys(FAMILY_MODULES.values()))  # every family's module registers its loader


def register_model_type(model_type: str) -> Callable[[ModelLoader], ModelLoader]:
    """Decorator registering ``loader(card, tensors) -> WaveformClassifier`` for a model type."""

    def decorator(loader: ModelLoader) -> ModelLoader:
        _MODEL_LOADERS[model_type] = loader
        return loader

    return decorator


def loader_modules() -> set[str]:
    """Modules whose loaders are registered in this process (e.g. for worker processes to import)."""
    return {getattr(loader, "__module__", "") for loader in _MODEL_LOADERS.values()}


def known_model_types() -> list[str]:
    """Every registered model type (after importing the built-in model modules)."""
    _import_builtin_models()
    return sorted(_MODEL_LOADERS)


def _import_builtin_models() -> None:
    for module_name in BUILTIN_MODEL_TYPE_MODULES:
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise


def build_model(card: ModelCard, tensors: dict[str, torch.Tensor]) -> WaveformClassifier:
    """Build a model from a card and its tensors through the registered loaders (what :func:`load_model`
    does after reading; ensembles use it for their members).

    Raises
    ------
    BundleError
        Unknown model type, or tensors that do not fit it.
    """
    if card.model_type not in _MODEL_LOADERS:
        _import_builtin_models()
    loader = _MODEL_LOADERS.get(card.model_type)
    if loader is None:
        raise BundleError(
            f"unknown model_type {card.model_type!r}; known: {', '.join(sorted(_MODEL_LOADERS)) or 'none'}"
        )
    try:
        return loader(card, tensors)
    except BundleError:
        raise
    except (KeyError, RuntimeError, ValueError) as error:
        raise BundleError(f"bundle does not fit model_type {card.model_type!r}: {error}") from error


def load_model(directory: str | os.PathLike[str] | None = None) -> tuple[ModelCard, WaveformClassifier]:
    """Load a bundle (``None``: the default one) and build its PyTorch/scikit-learn model."""
    card, tensors = load_bundle(directory)
    return card, build_model(card, tensors)
