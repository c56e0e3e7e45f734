"""A family's search space, declared as data in the ``[search]`` table of its config.

Each key of the table is a dotted path into the training config (the same paths as
``genrekit train --set``), and each value says how to draw it::

    [search]
    learning_rate = { low = 1e-4, high = 1e-2, log = true }   # float (log scale)
    "model.n_neighbors" = { low = 1, high = 30 }              # int: both bounds are integers
    "model.n_estimators" = { low = 100, high = 500, step = 100 }
    "model.weights" = { choices = ["uniform", "distance"] }   # categorical
    "model.hidden_units" = { choices = [[], [128]] }          # lists are fine as choices

A ``type`` key (``"float"``, ``"int"``, ``"categorical"``) may make the kind explicit. The
table is read by ``genrekit tune`` and ignored by ``genrekit train``, so one file serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from genrekit.errors import InvalidParameterError

SEARCH_KEY = "search"
KINDS = ("float", "int", "categorical")


class TrialLike(Protocol):
    """The part of ``optuna.Trial`` a search space draws from."""

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Dimension:
    """One searched setting.

    Attributes
    ----------
    path : str
        Dotted key into the training config (``"model.c"``, ``"augment.mixup_alpha"``).
    kind : {"float", "int", "categorical"}
    low, high : float or int or None
        Inclusive bounds (numeric kinds).
    log : bool
        Draw on a log scale (numeric kinds; ``low > 0``).
    step : float or int or None
        Grid step (numeric kinds).
    choices : tuple
        Values of a categorical setting (any TOML value, lists included).
    """

    path: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: TrialLike) -> Any:
        """Draw this setting's value for ``trial``."""
        if self.kind == "categorical":
            encoded = [encode_choice(c) for c in self.choices]
            return decode_choice(trial.suggest_categorical(self.path, encoded))
        if self.kind == "int":
            return trial.suggest_int(self.path, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(self.path, float(self.low), float(self.high), step=self.step, log=self.log)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        if self.kind == "categorical":
            return {"path": self.path, "kind": self.kind, "choices": list(self.choices)}
        return {"path": self.path, "kind": self.kind, "low": self.low, "high": self.high, "log": self.log, "step": self.step}


def encode_choice(value: Any) -> Any:
    """A categorical value as Optuna stores it: scalars unchanged, lists and tables as JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return "json:" + json.dumps(value, sort_keys=True)


def decode_choice(value: Any) -> Any:
    """Inverse of :func:`encode_choice`."""
    if isinstance(value, str) and value.startswith("json:"):
        return json.loads(value[len("json:") :])
    return value


def parse_search_space(table: Mapping[str, Any]) -> list[Dimension]:
    """The dimensions declared in a ``[search]`` table (see the module docstring).

    Raises
    ------
    InvalidParameterError
        Empty table, a value that is not a table, unknown keys, bad bounds or no choices.
    """
    if not isinstance(table, Mapping) or not table:
        raise InvalidParameterError("the [search] table is empty: declare at least one setting to search")
    out = []
    for path, spec in table.items():
        where = f"search.{path}"
        if not isinstance(spec, Mapping):
            raise InvalidParameterError(f"{where} must be a table such as {{ low = 1e-3, high = 1.0, log = true }}")
        unknown = sorted(set(spec) - {"type", "low", "high", "log", "step", "choices"})
        if unknown:
            raise InvalidParameterError(f"{where}: unknown key(s) {', '.join(unknown)}")
        kind = spec.get("type") or ("categorical" if "choices" in spec else _numeric_kind(spec, where))
        if kind not in KINDS:
            raise InvalidParameterError(f"{where}: type must be one of {', '.join(KINDS)}, got {kind!r}")
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise InvalidParameterError(f"{where}: choices must be a non-empty list")
            out.append(Dimension(path=str(path), kind=kind, choices=tuple(choices)))
            continue
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
            raise InvalidParameterError(f"{where}: low and high must be numbers")
        if low > high:
            raise InvalidParameterError(f"{where}: low ({low}) is above high ({high})")
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise InvalidParameterError(f"{where}: a log scale needs low > 0, got {low}")
        step = spec.get("step")
        if step is not None and (log or not step > 0):
            raise InvalidParameterError(f"{where}: step must be > 0 and cannot go with log")
        out.append(Dimension(path=str(path), kind=kind, low=low, high=high, log=log, step=step))
    return out


def _numeric_kind(spec: Mapping[str, Any], where: str) -> str:
    if "low" not in spec or "high" not in spec:
        raise InvalidParameterError(f"{where}: give low and high, or choices")
    ints = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("low", "high"))
    return "int" if ints else "float"


def suggest_settings(dimensions: list[Dimension], trial: TrialLike) -> dict[str, Any]:
    """``{dotted path: value}`` drawn for one trial."""
    return {d.path: d.suggest(trial) for d in dimensions}


def nest(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model.c": 1.0, "seed": 0}`` -> ``{"model": {"c": 1.0}, "seed": 0}``.

    Raises
    ------
    InvalidParameterError
        A path is used both as a value and as a table.
    """
    out: dict[str, Any] = {}
    for path, value in settings.items():
        parts = path.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InvalidParameterError(f"search: {path!r} sets {part!r} both as a value and as a table")
        node[parts[-1]] = value
    return out


def settings_from_config(dimensions: list[Dimension], config: Mapping[str, Any]) -> dict[str, Any]:
    """The current values of the searched paths in a (resolved) config dict, encoded for Optuna.

    Used to enqueue the hand-set config as a study's first trial. Paths absent from the
    config are left out (Optuna then draws them).
    """
    out: dict[str, Any] = {}
    for d in dimensions:
        node: Any = config
        for part in d.path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                node = _MISSING
                break
            node = node[part]
        if node is _MISSING:
            continue
        value = encode_choice(list(node) if isinstance(node, tuple) else node) if d.kind == "categorical" else node
        if d.kind == "categorical" and value not in [encode_choice(c) for c in d.choices]:
            continue
        if d.kind != "categorical" and not (isinstance(node, (int, float)) and d.low <= node <= d.high):  # type: ignore[operator]
            continue
        out[d.path] = value
    return out


_MISSING = object()
