"""Training configuration: :class:`TrainConfig` and how files and ``--set`` overrides build it.

A configuration is resolved in layers, later ones winning:

1. the defaults of :class:`TrainConfig`;
2. the family's preset (``preset`` of its :class:`~genrekit.models.families.Family`: e.g.
   table families look at 30 s clips, spectrogram CNNs get SpecAugment);
3. a TOML (``tomllib``) or YAML file (:func:`load_config_file`); its ``[search]`` and
   ``[tuned]`` tables belong to ``genrekit tune`` and are ignored here;
4. ``--set key=value`` overrides with dotted keys (``model.n_channels=[8,16]``,
   ``augment.mixup_alpha=0.2``), values parsed as YAML scalars or lists;
5. explicit command-line options (``--epochs``, ``--seed``, ``--device``, ...).

Every unknown key is an :class:`~genrekit.errors.InvalidParameterError`; the ``model``
table is checked against the family's schema by :func:`check_model_section`. The resolved
config is written into the bundle card's ``training.config``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from genrekit.errors import InvalidParameterError
from genrekit.models.families import NET, get_family
from genrekit.models.neural import ConfigMixin, config_from_dict, deep_merge

# Tables of a config file that other tools read and training ignores: ``search`` (the
# search space of ``genrekit tune``) and ``tuned`` (where a tuned config came from).
NON_TRAINING_TABLES = ("search", "tuned")


@dataclass(frozen=True)
class AugmentConfig(ConfigMixin):
    """Training-time augmentation (see :mod:`genrekit.training.augment`).

    Attributes
    ----------
    random_crop : bool
        Draw training windows at random offsets of the track (else from its start).
    gain_db : float >= 0
        Random gain, uniform in [-gain_db, +gain_db] dB; 0 disables.
    time_shift_s : float >= 0
        Random shift (seconds, zero-filled) in [-time_shift_s, +time_shift_s].
    pitch_shift_semitones : float >= 0
        Resample-based pitch shift (tempo follows), uniform in +-semitones; 0 disables.
    pitch_shift_p : float in [0, 1]
        Probability that a window is pitch-shifted.
    mixup_alpha : float >= 0
        Mixup Beta(alpha, alpha) on features and targets; 0 disables.
    freq_mask_bins, time_mask_frames : int >= 0
        SpecAugment maximal mask widths; 0 disables.
    n_freq_masks, n_time_masks : int >= 0
        Masks per example.
    """

    random_crop: bool = True
    gain_db: float = 6.0
    time_shift_s: float = 0.0
    pitch_shift_semitones: float = 0.0
    pitch_shift_p: float = 0.5
    mixup_alpha: float = 0.0
    freq_mask_bins: int = 0
    time_mask_frames: int = 0
    n_freq_masks: int = 1
    n_time_masks: int = 1

    def __post_init__(self) -> None:
        for name in ("gain_db", "time_shift_s", "pitch_shift_semitones", "mixup_alpha"):
            if getattr(self, name) < 0:
                raise InvalidParameterError(f"augment.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("freq_mask_bins", "time_mask_frames", "n_freq_masks", "n_time_masks"):
            if getattr(self, name) < 0:
                raise InvalidParameterError(f"augment.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.pitch_shift_p <= 1.0:
            raise InvalidParameterError(f"augment.pitch_shift_p must be in [0, 1], got {self.pitch_shift_p}")


@dataclass(frozen=True)
class SplitConfig(ConfigMixin):
    """How tracks are split (see :func:`genrekit.training.splits.make_splits`).

    Attributes
    ----------
    scheme : {"auto", "filtered", "dataset", "random", "kfold", "group_kfold"}
        ``"auto"``: the dataset's own split where every track has one, else ``"random"``.
    fold : int
        Held-out fold of the k-fold schemes.
    n_folds : int >= 2
    valid_fraction : float in [0, 1)
        Share of tracks used for validation (random and k-fold schemes).
    """

    scheme: Literal["auto", "filtered", "dataset", "random", "kfold", "group_kfold"] = "auto"
    fold: int = 0
    n_folds: int = 5
    valid_fraction: float = 0.2


@dataclass(frozen=True)
class TrainConfig(ConfigMixin):
    """Everything a training run depends on (besides the data).

    Attributes
    ----------
    family : str
        One of :data:`genrekit.models.families.FAMILIES`.
    name : str
        Model name written into the card; empty means ``"genrekit-<family>"``.
    seed : int
        Seeds splits, initialisation, sampling and augmentation.
    epochs : int >= 1
        Maximum number of epochs (torch families).
    batch_size : int >= 1
    learning_rate, weight_decay : float
        AdamW parameters.
    patience : int >= 0
        Early stopping: epochs without improvement of ``monitor`` on valid; 0 disables.
    monitor : {"macro_f1", "accuracy"}
        Track-level validation metric (window probabilities averaged per track).
    balance : {"weights", "sampler", "none"}
        Class weighting in the loss, class-balanced sampling of tracks, or nothing.
    label_smoothing : float in [0, 1)
    sample_rate : int
        Hz; the rate audio is decoded to and the model takes.
    window_s : float
        Seconds per training / inference window.
    crops_per_track : int >= 1
        Training windows drawn from each track per epoch.
    max_track_s : float or None
        Seconds decoded per track (centred excerpt); ``None`` decodes whole tracks.
    valid_hop_s : float or None
        Hop (seconds) between validation windows; ``None`` means ``window_s``.
    calibrate : bool
        Fit a softmax temperature on valid (torch families and heads).
    device : {"auto", "cpu", "cuda"}
    mixed_precision : bool
        ``torch.autocast`` on CUDA (bfloat16 where supported, else float16 with a scaler).
    n_jobs : int >= 1
        Processes for decoding and feature extraction.
    genres : tuple of str
        Keep only these labels (empty: all).
    split : SplitConfig
    augment : AugmentConfig
    features : dict
        Feature parameters (e.g. ``n_mels``) for the family's front end.
    model : dict
        Architecture or estimator hyper-parameters, checked by the family.
    """

    family: str = "cnn2d_logmel"
    name: str = ""
    seed: int = 0
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 6
    monitor: Literal["macro_f1", "accuracy"] = "macro_f1"
    balance: Literal["weights", "sampler", "none"] = "weights"
    label_smoothing: float = 0.0
    sample_rate: int = 22050
    window_s: float = 3.0
    crops_per_track: int = 4
    max_track_s: float | None = 30.0
    valid_hop_s: float | None = None
    calibrate: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mixed_precision: bool = True
    n_jobs: int = 1
    genres: tuple[str, ...] = ()
    split: SplitConfig = field(default_factory=SplitConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    features: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        family = get_family(self.family)
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "sample_rate": self.sample_rate,
            "window_s": self.window_s,
            "crops_per_track": self.crops_per_track,
            "n_jobs": self.n_jobs,
        }
        for name, value in positive.items():
            if value <= 0:
                raise InvalidParameterError(f"{name} must be > 0, got {value}")
        if self.patience < 0 or self.weight_decay < 0:
            raise InvalidParameterError("patience and weight_decay must be >= 0")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise InvalidParameterError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for name in ("max_track_s", "valid_hop_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidParameterError(f"{name} must be > 0 or null, got {value}")
        if self.max_track_s is not None and self.max_track_s < self.window_s and family.trainer == NET:
            raise InvalidParameterError(f"max_track_s ({self.max_track_s}) is shorter than window_s ({self.window_s})")

    @property
    def model_name(self) -> str:
        """Name for the card: ``name`` or ``"genrekit-<family>"``."""
        return self.name or f"genrekit-{self.family}"


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) training config as a dict.

    A top-level ``[train]`` table, where present, is the config (so one file can hold
    other tools' sections too).

    Raises
    ------
    InvalidParameterError
        Unknown extension, unreadable or malformed file, or not a table at the top.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidParameterError(f"cannot read config {path}: {error}") from error
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise InvalidParameterError(f"config {path} must end in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise InvalidParameterError(f"config {path} is malformed: {error}") from error
    if not isinstance(data, dict):
        raise InvalidParameterError(f"config {path} must hold a table of keys at the top")
    if set(data) == {"train"} and isinstance(data["train"], dict):
        data = data["train"]
    return data


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar or list (``8``, ``1e-3``, ``true``, ``null``, ``[8, 16]``), else the string."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}``.

    Raises
    ------
    InvalidParameterError
        An item without ``=`` or with an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise InvalidParameterError(f"--set expects key=value with a dotted key, got {item!r}")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InvalidParameterError(f"--set {key}: {part!r} is set both as a value and a table")
            node = child
        node[parts[-1]] = parse_value(raw.strip())
    return out


def resolve_config(
    family: str | None = None,
    *,
    file_data: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Build the :class:`TrainConfig` of a run from its layers (see the module docstring).

    Parameters
    ----------
    family : str, optional
        The family (``--family``); else the file's ``family`` key.
    file_data : mapping, optional
        Content of the config file.
    overrides : sequence of str
        ``--set key=value`` items.
    options : mapping, optional
        Explicit command-line options (``epochs``, ``seed``, ``device``, ``genres``,
        ``split.scheme``...), as a nested dict; ``None`` values are skipped.

    Raises
    ------
    InvalidParameterError
        No family given, unknown family or key, or a value of the wrong type.
    """
    user = deep_merge(file_data or {}, parse_overrides(overrides))
    for table in NON_TRAINING_TABLES:
        user.pop(table, None)
    explicit = _drop_none(options or {})
    chosen = family or explicit.get("family") or user.get("family")
    if chosen is None:
        raise InvalidParameterError("no model family: pass --family or set 'family' in the config")
    data = deep_merge(get_family(chosen).preset, user)
    data = deep_merge(data, explicit)
    data["family"] = chosen
    return config_from_dict(TrainConfig, data)


def check_model_section(config: TrainConfig) -> None:
    """Validate ``config.model`` against the family's schema before any data is read.

    Raises
    ------
    InvalidParameterError
        Unknown key or bad value.
    """
    get_family(config.family).schema(config.model)


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            nested = _drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out
