"""The model families ``genrekit train`` knows, each declared once, in the module that defines it.

A family is one :class:`Family` record, registered with :func:`register_family` next to its
model (e.g. ``cnn2d_logmel`` in :mod:`genrekit.models.cnn`). It names everything the other
rooms ask of a family:

* ``trainer``: the fit recipe of :mod:`genrekit.training.fitters` that trains it
  (:data:`TABLE`, :data:`NET`, :data:`HEAD` or :data:`ENSEMBLE`); the recipe asks the
  family for the family-specific parts (``build`` for nets);
* ``schema``: parses the ``model`` table of a training config (unknown key or bad value ->
  :class:`~genrekit.errors.InvalidParameterError`);
* ``explainer``: the model seen as ``windows -> spectrogram -> probabilities`` for saliency
  maps (:mod:`genrekit.explain`), or :func:`no_spectrogram`;
* ``search``: the config file in ``configs/`` whose ``[search]`` table is the family's
  search space for ``genrekit tune`` (plain data, read by :mod:`genrekit.tuning.space`);
* ``preset``: the training defaults of the family (layer 2 of
  :func:`genrekit.training.config.resolve_config`).

Adding a family: one model module that registers its bundle loader
(:func:`genrekit.models.loaders.register_model_type`) and its :class:`Family`, plus one line
in :data:`FAMILY_MODULES`. This module imports nothing heavy, so the CLI parser lists
:data:`FAMILIES` without torch; :func:`get_family` imports the family's module on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from genrekit.errors import InvalidParameterError

FAMILY_MODULES: dict[str, str] = {
    "knn": "genrekit.models.baselines",
    "svm": "genrekit.models.baselines",
    "logreg": "genrekit.models.baselines",
    "random_forest": "genrekit.models.baselines",
    "mlp": "genrekit.models.mlp",
    "cnn1d": "genrekit.models.cnn",
    "cnn2d_mfcc": "genrekit.models.cnn",
    "cnn2d_logmel": "genrekit.models.cnn",
    "crnn": "genrekit.models.crnn",
    "musicnn_head": "genrekit.models.heads",
    "ensemble": "genrekit.models.ensemble",
}
FAMILIES = tuple(FAMILY_MODULES)

# Fit recipes (genrekit.training.fitters) a family names as its ``trainer``.
TABLE = "table"  # an estimator fitted in one step on the 57 table features
NET = "net"  # a WaveformNet (front end + body) fitted by the torch loop
HEAD = "head"  # a head fitted by the torch loop on cached pretrained embeddings
ENSEMBLE = "ensemble"  # members trained (or loaded), then combined
TRAINERS = (TABLE, NET, HEAD, ENSEMBLE)


@dataclass
class SpectrogramView:
    """A model split at its spectrogram (what saliency maps are computed on).

    The arrays are torch tensors for a PyTorch model (the second step differentiable) and
    NumPy arrays for the ONNX Runtime graph (:func:`genrekit.explain.serving.array_view`).

    Attributes
    ----------
    spectrogram : callable
        ``(n_windows, n_samples)`` float32 windows -> ``(n_windows, n_bins, n_frames)``.
    proba : callable
        ``(batch, n_bins, n_frames)`` -> ``(batch, n_labels)`` calibrated probabilities.
    frame_rate_hz : float
        Spectrogram frames per second (Hz).
    kind : str
        ``"musicnn log-mel"``, ``"log-mel"`` or ``"mfcc"``.
    f_max_hz : float
        Top of the (mel) frequency axis (Hz).
    """

    spectrogram: Callable[[Any], Any]
    proba: Callable[[Any], Any]
    frame_rate_hz: float
    kind: str
    f_max_hz: float


Explainer = Callable[[Any, Any], SpectrogramView]


def no_spectrogram(model: Any, card: Any) -> SpectrogramView:
    """Explainer of a model without a spectrogram front end: always raises.

    Raises
    ------
    InvalidParameterError
        Always (table models, ensembles, models on ONNX Runtime).
    """
    raise InvalidParameterError(f"no spectrogram saliency for a {getattr(card, 'model_type', type(model).__name__)} model")


@dataclass(frozen=True)
class Family:
    """One model family, as declared by the module that defines it.

    Attributes
    ----------
    name : str
        The family (``--family``), also the model type of its bundles.
    trainer : str
        Fit recipe, one of :data:`TRAINERS`.
    schema : callable
        ``schema(model_table) -> parsed config``; raises ``InvalidParameterError``.
    explainer : callable
        ``explainer(model, card) -> SpectrogramView`` (or raises, see :func:`no_spectrogram`).
    search : str
        File in ``configs/`` whose ``[search]`` table is the family's search space.
    preset : mapping
        Training defaults of the family (e.g. 30 s windows for table models).
    build : callable or None
        Net families: ``build(NetRequest) -> NetParts`` (:mod:`genrekit.models.neural`).
    reads_table : bool
        The model itself can train on the published feature table (not only on audio).
    """

    name: str
    trainer: str
    schema: Callable[[Mapping[str, Any]], Any]
    explainer: Explainer
    search: str
    preset: Mapping[str, Any] = field(default_factory=dict)
    build: Callable[[Any], Any] | None = None
    reads_table: bool = False

    def __post_init__(self) -> None:
        if self.trainer not in TRAINERS:
            raise InvalidParameterError(f"family {self.name}: trainer must be one of {', '.join(TRAINERS)}, got {self.trainer!r}")
        if (self.build is None) == (self.trainer == NET):
            raise InvalidParameterError(f"family {self.name}: a build is declared by, and only by, {NET} families")


_REGISTERED: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Register a family (called by the module that defines it); returns it.

    Raises
    ------
    InvalidParameterError
        A name absent from :data:`FAMILY_MODULES`.
    """
    if family.name not in FAMILY_MODULES:
        raise InvalidParameterError(f"family {family.name!r} is not listed in FAMILY_MODULES")
    _REGISTERED[family.name] = family
    return family


def get_family(name: str) -> Family:
    """The :class:`Family` called ``name``, importing its module on first use.

    Raises
    ------
    InvalidParameterError
        Unknown family.
    """
    if name not in FAMILY_MODULES:
        raise InvalidParameterError(f"unknown family {name!r}; choose one of {', '.join(FAMILIES)}")
    if name not in _REGISTERED:
        importlib.import_module(FAMILY_MODULES[name])
    if name not in _REGISTERED:
        raise InvalidParameterError(f"{FAMILY_MODULES[name]} does not register the family {name!r}")
    return _REGISTERED[name]


def table_readers() -> list[str]:
    """The families whose model can train on the published feature table, in :data:`FAMILIES` order."""
    return [name for name in FAMILIES if get_family(name).reads_table]
