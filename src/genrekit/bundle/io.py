"""Save and load model bundles (safetensors weights + JSON card), with checksums.

A bundle directory holds:

* ``card.json``: the :class:`~genrekit.bundle.card.ModelCard`, sorted keys, indent 2;
* ``model.safetensors``: every tensor the model needs (weights, normalisation statistics,
  pretrained backbone included), so that loading reads nothing but the bundle.

Never pickle: classical models store their fitted arrays as tensors too.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from genrekit import __version__
from genrekit.bundle.card import ModelCard
from genrekit.errors import BundleError
from genrekit.models.base import WaveformClassifier

CARD_FILENAME = "card.json"
WEIGHTS_FILENAME = "model.safetensors"

ModelLoader = Callable[[ModelCard, dict[str, torch.Tensor]], WaveformClassifier]

_MODEL_LOADERS: dict[str, ModelLoader] = {}

_BUILTIN_MODEL_TYPE_MODULES = (
    "genrekit.models.heads",
    "genrekit.models.baselines",
    "genrekit.models.mlp",
    "genrekit.models.cnn",
    "genrekit.models.crnn",
    "genrekit.models.ensemble",
)


def register_model_type(model_type: str) -> Callable[[ModelLoader], ModelLoader]:
    """Decorator registering ``loader(card, tensors) -> WaveformClassifier`` for a model type."""

    def decorator(loader: ModelLoader) -> ModelLoader:
        _MODEL_LOADERS[model_type] = loader
        return loader

    return decorator


def default_bundle_path() -> Path:
    """Directory of the default model bundle shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "bundles" / "default"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(
    directory: str | os.PathLike[str],
    card: ModelCard,
    tensors: dict[str, torch.Tensor],
) -> Path:
    """Write a bundle; fills in ``genrekit_version``, ``created`` and ``sha256``.

    Parameters
    ----------
    directory : path
        Bundle directory; created if missing, existing bundle files are replaced.
    card : ModelCard
        The card; its checksum fields are recomputed.
    tensors : dict of str to torch.Tensor
        Every tensor the model loader needs.

    Returns
    -------
    Path
        The bundle directory.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    contiguous = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    weights_path = out / WEIGHTS_FILENAME
    with tempfile.NamedTemporaryFile(dir=out, suffix=".tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        save_file(contiguous, str(tmp_path), metadata={"format": "pt", "model_type": card.model_type})
        os.replace(tmp_path, weights_path)
    finally:
        tmp_path.unlink(missing_ok=True)
    data = card.to_dict()
    data["genrekit_version"] = __version__
    data["created"] = card.created or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    data["sha256"] = {WEIGHTS_FILENAME: sha256_file(weights_path)}
    (out / CARD_FILENAME).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def load_bundle(
    directory: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> tuple[ModelCard, dict[str, torch.Tensor]]:
    """Read a bundle's card and tensors, checking the weights' SHA-256.

    Parameters
    ----------
    directory : path or None
        Bundle directory; ``None`` means the default bundle shipped with genrekit.
    verify : bool
        Check the weights file against the card's checksum.

    Raises
    ------
    BundleError
        Missing files, malformed card, checksum mismatch or unreadable weights.
    """
    path = Path(directory) if directory is not None else default_bundle_path()
    card_path = path / CARD_FILENAME
    weights_path = path / WEIGHTS_FILENAME
    if not path.is_dir():
        raise BundleError(f"model bundle {path} is not a directory")
    if not card_path.is_file() or not weights_path.is_file():
        raise BundleError(f"model bundle {path} must hold {CARD_FILENAME} and {WEIGHTS_FILENAME}")
    try:
        card = ModelCard.from_dict(json.loads(card_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise BundleError(f"model card {card_path} is malformed: {error}") from error
    if verify:
        expected = card.sha256.get(WEIGHTS_FILENAME)
        actual = sha256_file(weights_path)
        if expected is None or expected != actual:
            raise BundleError(
                f"weights {weights_path} do not match the card's checksum "
                f"(expected {expected}, found {actual}); the bundle is corrupt or was edited"
            )
    try:
        tensors = load_file(str(weights_path))
    except Exception as error:
        raise BundleError(f"cannot read weights {weights_path}: {error}") from error
    return card, tensors


def load_model(directory: str | os.PathLike[str] | None = None) -> tuple[ModelCard, WaveformClassifier]:
    """Load a bundle and build its model through the model-type registry."""
    card, tensors = load_bundle(directory)
    return card, build_model(card, tensors)


def build_model(card: ModelCard, tensors: dict[str, torch.Tensor]) -> WaveformClassifier:
    """Build a model from a card and its tensors through the model-type registry
    (what :func:`load_model` does after reading; ensembles use it for their members)."""
    if card.model_type not in _MODEL_LOADERS:
        import importlib

        for module_name in _BUILTIN_MODEL_TYPE_MODULES:
            try:
                importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                if error.name != module_name:
                    raise
    loader = _MODEL_LOADERS.get(card.model_type)
    if loader is None:
        raise BundleError(
            f"unknown model_type {card.model_type!r}; known: {', '.join(sorted(_MODEL_LOADERS)) or 'none'}"
        )
    try:
        model = loader(card, tensors)
    except BundleError:
        raise
    except (KeyError, RuntimeError, ValueError) as error:
        raise BundleError(f"bundle does not fit model_type {card.model_type!r}: {error}") from error
    return model
