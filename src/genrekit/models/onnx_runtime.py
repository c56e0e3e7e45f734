"""ONNX Runtime inference of ``musicnn_head`` bundles, without torch: the serving path.

A ``musicnn_head`` bundle ships its networks (backbones + head) as ``model.onnx``, written
when the bundle is saved (:mod:`genrekit.models.onnx_export`) and checked against the card's
SHA-256 when loaded. Inference is then:

1. 16 kHz windows -> musicnn input patches ``(n, 187, 96)`` in NumPy/SciPy
   (:func:`genrekit.features.spectral.musicnn_window_patches`);
2. patches -> genre probabilities and each backbone's tag probabilities with ONNX Runtime.

Outputs equal the PyTorch ``MusicnnHeadClassifier``'s within ~1e-5 (tests/predict and the
musicnn parity tests against the original's goldens). Nothing here imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.bundle.card import ModelCard
from genrekit.bundle.embedding import EmbeddingSpec, embedding_spec
from genrekit.bundle.io import ONNX_FILENAME, checked_file
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.features.spectral import MUSICNN_SR, MUSICNN_WINDOW_LENGTH, musicnn_window_patches
from genrekit.settings import check_device, inference_threads
from genrekit.settings import device as default_device

GPU_INSTALL_HINT = "pip install 'genrekit[gpu]'"  # the extra with onnxruntime-gpu

MODEL_TYPE = "musicnn_head"
INPUT_NAME = "patches"  # graph input: (batch, 187, 96) float32 patches, time first
PROBS_NAME = "probs"  # graph output: (batch, n_labels) genre probabilities
TAGS_PREFIX = "tags."  # graph outputs "tags.<backbone>": (batch, n_tags) tag probabilities
EMBEDDING_NAME = "embedding"  # graph output where the card declares an embedding: (batch, dim) unit rows
OOD_NAME = "ood"  # last graph output of a head with an out-of-taxonomy score: (batch,) logits


def tag_output_name(backbone: str) -> str:
    """Name of a backbone's tag-probability output in the graph."""
    return f"{TAGS_PREFIX}{backbone}"


def has_onnx_graph(card: ModelCard) -> bool:
    """Whether the card lists an ONNX graph of a model type this module runs."""
    return card.model_type == MODEL_TYPE and ONNX_FILENAME in card.sha256


class OnnxMusicnnHead:
    """A :class:`~genrekit.models.base.WaveformClassifier` running a musicnn head bundle's
    ONNX graph (musicnn input in NumPy, networks in ONNX Runtime).

    Parameters
    ----------
    onnx_path : path
        The graph (input ``patches``, outputs ``probs`` and ``tags.<backbone>``).
    labels : list of str
        Genre names, in the order of the graph's ``probs`` columns.
    tag_names : dict of str to list of str
        Each backbone's tag vocabulary, in the order the graph's tag outputs follow.
    pad_mode : {"reflect", "constant"}
        STFT centre padding of each window's musicnn input (the card's ``features.pad_mode``).
    n_threads : int or None
        ONNX Runtime intra-op threads; ``None``: :func:`genrekit.settings.inference_threads`.
    embedding : EmbeddingSpec or None
        The card's embedding: the graph then has an output ``embedding`` after the tags (one unit
        vector per window, see :meth:`embed_all_windows`).
    has_ood : bool
        The graph ends with the ``ood`` output (the card's ``config.head.ood``).
    device : {"cpu", "cuda"} or None
        ``cuda`` runs the graph with ONNX Runtime's CUDAExecutionProvider (``genrekit[gpu]``);
        ``None``: :func:`genrekit.settings.device`.
    """

    sample_rate = MUSICNN_SR
    window_s = MUSICNN_WINDOW_LENGTH / MUSICNN_SR

    def __init__(
        self,
        onnx_path: str | os.PathLike[str],
        *,
        labels: list[str],
        tag_names: dict[str, list[str]],
        pad_mode: str = "reflect",
        n_threads: int | None = None,
        embedding: EmbeddingSpec | None = None,
        has_ood: bool = False,
        device: str | None = None,
    ) -> None:
        import onnxruntime as ort

        self.labels = list(labels)
        self.tag_names = {name: list(tags) for name, tags in tag_names.items()}
        self.pad_mode = pad_mode
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(n_threads or inference_threads())
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting on shared CPUs
        self.device = check_device(device) if device is not None else default_device()
        try:
            self._session = ort.InferenceSession(os.fspath(onnx_path), options, providers=execution_providers(self.device))
        except Exception as error:  # onnxruntime raises its own exception types
            raise BundleError(f"ONNX Runtime cannot load {onnx_path}: {error}") from error
        outputs = [o.name for o in self._session.get_outputs()]
        expected = [PROBS_NAME, *(tag_output_name(name) for name in self.tag_names)]
        expected += [EMBEDDING_NAME] if embedding is not None else []
        self.embedding = embedding
        self.has_ood = bool(has_ood)
        expected += [OOD_NAME] if self.has_ood else []
        if outputs != expected:
            raise BundleError(f"ONNX graph {onnx_path} has outputs {outputs}, the card implies {expected}")
        self._backbones = list(self.tag_names)

    def predict_all_windows(self, windows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Genre probabilities ``(n, n_labels)`` and tag probabilities ``{backbone: (n, n_tags)}``
        of 16 kHz windows ``(n, samples)`` (at least 47616 samples each)."""
        return self.predict_outputs_windows(windows)[:2]

    def predict_outputs_windows(
        self, windows: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """Genre probabilities, tag probabilities and each window's out-of-taxonomy logit
        ``(n,)`` (``None`` for a graph without one), in one pass."""
        return self.predict_outputs_patches(musicnn_window_patches(windows, pad_mode=self.pad_mode))

    def embed_all_windows(self, windows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Genre probabilities, tag probabilities and each window's unit embedding ``(n, dim)``.

        Raises
        ------
        InvalidParameterError
            The card declares no embedding.
        """
        probs, tags, vectors, _ = self.embed_outputs_windows(windows)
        return probs, tags, vectors

    def embed_outputs_windows(
        self, windows: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """:meth:`embed_all_windows` plus each window's out-of-taxonomy logit ``(n,)`` (``None``
        for a graph without one), in the same pass."""
        if self.embedding is None:
            raise InvalidParameterError("this model has no embedding (its card declares none)")
        return self.embed_outputs_patches(self.window_patches(windows))

    def window_patches(self, windows: np.ndarray) -> np.ndarray:
        """The graph's input: musicnn patches ``(n, 187, 96)`` float32 of 16 kHz windows ``(n, samples)``.

        The NumPy half of inference, which a decoding process can run (see
        :meth:`genrekit.predict.Classifier.prepare`).
        """
        return np.ascontiguousarray(musicnn_window_patches(windows, pad_mode=self.pad_mode), dtype=np.float32)

    def embed_outputs_patches(
        self, patches: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """:meth:`embed_outputs_windows` from musicnn input patches ``(n, 187, 96)`` (time first)."""
        if self.embedding is None:
            raise InvalidParameterError("this model has no embedding (its card declares none)")
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        if patches.shape[0] == 0:
            probs, tags, ood = self.predict_outputs_patches(patches)
            return probs, tags, np.zeros((0, self.embedding.dim), np.float32), ood
        outputs = self._session.run(None, {INPUT_NAME: patches})
        n_tags = len(self._backbones)
        tags = {name: np.asarray(out, dtype=np.float32) for name, out in zip(self._backbones, outputs[1 : 1 + n_tags])}
        ood = np.asarray(outputs[-1], dtype=np.float32) if self.has_ood else None
        return np.asarray(outputs[0], dtype=np.float32), tags, np.asarray(outputs[1 + n_tags], dtype=np.float32), ood

    def predict_patches(self, patches: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Genre and tag probabilities from musicnn input patches ``(n, 187, 96)`` (time first)."""
        return self.predict_outputs_patches(patches)[:2]

    def predict_outputs_patches(
        self, patches: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """:meth:`predict_outputs_windows` from musicnn input patches ``(n, 187, 96)`` (time first)."""
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        no_ood = np.zeros(0, np.float32) if self.has_ood else None
        if patches.shape[0] == 0:
            empty = {name: np.zeros((0, len(tags)), np.float32) for name, tags in self.tag_names.items()}
            return np.zeros((0, len(self.labels)), np.float32), empty, no_ood
        outputs = self._session.run(None, {INPUT_NAME: patches})
        n_tags = len(self._backbones)
        tags = {name: np.asarray(out, dtype=np.float32) for name, out in zip(self._backbones, outputs[1 : 1 + n_tags])}
        ood = np.asarray(outputs[-1], dtype=np.float32) if self.has_ood else None
        return np.asarray(outputs[0], dtype=np.float32), tags, ood

    def predict_proba_patches(self, patches: np.ndarray) -> np.ndarray:
        """Genre probabilities ``(n, n_labels)`` of musicnn input patches ``(n, 187, 96)`` (time
        first), computing only the graph's ``probs`` output."""
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        if patches.shape[0] == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        return np.asarray(self._session.run([PROBS_NAME], {INPUT_NAME: patches})[0], dtype=np.float32)

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        """Genre probabilities ``(n, n_labels)`` of 16 kHz windows; rows sum to 1."""
        return self.predict_all_windows(windows)[0]

    def predict_tags_windows(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Each backbone's tag probabilities ``{backbone: (n, n_tags)}``."""
        return self.predict_all_windows(windows)[1]


def execution_providers(device: str) -> list[str]:
    """ONNX Runtime providers of a device: ``["CPUExecutionProvider"]``, or CUDA first then CPU.

    Raises
    ------
    InvalidParameterError
        ``cuda`` where this ONNX Runtime has no CUDA provider (the message says how to install it).
    """
    import onnxruntime as ort

    if check_device(device) == "cpu":
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise InvalidParameterError(
            f"device 'cuda' needs ONNX Runtime's CUDAExecutionProvider, which this onnxruntime "
            f"{ort.__version__} lacks (it has {', '.join(available)}): install it with {GPU_INSTALL_HINT} "
            "on a machine with an NVIDIA GPU and CUDA 12, or use --device cpu"
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def card_tag_names(card: ModelCard) -> dict[str, list[str]]:
    """Each backbone's tag vocabulary from a musicnn head card, head backbones first."""
    try:
        head = card.config["head"]
        names = [*head["backbones"], *head.get("tag_backbones", [])]
        return {name: list(card.config["backbone_configs"][name]["tags"]) for name in names}
    except (KeyError, TypeError) as error:
        raise BundleError(f"musicnn head card config is malformed: {error}") from error


def from_onnx_graph(
    card: ModelCard, onnx_path: str | os.PathLike[str], *, n_threads: int | None = None, device: str | None = None
) -> OnnxMusicnnHead:
    """An :class:`OnnxMusicnnHead` for a musicnn head card and a graph file (not checked)."""
    if card.model_type != MODEL_TYPE:
        raise BundleError(f"card model_type is {card.model_type!r}, expected {MODEL_TYPE!r}")
    if int(card.sample_rate) != MUSICNN_SR or abs(float(card.window_s) - OnnxMusicnnHead.window_s) > 1e-9:
        raise BundleError(f"musicnn heads run {OnnxMusicnnHead.window_s} s windows at {MUSICNN_SR} Hz, the card says otherwise")
    pad_mode: Any = card.features.get("pad_mode", card.config.get("head", {}).get("pad_mode", "reflect"))
    return OnnxMusicnnHead(
        onnx_path,
        labels=list(card.labels),
        tag_names=card_tag_names(card),
        pad_mode=str(pad_mode),
        n_threads=n_threads,
        embedding=embedding_spec(card.config),
        has_ood=bool(card.config.get("head", {}).get("ood", False)),
        device=device,
    )


def load_onnx_bundle(
    directory: str | os.PathLike[str] | None,
    card: ModelCard,
    *,
    verify: bool = True,
    n_threads: int | None = None,
    device: str | None = None,
) -> OnnxMusicnnHead:
    """The ONNX Runtime model of a bundle that ships its graph, after checking its SHA-256.

    Raises
    ------
    BundleError
        No graph, a checksum mismatch, or a graph ONNX Runtime cannot load.
    """
    path: Path = checked_file(directory, card, ONNX_FILENAME, verify=verify)
    return from_onnx_graph(card, path, n_threads=n_threads, device=device)
