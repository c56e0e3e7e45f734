"""Save and load model bundles (safetensors weights + JSON card + derived files), with checksums.

A bundle directory holds:

* ``card.json``: the :class:`~genrekit.bundle.card.ModelCard`, sorted keys, indent 2; its
  ``sha256`` maps every other file of the bundle to its checksum;
* ``model.safetensors``: every tensor the model needs (weights, normalisation statistics,
  pretrained backbone included), so that loading reads nothing but the bundle;
* ``model.onnx`` (``musicnn_head`` bundles): the model's networks as an ONNX graph, written
  when the bundle is saved (:func:`register_artifact_writer`), so that serving runs ONNX
  Runtime without torch and exports nothing on first load.

Never pickle: classical models store their fitted arrays as tensors too.

This module is the file format only: it imports neither torch (the safetensors reader is
imported when tensors are read or written) nor :mod:`genrekit.models`. Building a model
from a bundle is :func:`genrekit.models.loaders.load_model`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrekit._version import __version__
from genrekit.bundle.card import ModelCard
from genrekit.errors import BundleError

if TYPE_CHECKING:
    import torch

CARD_FILENAME = "card.json"
WEIGHTS_FILENAME = "model.safetensors"
ONNX_FILENAME = "model.onnx"

ArtifactWriter = Callable[[Path, ModelCard, Mapping[str, Any]], list[str]]
"""``writer(directory, card, tensors) -> file names written into directory``."""

_ARTIFACT_WRITERS: dict[str, ArtifactWriter] = {}


def register_artifact_writer(model_type: str) -> Callable[[ArtifactWriter], ArtifactWriter]:
    """Decorator registering a writer of derived bundle files (e.g. the ONNX graph) for a model type.

    :func:`save_bundle` calls it after writing the weights; each file it returns is
    checksummed in the card. A writer that raises ``ImportError`` (an optional exporter not
    installed) is skipped with a warning.
    """

    def decorator(writer: ArtifactWriter) -> ArtifactWriter:
        _ARTIFACT_WRITERS[model_type] = writer
        return writer

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


def _write_card(directory: Path, data: dict[str, Any]) -> None:
    (directory / CARD_FILENAME).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def save_bundle(
    directory: str | os.PathLike[str],
    card: ModelCard,
    tensors: Mapping[str, torch.Tensor],
    *,
    artifacts: bool = True,
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
    artifacts : bool
        Also write the derived files of the model type (``musicnn_head``: ``model.onnx``, a
        few seconds of export), so that the bundle serves without torch.

    Returns
    -------
    Path
        The bundle directory.
    """
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    contiguous = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    weights_path = out / WEIGHTS_FILENAME
    with tempfile.NamedTemporaryFile(dir=out, suffix=".tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        save_file(contiguous, str(tmp_path), metadata={"format": "pt", "model_type": card.model_type})
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, weights_path)
    finally:
        tmp_path.unlink(missing_ok=True)
    (out / ONNX_FILENAME).unlink(missing_ok=True)
    data = card.to_dict()
    data["genrekit_version"] = __version__
    data["created"] = card.created or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    data["sha256"] = {WEIGHTS_FILENAME: sha256_file(weights_path)}
    writer = _ARTIFACT_WRITERS.get(card.model_type) if artifacts else None
    if writer is not None:
        try:
            written = writer(out, ModelCard.from_dict(data), contiguous)
        except ImportError as error:
            warnings.warn(f"bundle {out} saved without its derived files: {error}", RuntimeWarning, stacklevel=2)
            written = []
        for name in written:
            data["sha256"][name] = sha256_file(out / name)
    _write_card(out, data)
    return out


def add_bundle_file(directory: str | os.PathLike[str], filename: str) -> ModelCard:
    """Record (or refresh) the checksum of ``filename``, already written into the bundle, in its card.

    Returns
    -------
    ModelCard
        The updated card.
    """
    path = Path(directory)
    card = read_card(path)
    if not (path / filename).is_file() or filename == CARD_FILENAME:
        raise BundleError(f"{path / filename} is not a bundle file")
    data = card.to_dict()
    data["sha256"] = {**card.sha256, filename: sha256_file(path / filename)}
    _write_card(path, data)
    return ModelCard.from_dict(data)


def read_card(directory: str | os.PathLike[str] | None = None) -> ModelCard:
    """Read and validate a bundle's card (``None``: the default bundle). Reads no weights.

    Raises
    ------
    BundleError
        Not a directory, no card, or a malformed card.
    """
    path = Path(directory) if directory is not None else default_bundle_path()
    card_path = path / CARD_FILENAME
    if not path.is_dir():
        raise BundleError(f"model bundle {path} is not a directory")
    if not card_path.is_file():
        raise BundleError(f"model bundle {path} must hold {CARD_FILENAME}")
    try:
        return ModelCard.from_dict(json.loads(card_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise BundleError(f"model card {card_path} is malformed: {error}") from error


def checked_file(directory: str | os.PathLike[str] | None, card: ModelCard, filename: str, *, verify: bool = True) -> Path:
    """Path of a bundle file, after checking it against the card's checksum.

    Raises
    ------
    BundleError
        The file is missing, the card has no checksum for it, or the checksums differ.
    """
    path = (Path(directory) if directory is not None else default_bundle_path()) / filename
    if not path.is_file():
        raise BundleError(f"model bundle {path.parent} must hold {filename}")
    if verify:
        expected = card.sha256.get(filename)
        actual = sha256_file(path)
        if expected is None or expected != actual:
            raise BundleError(
                f"{path} does not match the card's checksum "
                f"(expected {expected}, found {actual}); the bundle is corrupt or was edited"
            )
    return path


def load_bundle(
    directory: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> tuple[ModelCard, dict[str, torch.Tensor]]:
    """Read a bundle's card and tensors, checking the weights' SHA-256 (needs torch).

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
    card = read_card(directory)
    weights_path = checked_file(directory, card, WEIGHTS_FILENAME, verify=verify)
    try:
        from safetensors.torch import load_file
    except ImportError as error:
        raise BundleError(
            f"reading the weights of {card.name} needs PyTorch ({error}); install it with: pip install 'genrekit[train]'"
        ) from error
    try:
        tensors = load_file(str(weights_path))
    except Exception as error:
        raise BundleError(f"cannot read weights {weights_path}: {error}") from error
    return card, tensors



_MOVED_TO_REGISTRY = ("load_model", "build_model", "register_model_type")


def __getattr__(name: str) -> object:
    if name in _MOVED_TO_REGISTRY:
        raise ImportError(f"{name} moved from genrekit.bundle to genrekit.models.loaders (the format layer builds no models)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
