"""Shared pieces of the trainable torch families (MLP, 1D/2D CNN, CRNN).

* :func:`config_from_dict` / :func:`config_to_dict`: the frozen-dataclass config
  round trip (unknown key -> error, JSON lists back to tuples, ints accepted as floats);
* :class:`WaveformNet`: a feature front end (waveform -> features, from
  :mod:`genrekit.features`) followed by a body (features -> logits). The training loop
  calls :meth:`WaveformNet.features` and :meth:`WaveformNet.classify` separately so it
  can apply SpecAugment and mixup in between;
* :class:`TorchWaveformClassifier`: a trained :class:`WaveformNet` as a
  :class:`~genrekit.models.base.WaveformClassifier` (softmax of ``logits / temperature``);
* :func:`make_frontend` / :func:`frontend_to_card`: the front ends by name, and how they
  are written into a model card's ``features`` section;
* :func:`net_bundle_parts` / :func:`load_net_classifier`: the bundle round trip shared by
  every torch family (tensors under ``net.``, the temperature under ``temperature``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union

import numpy as np
import torch
from torch import nn

from genrekit.errors import BundleError, InvalidParameterError

C = TypeVar("C")

FRONTEND_KINDS = ("waveform", "logmel", "mfcc", "mfcc_stats", "table")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except InvalidParameterError as error:
                errors.append(str(error))
        raise InvalidParameterError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in typing.get_args(annotation):
            allowed = ", ".join(repr(a) for a in typing.get_args(annotation))
            raise InvalidParameterError(f"{where}: {value!r} is not one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise InvalidParameterError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        item_type = args[0] if args else Any
        return tuple(_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise InvalidParameterError(f"{where}: expected a table of keys, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, Mapping):
            raise InvalidParameterError(f"{where}: expected a table of keys, got {value!r}")
        return config_from_dict(annotation, value, where=where)
    if annotation is Any:
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise InvalidParameterError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise InvalidParameterError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InvalidParameterError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise InvalidParameterError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def config_from_dict(cls: type[C], data: Mapping[str, Any], *, where: str = "") -> C:
    """Build a frozen dataclass config from a mapping, checking names and types.

    Parameters
    ----------
    cls : dataclass type
    data : mapping
        Field values; missing fields keep their defaults. Lists become tuples where the
        field is a tuple; nested dataclass fields take nested mappings.
    where : str
        Dotted prefix used in error messages.

    Raises
    ------
    InvalidParameterError
        An unknown key, or a value of the wrong type.
    """
    if not isinstance(data, Mapping):
        raise InvalidParameterError(f"{where or cls.__name__}: expected a table of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise InvalidParameterError(
            f"unknown {cls.__name__} key(s): {', '.join(prefix + k for k in unknown)}; "
            f"known: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(f"{where or cls.__name__}: {error}") from error


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a JSON-ready dict (tuples become lists)."""

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        return value

    return convert(config)


def check_channels(n_channels: tuple[int, ...]) -> None:
    """Raise :class:`InvalidParameterError` unless ``n_channels`` is a non-empty tuple of positive ints."""
    if not n_channels or any(c < 1 for c in n_channels):
        raise InvalidParameterError(f"n_channels must be a non-empty list of positive ints, got {n_channels}")


def check_dropout(dropout: float) -> None:
    """Raise :class:`InvalidParameterError` unless ``0 <= dropout < 1``."""
    if not 0.0 <= dropout < 1.0:
        raise InvalidParameterError(f"dropout must be in [0, 1), got {dropout}")


class ConfigMixin:
    """``to_dict`` / ``from_dict`` for frozen dataclass configs."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Build from a dict; an unknown key is an :class:`InvalidParameterError`."""
        return config_from_dict(cls, data)


class MeanStdPool(nn.Module):
    """Mean and standard deviation over the last axis: ``(..., d, t) -> (..., 2 * d)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1)
        std = (x - mean.unsqueeze(-1)).pow(2).mean(dim=-1).clamp_min(1e-10).sqrt()
        return torch.cat([mean, std], dim=-1)


class WaveformNet(nn.Module):
    """Front end (waveform -> features) followed by a body (features -> logits).

    Parameters
    ----------
    frontend : nn.Module
        ``(batch, n_samples) -> features``; ``nn.Identity`` for table input.
    body : nn.Module
        ``features -> (batch, n_labels)`` logits.
    """

    def __init__(self, frontend: nn.Module, body: nn.Module) -> None:
        super().__init__()
        self.frontend = frontend
        self.body = body

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch of inputs (waveforms ``(batch, n_samples)`` or table rows)."""
        return self.frontend(x)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_labels)`` from features."""
        return self.body(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def make_frontend(
    kind: str, params: Mapping[str, Any] | None = None, *, sample_rate: int
) -> tuple[nn.Module, dict[str, Any]]:
    """Build a feature front end by name.

    Parameters
    ----------
    kind : {"waveform", "logmel", "mfcc", "mfcc_stats", "table"}
    params : mapping, optional
        Overrides of the feature config (:class:`genrekit.features.config.LogMelConfig`
        for ``logmel``, :class:`~genrekit.features.config.MfccConfig` for ``mfcc`` and
        ``mfcc_stats``); none for ``waveform`` and ``table``.
    sample_rate : int
        Rate (Hz) of the input waveforms.

    Returns
    -------
    (nn.Module, dict)
        The module and the full feature parameters for the model card.
    """
    params = dict(params or {})
    if kind in ("waveform", "table"):
        if params:
            raise InvalidParameterError(f"the {kind!r} front end takes no feature parameters, got {', '.join(params)}")
        return nn.Identity(), {}
    if kind == "logmel":
        from genrekit.features.config import LogMelConfig
        from genrekit.features.modules import LogMel

        cfg = _feature_config(LogMelConfig, params, sample_rate)
        return LogMel(cfg), cfg.to_dict()
    if kind in ("mfcc", "mfcc_stats"):
        from genrekit.features.config import MfccConfig
        from genrekit.features.modules import MFCC

        cfg = _feature_config(MfccConfig, params, sample_rate)
        module: nn.Module = MFCC(cfg)
        if kind == "mfcc_stats":
            module = nn.Sequential(module, MeanStdPool())
        return module, cfg.to_dict()
    raise InvalidParameterError(f"unknown front end {kind!r}; choose one of {', '.join(FRONTEND_KINDS)}")


def _with_rate(params: Mapping[str, Any], sample_rate: int) -> dict[str, Any]:
    data = dict(params)
    if "sr" in data and data["sr"] != sample_rate:
        raise InvalidParameterError(f"feature sr={data['sr']} differs from the model's sample rate {sample_rate} Hz")
    data["sr"] = sample_rate
    return data


def _feature_config(cls: Any, params: dict[str, Any], sample_rate: int) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    if "sr" in names:
        data = _with_rate(params, sample_rate)
    else:
        data = dict(params)
        data["mel"] = _with_rate(data.get("mel") or {}, sample_rate)
    return cls.from_dict(data)


def frontend_n_features(kind: str, feature_params: Mapping[str, Any]) -> int:
    """Number of feature bins (rows) the front end produces (``n_mels`` or ``n_mfcc``)."""
    if kind == "logmel":
        return int(feature_params["n_mels"])
    if kind in ("mfcc", "mfcc_stats"):
        return int(feature_params["n_mfcc"])
    raise InvalidParameterError(f"front end {kind!r} has no feature bins")


def card_frontend(card: Any) -> tuple[str, dict[str, Any]]:
    """The front-end kind and its parameters from a card's ``features`` section.

    ``features`` is ``{"kind": ..., **parameters}`` as :func:`make_frontend` returned them.
    """
    features = dict(card.features)
    kind = features.pop("kind", None)
    if kind not in FRONTEND_KINDS:
        raise BundleError(f"model card features have kind {kind!r}; expected one of {', '.join(FRONTEND_KINDS)}")
    return kind, features


class TorchWaveformClassifier:
    """A trained :class:`WaveformNet` as a :class:`~genrekit.models.base.WaveformClassifier`.

    Parameters
    ----------
    net : WaveformNet
    labels : list of str
    sample_rate : int
        Hz.
    window_s : float
        Seconds.
    temperature : float > 0
        Logits are divided by it before the softmax (calibration).
    batch_size : int
        Windows per forward pass.
    """

    def __init__(
        self,
        net: WaveformNet,
        labels: list[str],
        *,
        sample_rate: int,
        window_s: float,
        temperature: float = 1.0,
        batch_size: int = 16,
    ) -> None:
        if temperature <= 0:
            raise InvalidParameterError(f"temperature must be > 0, got {temperature}")
        self.net = net.eval()
        self.labels = list(labels)
        self.sample_rate = int(sample_rate)
        self.window_s = float(window_s)
        self.temperature = float(temperature)
        self.batch_size = int(batch_size)

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities ``(n_windows, n_labels)`` float32 for mono windows ``(n_windows, n_samples)``."""
        x = torch.as_tensor(np.asarray(windows, dtype=np.float32))
        if x.ndim != 2:
            raise InvalidParameterError(f"windows must have shape (n_windows, n_samples), got {tuple(x.shape)}")
        if x.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        out = []
        device = next(self.net.parameters()).device
        with torch.inference_mode():
            for start in range(0, x.shape[0], self.batch_size):
                logits = self.net(x[start : start + self.batch_size].to(device)).float()
                out.append(torch.softmax(logits / self.temperature, dim=-1).cpu())
        return torch.cat(out).numpy().astype(np.float32)


class TorchTableEstimator:
    """A :class:`WaveformNet` on table features, with sklearn's ``classes_``/``predict_proba``.

    Used by :class:`~genrekit.models.baselines.TableWaveformClassifier` for the table MLP.
    """

    def __init__(self, net: WaveformNet, classes: list[str], *, temperature: float = 1.0) -> None:
        self.net = net.eval()
        self.classes_ = np.asarray(classes)
        self.temperature = float(temperature)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(n_rows, n_classes)`` for table rows ``(n_rows, n_columns)``."""
        x = torch.as_tensor(np.asarray(X, dtype=np.float32))
        with torch.inference_mode():
            logits = self.net(x).float()
        return torch.softmax(logits / self.temperature, dim=-1).numpy()


def net_bundle_parts(net: WaveformNet, *, temperature: float = 1.0) -> dict[str, torch.Tensor]:
    """Tensors of a trained net for :func:`genrekit.bundle.save_bundle` (``net.*`` + ``temperature``)."""
    tensors = {f"net.{k}": v.detach().cpu().clone() for k, v in net.state_dict().items()}
    tensors["temperature"] = torch.tensor([float(temperature)], dtype=torch.float32)
    return tensors


def load_net_state(net: WaveformNet, tensors: Mapping[str, torch.Tensor]) -> float:
    """Load ``net.*`` tensors into ``net`` (strict) and return the stored temperature."""
    state = {k[len("net.") :]: v for k, v in tensors.items() if k.startswith("net.")}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise BundleError(f"bundle weights do not fit the architecture in its card: {error}") from error
    temperature = tensors.get("temperature")
    return float(temperature.reshape(-1)[0]) if temperature is not None else 1.0


def load_net_classifier(card: Any, tensors: Mapping[str, torch.Tensor], build: Callable[[Any], WaveformNet]) -> Any:
    """Shared loader: build the net from the card, load its weights, wrap it.

    ``build(card) -> WaveformNet`` rebuilds the architecture; table-input nets come back
    wrapped in a :class:`~genrekit.models.baselines.TableWaveformClassifier`.
    """
    net = build(card)
    temperature = load_net_state(net, tensors)
    net.eval()
    if card.features.get("kind") == "table":
        from genrekit.models.baselines import TableWaveformClassifier

        estimator = TorchTableEstimator(net, list(card.labels), temperature=temperature)
        return TableWaveformClassifier(
            estimator, card.features["columns"], sample_rate=card.sample_rate, window_s=card.window_s
        )
    return TorchWaveformClassifier(
        net, list(card.labels), sample_rate=card.sample_rate, window_s=card.window_s, temperature=temperature
    )
