"""Bundle -> model: the card and the runtime that runs it (ONNX Runtime or PyTorch).

The loading seam of :class:`~genrekit.predict.Classifier` (see :meth:`Classifier.load`). It
imports torch only where a bundle ships no ONNX graph or ``runtime="torch"`` asks for it.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

from genrekit.errors import BundleError, InvalidParameterError

if TYPE_CHECKING:
    from genrekit.bundle.card import ModelCard

RUNTIMES = ("auto", "onnx", "torch")


def load_model(
    bundle: str | os.PathLike[str] | None,
    *,
    runtime: str = "auto",
    threads: int | None = None,
    device: str | None = None,
) -> tuple[ModelCard, Any]:
    """The card of a bundle (``None``: the default one) and the model that runs it.

    ``runtime``, ``threads`` (CPU threads, >= 1) and ``device`` are those of
    :meth:`Classifier.load`, which documents them.

    Raises
    ------
    InvalidParameterError
        A bad ``runtime``, ``threads`` or ``device``.
    BundleError
        The bundle is missing, corrupt or of an unknown model type, or the runtime asked
        for cannot run it.
    """
    from genrekit.bundle.io import read_card
    from genrekit.models.onnx_runtime import execution_providers, has_onnx_graph, load_onnx_bundle
    from genrekit.settings import check_device
    from genrekit.settings import device as default_device

    if runtime not in RUNTIMES:
        raise InvalidParameterError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InvalidParameterError(f"threads must be an int >= 1 or None, got {threads!r}")
    device = check_device(device) if device is not None else default_device()
    if device != "cpu":
        execution_providers(device)  # a clear error before anything is loaded
        if runtime == "torch":
            raise InvalidParameterError(f"device {device!r} runs ONNX graphs only, not runtime 'torch'")
    card = read_card(bundle)
    if runtime != "torch" and has_onnx_graph(card):
        return card, load_onnx_bundle(bundle, card, n_threads=threads, device=device)
    if device != "cpu":
        raise BundleError(f"device {device!r} needs a bundle that ships its ONNX graph; {card.name} has none")
    try:
        from genrekit.models.loaders import load_model as load_torch_model
    except ImportError as error:
        raise BundleError(
            f"bundle {card.name} ships no ONNX graph, so it runs on PyTorch, which is not installed "
            f"({error}); install it with: pip install 'genrekit[train]'"
        ) from error
    card, model = load_torch_model(bundle)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if runtime == "torch":
        return card, model
    return card, _torch_to_onnx_runtime(model, card, required=runtime == "onnx", threads=threads)


def _torch_to_onnx_runtime(model: Any, card: ModelCard, *, required: bool, threads: int | None) -> Any:
    """A graph-less bundle's model on ONNX Runtime where possible (exported once to the cache)."""
    try:
        from genrekit.models import onnx_export
    except ImportError as error:
        if required:
            raise BundleError(f"runtime 'onnx' needs onnxruntime and onnx: {error}") from error
        return model
    if not onnx_export.supports_onnx(model):
        if required:
            raise BundleError(f"model type {card.model_type!r} has no ONNX runtime")
        return model
    try:
        return onnx_export.to_onnx_runtime(model, card, n_threads=threads)
    except BundleError as error:
        if required:
            raise
        warnings.warn(f"falling back to PyTorch: {error}", RuntimeWarning, stacklevel=3)
        return model
