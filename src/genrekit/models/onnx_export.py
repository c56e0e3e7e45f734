"""Export ``musicnn_head`` models to ONNX: the graph a bundle ships for serving without torch.

:func:`export_onnx` writes a model's backbones + head (patches ``(batch, 187, 96)`` ->
genre probabilities and each backbone's tag probabilities) as an ONNX graph.
:func:`write_onnx_artifact` is registered with :func:`genrekit.bundle.register_artifact_writer`,
so :func:`genrekit.bundle.save_bundle` (``genrekit train``, including ``--config configs/default.toml``)
writes ``model.onnx`` into every musicnn head bundle and records its SHA-256 in the card.
:func:`add_onnx_graph` does the same for a bundle saved before
(``python scripts/bundle_onnx.py BUNDLE``).

Measured on the 2-core development machine (see ``benchmarks/bench_classify.py``), ONNX
Runtime runs the musicnn backbones 2.4-4x faster than PyTorch eager for the same patches,
with the same outputs (max abs difference ~1e-5). The runtime side, which needs no torch,
is :mod:`genrekit.models.onnx_runtime`.

A bundle without a graph (saved by an older genrekit) still runs on ONNX Runtime: its graph
is exported once into ``<cache>/onnx`` (:func:`genrekit.settings.cache_dir`), keyed by
the weights checksum and the versions. That fallback needs torch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx  # noqa: F401 - torch.onnx.export needs it; importing here makes a missing install fail early
import torch
from torch import Tensor, nn

from genrekit import settings
from genrekit._version import __version__
from genrekit.bundle.card import ModelCard
from genrekit.bundle.io import ONNX_FILENAME, add_bundle_file, load_bundle
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.heads import MusicnnHeadClassifier, from_bundle
from genrekit.models.onnx_runtime import (
    EMBEDDING_NAME,
    INPUT_NAME,
    OOD_NAME,
    PROBS_NAME,
    OnnxMusicnnHead,
    from_onnx_graph,
    tag_output_name,
)

ONNX_OPSET = 17


class _PatchesToOutputs(nn.Module):
    """Patches ``(batch, 187, 96)`` -> (genre probabilities, taggram of each backbone[, window
    embeddings where the model has an embedding][, the out-of-taxonomy logit of each window where
    the head has one])."""

    def __init__(self, model: MusicnnHeadClassifier) -> None:
        super().__init__()
        self.embedder = model.embedder
        self.head = model.head
        self.window_embedding = model.window_embedding

    def forward(self, patches: Tensor) -> tuple[Tensor, ...]:
        features, taggrams = self.embedder.embed_patches(patches)
        outputs = (self.head.predict_proba(features), *taggrams.values())
        if self.window_embedding is not None:
            outputs = (*outputs, self.window_embedding(features, taggrams))
        if self.head.has_ood:
            outputs = (*outputs, self.head.ood_logits(features))
        return outputs


def output_names(model: MusicnnHeadClassifier) -> list[str]:
    """The graph's outputs: ``probs``, ``tags.<backbone>`` each, then ``embedding`` and ``ood`` if any."""
    names = [PROBS_NAME, *(tag_output_name(name) for name in model.config.all_backbones)]
    names += [EMBEDDING_NAME] if model.window_embedding is not None else []
    return names + ([OOD_NAME] if model.head.has_ood else [])


def supports_onnx(model: Any) -> bool:
    """Whether :func:`export_onnx` can export this model (a ``musicnn_head`` model)."""
    return isinstance(model, MusicnnHeadClassifier)


def export_onnx(model: MusicnnHeadClassifier, path: str | os.PathLike[str]) -> Path:
    """Export a musicnn head model's backbones + head to an ONNX file.

    Parameters
    ----------
    model : MusicnnHeadClassifier
    path : path
        Output file (written atomically).

    Returns
    -------
    Path
        The file. Input ``patches`` ``(batch, 187, 96)`` float32; outputs ``probs``
        ``(batch, n_labels)``, ``tags.<backbone>`` ``(batch, n_tags)`` (head backbones first) and,
        for a head with an out-of-taxonomy score, ``ood`` ``(batch,)``.
    """
    if not supports_onnx(model):
        raise InvalidParameterError(f"only musicnn_head models export to ONNX, got {type(model).__name__}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _PatchesToOutputs(model).eval()
    names = output_names(model)
    dummy = torch.zeros(2, model.embedder.backbones[model.config.backbones[0]].config.n_frames, 96)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".onnx.tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                (dummy,),
                str(tmp_path),
                input_names=[INPUT_NAME],
                output_names=names,
                dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *names]},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, out)
    finally:
        tmp_path.unlink(missing_ok=True)
    return out


def write_onnx_artifact(directory: Path, card: ModelCard, tensors: Mapping[str, Tensor]) -> list[str]:
    """Bundle artifact writer of ``musicnn_head``: exports ``model.onnx`` into the bundle directory."""
    try:
        export_onnx(from_bundle(card, tensors), directory / ONNX_FILENAME)
    except (OSError, RuntimeError) as error:
        raise BundleError(f"cannot export {card.name} to ONNX in {directory}: {error}") from error
    return [ONNX_FILENAME]


def add_onnx_graph(directory: str | os.PathLike[str]) -> ModelCard:
    """Write (or rewrite) the ONNX graph of a saved musicnn head bundle and record its checksum.

    The one call that makes an existing bundle serve without torch; ``save_bundle`` does it
    by itself for new bundles.

    Returns
    -------
    ModelCard
        The updated card.
    """
    card, tensors = load_bundle(directory)
    write_onnx_artifact(Path(directory), card, tensors)
    return add_bundle_file(directory, ONNX_FILENAME)


def onnx_cache_path(card: ModelCard, model: MusicnnHeadClassifier) -> Path:
    """Cache file of a graph-less bundle's ONNX graph, keyed by its weights checksum and the versions."""
    weights = next(iter(card.sha256.values()), "") or hashlib.sha256(repr(model.config).encode()).hexdigest()
    outputs = ",".join(output_names(model)) + (f"|{model.embedding.space}" if model.embedding is not None else "")
    key = hashlib.sha256(f"{weights}|{__version__}|{torch.__version__}|{ONNX_OPSET}|{outputs}".encode()).hexdigest()[:24]
    return settings.cache_dir() / "onnx" / f"{card.name}-{key}.onnx"


def to_onnx_runtime(model: MusicnnHeadClassifier, card: ModelCard, *, n_threads: int | None = None) -> OnnxMusicnnHead:
    """ONNX Runtime model of a bundle that ships no graph, exporting (and caching) its graph.

    Raises
    ------
    InvalidParameterError
        The model is not a musicnn head model.
    BundleError
        The graph cannot be exported or loaded.
    """
    path = onnx_cache_path(card, model)
    if not path.is_file():
        try:
            export_onnx(model, path)
        except (OSError, RuntimeError) as error:
            raise BundleError(f"cannot export {card.name} to ONNX at {path}: {error}") from error
    return from_onnx_graph(card, path, n_threads=n_threads)
