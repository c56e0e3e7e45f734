"""ONNX Runtime inference for ``musicnn_head`` models: the runtime genrekit serves with.

Measured on the 2-core development machine (see ``benchmarks/bench_classify.py``), ONNX
Runtime runs the musicnn backbones 2.4-4x faster than PyTorch eager for the same patches,
with the same outputs (max abs difference ~1e-5 on the logits). So
:meth:`genrekit.predict.Classifier.load` uses it by default when ``onnxruntime`` is installed.

What runs where:

* the musicnn input (STFT + mel + log) of each window stays in PyTorch
  (:class:`genrekit.features.modules.MusicnnInput`, a few ms per song);
* backbones + head (patches ``(batch, 187, 96)`` -> genre probabilities and each backbone's
  tag probabilities) are exported once with ``torch.onnx.export`` and run by ONNX Runtime.

The exported graph is cached on disk, keyed by the bundle's weights checksum, genrekit's
and torch's versions: ``$GENREKIT_CACHE_DIR/onnx`` (default ``~/.cache/genrekit/onnx``).
The first load of a bundle on a machine exports it (a few seconds); later loads read the file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx  # noqa: F401 - torch.onnx.export needs it; importing here makes a missing install fail early
import onnxruntime as ort
import torch
from torch import Tensor, nn

from genrekit import __version__
from genrekit.bundle.card import ModelCard
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.heads import MusicnnHeadClassifier, _as_windows

ONNX_OPSET = 17
CACHE_ENV = "GENREKIT_CACHE_DIR"
INPUT_NAME = "patches"
PROBS_NAME = "probs"


class _PatchesToOutputs(nn.Module):
    """Patches ``(batch, 187, 96)`` -> (genre probabilities, taggram of each backbone)."""

    def __init__(self, model: MusicnnHeadClassifier) -> None:
        super().__init__()
        self.embedder = model.embedder
        self.head = model.head

    def forward(self, patches: Tensor) -> tuple[Tensor, ...]:
        features, taggrams = self.embedder.embed_patches(patches)
        return (self.head.predict_proba(features), *taggrams.values())


def supports_onnx(model: Any) -> bool:
    """Whether :func:`to_onnx_runtime` can run this model (a ``musicnn_head`` model)."""
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
        ``(batch, n_labels)`` and ``tags.<backbone>`` ``(batch, n_tags)``.
    """
    if not supports_onnx(model):
        raise InvalidParameterError(f"only musicnn_head models export to ONNX, got {type(model).__name__}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _PatchesToOutputs(model).eval()
    names = [PROBS_NAME, *(f"tags.{name}" for name in model.config.all_backbones)]
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
        os.replace(tmp_path, out)
    finally:
        tmp_path.unlink(missing_ok=True)
    return out


def cache_dir() -> Path:
    """Directory of exported ONNX graphs (``$GENREKIT_CACHE_DIR/onnx`` or ``~/.cache/genrekit/onnx``)."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "genrekit") / "onnx"


def onnx_cache_path(card: ModelCard, model: MusicnnHeadClassifier) -> Path:
    """Cache file of a bundle's ONNX graph, keyed by its weights checksum and the versions."""
    weights = next(iter(card.sha256.values()), "") or hashlib.sha256(repr(model.config).encode()).hexdigest()
    key = hashlib.sha256(f"{weights}|{__version__}|{torch.__version__}|{ONNX_OPSET}".encode()).hexdigest()[:24]
    return cache_dir() / f"{card.name}-{key}.onnx"


class OnnxMusicnnHead:
    """A :class:`~genrekit.models.base.WaveformClassifier` running a musicnn head model's
    backbones and head with ONNX Runtime (the musicnn input stays in PyTorch).

    Parameters
    ----------
    model : MusicnnHeadClassifier
        The PyTorch model (its input front-end, labels and tag names are used).
    onnx_path : path
        Its exported graph (:func:`export_onnx`).
    n_threads : int or None
        ONNX Runtime intra-op threads; ``None``: ``torch.get_num_threads()``.
    """

    def __init__(self, model: MusicnnHeadClassifier, onnx_path: str | os.PathLike[str], *, n_threads: int | None = None) -> None:
        self.labels = list(model.labels)
        self.sample_rate = int(model.sample_rate)
        self.window_s = float(model.window_s)
        self.tag_names = model.tag_names
        self.backbone_names = list(model.config.all_backbones)
        self.torch_model = model
        self._frontend = model.embedder
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(n_threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting on shared CPUs
        try:
            self._session = ort.InferenceSession(os.fspath(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise BundleError(f"ONNX Runtime cannot load {onnx_path}: {error}") from error

    def predict_all_windows(self, windows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Genre probabilities ``(n, n_labels)`` and tag probabilities ``{backbone: (n, 50)}``
        of 16 kHz windows ``(n, samples)``, as :class:`MusicnnHeadClassifier` computes them."""
        x = _as_windows(windows)
        if x.shape[0] == 0:
            return self.torch_model.predict_all_windows(windows)
        with torch.inference_mode():
            patches = self._frontend.patches(x).contiguous().numpy()
        outputs = self._session.run(None, {INPUT_NAME: patches})
        tags = {name: np.asarray(out, dtype=np.float32) for name, out in zip(self.backbone_names, outputs[1:])}
        return np.asarray(outputs[0], dtype=np.float32), tags

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        """Genre probabilities ``(n, n_labels)`` of 16 kHz windows; rows sum to 1."""
        return self.predict_all_windows(windows)[0]

    def predict_tags_windows(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Each backbone's tag probabilities ``{backbone: (n, 50)}``."""
        return self.predict_all_windows(windows)[1]


def to_onnx_runtime(model: MusicnnHeadClassifier, card: ModelCard, *, n_threads: int | None = None) -> OnnxMusicnnHead:
    """Wrap a musicnn head model for ONNX Runtime, exporting (and caching) its graph if needed.

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
    return OnnxMusicnnHead(model, path, n_threads=n_threads)
