"""Transfer heads on frozen pretrained musicnn backbones: model type ``"musicnn_head"``.

A :class:`MusicnnHeadClassifier` turns 16 kHz mono windows into genre probabilities:

1. musicnn's input (:class:`genrekit.features.modules.MusicnnInput`) of each window, first
   187 frames (one musicnn patch);
2. one or more frozen backbones (e.g. ``MSD_musicnn`` and ``MTT_musicnn``), each giving the
   chosen embeddings (``penultimate`` 200, ``mean_pool`` 753, ``max_pool`` 753, ``taggram``
   50; VGG backbones: ``pool5`` 256, ``taggram``), concatenated in backbone-major order;
3. a :class:`MusicnnHead`: standardisation buffers, then a linear layer or a small MLP;
4. softmax of ``logits / temperature`` (temperature scaling, fitted by the trainer).

A window is :data:`WINDOW_LENGTH` = 187 x 256 = 47872 samples (2.992 s): consecutive
windows without overlap then tile the song exactly as musicnn's non-overlapping patches do.

Bundles hold every tensor (backbones under ``backbone.<name>.``, head under ``head.``), so
they load without the package's ``pretrained/`` files. Trainers use :func:`extract_embeddings`
to compute training features, fit a :class:`MusicnnHead`, then
:func:`musicnn_head_card` + :func:`build_musicnn_head_bundle_tensors` +
:func:`genrekit.bundle.save_bundle`, which writes the bundle's ONNX graph through the
artifact writer registered here (:func:`write_onnx_graph`).

The ``musicnn_head`` family (trainer ``head``, schema :func:`head_config_from_model`,
explainer :func:`musicnn_spectrogram_view`) is declared at the end of this module.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from genrekit.bundle.card import ModelCard
from genrekit.bundle.embedding import EmbeddingSpec, embedding_spec
from genrekit.bundle.io import ONNX_FILENAME, add_bundle_file, load_bundle, register_artifact_writer
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.families import HEAD, Family, SpectrogramView, no_spectrogram, register_family
from genrekit.models.onnx_runtime import MODEL_TYPE
from genrekit.models.loaders import register_model_type
from genrekit.features.config import MusicnnInputConfig
from genrekit.features.modules import MusicnnInput
from genrekit.features.spectral import MUSICNN_MIN_WINDOW_LENGTH, MUSICNN_WINDOW_LENGTH
from genrekit.models.musicnn import (
    HOP_LENGTH,
    N_FRAMES,
    PRETRAINED_CONFIGS,
    SAMPLE_RATE,
    Musicnn,
    MusicnnConfig,
    load_pretrained,
    pretrained_metadata,
    pretrained_path,
)

WINDOW_LENGTH = MUSICNN_WINDOW_LENGTH  # 47872 samples: one 187-frame musicnn patch
WINDOW_S = WINDOW_LENGTH / SAMPLE_RATE  # 2.992 s
MIN_WINDOW_LENGTH = MUSICNN_MIN_WINDOW_LENGTH  # 47616 samples: shortest window giving 187 frames
DEFAULT_BATCH_SIZE = 16  # windows per forward pass (peak about 18 MB per window, backbones run one after another)

MUSICNN_EMBEDDINGS = ("penultimate", "mean_pool", "max_pool", "taggram")
VGG_EMBEDDINGS = ("pool5", "taggram")


@dataclass(frozen=True)
class MusicnnHeadConfig:
    """What a musicnn head sees and how it is shaped.

    Parameters
    ----------
    backbones : tuple of str
        Pretrained backbone names (keys of :data:`genrekit.models.musicnn.PRETRAINED_CONFIGS`).
    embeddings : tuple of str
        Embeddings taken from every backbone, in this order: musicnn backbones offer
        ``penultimate``, ``mean_pool``, ``max_pool``, ``taggram``; VGG backbones ``pool5``, ``taggram``.
    hidden_units : tuple of int
        Hidden layer widths of the head; empty for a linear head.
    dropout : float in [0, 1)
        Dropout before each linear layer (training only).
    pad_mode : {"reflect", "constant"}
        STFT centre padding of each window's musicnn input.
    tag_backbones : tuple of str
        More pretrained backbones run on the same windows for their tags only (not fed to
        the head), e.g. MTT_musicnn's instrument and vocal tags next to an MSD head.
    ood : bool
        The head also gives each window an out-of-taxonomy logit (see :meth:`MusicnnHead.ood_logits`).
    """

    backbones: tuple[str, ...] = ("MSD_musicnn",)
    embeddings: tuple[str, ...] = ("penultimate", "mean_pool", "max_pool")
    hidden_units: tuple[int, ...] = ()
    dropout: float = 0.0
    pad_mode: str = "reflect"
    tag_backbones: tuple[str, ...] = ()
    ood: bool = False

    def __post_init__(self) -> None:
        for name in ("backbones", "embeddings", "hidden_units", "tag_backbones"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise InvalidParameterError(f"{name} must be a sequence, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not self.backbones or len(set(self.backbones)) != len(self.backbones):
            raise InvalidParameterError(f"backbones must be distinct and non-empty, got {self.backbones}")
        if not self.embeddings or len(set(self.embeddings)) != len(self.embeddings):
            raise InvalidParameterError(f"embeddings must be distinct and non-empty, got {self.embeddings}")
        if len(set(self.tag_backbones)) != len(self.tag_backbones) or set(self.tag_backbones) & set(self.backbones):
            raise InvalidParameterError(f"tag_backbones must be distinct and not among the backbones, got {self.tag_backbones}")
        for backbone in self.all_backbones:
            if backbone not in PRETRAINED_CONFIGS:
                raise InvalidParameterError(f"unknown backbone {backbone!r}; choose from {', '.join(PRETRAINED_CONFIGS)}")
        for backbone in self.backbones:
            allowed = VGG_EMBEDDINGS if PRETRAINED_CONFIGS[backbone].arch == "vgg" else MUSICNN_EMBEDDINGS
            bad = [e for e in self.embeddings if e not in allowed]
            if bad:
                raise InvalidParameterError(f"backbone {backbone} has no embedding {bad[0]!r}; it offers {', '.join(allowed)}")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.hidden_units):
            raise InvalidParameterError(f"hidden_units must be positive integers, got {self.hidden_units}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InvalidParameterError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pad_mode not in ("reflect", "constant"):
            raise InvalidParameterError(f"pad_mode must be 'reflect' or 'constant', got {self.pad_mode!r}")
        if not isinstance(self.ood, bool):
            raise InvalidParameterError(f"ood must be a bool, got {self.ood!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples as lists)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MusicnnHeadConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`InvalidParameterError`."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParameterError(f"unknown MusicnnHeadConfig keys: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @property
    def all_backbones(self) -> tuple[str, ...]:
        """Every backbone that runs: the head's, then the tag-only ones."""
        return self.backbones + self.tag_backbones

    def input_config(self) -> MusicnnInputConfig:
        """The musicnn input representation of each window."""
        return MusicnnInputConfig(pad_mode=self.pad_mode)


def embedding_dims(backbones: Sequence[str], embeddings: Sequence[str]) -> list[tuple[str, int]]:
    """Names (``"<backbone>/<embedding>"``) and widths of the concatenated embedding blocks."""
    dims = []
    for backbone in backbones:
        widths = Musicnn(PRETRAINED_CONFIGS[backbone]).embedding_dims()
        for name in embeddings:
            if name not in widths:
                raise InvalidParameterError(f"backbone {backbone} has no embedding {name!r}; it offers {', '.join(widths)}")
            dims.append((f"{backbone}/{name}", widths[name]))
    return dims


class MusicnnHead(nn.Module):
    """Standardisation, then a linear layer or an MLP, then temperature-scaled logits.

    Parameters
    ----------
    n_inputs : int
        Embedding width.
    n_classes : int
        Number of genres.
    hidden_units : sequence of int
        Hidden widths (ReLU); empty for a linear head.
    dropout : float
        Dropout before each linear layer.
    ood : bool
        Add the out-of-taxonomy buffers (see :meth:`ood_logits`).

    Notes
    -----
    Buffers (saved in bundles): ``mean`` and ``scale`` (the input is ``(x - mean) / scale``;
    set them from training embeddings with :meth:`set_standardization`) and ``temperature``
    (probabilities are ``softmax(logits / temperature)``; 1 until calibrated); with ``ood``,
    ``ood_weight``, ``ood_energy`` and ``ood_bias``.
    """

    mean: Tensor
    scale: Tensor
    temperature: Tensor

    def __init__(
        self, n_inputs: int, n_classes: int, hidden_units: Sequence[int] = (), dropout: float = 0.0, *, ood: bool = False
    ) -> None:
        super().__init__()
        if n_inputs < 1 or n_classes < 2:
            raise InvalidParameterError(f"a head needs n_inputs >= 1 and n_classes >= 2, got {n_inputs}, {n_classes}")
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("scale", torch.ones(n_inputs))
        self.register_buffer("temperature", torch.ones(()))
        self.has_ood = bool(ood)
        if self.has_ood:
            self.register_buffer("ood_weight", torch.zeros(n_inputs))
            self.register_buffer("ood_energy", torch.zeros(()))
            self.register_buffer("ood_bias", torch.zeros(()))
        layers: list[nn.Module] = []
        width = n_inputs
        for units in hidden_units:
            layers += [nn.Dropout(dropout), nn.Linear(width, units), nn.ReLU()]
            width = units
        layers += [nn.Dropout(dropout), nn.Linear(width, n_classes)]
        self.net = nn.Sequential(*layers)

    @property
    def n_inputs(self) -> int:
        """Embedding width."""
        return int(self.mean.shape[0])

    def set_standardization(self, embeddings: np.ndarray | Tensor, *, eps: float = 1e-6) -> "MusicnnHead":
        """Set ``mean``/``scale`` from training embeddings ``(n, n_inputs)`` (per-column mean and std)."""
        x = torch.as_tensor(embeddings, dtype=torch.float32)
        if x.ndim != 2 or x.shape[1] != self.n_inputs or x.shape[0] < 1:
            raise InvalidParameterError(f"embeddings must have shape (n >= 1, {self.n_inputs}), got {tuple(x.shape)}")
        self.mean.copy_(x.mean(0))
        self.scale.copy_(x.std(0, unbiased=False).clamp_min(eps))
        return self

    def set_temperature(self, temperature: float) -> "MusicnnHead":
        """Set the calibration temperature (> 0)."""
        if not float(temperature) > 0.0:
            raise InvalidParameterError(f"temperature must be > 0, got {temperature}")
        self.temperature.fill_(float(temperature))
        return self

    def forward(self, embeddings: Tensor) -> Tensor:
        """Uncalibrated logits ``(batch, n_classes)`` of ``(batch, n_inputs)`` embeddings."""
        return self.net((embeddings - self.mean) / self.scale)

    def predict_proba(self, embeddings: Tensor) -> Tensor:
        """Calibrated probabilities ``softmax(logits / temperature)``, ``(batch, n_classes)``."""
        return torch.softmax(self(embeddings) / self.temperature, dim=-1)

    def ood_logits(self, embeddings: Tensor) -> Tensor:
        """Out-of-taxonomy logit of each window, ``(batch,)``:
        ``ood_weight . z + ood_energy * logsumexp(logits / temperature) + ood_bias`` with
        ``z = (x - mean) / scale``. A track's score is the sigmoid of its windows' mean logit
        (the weights are fitted so that it is a calibrated probability of "none of these genres").
        """
        if not self.has_ood:
            raise InvalidParameterError("this head has no out-of-taxonomy score")
        z = (embeddings - self.mean) / self.scale
        energy = torch.logsumexp(self.net(z) / self.temperature, dim=-1)
        return z @ self.ood_weight + self.ood_energy * energy + self.ood_bias


def _as_windows(windows: np.ndarray | Tensor) -> Tensor:
    x = torch.as_tensor(np.asarray(windows, dtype=np.float32) if not isinstance(windows, Tensor) else windows)
    if x.ndim != 2:
        raise InvalidParameterError(f"windows must have shape (n_windows, n_samples), got {tuple(x.shape)}")
    if x.shape[1] < MIN_WINDOW_LENGTH:
        raise InvalidParameterError(
            f"windows must hold at least {MIN_WINDOW_LENGTH} samples at {SAMPLE_RATE} Hz "
            f"(expected {WINDOW_LENGTH} = {WINDOW_S} s), got {x.shape[1]}"
        )
    if not torch.isfinite(x).all():
        raise InvalidParameterError("windows contain NaN or infinite samples")
    return x.float()


class _BackboneEmbedder(nn.Module):
    """Windows -> musicnn patches -> concatenated embeddings of several frozen backbones (and
    the taggram of each, including backbones run for their tags only)."""

    def __init__(
        self,
        backbones: Mapping[str, Musicnn],
        embeddings: Sequence[str],
        input_config: MusicnnInputConfig,
        tag_only: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.backbones = nn.ModuleDict(dict(backbones))
        self.embeddings = tuple(embeddings)
        self.tag_only = tuple(tag_only)
        self.frontend = MusicnnInput(input_config)
        for model in self.backbones.values():
            model.eval().requires_grad_(False)

    def patches(self, windows: Tensor) -> Tensor:
        """``(n, samples)`` 16 kHz windows -> ``(n, 187, 96)`` patches (first 187 frames)."""
        return self.frontend(windows)[..., :N_FRAMES].transpose(-1, -2)

    def forward(self, windows: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return self.embed_patches(self.patches(windows))

    def embed_patches(self, patches: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """``(n, 187, 96)`` patches -> head inputs ``(n, n_inputs)`` and each backbone's taggram."""
        blocks = []
        taggrams = {}
        for name, model in self.backbones.items():
            out = model.embed(patches)
            if name not in self.tag_only:
                blocks.extend(out[e] for e in self.embeddings)
            taggrams[name] = out["taggram"]
        return torch.cat(blocks, dim=1), taggrams


def _load_backbones(names: Sequence[str]) -> dict[str, Musicnn]:
    return {name: load_pretrained(name) for name in names}


def extract_embeddings(
    windows_16k: np.ndarray | Tensor,
    backbones: Sequence[str] = ("MSD_musicnn",),
    embeddings: Sequence[str] = ("penultimate", "mean_pool", "max_pool"),
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pad_mode: str = "reflect",
    models: Mapping[str, Musicnn] | None = None,
) -> np.ndarray:
    """Concatenated frozen-backbone embeddings of 16 kHz windows, for training heads.

    Parameters
    ----------
    windows_16k : np.ndarray or Tensor [shape=(n_windows, n_samples), dtype=float32]
        Mono audio at 16 kHz, ``n_samples >= 47616``; :data:`WINDOW_LENGTH` (47872) expected.
        Only the first 187 musicnn frames of each window are used.
    backbones : sequence of str
        Pretrained backbone names.
    embeddings : sequence of str
        Embeddings per backbone (see :class:`MusicnnHeadConfig`).
    batch_size : int > 0
        Windows per forward pass; bounds memory (peak about 18 MB per window; the backbones
        run one after another).
    pad_mode : {"reflect", "constant"}
        STFT centre padding (must match the head's config).
    models : mapping of str to Musicnn, optional
        Already loaded backbones (avoids reloading them on every call).

    Returns
    -------
    np.ndarray [shape=(n_windows, n_features), dtype=float32]
        Blocks in backbone-major order; :func:`embedding_dims` names them.
    """
    config = MusicnnHeadConfig(backbones=tuple(backbones), embeddings=tuple(embeddings), pad_mode=pad_mode)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = _as_windows(windows_16k)
    loaded = dict(models) if models is not None else {}
    missing = [name for name in config.backbones if name not in loaded]
    loaded.update(_load_backbones(missing))
    embedder = _BackboneEmbedder({n: loaded[n] for n in config.backbones}, config.embeddings, config.input_config())
    n_features = sum(width for _, width in embedding_dims(config.backbones, config.embeddings))
    out = np.empty((x.shape[0], n_features), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            features, _ = embedder(x[start : start + batch_size])
            out[start : start + features.shape[0]] = features.numpy()
    return out


class _WindowEmbedding(nn.Module):
    """Head inputs + taggrams of windows -> their L2-normalised embedding (see :class:`EmbeddingSpec`)."""

    index: Tensor

    def __init__(self, spec: EmbeddingSpec, layout: Sequence[tuple[str, int]], head: MusicnnHead, backbones: Sequence[str]) -> None:
        super().__init__()
        offsets, start = {}, 0
        for name, width in layout:
            offsets[name] = (start, width)
            start += width
        columns: list[int] = []
        self.tag_blocks: list[str] = []
        for block in spec.blocks:
            backbone, _, kind = block.partition("/")
            if block in offsets:
                if self.tag_blocks:
                    raise InvalidParameterError("embedding blocks: head inputs must come before taggrams")
                first, width = offsets[block]
                columns.extend(range(first, first + width))
            elif kind == "taggram" and backbone in backbones:
                self.tag_blocks.append(backbone)
            else:
                raise InvalidParameterError(f"embedding block {block!r} is neither a head input nor a backbone's taggram")
        self.register_buffer("index", torch.tensor(columns, dtype=torch.long), persistent=False)
        self.head = head
        self.standardise = bool(spec.standardise)

    def forward(self, features: Tensor, taggrams: Mapping[str, Tensor]) -> Tensor:
        parts = []
        if self.index.numel():
            x = features.index_select(1, self.index)
            if self.standardise:
                x = (x - self.head.mean.index_select(0, self.index)) / self.head.scale.index_select(0, self.index)
            parts.append(x)
        parts.extend(taggrams[name] for name in self.tag_blocks)
        vectors = torch.cat(parts, dim=1)
        return vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)


class MusicnnHeadClassifier(nn.Module):
    """Frozen musicnn backbone(s) + trained head: a :class:`~genrekit.models.base.WaveformClassifier`.

    Parameters
    ----------
    labels : sequence of str
        Genre names (probability column order).
    config : MusicnnHeadConfig
        Backbones, embeddings, head shape.
    backbones : mapping of str to Musicnn, optional
        The backbone models (default: the pretrained ones from ``genrekit/pretrained``).
    head : MusicnnHead, optional
        Default: a freshly initialised head of the right width.
    batch_size : int
        Windows per forward pass.
    embedding : EmbeddingSpec or None
        The track embedding this model offers (:meth:`embed_all_windows`); ``None``: none.
    """

    model_type: str = MODEL_TYPE
    sample_rate: int = SAMPLE_RATE
    window_s: float = WINDOW_S

    def __init__(
        self,
        labels: Sequence[str],
        config: MusicnnHeadConfig | None = None,
        backbones: Mapping[str, Musicnn] | None = None,
        head: MusicnnHead | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        embedding: EmbeddingSpec | None = None,
    ) -> None:
        super().__init__()
        self.labels = list(labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise InvalidParameterError("labels must be at least two distinct names")
        self.config = config if config is not None else MusicnnHeadConfig()
        names = self.config.all_backbones
        models = dict(backbones) if backbones is not None else _load_backbones(names)
        if set(models) != set(names):
            raise InvalidParameterError(f"backbones {sorted(models)} do not match the config's {list(names)}")
        self.embedder = _BackboneEmbedder(
            {n: models[n] for n in names}, self.config.embeddings, self.config.input_config(), self.config.tag_backbones
        )
        self.n_inputs = sum(width for _, width in embedding_dims(self.config.backbones, self.config.embeddings))
        self.head = head if head is not None else MusicnnHead(
            self.n_inputs, len(self.labels), self.config.hidden_units, self.config.dropout, ood=self.config.ood
        )
        if self.head.n_inputs != self.n_inputs:
            raise InvalidParameterError(f"head takes {self.head.n_inputs} inputs, the embeddings have {self.n_inputs}")
        if self.head.has_ood != self.config.ood:
            raise InvalidParameterError(f"the config says ood={self.config.ood}, the head has_ood={self.head.has_ood}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.embedding = embedding
        self.window_embedding = (
            None
            if embedding is None
            else _WindowEmbedding(
                embedding, embedding_dims(self.config.backbones, self.config.embeddings), self.head, names
            )
        )
        if self.window_embedding is not None:
            width = int(self.window_embedding.index.numel()) + sum(
                len(models[n].tags) for n in self.window_embedding.tag_blocks
            )
            if width != embedding.dim:  # type: ignore[union-attr]
                raise InvalidParameterError(f"embedding blocks are {width} wide, the spec says {embedding.dim}")  # type: ignore[union-attr]
        self.eval()

    @property
    def backbones(self) -> dict[str, Musicnn]:
        """The frozen backbones by name."""
        return dict(self.embedder.backbones.items())  # type: ignore[arg-type]

    @property
    def tag_names(self) -> dict[str, list[str]]:
        """Tag vocabulary of each backbone (columns of :meth:`predict_tags_windows`)."""
        return {name: model.tags for name, model in self.backbones.items()}

    def train(self, mode: bool = True) -> "MusicnnHeadClassifier":
        """Only the head trains; the backbones stay in eval mode (frozen batch-norm statistics)."""
        super().train(mode)
        for model in self.embedder.backbones.values():
            model.eval()
        return self

    def forward(self, windows: Tensor) -> Tensor:
        """Uncalibrated head logits ``(n, n_labels)`` of ``(n, samples)`` 16 kHz windows."""
        features, _ = self.embedder(windows)
        return self.head(features)

    def _run(self, windows: np.ndarray | Tensor) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """(genre probabilities, tag probabilities, out-of-taxonomy logits or ``None``)."""
        probs, tags, _, ood = self._run_all(windows, embed=False)
        return probs, tags, ood

    def _run_all(
        self, windows: np.ndarray | Tensor, *, embed: bool
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None, np.ndarray | None]:
        x = _as_windows(windows)
        if embed and self.window_embedding is None:
            raise InvalidParameterError("this model has no embedding (its card declares none)")
        probs: list[Tensor] = []
        vectors: list[Tensor] = []
        ood: list[Tensor] = []
        tags: dict[str, list[Tensor]] = {name: [] for name in self.config.all_backbones}
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                for start in range(0, x.shape[0], self.batch_size):
                    features, taggrams = self.embedder(x[start : start + self.batch_size])
                    probs.append(self.head.predict_proba(features))
                    if embed:
                        vectors.append(self.window_embedding(features, taggrams))  # type: ignore[misc]
                    if self.head.has_ood:
                        ood.append(self.head.ood_logits(features))
                    for name, value in taggrams.items():
                        tags[name].append(value)
        finally:
            self.train(was_training)
        dim = self.embedding.dim if self.embedding is not None else 0
        embeddings = (torch.cat(vectors).numpy().astype(np.float32) if vectors else np.zeros((0, dim), np.float32)) if embed else None
        no_ood = np.zeros(0, np.float32) if self.head.has_ood else None
        if not probs:
            empty = {name: np.zeros((0, len(self.tag_names[name])), np.float32) for name in tags}
            return np.zeros((0, len(self.labels)), np.float32), empty, embeddings, no_ood
        return (
            torch.cat(probs).numpy().astype(np.float32),
            {name: torch.cat(v).numpy().astype(np.float32) for name, v in tags.items()},
            embeddings,
            torch.cat(ood).numpy().astype(np.float32) if ood else no_ood,
        )

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        """Genre probabilities of 16 kHz windows.

        Parameters
        ----------
        windows : np.ndarray [shape=(n_windows, n_samples), dtype=float32]
            Mono audio at 16 kHz, :data:`WINDOW_LENGTH` samples each (at least 47616).

        Returns
        -------
        np.ndarray [shape=(n_windows, len(labels)), dtype=float32]
            Rows sum to 1.
        """
        return self._run(windows)[0]

    def predict_tags_windows(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Each backbone's musicnn tag probabilities (sigmoid), ``{backbone: (n_windows, 50)}``."""
        return self._run(windows)[1]

    def predict_all_windows(self, windows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Genre probabilities and tag probabilities in one pass (see the two methods above)."""
        return self._run(windows)[:2]

    def predict_outputs_windows(self, windows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """Genre probabilities, tag probabilities and the out-of-taxonomy logit of each window
        (``(n_windows,)``, ``None`` for a head without one) in one pass."""
        return self._run(windows)

    def embed_all_windows(self, windows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Genre probabilities, tag probabilities and each window's L2-normalised embedding
        ``(n_windows, embedding.dim)`` in one pass (see :class:`EmbeddingSpec`).

        Raises
        ------
        InvalidParameterError
            The model has no embedding.
        """
        probs, tags, vectors, _ = self.embed_outputs_windows(windows)
        return probs, tags, vectors

    def embed_outputs_windows(
        self, windows: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """:meth:`embed_all_windows` plus each window's out-of-taxonomy logit (``None`` for a
        head without one), in the same pass."""
        probs, tags, vectors, ood = self._run_all(windows, embed=True)
        assert vectors is not None
        return probs, tags, vectors, ood

    def bundle_tensors(self) -> dict[str, Tensor]:
        """Every tensor a bundle needs: ``backbone.<name>.<weight>`` and ``head.<weight>``."""
        return build_musicnn_head_bundle_tensors(self.backbones, self.head)

    def card_fields(self) -> dict[str, Any]:
        """The :class:`ModelCard` fields this model determines (see :func:`musicnn_head_card`)."""
        return {
            "model_type": MODEL_TYPE,
            "labels": list(self.labels),
            "sample_rate": SAMPLE_RATE,
            "window_s": WINDOW_S,
            "features": {
                **self.config.input_config().to_dict(),
                "representation": "log10(1 + 10000 * mel_power)",
                "f_min_hz": 0.0,
                "f_max_hz": SAMPLE_RATE / 2,
                "mel_scale": "slaney",
                "mel_norm": "slaney",
                "window_length": WINDOW_LENGTH,
            },
            "config": {
                "head": self.config.to_dict(),
                "n_inputs": self.n_inputs,
                "embedding_blocks": [list(block) for block in embedding_dims(self.config.backbones, self.config.embeddings)],
                "backbone_configs": {name: model.config.to_dict() for name, model in self.backbones.items()},
                **({"embedding": self.embedding.to_dict()} if self.embedding is not None else {}),
            },
            "provenance": {"backbones": {name: _backbone_provenance(name) for name in self.config.all_backbones}},
            "tags": list(self.tag_names[self.config.backbones[0]]),
        }


def _backbone_provenance(name: str) -> dict[str, str]:
    if not pretrained_path(name).is_file():
        return {"model": name}
    metadata = pretrained_metadata(name)
    metadata.pop("config", None)
    metadata.pop("format", None)
    return metadata


def build_musicnn_head_bundle_tensors(backbones: Mapping[str, Musicnn], head: MusicnnHead) -> dict[str, Tensor]:
    """Bundle tensors: ``backbone.<name>.<weight>`` for each backbone and ``head.<weight>``.

    Parameters
    ----------
    backbones : mapping of str to Musicnn
    head : MusicnnHead

    Returns
    -------
    dict of str to Tensor
        Detached CPU tensors, ready for :func:`genrekit.bundle.save_bundle`.
    """
    tensors = {}
    for name, model in backbones.items():
        for key, value in model.weights().items():
            tensors[f"backbone.{name}.{key}"] = value.detach().cpu()
    for key, value in head.state_dict().items():
        tensors[f"head.{key}"] = value.detach().cpu()
    return tensors


def musicnn_head_card(
    model: MusicnnHeadClassifier,
    *,
    name: str,
    version: str = "1",
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    limitations: Sequence[str] = (),
) -> ModelCard:
    """A :class:`ModelCard` for a musicnn head model, with every field the loader needs.

    Parameters
    ----------
    model : MusicnnHeadClassifier
    name, version : str
        Model name and version.
    training, metrics : dict, optional
        Training data/config and validation metrics (see :class:`ModelCard`).
    limitations : sequence of str
    """
    fields = model.card_fields()
    return ModelCard(
        name=name,
        version=version,
        training=dict(training or {}),
        metrics=dict(metrics or {}),
        limitations=list(limitations),
        **fields,
    )


def from_bundle(card: ModelCard, tensors: Mapping[str, Tensor]) -> MusicnnHeadClassifier:
    """Rebuild a :class:`MusicnnHeadClassifier` from a bundle's card and tensors.

    Raises
    ------
    BundleError
        Wrong model type, sample rate or window, missing or mis-shaped tensors.
    """
    if card.model_type != MODEL_TYPE:
        raise BundleError(f"card model_type is {card.model_type!r}, expected {MODEL_TYPE!r}")
    if int(card.sample_rate) != SAMPLE_RATE:
        raise BundleError(f"musicnn heads run at {SAMPLE_RATE} Hz, the card says {card.sample_rate} Hz")
    if abs(float(card.window_s) - WINDOW_S) > 1e-9:
        raise BundleError(f"musicnn heads use {WINDOW_S} s windows, the card says {card.window_s} s")
    try:
        config = MusicnnHeadConfig.from_dict(card.config["head"])
        backbone_configs = {
            name: MusicnnConfig.from_dict(card.config["backbone_configs"][name]) for name in config.all_backbones
        }
    except (KeyError, TypeError, InvalidParameterError) as error:
        raise BundleError(f"musicnn head card config is malformed: {error}") from error
    backbones = {}
    for name, cfg in backbone_configs.items():
        prefix = f"backbone.{name}."
        weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        backbones[name] = Musicnn(cfg).load_weights(weights)
    head_state = {k[len("head.") :]: v for k, v in tensors.items() if k.startswith("head.")}
    n_inputs = sum(width for _, width in embedding_dims(config.backbones, config.embeddings))
    head = MusicnnHead(n_inputs, len(card.labels), config.hidden_units, config.dropout, ood=config.ood)
    expected = head.state_dict()
    if set(head_state) != set(expected) or any(head_state[k].shape != expected[k].shape for k in expected):
        raise BundleError(
            f"head tensors {sorted(head_state)} do not fit a head with {n_inputs} inputs, "
            f"hidden units {list(config.hidden_units)} and {len(card.labels)} classes"
        )
    head.load_state_dict(head_state)
    known = {f"backbone.{n}." for n in config.all_backbones} | {"head."}
    extra = sorted(k for k in tensors if not any(k.startswith(p) for p in known))
    if extra:
        raise BundleError(f"unexpected tensors in a musicnn head bundle: {extra[:5]}")
    try:
        embedding = embedding_spec(card.config)
        return MusicnnHeadClassifier(card.labels, config, backbones, head, embedding=embedding)
    except InvalidParameterError as error:
        raise BundleError(f"musicnn head card embedding config does not fit the model: {error}") from error


@register_model_type(MODEL_TYPE)
def load_musicnn_head(card: ModelCard, tensors: dict[str, Tensor]) -> MusicnnHeadClassifier:
    """Bundle loader of model type ``"musicnn_head"`` (see :func:`from_bundle`)."""
    return from_bundle(card, tensors)


@register_artifact_writer(MODEL_TYPE)
def write_onnx_graph(directory: Path, card: ModelCard, tensors: Mapping[str, Tensor]) -> list[str]:
    """Bundle artifact of ``"musicnn_head"``: the ONNX graph that serves it without torch,
    exported into ``directory`` by :func:`genrekit.models.onnx_export.export_onnx` (needs ``onnx``)."""
    from genrekit.models.onnx_export import export_onnx

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
    write_onnx_graph(Path(directory), card, tensors)
    return add_bundle_file(directory, ONNX_FILENAME)


def head_config_from_model(model: Mapping[str, Any]) -> MusicnnHeadConfig:
    """The family's ``schema``: a training config's ``model`` table as a :class:`MusicnnHeadConfig`.

    Raises
    ------
    InvalidParameterError
        Unknown key or bad value.
    """
    try:
        return MusicnnHeadConfig.from_dict(dict(model))
    except TypeError as error:
        raise InvalidParameterError(f"bad musicnn_head model parameters: {error}") from error


def musicnn_spectrogram_view(model: Any, card: Any) -> SpectrogramView:
    """Explainer of musicnn heads: musicnn's ``log10(1 + 10000 mel)`` patches (96 bands,
    62.5 frames/s), then the genre backbones and the head.

    Raises
    ------
    InvalidParameterError
        The model is not a PyTorch :class:`MusicnnHeadClassifier` (e.g. on ONNX Runtime).
    """
    if not isinstance(model, MusicnnHeadClassifier):
        return no_spectrogram(model, card)
    embedder, head = model.embedder, model.head
    model.eval()

    def musicnn_spec(windows: Tensor) -> Tensor:
        with torch.no_grad():
            return embedder.patches(windows).transpose(1, 2).contiguous()  # (n, 96, 187)

    genre_backbones = [(name, bb) for name, bb in embedder.backbones.items() if name not in embedder.tag_only]

    def musicnn_proba(spec: Tensor) -> Tensor:
        patches = spec.transpose(1, 2)
        blocks = []
        for _, backbone in genre_backbones:  # backbones run for their tags only are skipped
            out = backbone.embed(patches)
            blocks.extend(out[e] for e in embedder.embeddings)
        return head.predict_proba(torch.cat(blocks, dim=1))

    return SpectrogramView(musicnn_spec, musicnn_proba, SAMPLE_RATE / HOP_LENGTH, "musicnn log-mel", SAMPLE_RATE / 2)


register_family(
    Family(
        name=MODEL_TYPE,
        trainer=HEAD,
        schema=head_config_from_model,
        explainer=musicnn_spectrogram_view,
        search=f"{MODEL_TYPE}.toml",
        preset={"sample_rate": SAMPLE_RATE, "epochs": 200, "patience": 30, "batch_size": 64, "learning_rate": 3e-3},
    )
)
