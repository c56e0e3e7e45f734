"""Export ``musicnn_head`` models to ONNX: the graph a bundle ships for serving without torch.

:func:`export_onnx` writes a model's backbones + head (patches ``(batch, 187, 96)`` ->
genre probabilities and each backbone's tag probabilities) as an ONNX graph. The musicnn
head module registers the bundle artifact writer that calls it
(:func:`genrekit.models.heads.write_onnx_graph`), so :func:`genrekit.bundle.save_bundle`
(``genrekit train``, including ``--config configs/default.toml``) writes ``model.onnx`` into
every musicnn head bundle and records its SHA-256 in the card;
:func:`genrekit.models.heads.add_onnx_graph` does the same for a bundle saved before
(``python scripts/bundle_onnx.py BUNDLE``). This module takes the model as it is given
(it imports no model module), so the arrow runs one way: heads -> export.

Measured on the 2-core development machine (see ``benchmarks/bench_classify.py``), ONNX
Runtime runs the musicnn backbones 2.4-4x faster than PyTorch eager for the same patches,
with the same outputs (max abs difference ~1e-5). The runtime side, which needs no torch,
is :mod:`genrekit.models.onnx_runtime`.

The exported graph is made lean before it is written (:func:`lean_graph`): ONNX Runtime's
basic graph optimisations are applied once, offline (constant folding of the shape arithmetic
``F.pad`` and ``torch.cat`` export, redundant Reshape/Cast/Transpose/Slice removed), and each
zero ``Pad`` that only feeds convolutions becomes those convolutions' own ``pads``. On the
default model this takes the graph from 406 nodes to about 130 standard ONNX operators
(no contrib ops, so any execution provider runs it), with the same outputs (max abs difference
~1e-6, tests/models/test_onnx_lean.py).

A bundle without a graph (saved by an older genrekit) still runs on ONNX Runtime: its graph
is exported once into ``<cache>/onnx`` (:func:`genrekit.settings.cache_dir`), keyed by
the weights checksum and the versions. That fallback needs torch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import Tensor, nn

from genrekit import settings
from genrekit._version import __version__
from genrekit.bundle.card import ModelCard
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.onnx_runtime import (
    EMBEDDING_NAME,
    INPUT_NAME,
    MODEL_TYPE,
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

    def __init__(self, model: nn.Module) -> None:
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


def output_names(model: nn.Module) -> list[str]:
    """The graph's outputs: ``probs``, ``tags.<backbone>`` each, then ``embedding`` and ``ood`` if any."""
    names = [PROBS_NAME, *(tag_output_name(name) for name in model.config.all_backbones)]
    names += [EMBEDDING_NAME] if model.window_embedding is not None else []
    return names + ([OOD_NAME] if model.head.has_ood else [])


def supports_onnx(model: Any) -> bool:
    """Whether :func:`export_onnx` can export this model: a PyTorch model of model type
    ``musicnn_head`` (:class:`genrekit.models.heads.MusicnnHeadClassifier`)."""
    return isinstance(model, nn.Module) and getattr(model, "model_type", None) == MODEL_TYPE


def export_onnx(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Export a musicnn head model's backbones + head to an ONNX file.

    Parameters
    ----------
    model : genrekit.models.heads.MusicnnHeadClassifier
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
        lean_graph(tmp_path, tmp_path)
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, out)
    finally:
        tmp_path.unlink(missing_ok=True)
    return out


def lean_graph(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Rewrite an ONNX graph lean for serving: ONNX Runtime's basic (portable) optimisations
    applied offline, then zero ``Pad`` nodes folded into the convolutions they feed.

    Returns
    -------
    Path
        ``target`` (may be ``source``). Only standard ONNX operators are written.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3  # errors only: the torch export leaves unused shape initializers
    with tempfile.TemporaryDirectory() as scratch:
        options.optimized_model_filepath = str(Path(scratch) / "basic.onnx")
        ort.InferenceSession(os.fspath(source), options, providers=["CPUExecutionProvider"])
        model = onnx.load(options.optimized_model_filepath)
    _fold_pads_into_convs(model)
    needed = {name for node in model.graph.node for name in node.input}
    unused = [init for init in model.graph.initializer if init.name not in needed]
    for init in unused:
        model.graph.initializer.remove(init)
    used = {node.domain for node in model.graph.node}
    kept = [op for op in model.opset_import if op.domain in used or op.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    onnx.checker.check_model(model)
    onnx.save(model, os.fspath(target))
    return Path(target)


def _fold_pads_into_convs(model: onnx.ModelProto) -> int:
    """Remove each constant-zero ``Pad`` of spatial axes whose every consumer is a ``Conv``,
    adding its padding to those convolutions' ``pads``. Returns the number of Pads removed."""
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {out.name for out in graph.output}
    removed: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "Pad" or node.output[0] in graph_outputs:
            continue
        mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "constant")
        if mode != "constant" or len(node.input) < 2 or node.input[1] not in initializers:
            continue
        if len(node.input) > 2 and node.input[2]:
            value = initializers.get(node.input[2])
            if value is None or np.any(numpy_helper.to_array(value) != 0):
                continue
        if len(node.input) > 3 and node.input[3]:
            continue
        pads = numpy_helper.to_array(initializers[node.input[1]]).astype(np.int64).tolist()
        rank = len(pads) // 2
        convs = consumers.get(node.output[0], [])
        if rank < 3 or not convs or any(c.op_type != "Conv" or c.input[0] != node.output[0] for c in convs):
            continue
        if any(pads[i] or pads[rank + i] for i in range(2)) or any(p < 0 for p in pads):
            continue
        spatial = rank - 2
        if not all(_set_conv_pads(conv, pads[2:rank], pads[rank + 2 :], spatial) for conv in convs):
            continue
        for conv in convs:
            conv.input[0] = node.input[0]
        removed.append(node)
    for node in removed:
        graph.node.remove(node)
    return len(removed)


def _set_conv_pads(conv: onnx.NodeProto, begin: list[int], end: list[int], spatial: int) -> bool:
    """Add ``begin``/``end`` padding to a Conv's explicit ``pads`` (False where it uses auto_pad)."""
    attributes = {a.name: a for a in conv.attribute}
    auto = attributes.get("auto_pad")
    if auto is not None and auto.s not in (b"", b"NOTSET"):
        return False
    current = list(attributes["pads"].ints) if "pads" in attributes else [0] * (2 * spatial)
    merged = [c + p for c, p in zip(current, [*begin, *end])]
    if "pads" in attributes:
        del attributes["pads"].ints[:]
        attributes["pads"].ints.extend(merged)
    else:
        conv.attribute.append(onnx.helper.make_attribute("pads", merged))
    return True


def onnx_cache_path(card: ModelCard, model: nn.Module) -> Path:
    """Cache file of a graph-less bundle's ONNX graph, keyed by its weights checksum and the versions."""
    weights = next(iter(card.sha256.values()), "") or hashlib.sha256(repr(model.config).encode()).hexdigest()
    outputs = ",".join(output_names(model)) + (f"|{model.embedding.space}" if model.embedding is not None else "")
    key = hashlib.sha256(f"{weights}|{__version__}|{torch.__version__}|{ONNX_OPSET}|{outputs}".encode()).hexdigest()[:24]
    return settings.cache_dir() / "onnx" / f"{card.name}-{key}.onnx"


def to_onnx_runtime(model: nn.Module, card: ModelCard, *, n_threads: int | None = None) -> OnnxMusicnnHead:
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
