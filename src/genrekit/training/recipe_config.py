"""What the default model's recipe is made of (``configs/default.toml``, ``kind = "default_model"``):
the feature sets a candidate head may read, the out-of-taxonomy scores the recipe may try, the
candidates and the recipe's settings (:class:`RecipeConfig`). The recipe itself is
:mod:`genrekit.training.recipe`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genrekit.errors import InvalidParameterError
from genrekit.training.corpus import BACKBONES
from genrekit.training.heads_fit import HEAD_KINDS

FEATURE_SETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "MSD:pen": (("MSD_musicnn",), ("penultimate",)),
    "MSD:pen+pools": (("MSD_musicnn",), ("penultimate", "mean_pool", "max_pool")),
    "MSD:tags": (("MSD_musicnn",), ("taggram",)),
    "MSD+MTT:tags": (BACKBONES, ("taggram",)),
    "MTT:pen": (("MTT_musicnn",), ("penultimate",)),
    "MTT:pen+pools": (("MTT_musicnn",), ("penultimate", "mean_pool", "max_pool")),
    "MSD+MTT:pen": (BACKBONES, ("penultimate",)),
    "MSD+MTT:pen+tags": (BACKBONES, ("penultimate", "taggram")),
    "MSD+MTT:pen+pools": (BACKBONES, ("penultimate", "mean_pool", "max_pool")),
    "MSD+MTT:all": (BACKBONES, ("penultimate", "mean_pool", "max_pool", "taggram")),
}
OOD_METHODS = ("max_prob", "energy", "detector", "detector+energy")  # the scores genrekit.training.ood can fit
SHIPPABLE_OOD = ("energy", "detector", "detector+energy")  # those the shipped head can compute


@dataclass(frozen=True)
class Candidate:
    """One recipe to cross-validate (a ``[[candidates]]`` table of the config)."""

    name: str
    features: str = "MSD:pen+pools"
    head: str = "logreg"
    c: float = 1e-3
    hidden_units: tuple[int, ...] = ()
    dropout: float = 0.3
    weight_decay: float = 1e-2
    epochs: int = 30
    balance: bool = True
    level: str = "window"
    train_windows: str = "inference"
    augment: str = ""
    augment_copies: int = 1
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_units", tuple(self.hidden_units))
        object.__setattr__(self, "members", tuple(self.members))
        if not self.members and self.features not in FEATURE_SETS:
            raise InvalidParameterError(f"candidate {self.name}: unknown features {self.features!r}; one of {list(FEATURE_SETS)}")
        if self.head not in HEAD_KINDS:
            raise InvalidParameterError(f"candidate {self.name}: head must be one of {HEAD_KINDS}, got {self.head!r}")
        if self.level not in ("window", "track"):
            raise InvalidParameterError(f"candidate {self.name}: level must be 'window' or 'track'")
        if self.train_windows not in ("inference", "all"):
            raise InvalidParameterError(f"candidate {self.name}: train_windows must be 'inference' or 'all'")
        if self.augment:
            from genrekit.training.degrade import POLICIES

            if self.augment not in POLICIES:
                raise InvalidParameterError(f"candidate {self.name}: augment must be one of {POLICIES}, got {self.augment!r}")
            if self.augment_copies < 1:
                raise InvalidParameterError(f"candidate {self.name}: augment_copies must be >= 1")

    @property
    def degradation(self) -> tuple[str, int] | None:
        """(policy, copies) of the degraded training copies, or None."""
        return (self.augment, self.augment_copies) if self.augment else None


@dataclass(frozen=True)
class RecipeConfig:
    """``configs/default.toml``: what the default model is made of and how it is chosen."""

    name: str = "genrekit-gtzan-musicnn"
    version: str = "2.0.0"
    seed: int = 0
    max_windows: int = 4
    aggregation: str = "log_mean"
    min_source_clips: int = 20
    candidates: tuple[Candidate, ...] = ()
    ood_methods: tuple[str, ...] = OOD_METHODS
    ood_c: float = 1e-3
    ood_features: str = ""
    ood_false_unknown_rate: float = 0.1
    confident_target: float = 0.9
    mixed_target: float = 0.9
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RecipeConfig":
        """The recipe of a parsed config file (its ``[uncertainty]`` table read into the fields);
        raises :class:`InvalidParameterError` on unknown keys, no candidates or a bad ensemble."""
        data = dict(data)
        data.pop("kind", None)
        candidates = tuple(Candidate(**c) for c in data.pop("candidates", []))
        uncertainty = dict(data.pop("uncertainty", {}))
        known = {f.name for f in dataclasses.fields(cls)} - {"candidates", "extra"}
        unknown = sorted(set(data) - known - {"data", "out", "embedding"}) + sorted(
            set(uncertainty) - {"ood_methods", "ood_c", "ood_features", "ood_false_unknown_rate", "confident_target",
                               "mixed_target"}
        )
        if unknown:
            raise InvalidParameterError(f"unknown recipe keys: {unknown}")
        if not candidates:
            raise InvalidParameterError("the recipe lists no [[candidates]]")
        names = [c.name for c in candidates]
        if len(set(names)) != len(names):
            raise InvalidParameterError("candidate names must be distinct")
        for c in candidates:
            for member in c.members:
                if member not in names[: names.index(c.name)]:
                    raise InvalidParameterError(f"ensemble {c.name}: member {member!r} must be listed before it")
        methods = tuple(uncertainty.pop("ood_methods", OOD_METHODS))
        if set(methods) - set(OOD_METHODS) or not set(methods) & set(SHIPPABLE_OOD):
            raise InvalidParameterError(f"ood_methods must come from {OOD_METHODS}, one of {SHIPPABLE_OOD} included")
        if uncertainty.get("ood_features", "") and uncertainty["ood_features"] not in FEATURE_SETS:
            raise InvalidParameterError(f"ood_features must be one of {list(FEATURE_SETS)}, got {uncertainty['ood_features']!r}")
        extra = {key: data.pop(key) for key in ("data", "out", "embedding") if key in data}
        return cls(candidates=candidates, ood_methods=methods, extra=extra, **data, **uncertainty)
