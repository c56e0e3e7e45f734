"""PyTorch port of musicnn (Pons & Serra, 2019): pretrained music audio taggers.

Four pretrained models from the ``musicnn`` 0.1.0 wheel (ISC licence) are ported:

* ``MSD_musicnn`` / ``MTT_musicnn``: the musically motivated CNN. Front-end: a batch norm
  on the input, two *timbral* convolutions (7 frames x 38 or 67 mel bands, 204 filters each,
  valid in frequency) and three *temporal* convolutions (128, 64, 32 frames x 1 band,
  51 filters each, 'same' in time), each conv -> ReLU -> batch norm -> max over frequency.
  Mid-end: three 1-D convolutions over time (7 frames, 64 filters) with residual connections;
  the front-end and mid-end maps are concatenated (561 + 3 x 64 = 753 channels). Back-end:
  max and mean over time (interleaved, 1506 values) -> batch norm -> dense 200 + ReLU ->
  batch norm (the ``penultimate`` embedding) -> dense 50 tag logits.
* ``MSD_vgg`` / ``MTT_vgg``: five 3x3 conv (128 filters) -> ReLU -> batch norm -> max-pool
  blocks, then a dense layer to 50 tag logits.

``MSD_*`` models predict the 50 Million Song Dataset tags (:data:`MSD_TAGS`), ``MTT_*`` the
50 MagnaTagATune tags (:data:`MTT_TAGS`). Every batch norm uses TensorFlow's default
epsilon 0.001. Inference (``eval()``) reproduces TensorFlow's ``is_training=False`` graph.

Input: musicnn log-mel patches ``(batch, n_frames, n_mels) = (batch, 187, 96)``, i.e. time
first, as in the original code: ``log10(1 + 10000 * mel)`` of a 16 kHz signal, n_fft 512,
hop 256 (see :func:`genrekit.features.functional.musicnn_input`, which returns
``(..., n_mels, frames)``: transpose its last two axes). The musicnn models accept any
number of frames (they pool over time); the VGG models need exactly 187.

Weights live in ``genrekit/pretrained/<name>.safetensors`` (converted from the wheel's
TensorFlow checkpoints by ``scripts/convert_musicnn.py``; see ``pretrained/README.md``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genrekit.errors import BundleError, InvalidParameterError
from genrekit.features.spectral import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_N_FFT,
    MUSICNN_N_FRAMES,
    MUSICNN_N_MELS,
    MUSICNN_SR,
    MUSICNN_WINDOW_LENGTH,
)

SAMPLE_RATE = MUSICNN_SR  # Hz, musicnn's input sample rate
N_FFT = MUSICNN_N_FFT  # samples
HOP_LENGTH = MUSICNN_HOP_LENGTH  # samples
N_MELS = MUSICNN_N_MELS  # mel bands
N_FRAMES = MUSICNN_N_FRAMES  # frames per patch: librosa.time_to_frames(3 s) + 1
PATCH_HOP_LENGTH = MUSICNN_WINDOW_LENGTH  # 47872 samples between consecutive non-overlapping patches
PATCH_DURATION_S = PATCH_HOP_LENGTH / SAMPLE_RATE  # 2.992 s
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default epsilon

MTT_TAGS: list[str] = [
    'guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast',
    'piano', 'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male',
    'singing', 'vocals', 'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman',
    'male vocal', 'no vocal', 'pop', 'soft', 'sitar', 'solo', 'man', 'classic', 'choir', 'voice',
    'new age', 'dance', 'male voice', 'female vocal', 'beats', 'harp', 'cello', 'no voice', 'weird',
    'country', 'metal', 'female voice', 'choral',
]
"""The 50 MagnaTagATune tags, in musicnn's ``configuration.MTT_LABELS`` order."""

MSD_TAGS: list[str] = [
    'rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s',
    'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists', 'classic rock',
    'soul', 'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill', 'instrumental',
    'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic', 'experimental',
    'female vocalist', 'guitar', 'Hip-Hop', '70s', 'party', 'country', 'easy listening', 'sexy',
    'catchy', 'funk', 'electro', 'heavy metal', 'Progressive rock', '60s', 'rnb', 'indie pop',
    'sad', 'House', 'happy',
]
"""The 50 Million Song Dataset tags, in musicnn's ``configuration.MSD_LABELS`` order."""

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"

MUSICNN_EMBEDDINGS = ("penultimate", "mean_pool", "max_pool")
VGG_EMBEDDINGS = ("pool5",)


@dataclass(frozen=True)
class MusicnnConfig:
    """Architecture of a musicnn or VGG tagger.

    Parameters
    ----------
    arch : {"musicnn", "vgg"}
        Network family.
    tags : tuple of str
        Output tag names (their count is the number of logits).
    n_mels : int
        Mel bands of the input patches.
    n_frames : int
        Frames per training patch (the VGG models need exactly this many).
    frontend_width : float
        Front-end filter multiplier (musicnn): 1.6 gives 204 timbral and 51 temporal filters.
    n_filters_midend : int
        Filters of each mid-end convolution (musicnn).
    n_units_backend : int
        Units of the penultimate dense layer (musicnn).
    n_filters_vgg : int
        Filters of each VGG convolution.
    bn_eps : float
        Batch-norm epsilon.
    """

    arch: str = "musicnn"
    tags: tuple[str, ...] = tuple(MSD_TAGS)
    n_mels: int = N_MELS
    n_frames: int = N_FRAMES
    frontend_width: float = 1.6
    n_filters_midend: int = 64
    n_units_backend: int = 200
    n_filters_vgg: int = 128
    bn_eps: float = BN_EPS

    def __post_init__(self) -> None:
        if self.arch not in ("musicnn", "vgg"):
            raise InvalidParameterError(f"arch must be 'musicnn' or 'vgg', got {self.arch!r}")
        if not self.tags:
            raise InvalidParameterError("tags must not be empty")
        if self.n_mels < 67 and self.arch == "musicnn":
            raise InvalidParameterError(f"musicnn needs n_mels >= 67 (widest timbral filter), got {self.n_mels}")
        if self.n_frames < 1 or self.n_filters_midend < 1 or self.n_units_backend < 1 or self.n_filters_vgg < 1:
            raise InvalidParameterError("n_frames and layer sizes must be positive")
        object.__setattr__(self, "tags", tuple(self.tags))

    @property
    def n_tags(self) -> int:
        """Number of output tags."""
        return len(self.tags)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tags as a list)."""
        data = dataclasses.asdict(self)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MusicnnConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`InvalidParameterError`."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParameterError(f"unknown MusicnnConfig keys: {', '.join(unknown)}")
        values = dict(data)
        if "tags" in values:
            values["tags"] = tuple(values["tags"])
        return cls(**values)


PRETRAINED_CONFIGS: dict[str, MusicnnConfig] = {
    "MSD_musicnn": MusicnnConfig(arch="musicnn", tags=tuple(MSD_TAGS)),
    "MTT_musicnn": MusicnnConfig(arch="musicnn", tags=tuple(MTT_TAGS)),
    "MSD_vgg": MusicnnConfig(arch="vgg", tags=tuple(MSD_TAGS)),
    "MTT_vgg": MusicnnConfig(arch="vgg", tags=tuple(MTT_TAGS)),
}
"""Architectures of the four pretrained models (``musicnn/models.py::define_model``)."""

PRETRAINED_SHA256: dict[str, str] = {
    "MSD_musicnn": "5311855b26dc960ee6a06594dae60a41b6a4cec4492ca5c124230cef59da3f30",
    "MTT_musicnn": "cbf80db4dd4b1da3f37d890417bac3972d83144f5d5452a583f79e4bf8cb1c5a",
    "MSD_vgg": "406537967f8818ff0f0efae9471c73d6e3051f7b8350b406c11ac93216274951",
    "MTT_vgg": "d61e583b9dcce5eecc0cf7dc6e730d509e556377aa1d46c7171a972bd4f4ea4c",
}
"""SHA-256 of each converted file (``scripts/convert_musicnn.py`` output is byte-reproducible)."""


def _same_pad(kernel: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (stride 1): the extra sample goes after."""
    total = kernel - 1
    return total // 2, total - total // 2


class _ConvBlock(nn.Module):
    """conv -> ReLU -> batch norm (musicnn applies the activation before the norm)."""

    def __init__(self, conv: nn.Module, n_channels: int, bn_eps: float, dims: int) -> None:
        super().__init__()
        self.conv = conv
        self.bn = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(n_channels, eps=bn_eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(F.relu(self.conv(x)))

    def forward_max_last(self, x: Tensor) -> Tensor:
        """``forward(x).amax(-1)``, computed without materialising the activations in eval mode.

        In eval mode batch norm is a per-channel affine map ``y = s * relu(z) + t``, monotonic in
        ``z`` (also after float rounding), so its maximum over the last axis is reached at
        ``max(z)`` where ``s >= 0`` and at ``min(z)`` where ``s < 0``: one reduction pass over the
        convolution output replaces three (ReLU, batch norm, max) and gives identical values.
        """
        z = self.conv(x)
        if self.bn.training or self.bn.running_var is None:
            return self.bn(F.relu(z)).amax(dim=-1)
        z_min, z_max = torch.aminmax(z, dim=-1)
        increasing = (self.bn.weight >= 0).view(-1, *([1] * (z_max.ndim - 2)))
        bn = self.bn
        selected = F.relu(torch.where(increasing, z_max, z_min))
        return F.batch_norm(selected, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


class Musicnn(nn.Module):
    """musicnn / VGG music tagger (see the module docstring for the architecture).

    Parameters
    ----------
    config : MusicnnConfig
        Architecture; :data:`PRETRAINED_CONFIGS` holds the pretrained ones.

    Notes
    -----
    ``forward(patches)`` takes ``(batch, n_frames, n_mels)`` float32 log-mel patches and returns
    ``(batch, n_tags)`` logits (apply ``sigmoid`` for musicnn's tag probabilities).
    """

    def __init__(self, config: MusicnnConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else MusicnnConfig()
        cfg = self.config
        eps = cfg.bn_eps
        self.input_bn = nn.BatchNorm2d(1, eps=eps)
        if cfg.arch == "musicnn":
            n_timbral = int(cfg.frontend_width * 128)
            n_temporal = int(cfg.frontend_width * 32)
            self.timbral_kernels = (int(0.4 * cfg.n_mels), int(0.7 * cfg.n_mels))
            self.temporal_kernels = (128, 64, 32)
            self.timbral = nn.ModuleList(
                _ConvBlock(nn.Conv2d(1, n_timbral, (7, k)), n_timbral, eps, 2) for k in self.timbral_kernels
            )
            self.temporal = nn.ModuleList(
                _ConvBlock(nn.Conv2d(1, n_temporal, (k, 1)), n_temporal, eps, 2) for k in self.temporal_kernels
            )
            n_front = 2 * n_timbral + 3 * n_temporal
            n_mid = cfg.n_filters_midend
            self.midend = nn.ModuleList(
                _ConvBlock(nn.Conv1d(n_in, n_mid, 7), n_mid, eps, 1) for n_in in (n_front, n_mid, n_mid)
            )
            self.n_frontend_channels = n_front
            self.n_pool_channels = n_front + 3 * n_mid
            self.backend_bn = nn.BatchNorm1d(2 * self.n_pool_channels, eps=eps)
            self.dense = nn.Linear(2 * self.n_pool_channels, cfg.n_units_backend)
            self.dense_bn = nn.BatchNorm1d(cfg.n_units_backend, eps=eps)
            self.output = nn.Linear(cfg.n_units_backend, cfg.n_tags)
        else:
            n_f = cfg.n_filters_vgg
            self.vgg = nn.ModuleList(
                _ConvBlock(nn.Conv2d(1 if i == 0 else n_f, n_f, 3, padding=1), n_f, eps, 2) for i in range(5)
            )
            self.vgg_pools = nn.ModuleList(
                nn.MaxPool2d(kernel, stride) for kernel, stride in (((4, 1), 2), (2, 2), (2, 2), (2, 2), (4, 4))
            )
            time_len, freq_len = cfg.n_frames, cfg.n_mels
            for pool in self.vgg_pools:
                (kt, kf), (st, sf) = _pair(pool.kernel_size), _pair(pool.stride)
                time_len, freq_len = (time_len - kt) // st + 1, (freq_len - kf) // sf + 1
            if time_len < 1 or freq_len < 1:
                raise InvalidParameterError("VGG input is too small for its five pooling layers")
            self.output = nn.Linear(n_f * time_len * freq_len, cfg.n_tags)

    @property
    def tags(self) -> list[str]:
        """Tag names, in logit order."""
        return list(self.config.tags)

    def _check_input(self, patches: Tensor) -> Tensor:
        if not isinstance(patches, Tensor):
            raise InvalidParameterError(f"patches must be a torch.Tensor, got {type(patches).__name__}")
        if patches.ndim != 3 or patches.shape[-1] != self.config.n_mels:
            raise InvalidParameterError(
                f"patches must have shape (batch, n_frames, {self.config.n_mels}), got {tuple(patches.shape)}"
            )
        if self.config.arch == "vgg" and patches.shape[1] != self.config.n_frames:
            raise InvalidParameterError(f"VGG models need exactly {self.config.n_frames} frames, got {patches.shape[1]}")
        if self.config.arch == "musicnn" and patches.shape[1] < 1:
            raise InvalidParameterError("patches must hold at least one frame")
        return patches.to(self.input_bn.weight.dtype)

    def features(self, patches: Tensor) -> dict[str, Tensor]:
        """All intermediate representations, named as musicnn's ``extractor`` names them.

        Parameters
        ----------
        patches : Tensor [shape=(batch, n_frames, n_mels), dtype=float32]
            musicnn log-mel patches.

        Returns
        -------
        dict of str to Tensor
            musicnn: ``timbral`` (batch, n_frames, 408), ``temporal`` (batch, n_frames, 153),
            ``cnn1``/``cnn2``/``cnn3`` (batch, n_frames, 64), ``mean_pool``/``max_pool``
            (batch, 753), ``penultimate`` (batch, 200), ``logits`` (batch, n_tags).
            VGG: ``pool1`` ... ``pool5`` in (batch, time, freq, channels) layout, ``pool5_flat``
            (batch, 256) and ``logits``.
        """
        x = self.input_bn(self._check_input(patches).unsqueeze(1))  # (batch, 1, time, mel)
        if self.config.arch == "vgg":
            return self._vgg_features(x)
        padded = F.pad(x, (0, 0, 3, 3))
        front = [block.forward_max_last(padded) for block in self.timbral]
        for kernel, block in zip(self.temporal_kernels, self.temporal, strict=True):
            front.append(block.forward_max_last(F.pad(x, (0, 0, *_same_pad(kernel)))))
        frontend = torch.cat(front, dim=1)  # (batch, 561, time)
        cnn1 = self.midend[0](F.pad(frontend, (3, 3)))
        cnn2 = self.midend[1](F.pad(cnn1, (3, 3))) + cnn1
        cnn3 = self.midend[2](F.pad(cnn2, (3, 3))) + cnn2
        pooled_input = torch.cat([frontend, cnn1, cnn2, cnn3], dim=1)  # (batch, 753, time)
        max_pool = pooled_input.amax(dim=-1)
        mean_pool = pooled_input.mean(dim=-1)
        flat = torch.stack([max_pool, mean_pool], dim=-1).flatten(1)  # TF interleaves max/mean
        penultimate = self.dense_bn(F.relu(self.dense(self.backend_bn(flat))))
        return {
            "timbral": torch.cat(front[:2], dim=1).transpose(1, 2),
            "temporal": torch.cat(front[2:], dim=1).transpose(1, 2),
            "cnn1": cnn1.transpose(1, 2),
            "cnn2": cnn2.transpose(1, 2),
            "cnn3": cnn3.transpose(1, 2),
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
            "logits": self.output(penultimate),
        }

    def _vgg_features(self, x: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for i, (block, pool) in enumerate(zip(self.vgg, self.vgg_pools, strict=True), start=1):
            x = pool(block(x))
            out[f"pool{i}"] = x.permute(0, 2, 3, 1)
        flat = out["pool5"].flatten(1)  # TF flattens NHWC: (time, freq, channel) order
        out["pool5_flat"] = flat
        out["logits"] = self.output(flat)
        return out

    def forward(self, patches: Tensor) -> Tensor:
        """Tag logits ``(batch, n_tags)`` of ``(batch, n_frames, n_mels)`` patches."""
        return self.features(patches)["logits"]

    def embed(self, patches: Tensor) -> dict[str, Tensor]:
        """Clip-level embeddings of ``(batch, n_frames, n_mels)`` patches.

        Returns
        -------
        dict of str to Tensor
            musicnn: ``penultimate`` (batch, 200), ``mean_pool`` (batch, 753), ``max_pool``
            (batch, 753), ``taggram`` (batch, n_tags) sigmoid probabilities.
            VGG: ``pool5`` (batch, 256) and ``taggram``.
        """
        feats = self.features(patches)
        if self.config.arch == "vgg":
            out = {"pool5": feats["pool5_flat"]}
        else:
            out = {name: feats[name] for name in MUSICNN_EMBEDDINGS}
        out["taggram"] = torch.sigmoid(feats["logits"])
        return out

    def embedding_dims(self) -> dict[str, int]:
        """Width of each :meth:`embed` output."""
        if self.config.arch == "vgg":
            return {"pool5": self.output.in_features, "taggram": self.config.n_tags}
        return {
            "penultimate": self.config.n_units_backend,
            "mean_pool": self.n_pool_channels,
            "max_pool": self.n_pool_channels,
            "taggram": self.config.n_tags,
        }

    def weights(self) -> dict[str, Tensor]:
        """State dict without the ``num_batches_tracked`` counters (what the safetensors files hold)."""
        return {k: v for k, v in self.state_dict().items() if not k.endswith("num_batches_tracked")}

    def load_weights(self, tensors: dict[str, Tensor]) -> "Musicnn":
        """Load :meth:`weights`-style tensors; every weight must be present with its shape.

        Raises
        ------
        BundleError
            Missing, unexpected or mis-shaped tensors.
        """
        expected = self.weights()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        if missing or unexpected:
            raise BundleError(f"musicnn weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
        for name, tensor in tensors.items():
            if tuple(tensor.shape) != tuple(expected[name].shape):
                raise BundleError(
                    f"musicnn weight {name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}"
                )
        self.load_state_dict(tensors, strict=False)
        return self


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


# ----------------------------------------------------------------------------- conversion


def _bn(prefix: str, tf_name: str, tf: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        f"{prefix}.weight": tf[f"{tf_name}/gamma"],
        f"{prefix}.bias": tf[f"{tf_name}/beta"],
        f"{prefix}.running_mean": tf[f"{tf_name}/moving_mean"],
        f"{prefix}.running_var": tf[f"{tf_name}/moving_variance"],
    }


def _conv2d(prefix: str, tf_name: str, tf: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}.weight": tf[f"{tf_name}/kernel"].transpose(3, 2, 0, 1), f"{prefix}.bias": tf[f"{tf_name}/bias"]}


def convert_tf_variables(tf_vars: dict[str, np.ndarray], config: MusicnnConfig) -> dict[str, Tensor]:
    """Map musicnn's TensorFlow variables to this module's weights.

    Parameters
    ----------
    tf_vars : dict of str to np.ndarray
        Variables of a musicnn checkpoint (:func:`genrekit.models.tf_checkpoint.read_checkpoint`);
        optimiser slots (``/Adam``) and ``beta*_power`` are ignored.
    config : MusicnnConfig
        Architecture of that checkpoint.

    Returns
    -------
    dict of str to Tensor
        float32 tensors for :meth:`Musicnn.load_weights`. Conv kernels go from TF's
        ``(height, width, in, out)`` to ``(out, in, height, width)`` (mid-end 1-D convs: ``(out, in, time)``),
        dense kernels from ``(in, out)`` to ``(out, in)``.

    Raises
    ------
    BundleError
        A variable the architecture needs is missing.
    """
    out: dict[str, np.ndarray] = {}
    try:
        out.update(_bn("input_bn", "batch_normalization", tf_vars))
        if config.arch == "musicnn":
            # Variable creation order in musicnn/models.py: timbral 74, 77; temporal 128, 64, 32; mid-end 1-3.
            for i in range(2):
                out.update(_conv2d(f"timbral.{i}.conv", "conv2d" if i == 0 else f"conv2d_{i}", tf_vars))
                out.update(_bn(f"timbral.{i}.bn", f"batch_normalization_{i + 1}", tf_vars))
            for i in range(3):
                out.update(_conv2d(f"temporal.{i}.conv", f"conv2d_{i + 2}", tf_vars))
                out.update(_bn(f"temporal.{i}.bn", f"batch_normalization_{i + 3}", tf_vars))
            for i in range(3):
                kernel = tf_vars[f"conv2d_{i + 5}/kernel"]  # (7, n_in, 1, n_out)
                out[f"midend.{i}.conv.weight"] = kernel[:, :, 0, :].transpose(2, 1, 0)
                out[f"midend.{i}.conv.bias"] = tf_vars[f"conv2d_{i + 5}/bias"]
                out.update(_bn(f"midend.{i}.bn", f"batch_normalization_{i + 6}", tf_vars))
            out.update(_bn("backend_bn", "batch_normalization_9", tf_vars))
            out["dense.weight"] = tf_vars["dense/kernel"].T
            out["dense.bias"] = tf_vars["dense/bias"]
            out.update(_bn("dense_bn", "batch_normalization_10", tf_vars))
            out["output.weight"] = tf_vars["dense_1/kernel"].T
            out["output.bias"] = tf_vars["dense_1/bias"]
        else:
            for i in range(5):
                out.update(_conv2d(f"vgg.{i}.conv", f"{i + 1}CNN", tf_vars))
                out.update(_bn(f"vgg.{i}.bn", f"batch_normalization_{i + 1}", tf_vars))
            out["output.weight"] = tf_vars["dense/kernel"].T
            out["output.bias"] = tf_vars["dense/bias"]
    except KeyError as error:
        raise BundleError(f"checkpoint lacks variable {error.args[0]!r} needed by a {config.arch} model") from error
    return {name: torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)) for name, value in out.items()}


# ----------------------------------------------------------------------------- loading


def pretrained_path(name: str) -> Path:
    """Path of a converted pretrained model, ``genrekit/pretrained/<name>.safetensors``."""
    if name not in PRETRAINED_CONFIGS:
        raise InvalidParameterError(f"unknown pretrained musicnn model {name!r}; choose from {', '.join(PRETRAINED_CONFIGS)}")
    return PRETRAINED_DIR / f"{name}.safetensors"


def load_pretrained(
    name: str = "MSD_musicnn", device: str | torch.device | None = None, *, verify: bool = True
) -> Musicnn:
    """Load a converted pretrained musicnn model, in eval mode.

    Parameters
    ----------
    name : {"MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"}
        Which model.
    device : str or torch.device or None
        Where to put it (default CPU).
    verify : bool
        Check the file against :data:`PRETRAINED_SHA256`.

    Returns
    -------
    Musicnn

    Raises
    ------
    InvalidParameterError
        Unknown name.
    BundleError
        The weights file is missing, fails its checksum or does not fit the architecture.
    """
    from safetensors.torch import load

    path = pretrained_path(name)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BundleError(f"cannot read pretrained weights {path} ({error}); run scripts/convert_musicnn.py") from error
    if verify and hashlib.sha256(data).hexdigest() != PRETRAINED_SHA256[name]:
        raise BundleError(f"pretrained weights {path} do not match their SHA-256; the file is corrupt or was edited")
    try:
        tensors = load(data)
        metadata = _safetensors_metadata(data)
    except Exception as error:
        raise BundleError(f"cannot read pretrained weights {path}: {error}") from error
    config = PRETRAINED_CONFIGS[name]
    if "config" in metadata:
        config = MusicnnConfig.from_dict(json.loads(metadata["config"]))
    model = Musicnn(config).load_weights(tensors).eval()
    return model.to(device) if device is not None else model


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    (n_header,) = struct.unpack("<Q", data[:8])
    return dict(json.loads(data[8 : 8 + n_header]).get("__metadata__", {}))


def pretrained_metadata(name: str) -> dict[str, str]:
    """Provenance metadata of a converted model (source wheel SHA-256, licence, authors, config, ...)."""
    path = pretrained_path(name)
    try:
        with open(path, "rb") as handle:
            (n_header,) = struct.unpack("<Q", handle.read(8))
            return dict(json.loads(handle.read(n_header)).get("__metadata__", {}))
    except (OSError, struct.error, ValueError) as error:
        raise BundleError(f"cannot read pretrained weights {path}: {error}") from error


def musicnn_embeddings(
    model: Musicnn,
    patches: np.ndarray | Tensor,
    *,
    batch_size: int = 16,
) -> dict[str, Tensor]:
    """Embeddings and tag probabilities of many patches, computed in batches without gradients.

    Parameters
    ----------
    model : Musicnn
        A (pretrained) model; it is used in eval mode.
    patches : np.ndarray or Tensor [shape=(n_patches, n_frames, n_mels), dtype=float32]
        musicnn log-mel patches (time first).
    batch_size : int > 0
        Patches per forward pass; bounds memory (peak about 18 MB per patch on CPU, musicnn
        and VGG alike: 0.3 GB for 16).

    Returns
    -------
    dict of str to Tensor
        :meth:`Musicnn.embed` outputs concatenated over batches, on the CPU, float32.
    """
    if batch_size < 1:
        raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
    x = torch.as_tensor(patches, dtype=torch.float32)
    if x.ndim != 3:
        raise InvalidParameterError(f"patches must have shape (n_patches, n_frames, n_mels), got {tuple(x.shape)}")
    device = model.input_bn.weight.device
    was_training = model.training
    model.eval()
    chunks: dict[str, list[Tensor]] = {}
    try:
        with torch.inference_mode():
            for start in range(0, x.shape[0], batch_size):
                for name, value in model.embed(x[start : start + batch_size].to(device)).items():
                    chunks.setdefault(name, []).append(value.float().cpu())
    finally:
        model.train(was_training)
    if not chunks:
        dims = model.embedding_dims()
        return {name: torch.zeros((0, dim)) for name, dim in dims.items()}
    return {name: torch.cat(values) for name, values in chunks.items()}
