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
  every torch family (tensors under ``net.``, the temperature under ``temperature``);
* :func:`net_family`: the :class:`~genrekit.models.families.Family` declaration of a net
  family (its ``build`` answers a :class:`NetRequest` with :class:`NetParts`), with the
  spectrogram nets' shared builder, loader and explainer (:func:`net_spectrogram_view`).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, Union

import numpy as np
import torch
from torch import nn

from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.families import NET, Family, SpectrogramView, no_spectrogram

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


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``update``, merging nested mappings key by key (inputs unchanged)."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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


def model_schema(cls: type[C]) -> Callable[[Mapping[str, Any]], C]:
    """A family's ``schema``: the config's ``model`` table parsed as the dataclass ``cls``."""

    def parse(model: Mapping[str, Any]) -> C:
        return config_from_dict(cls, model, where="model")

    return parse


@dataclass(frozen=True)
class NetRequest:
    """What the net trainer asks a net family's ``build`` for.

    Attributes
    ----------
    model : mapping
        The config's ``model`` table (architecture).
    features : mapping
        The config's ``features`` table as given (the family merges its own defaults).
    n_labels : int
    sample_rate : int
        Hz.
    table_columns : tuple of str
        Names of the table features (for nets that read them).
    table_data : bool
        The data is the published feature table (no audio).
    """

    model: Mapping[str, Any]
    features: Mapping[str, Any]
    n_labels: int
    sample_rate: int
    table_columns: tuple[str, ...]
    table_data: bool


@dataclass
class NetParts:
    """A net family's answer to a :class:`NetRequest`.

    Attributes
    ----------
    net : WaveformNet
        Untrained.
    features, config : dict
        The card's ``features`` and ``config`` sections.
    input_kind : {"waveform", "table"}
        What the net is fed: decoded audio windows or table feature rows.
    """

    net: WaveformNet
    features: dict[str, Any]
    config: dict[str, Any]
    input_kind: str = "waveform"


SpectrogramNetBuilder = Callable[..., "tuple[WaveformNet, dict[str, Any]]"]


def build_spectrogram_net(
    name: str,
    body_cls: Callable[[Any, int, int], nn.Module],
    config: Any,
    *,
    frontend: str,
    feature_params: Mapping[str, Any] | None,
    n_labels: int,
    sample_rate: int,
) -> tuple[WaveformNet, dict[str, Any]]:
    """``body_cls(config, n_bins, n_labels)`` behind a ``"logmel"`` or ``"mfcc"`` front end.

    Parameters
    ----------
    name : str
        The architecture, for error messages.
    body_cls : callable
        Builds the body taking ``(batch, n_bins, frames)`` features.
    config : dataclass
        The body's architecture.
    frontend : {"logmel", "mfcc"}
    feature_params : mapping, optional
        Feature config overrides.
    n_labels : int
    sample_rate : int
        Hz.

    Returns
    -------
    (WaveformNet, dict)
        The net and its full feature parameters (for the card).
    """
    if frontend not in ("logmel", "mfcc"):
        raise InvalidParameterError(f"{name} takes a 'logmel' or 'mfcc' front end, got {frontend!r}")
    module, params = make_frontend(frontend, feature_params, sample_rate=sample_rate)
    return WaveformNet(module, body_cls(config, frontend_n_features(frontend, params), n_labels)), params


def load_spectrogram_net(card: Any, tensors: Mapping[str, torch.Tensor], config_cls: Any, build: SpectrogramNetBuilder) -> Any:
    """Bundle loader of a spectrogram net: ``build(config, frontend=, feature_params=, n_labels=, sample_rate=)``
    rebuilt from the card's ``architecture`` and ``features``, then its weights loaded."""
    config = config_cls.from_dict(card.config.get("architecture", {}))
    kind, params = card_frontend(card)

    def rebuild(c: Any) -> WaveformNet:
        net, _ = build(config, frontend=kind, feature_params=params, n_labels=len(c.labels), sample_rate=c.sample_rate)
        return net

    return load_net_classifier(card, tensors, rebuild)


def net_spectrogram_view(model: Any, card: Any) -> SpectrogramView:
    """Explainer of the net families: the front end's log-mel (or MFCC), then the body.

    Raises
    ------
    InvalidParameterError
        The net reads no spectrogram (raw waveform, table features), or the model is not a
        :class:`TorchWaveformClassifier`.
    """
    if not isinstance(model, TorchWaveformClassifier):
        return no_spectrogram(model, card)
    kind = str(card.features.get("kind", ""))
    if kind not in ("logmel", "mfcc"):
        raise InvalidParameterError(f"a {card.model_type} model reads {kind or 'no'} features, not a spectrogram: no saliency map")
    net, temperature = model.net.eval(), model.temperature
    mel = card.features if kind == "logmel" else card.features.get("mel", {})
    hop = int(mel.get("hop_length", 512))
    sr = int(card.sample_rate)

    def net_spec(windows: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net.features(windows)

    def net_proba(spec: torch.Tensor) -> torch.Tensor:
        return torch.softmax(net.classify(spec) / temperature, dim=-1)

    f_max = float(mel.get("f_max") or sr / 2)
    return SpectrogramView(net_spec, net_proba, sr / hop, "log-mel" if kind == "logmel" else "mfcc", f_max)


def net_family(
    name: str,
    config_cls: Any,
    build: Callable[[NetRequest], NetParts],
    *,
    preset: Mapping[str, Any],
    reads_table: bool = False,
) -> Family:
    """The :class:`~genrekit.models.families.Family` of a net family: trained by the torch
    loop, ``model`` parsed as ``config_cls``, explained by :func:`net_spectrogram_view`,
    searched by ``configs/<name>.toml``."""
    return Family(
        name=name,
        trainer=NET,
        schema=model_schema(config_cls),
        explainer=net_spectrogram_view,
        search=f"{name}.toml",
        preset=preset,
        build=build,
        reads_table=reads_table,
    )


def spectrogram_family(
    name: str,
    config_cls: Any,
    build: SpectrogramNetBuilder,
    frontend: str,
    default_features: Mapping[str, Any],
    *,
    preset: Mapping[str, Any],
) -> Family:
    """The :func:`net_family` of a spectrogram net: architecture ``config_cls`` from the
    ``model`` table, ``build`` behind the ``frontend`` (``"logmel"`` or ``"mfcc"``) whose
    parameters are ``default_features`` updated by the config's ``features`` table."""

    def parts(request: NetRequest) -> NetParts:
        arch = config_from_dict(config_cls, request.model, where="model")
        net, params = build(
            arch,
            frontend=frontend,
            feature_params=deep_merge(default_features, request.features),
            n_labels=request.n_labels,
            sample_rate=request.sample_rate,
        )
        return NetParts(net, {"kind": frontend, **params}, {"architecture": arch.to_dict()})

    return net_family(name, config_cls, parts, preset=preset)
