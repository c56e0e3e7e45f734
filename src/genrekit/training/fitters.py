"""The fit step of :func:`genrekit.training.trainers.train`: one recipe per kind of trainer.

A model family names its trainer in its :class:`~genrekit.models.families.Family` record;
:data:`FITTERS` maps that name to the recipe, which turns the split records of a
:class:`FitContext` into a :class:`FitOutput` (the card fields, tensors and valid metrics):

* ``table``: the classical baselines, fitted in one step (scikit-learn) on table feature
  rows (the published table, or computed from audio through the feature cache);
* ``net``: a :class:`~genrekit.models.neural.WaveformNet` the family builds
  (``Family.build``), fitted by :func:`~genrekit.training.loop.fit_net` on decoded audio
  windows or table rows, with early stopping and calibration on the valid split;
* ``head``: a musicnn head fitted by the same loop on cached pretrained embeddings;
* ``ensemble``: members trained now (each a full run of ``train``) and/or loaded from
  bundles, then combined.

Nothing here names a family: what differs between families is asked of their records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genrekit.bundle.io import load_bundle
from genrekit.datasets import FeatureCache, TrackRecord
from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.models.families import ENSEMBLE, HEAD, NET, TABLE, get_family, table_readers
from genrekit.models.neural import NetRequest, WaveformNet, config_from_dict, net_bundle_parts
from genrekit.training import data as tdata
from genrekit.training.config import TrainConfig, resolve_config
from genrekit.training.loop import EvalData, FitResult, TrainData, fit_net, track_level, track_metrics

CHECKPOINT_DIRNAME = "checkpoint"
MEMBERS_DIRNAME = "members"
VALID_METRICS_NOTE = (
    "track-level (window probabilities averaged per track) on the valid split, which was also "
    "used for early stopping and temperature scaling: optimistic; use genrekit evaluate on a "
    "held-out test split for an unbiased figure"
)


@dataclass
class Split:
    """The records of a run, split by track.

    Attributes
    ----------
    scheme : str
        The split scheme used (``"auto"`` resolved).
    labels : list of str
        Sorted training labels (probability column order).
    train, valid, test : list of TrackRecord
        ``valid`` without the tracks whose label is absent from ``train`` (in ``unknown``).
    unknown : list of TrackRecord
    """

    scheme: str
    labels: list[str]
    train: list[TrackRecord]
    valid: list[TrackRecord]
    test: list[TrackRecord]
    unknown: list[TrackRecord]


@dataclass
class FitContext:
    """What a fit recipe works from: the run's config, its data and split, and its services.

    Attributes
    ----------
    config : TrainConfig
    data_spec : str or Path
        The data as given to ``train`` (ensemble members train on it too).
    loaded : LoadedData
    split : Split
    cache : FeatureCache
    out_dir : Path
        The bundle directory (checkpoints below it).
    train_member : callable
        ``train_member(config, out_dir, resume)``: one full training run (ensemble members).
    resume : bool
    progress : bool
    log : callable
    on_epoch : callable, optional
    failures : list of dict
        Unreadable files met so far (``path``, ``error``).
    """

    config: TrainConfig
    data_spec: str | Path
    loaded: tdata.LoadedData
    split: Split
    cache: FeatureCache
    out_dir: Path
    train_member: Callable[[TrainConfig, Path, bool], Any]
    resume: bool
    progress: bool
    log: Callable[[str], None]
    on_epoch: Callable[[dict[str, float]], None] | None = None
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Sorted training labels (probability column order)."""
        return self.split.labels

    @property
    def train(self) -> list[TrackRecord]:
        """Training records."""
        return self.split.train

    @property
    def valid(self) -> list[TrackRecord]:
        """Validation records (labels all in :attr:`labels`)."""
        return self.split.valid

    def fit(self, net: WaveformNet | nn.Module, train_data: Any, valid_data: Any) -> Any:
        """Run :func:`fit_net` with this run's config, labels, checkpoint folder and logging."""
        return fit_net(
            net,
            train_data,
            valid_data,
            self.config,
            n_labels=len(self.labels),
            checkpoint_dir=self.out_dir / CHECKPOINT_DIRNAME,
            resume=self.resume,
            progress=self.progress,
            log=self.log,
            on_epoch=self.on_epoch,
        )

    def label_index(self, records: Sequence[TrackRecord]) -> np.ndarray:
        """Each record's label as its index in :attr:`labels`."""
        index = {label: i for i, label in enumerate(self.labels)}
        return np.asarray([index[r.label] for r in records], dtype=np.int64)

    def arrays(
        self, records: Sequence[TrackRecord], fn: Callable[..., np.ndarray], params: dict[str, Any], feature: str
    ) -> tuple[list[TrackRecord], list[np.ndarray]]:
        """Cached arrays of the records that could be read (the others are reported and left out)."""
        arrays, failures = tdata.cached_arrays(
            records, fn, params, cache=self.cache, feature=feature, n_jobs=self.config.n_jobs, progress=self.progress
        )
        self.failures.extend(failures)
        kept = [(r, a) for r, a in zip(records, arrays, strict=True) if a is not None]
        return [r for r, _ in kept], [a for _, a in kept]

    def card_fields(self, *, window_s: float, features: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """The card fields of a model of this run's family, labels and sample rate."""
        return {
            "model_type": self.config.family,
            "labels": self.labels,
            "sample_rate": self.config.sample_rate,
            "window_s": window_s,
            "features": features,
            "config": config,
        }


@dataclass
class FitOutput:
    """What a fit recipe returns.

    Attributes
    ----------
    card_fields : dict
        ``model_type``, ``labels``, ``sample_rate``, ``window_s``, ``features``, ``config``
        (and optionally ``provenance`` and ``tags``) of the card.
    tensors : dict of str to Tensor
    metrics : dict
        Valid-split metrics (empty without a valid split).
    fit : FitResult or None
        Epoch history of the torch loop.
    info : dict
        More entries for the card's ``training`` section.
    """

    card_fields: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    metrics: dict[str, Any]
    fit: FitResult | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fitter:
    """A fit recipe and whether it can continue from a checkpoint (``--resume``)."""

    fit: Callable[[FitContext], FitOutput]
    resumable: bool = True


def _rows_dataset(ctx: FitContext, records: Sequence[TrackRecord]) -> tuple[list[TrackRecord], np.ndarray, np.ndarray]:
    """Table feature rows ``(n_rows, 57)`` of the records and each row's track index."""
    config = ctx.config
    if ctx.loaded.table is not None:
        kept = list(records)
        rows = [ctx.loaded.table[r.track_id][None, :] for r in kept]
    else:
        if config.sample_rate != 22050:
            raise InvalidParameterError(f"table features are defined at 22050 Hz; sample_rate is {config.sample_rate}")
        kept, rows = ctx.arrays(
            records,
            tdata.table_feature_rows,
            {"sr": config.sample_rate, "window_s": config.window_s, "max_track_s": config.max_track_s},
            tdata.TABLE_FEATURE_NAME,
        )
    if not kept:
        return kept, np.zeros((0, len(tdata.table_columns()))), np.zeros(0, dtype=np.int64)
    owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)]).astype(np.int64)
    return kept, np.concatenate(rows).astype(np.float64), owner


def _table_window_s(ctx: FitContext) -> float:
    """Window of a table model: 30 s for the published table (its clips), else the config's."""
    from genrekit.models.baselines import TABLE_WINDOW_S

    return TABLE_WINDOW_S if ctx.loaded.table is not None else ctx.config.window_s


def _decoded(ctx: FitContext, records: Sequence[TrackRecord], sr: int) -> tuple[list[TrackRecord], list[torch.Tensor]]:
    kept, arrays = ctx.arrays(
        records,
        tdata.decode_excerpt,
        {"sr": sr, "max_track_s": ctx.config.max_track_s},
        tdata.DECODE_FEATURE_NAME,
    )
    return kept, [torch.from_numpy(tdata.pcm16_to_float(a)) for a in arrays]


def _eval_windows(tracks: Sequence[torch.Tensor], n_samples: int, hop_samples: int) -> tuple[torch.Tensor, np.ndarray]:
    """Validation windows of each track, cut as serving cuts them (:func:`genrekit.audio.windows.slice_windows`)."""
    from genrekit.audio.windows import slice_windows

    windows, owner = [], []
    for i, track in enumerate(tracks):
        _, _, w = slice_windows(track.numpy(), window_length=n_samples, hop_length=hop_samples)
        windows.append(torch.from_numpy(w))
        owner.append(np.full(w.shape[0], i))
    return torch.cat(windows).contiguous(), np.concatenate(owner).astype(np.int64)


def _valid_metrics(probs_by_track: np.ndarray, labels: np.ndarray, n_tracks: int) -> dict[str, Any]:
    if n_tracks == 0:
        return {}
    metrics: dict[str, Any] = dict(track_metrics(probs_by_track, labels))
    metrics.update({"n_tracks": int(n_tracks), "note": VALID_METRICS_NOTE})
    return metrics


def _fit_metrics(fit: FitResult, valid_data: EvalData | None, n_tracks: int) -> dict[str, Any]:
    """The valid metrics of the torch loop's best epoch (empty without a valid split)."""
    if valid_data is None:
        return {}
    metrics = dict(fit.best_metrics)
    metrics.update({"n_tracks": n_tracks, "note": VALID_METRICS_NOTE})
    return metrics


def _check_every_label(train_labels: np.ndarray, n_labels: int) -> None:
    if len(set(train_labels.tolist())) < n_labels:
        raise DatasetError("some labels lost every training track (unreadable files)")


def fit_table(ctx: FitContext) -> FitOutput:
    """The ``table`` recipe: the family's estimator (its ``schema``) fitted on table feature rows."""
    from genrekit.models.baselines import baseline_bundle_parts

    config = ctx.config
    train_records, x_train, owner = _rows_dataset(ctx, ctx.train)
    if len({r.label for r in train_records}) < 2:
        raise DatasetError("fewer than two labels left to train on")
    y_train = np.asarray([train_records[i].label for i in owner])
    model = get_family(config.family).schema(config.model)
    ctx.log(f"fitting {config.family} on {x_train.shape[0]} rows of {x_train.shape[1]} table features")
    model.fit(x_train, y_train)
    if list(model.classes_) != ctx.labels:
        raise DatasetError("some labels lost every training track (unreadable files)")
    metrics: dict[str, Any] = {}
    valid_records, x_valid, valid_owner = _rows_dataset(ctx, ctx.valid)
    if valid_records:
        probs = track_level(model.predict_proba(x_valid), valid_owner, len(valid_records))
        metrics = _valid_metrics(probs, ctx.label_index(valid_records), len(valid_records))
    features, model_config, tensors = baseline_bundle_parts(
        model, tdata.table_columns(), sample_rate=config.sample_rate
    )
    fields = ctx.card_fields(window_s=_table_window_s(ctx), features=features, config=model_config)
    return FitOutput(fields, tensors, metrics, info={"n_train_rows": int(x_train.shape[0])})


def fit_family_net(ctx: FitContext) -> FitOutput:
    """The ``net`` recipe: the family builds its net (``Family.build``), the torch loop fits it."""
    config = ctx.config
    family = get_family(config.family)
    table_data = ctx.loaded.table is not None
    torch.manual_seed(config.seed)
    if table_data and not family.reads_table:
        readers = table_readers()
        raise InvalidParameterError(
            f"family {config.family} needs audio; a feature table serves {', '.join(readers[:-1])} and {readers[-1]} only"
        )
    if family.build is None:
        raise InvalidParameterError(f"family {config.family} declares no net to build")
    parts = family.build(
        NetRequest(
            model=config.model,
            features=config.features,
            n_labels=len(ctx.labels),
            sample_rate=config.sample_rate,
            table_columns=tuple(tdata.table_columns()),
            table_data=table_data,
        )
    )
    net = parts.net
    n_samples = int(round(config.window_s * config.sample_rate))
    hop_samples = int(round((config.valid_hop_s or config.window_s) * config.sample_rate))
    if parts.input_kind == "table":
        train_records, x_train, owner = _rows_dataset(ctx, ctx.train)
        net.body.input_norm.fit(x_train)
        train_data = TrainData(labels=ctx.label_index(train_records)[owner], rows=torch.from_numpy(x_train).float())
        valid_records, x_valid, valid_owner = _rows_dataset(ctx, ctx.valid)
        valid_data = (
            EvalData(torch.from_numpy(x_valid).float(), valid_owner, ctx.label_index(valid_records))
            if valid_records
            else None
        )
        window_s = _table_window_s(ctx)
    else:
        train_records, tracks = _decoded(ctx, ctx.train, config.sample_rate)
        train_data = TrainData(labels=ctx.label_index(train_records), tracks=tracks)
        valid_records, valid_tracks = _decoded(ctx, ctx.valid, config.sample_rate)
        valid_data = None
        if valid_records:
            windows, valid_owner = _eval_windows(valid_tracks, n_samples, hop_samples)
            valid_data = EvalData(windows, valid_owner, ctx.label_index(valid_records))
        window_s = config.window_s
    _check_every_label(train_data.labels, len(ctx.labels))
    ctx.log(
        f"training {config.family} ({sum(p.numel() for p in net.parameters())} parameters) on "
        f"{len(train_records)} tracks, validating on {len(valid_records)}"
    )
    fit = ctx.fit(net, train_data, valid_data)
    fields = ctx.card_fields(window_s=window_s, features=parts.features, config=parts.config)
    metrics = _fit_metrics(fit, valid_data, len(valid_records))
    return FitOutput(fields, net_bundle_parts(net, temperature=fit.temperature), metrics, fit=fit)


def fit_head(ctx: FitContext) -> FitOutput:
    """The ``head`` recipe: a musicnn head fitted on cached embeddings of its frozen backbones."""
    from genrekit.models.heads import WINDOW_S, MusicnnHead, MusicnnHeadClassifier, embedding_dims
    from genrekit.models.musicnn import SAMPLE_RATE, load_pretrained

    config = ctx.config
    if ctx.loaded.table is not None:
        raise InvalidParameterError(f"{config.family} needs audio, not a feature table")
    head_config = get_family(config.family).schema(config.model)
    params = {
        "max_track_s": config.max_track_s,
        "backbones": list(head_config.backbones),
        "embeddings": list(head_config.embeddings),
        "pad_mode": head_config.pad_mode,
    }
    hop_s = config.valid_hop_s or WINDOW_S

    def embed(records: Sequence[TrackRecord]) -> tuple[list[TrackRecord], list[np.ndarray]]:
        kept, tracks = _decoded(ctx, records, SAMPLE_RATE)
        rows = tdata.cached_embeddings(
            kept, [t.numpy() for t in tracks], cache=ctx.cache, params=params, hop_s=hop_s, progress=ctx.progress
        )
        return kept, rows

    train_records, train_rows = embed(ctx.train)
    valid_records, valid_rows = embed(ctx.valid) if ctx.valid else ([], [])
    x_train = np.concatenate(train_rows).astype(np.float32)
    owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(train_rows)]).astype(np.int64)
    n_inputs = sum(width for _, width in embedding_dims(head_config.backbones, head_config.embeddings))
    torch.manual_seed(config.seed)
    head = MusicnnHead(n_inputs, len(ctx.labels), head_config.hidden_units, head_config.dropout)
    head.set_standardization(x_train)
    net = WaveformNet(nn.Identity(), head)
    train_data = TrainData(labels=ctx.label_index(train_records)[owner], rows=torch.from_numpy(x_train))
    _check_every_label(train_data.labels, len(ctx.labels))
    valid_data = None
    if valid_records:
        valid_owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(valid_rows)]).astype(np.int64)
        valid_data = EvalData(torch.from_numpy(np.concatenate(valid_rows)), valid_owner, ctx.label_index(valid_records))
    ctx.log(
        f"training a musicnn head ({n_inputs} inputs from {', '.join(head_config.backbones)}) on "
        f"{x_train.shape[0]} windows of {len(train_records)} tracks, validating on {len(valid_records)} tracks"
    )
    fit = ctx.fit(net, train_data, valid_data)
    head.set_temperature(fit.temperature)
    backbones = {name: load_pretrained(name) for name in head_config.backbones}
    model = MusicnnHeadClassifier(ctx.labels, head_config, backbones, head)
    fields = model.card_fields()
    if fields["sample_rate"] != SAMPLE_RATE:
        raise InvalidParameterError("musicnn head sample rate mismatch")
    metrics = _fit_metrics(fit, valid_data, len(valid_records))
    return FitOutput(fields, model.bundle_tensors(), metrics, fit=fit, info={"n_train_windows": int(x_train.shape[0])})


def fit_ensemble(ctx: FitContext) -> FitOutput:
    """The ``ensemble`` recipe: train the ``model.families`` members, load the ``model.members``
    bundles, and combine them (weighted mean of probabilities)."""
    from genrekit.models.ensemble import EnsembleTrainConfig, ensemble_bundle_parts

    config = ctx.config
    spec = config_from_dict(EnsembleTrainConfig, config.model, where="model")
    if not spec.members and not spec.families:
        raise InvalidParameterError("an ensemble needs model.members (bundle folders) and/or model.families")
    if config.family in spec.families:
        raise InvalidParameterError("an ensemble cannot contain an ensemble family")
    member_dirs = [Path(m) for m in spec.members]
    for member in spec.families:
        member_config = resolve_config(
            member,
            options={
                "seed": config.seed,
                "device": config.device,
                "n_jobs": config.n_jobs,
                "mixed_precision": config.mixed_precision,
                "genres": list(config.genres),
                "split": config.split.to_dict(),
                "name": f"{config.model_name}-{member}",
            },
        )
        member_out = ctx.out_dir / MEMBERS_DIRNAME / member
        resume = ctx.resume and (member_out / CHECKPOINT_DIRNAME).is_dir()
        ctx.log(f"ensemble member {member} -> {member_out}")
        ctx.train_member(member_config, member_out, resume)
        member_dirs.append(member_out)
    members = [load_bundle(d) for d in member_dirs]
    weights = list(spec.weights) or None
    if weights is not None and len(weights) != len(members):
        raise InvalidParameterError(f"model.weights has {len(weights)} values for {len(members)} members")
    model_config, tensors, model = ensemble_bundle_parts(members, weights=weights)
    model_config["member_dirs"] = [str(d) for d in member_dirs]
    metrics: dict[str, Any] = {}
    if ctx.valid and ctx.loaded.table is None:
        valid_records, tracks = _decoded(ctx, ctx.valid, model.sample_rate)
        n_samples = int(round(model.window_s * model.sample_rate))
        windows, owner = _eval_windows(tracks, n_samples, n_samples)
        probs = track_level(model.predict_proba_windows(windows.numpy()), owner, len(valid_records))
        index = {label: i for i, label in enumerate(model.labels)}
        labels = np.asarray([index[r.label] for r in valid_records])
        metrics = _valid_metrics(probs, labels, len(valid_records))
        metrics["note"] = VALID_METRICS_NOTE.replace(
            "also used for early stopping", "also used for the members' early stopping"
        )
    fields = {
        "model_type": config.family,
        "labels": model.labels,
        "sample_rate": model.sample_rate,
        "window_s": model.window_s,
        "features": {"kind": config.family, "members": [card.features for card, _ in members]},
        "config": model_config,
    }
    return FitOutput(fields, tensors, metrics)


FITTERS: dict[str, Fitter] = {
    TABLE: Fitter(fit_table, resumable=False),
    NET: Fitter(fit_family_net),
    HEAD: Fitter(fit_head),
    ENSEMBLE: Fitter(fit_ensemble),
}
