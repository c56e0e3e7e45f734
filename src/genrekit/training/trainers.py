"""Train any model family on any dataset and write a bundle: :func:`train`.

The steps are the same for every family:

1. load the data (:mod:`genrekit.datasets` loaders, or the Kaggle feature table), keep
   the asked genres, split by track (:func:`genrekit.training.splits.make_splits`);
2. compute what the family needs through the feature cache (decoded excerpts, table
   features, musicnn embeddings);
3. fit (scikit-learn for the classical baselines, :func:`genrekit.training.loop.fit_net`
   for torch models), with early stopping and calibration on the valid split;
4. measure track-level metrics on the valid split;
5. write the bundle (``card.json`` + ``model.safetensors``) whose card records the
   config, seed, data fingerprint, label counts, library versions, device and time.

The test split (where the scheme has one) is never read here.
"""

from __future__ import annotations

import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genrekit._version import __version__
from genrekit.bundle.card import ModelCard
from genrekit.bundle.io import load_bundle, save_bundle
from genrekit.datasets import FeatureCache, TrackRecord
from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.models.neural import WaveformNet, config_from_dict, net_bundle_parts
from genrekit.training import data as tdata
from genrekit.training.config import BASELINE_FAMILIES, NET_FAMILIES, TrainConfig, deep_merge, resolve_config
from genrekit.training.loop import EvalData, FitResult, TrainData, fit_net, track_level, track_metrics

CHECKPOINT_DIRNAME = "checkpoint"
MEMBERS_DIRNAME = "members"
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "cnn2d_logmel": {"n_fft": 1024, "hop_length": 512, "n_mels": 64},
    "crnn": {"n_fft": 1024, "hop_length": 512, "n_mels": 64},
    "cnn2d_mfcc": {"n_mfcc": 20, "mel": {"n_fft": 1024, "hop_length": 512, "n_mels": 64}},
    "mlp": {"n_mfcc": 20, "mel": {"n_fft": 2048, "hop_length": 512, "n_mels": 128}},
}
VALID_METRICS_NOTE = (
    "track-level (window probabilities averaged per track) on the valid split, which was also "
    "used for early stopping and temperature scaling: optimistic; use genrekit evaluate on a "
    "held-out test split for an unbiased figure"
)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    bundle_dir : Path
    card : ModelCard
        As written.
    seconds : float
        Wall time of the whole run (data preparation included).
    fit : FitResult or None
        Epoch history for torch families.
    """

    bundle_dir: Path
    card: ModelCard
    seconds: float
    fit: FitResult | None = None


@dataclass
class _Context:
    config: TrainConfig
    loaded: tdata.LoadedData
    labels: list[str]
    train: list[TrackRecord]
    valid: list[TrackRecord]
    cache: FeatureCache
    out_dir: Path
    resume: bool
    progress: bool
    log: Callable[[str], None]
    failures: list[dict[str, str]] = field(default_factory=list)
    on_epoch: Callable[[dict[str, float]], None] | None = None

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


@dataclass
class _FamilyOutput:
    card_fields: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    metrics: dict[str, Any]
    fit: FitResult | None = None
    info: dict[str, Any] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a trained model depends on."""
    import sklearn

    return {
        "genrekit": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def _rows_dataset(ctx: _Context, records: Sequence[TrackRecord]) -> tuple[list[TrackRecord], np.ndarray, np.ndarray]:
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


def _table_window_s(ctx: _Context) -> float:
    """Window of a table model: 30 s for the published table (its clips), else the config's."""
    from genrekit.models.baselines import TABLE_WINDOW_S

    return TABLE_WINDOW_S if ctx.loaded.table is not None else ctx.config.window_s


def _decoded(ctx: _Context, records: Sequence[TrackRecord], sr: int) -> tuple[list[TrackRecord], list[torch.Tensor]]:
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


# ----------------------------------------------------------------------------- families


def _train_baseline(ctx: _Context) -> _FamilyOutput:
    from genrekit.models.baselines import baseline_bundle_parts, make_baseline

    config = ctx.config
    train_records, x_train, owner = _rows_dataset(ctx, ctx.train)
    if len({r.label for r in train_records}) < 2:
        raise DatasetError("fewer than two labels left to train on")
    y_train = np.asarray([train_records[i].label for i in owner])
    model = make_baseline(config.family, config.model)
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
    fields = {
        "model_type": config.family,
        "labels": ctx.labels,
        "sample_rate": config.sample_rate,
        "window_s": _table_window_s(ctx),
        "features": features,
        "config": model_config,
    }
    return _FamilyOutput(fields, tensors, metrics, info={"n_train_rows": int(x_train.shape[0])})


def _build_net(ctx: _Context, table_input: bool) -> tuple[WaveformNet, dict[str, Any], dict[str, Any], str]:
    """The family's net, its card ``features`` and ``config`` sections, and its input kind."""
    from genrekit.models.cnn import Cnn1dConfig, Cnn2dConfig, build_cnn1d, build_cnn2d
    from genrekit.models.crnn import CrnnConfig, build_crnn
    from genrekit.models.mlp import MlpConfig, build_mlp

    config = ctx.config
    family = config.family
    n_labels = len(ctx.labels)
    feature_params = deep_merge(DEFAULT_FEATURES.get(family, {}), config.features)
    torch.manual_seed(config.seed)
    if family == "mlp":
        model_params = dict(config.model)
        if table_input:
            if model_params.get("input", "table") != "table":
                raise InvalidParameterError("the feature table only serves an MLP with model.input = 'table'")
            model_params["input"] = "table"
        arch = config_from_dict(MlpConfig, model_params, where="model")
        if arch.input == "table":
            if config.features:
                raise InvalidParameterError("a table-input MLP takes no feature parameters")
            net, _ = build_mlp(
                arch, n_labels=n_labels, sample_rate=config.sample_rate, n_table_features=len(tdata.table_columns())
            )
            features = {"kind": "table", "columns": tdata.table_columns(), "sample_rate": config.sample_rate}
            return net, features, {"architecture": arch.to_dict()}, "table"
        net, params = build_mlp(arch, n_labels=n_labels, sample_rate=config.sample_rate, feature_params=feature_params)
        return net, {"kind": "mfcc_stats", **params}, {"architecture": arch.to_dict()}, "waveform"
    if table_input:
        raise InvalidParameterError(
            f"family {family} needs audio; a feature table serves {', '.join(BASELINE_FAMILIES)} and mlp only"
        )
    if family == "cnn1d":
        if config.features:
            raise InvalidParameterError("cnn1d works on the raw waveform and takes no feature parameters")
        arch1 = config_from_dict(Cnn1dConfig, config.model, where="model")
        return (
            build_cnn1d(arch1, n_labels=n_labels),
            {"kind": "waveform"},
            {"architecture": arch1.to_dict()},
            "waveform",
        )
    if family in ("cnn2d_mfcc", "cnn2d_logmel"):
        arch2 = config_from_dict(Cnn2dConfig, config.model, where="model")
        kind = "mfcc" if family == "cnn2d_mfcc" else "logmel"
        net, params = build_cnn2d(
            arch2, frontend=kind, feature_params=feature_params, n_labels=n_labels, sample_rate=config.sample_rate
        )
        return net, {"kind": kind, **params}, {"architecture": arch2.to_dict()}, "waveform"
    arch3 = config_from_dict(CrnnConfig, config.model, where="model")
    net, params = build_crnn(
        arch3, frontend="logmel", feature_params=feature_params, n_labels=n_labels, sample_rate=config.sample_rate
    )
    return net, {"kind": "logmel", **params}, {"architecture": arch3.to_dict()}, "waveform"


def _train_net(ctx: _Context) -> _FamilyOutput:
    config = ctx.config
    table_input = ctx.loaded.table is not None or (config.family == "mlp" and config.model.get("input") == "table")
    net, features, model_config, input_kind = _build_net(ctx, table_input)
    n_samples = int(round(config.window_s * config.sample_rate))
    hop_samples = int(round((config.valid_hop_s or config.window_s) * config.sample_rate))
    if input_kind == "table":
        train_records, x_train, owner = _rows_dataset(ctx, ctx.train)
        net.body.input_norm.fit(x_train)
        train_data = TrainData(labels=ctx.label_index(train_records)[owner], rows=torch.from_numpy(x_train).float())
        valid_records, x_valid, valid_owner = _rows_dataset(ctx, ctx.valid)
        valid_data = (
            EvalData(torch.from_numpy(x_valid).float(), valid_owner, ctx.label_index(valid_records))
            if valid_records
            else None
        )
    else:
        train_records, tracks = _decoded(ctx, ctx.train, config.sample_rate)
        train_data = TrainData(labels=ctx.label_index(train_records), tracks=tracks)
        valid_records, valid_tracks = _decoded(ctx, ctx.valid, config.sample_rate)
        valid_data = None
        if valid_records:
            windows, valid_owner = _eval_windows(valid_tracks, n_samples, hop_samples)
            valid_data = EvalData(windows, valid_owner, ctx.label_index(valid_records))
    if len(set(train_data.labels.tolist())) < len(ctx.labels):
        raise DatasetError("some labels lost every training track (unreadable files)")
    ctx.log(
        f"training {config.family} ({sum(p.numel() for p in net.parameters())} parameters) on "
        f"{len(train_records)} tracks, validating on {len(valid_records)}"
    )
    fit = ctx.fit(net, train_data, valid_data)
    metrics = {}
    if valid_data is not None:
        metrics = dict(fit.best_metrics)
        metrics.update({"n_tracks": len(valid_records), "note": VALID_METRICS_NOTE})
    fields = {
        "model_type": config.family,
        "labels": ctx.labels,
        "sample_rate": config.sample_rate,
        "window_s": _table_window_s(ctx) if input_kind == "table" else config.window_s,
        "features": features,
        "config": model_config,
    }
    return _FamilyOutput(fields, net_bundle_parts(net, temperature=fit.temperature), metrics, fit=fit)


def _train_musicnn_head(ctx: _Context) -> _FamilyOutput:
    from genrekit.models.heads import WINDOW_S, MusicnnHead, MusicnnHeadClassifier, MusicnnHeadConfig, embedding_dims
    from genrekit.models.musicnn import SAMPLE_RATE, load_pretrained

    config = ctx.config
    if ctx.loaded.table is not None:
        raise InvalidParameterError("musicnn_head needs audio, not a feature table")
    try:
        head_config = MusicnnHeadConfig.from_dict(dict(config.model))
    except TypeError as error:
        raise InvalidParameterError(f"bad musicnn_head model parameters: {error}") from error
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
    if len(set(train_data.labels.tolist())) < len(ctx.labels):
        raise DatasetError("some labels lost every training track (unreadable files)")
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
    metrics = {}
    if valid_data is not None:
        metrics = dict(fit.best_metrics)
        metrics.update({"n_tracks": len(valid_records), "note": VALID_METRICS_NOTE})
    return _FamilyOutput(
        fields, model.bundle_tensors(), metrics, fit=fit, info={"n_train_windows": int(x_train.shape[0])}
    )


@dataclass(frozen=True)
class EnsembleTrainConfig:
    """``model`` section of the ensemble family.

    Attributes
    ----------
    members : tuple of str
        Existing bundle directories to combine.
    families : tuple of str
        Families to train now on the same data and split (into ``<out>/members/<family>``),
        each with its preset and the run's seed, device, split and genres.
    weights : tuple of float
        One per member (``members`` first, then ``families``); empty: equal weights.
    """

    members: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()


def _train_ensemble(ctx: _Context, data_spec: str | Path) -> _FamilyOutput:
    from genrekit.models.ensemble import ensemble_bundle_parts

    config = ctx.config
    spec = config_from_dict(EnsembleTrainConfig, config.model, where="model")
    if not spec.members and not spec.families:
        raise InvalidParameterError("an ensemble needs model.members (bundle folders) and/or model.families")
    if "ensemble" in spec.families:
        raise InvalidParameterError("an ensemble cannot contain an ensemble family")
    member_dirs = [Path(m) for m in spec.members]
    for family in spec.families:
        member_config = resolve_config(
            family,
            options={
                "seed": config.seed,
                "device": config.device,
                "n_jobs": config.n_jobs,
                "mixed_precision": config.mixed_precision,
                "genres": list(config.genres),
                "split": config.split.to_dict(),
                "name": f"{config.model_name}-{family}",
            },
        )
        member_out = ctx.out_dir / MEMBERS_DIRNAME / family
        resume = ctx.resume and (member_out / CHECKPOINT_DIRNAME).is_dir()
        ctx.log(f"ensemble member {family} -> {member_out}")
        train(
            member_config,
            data_spec,
            out_dir=member_out,
            resume=resume,
            cache_dir=ctx.cache.root,
            progress=ctx.progress,
            log=ctx.log,
        )
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
        "model_type": "ensemble",
        "labels": model.labels,
        "sample_rate": model.sample_rate,
        "window_s": model.window_s,
        "features": {"kind": "ensemble", "members": [card.features for card, _ in members]},
        "config": model_config,
    }
    return _FamilyOutput(fields, tensors, metrics)


# ----------------------------------------------------------------------------- entry point


def check_model_section(config: TrainConfig) -> None:
    """Validate ``config.model`` against the family's hyper-parameters before any data is read.

    Raises
    ------
    InvalidParameterError
        Unknown key or bad value.
    """
    from genrekit.models.baselines import make_baseline
    from genrekit.models.cnn import Cnn1dConfig, Cnn2dConfig
    from genrekit.models.crnn import CrnnConfig
    from genrekit.models.heads import MusicnnHeadConfig
    from genrekit.models.mlp import MlpConfig

    family = config.family
    if family in BASELINE_FAMILIES:
        make_baseline(family, config.model)
        return
    classes = {
        "mlp": MlpConfig,
        "cnn1d": Cnn1dConfig,
        "cnn2d_mfcc": Cnn2dConfig,
        "cnn2d_logmel": Cnn2dConfig,
        "crnn": CrnnConfig,
    }
    if family in classes:
        config_from_dict(classes[family], config.model, where="model")
    elif family == "musicnn_head":
        try:
            MusicnnHeadConfig.from_dict(dict(config.model))
        except TypeError as error:
            raise InvalidParameterError(f"bad musicnn_head model parameters: {error}") from error
    else:
        config_from_dict(EnsembleTrainConfig, config.model, where="model")


def train(
    config: TrainConfig,
    data: str | Path,
    *,
    out_dir: str | Path,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    config_sources: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``config.family`` on ``data`` and write a bundle to ``out_dir``.

    Parameters
    ----------
    config : TrainConfig
        See :func:`genrekit.training.config.resolve_config`.
    data : path
        Dataset folder or manifest (:func:`genrekit.datasets.load_dataset`), or the Kaggle
        ``features_30_sec.csv`` (table families only).
    out_dir : path
        Bundle directory; checkpoints go to ``<out_dir>/checkpoint``.
    resume : bool
        Continue from the checkpoint in ``out_dir`` (torch families).
    cache_dir : path, optional
        Feature cache folder (default :func:`genrekit.datasets.default_cache_dir`).
    progress : bool
        Progress bars on stderr.
    log : callable, optional
        Receives progress messages (one line each).
    config_sources : dict, optional
        Where the config came from (file, ``--set`` items, options), recorded in the card
        next to the resolved config.
    on_epoch : callable, optional
        Torch families: receives each epoch's history entry (see
        :func:`~genrekit.training.loop.fit_net`).

    Returns
    -------
    TrainResult

    Raises
    ------
    InvalidParameterError, DatasetError
        Bad config, unreadable data, or a split without training tracks.
    """
    started = time.perf_counter()
    log = log or (lambda message: None)
    check_model_section(config)
    out = Path(out_dir)
    if resume and config.family in BASELINE_FAMILIES:
        log(f"{config.family} trains in one step; --resume retrains it")
        resume = False
    if not resume and (out / CHECKPOINT_DIRNAME).is_dir():
        log(f"starting afresh: removing the old checkpoint in {out / CHECKPOINT_DIRNAME}")
        shutil.rmtree(out / CHECKPOINT_DIRNAME)
    loaded = tdata.load_training_data(data, scheme=config.split.scheme)
    records = tdata.select_genres(loaded.records, config.genres)
    scheme, splits = tdata.split_records(records, config)
    labels = sorted({r.label for r in splits["train"]})
    if len(labels) < 2:
        raise DatasetError(f"the training split holds {len(labels)} label(s); at least two are needed")
    valid, unknown = tdata.drop_unknown_labels(splits["valid"], labels)
    if unknown:
        log(f"{len(unknown)} valid track(s) have labels absent from train and are left out")
    cache = FeatureCache(cache_dir)
    ctx = _Context(
        config=config,
        loaded=loaded,
        labels=labels,
        train=splits["train"],
        valid=valid,
        cache=cache,
        out_dir=out,
        resume=resume,
        progress=progress,
        log=log,
        on_epoch=on_epoch,
    )
    log(
        f"data {loaded.name} ({loaded.layout}): {len(splits['train'])} train, {len(valid)} valid, "
        f"{len(splits['test'])} test tracks (split {scheme}); labels: {', '.join(labels)}"
    )
    if config.family in BASELINE_FAMILIES:
        output = _train_baseline(ctx)
    elif config.family in NET_FAMILIES:
        output = _train_net(ctx)
    elif config.family == "musicnn_head":
        output = _train_musicnn_head(ctx)
    else:
        output = _train_ensemble(ctx, data)
    failed = {f["path"] for f in ctx.failures}
    used_train = [r for r in splits["train"] if str(r.path) not in failed or loaded.table is not None]
    used_valid = [r for r in valid if str(r.path) not in failed or loaded.table is not None]
    fingerprint = tdata.data_fingerprint(
        tdata.with_split(used_train, "train") + tdata.with_split(used_valid, "valid"), loaded.root, loaded.fingerprint
    )
    seconds = time.perf_counter() - started
    training: dict[str, Any] = {
        "family": config.family,
        "config": config.to_dict(),
        "config_sources": dict(config_sources or {}),
        "seed": config.seed,
        "data": {
            "spec": str(data),
            "name": loaded.name,
            "layout": loaded.layout,
            "fingerprint": fingerprint,
            "n_tracks": {"train": len(used_train), "valid": len(used_valid), "test_not_used": len(splits["test"])},
            "label_counts": {"train": tdata.label_counts(used_train), "valid": tdata.label_counts(used_valid)},
            "left_out": {
                "unreadable": ctx.failures,
                "valid_label_not_in_train": [r.track_id for r in unknown],
            },
        },
        "split": {"scheme": scheme, **{k: v for k, v in config.split.to_dict().items() if k != "scheme"}},
        "track_ids": {"train": [r.track_id for r in used_train], "valid": [r.track_id for r in used_valid]},
        "library_versions": library_versions(),
        "device": output.fit.device if output.fit is not None else "cpu",
        "seconds": round(seconds, 3),
        **output.info,
    }
    if output.fit is not None:
        fit = output.fit
        training["fit"] = {
            "epochs_run": fit.epochs_run,
            "best_epoch": fit.best_epoch,
            "stopped_early": fit.stopped_early,
            "temperature": fit.temperature,
            "resumed_from_epoch": fit.resumed_from_epoch,
            "seconds": round(fit.seconds, 3),
            "history": fit.history,
        }
    metrics = {"valid": output.metrics} if output.metrics else {}
    limitations = [
        f"trained on {len(used_train)} tracks of {loaded.name} ({', '.join(labels)}); "
        "music of any other genre is forced into these labels",
    ]
    if loaded.layout == "feature_table":
        limitations.append(
            "trained on the published feature table; genrekit's table_features approximate those values, so "
            "predictions on new audio may differ from the table's"
        )
    card = ModelCard(
        name=config.model_name,
        version="1",
        training=training,
        metrics=metrics,
        limitations=limitations,
        provenance=output.card_fields.pop("provenance", {}) or {"trained_with": f"genrekit {__version__}"},
        tags=output.card_fields.pop("tags", []),
        **output.card_fields,
    )
    save_bundle(out, card, output.tensors)
    card, _ = load_bundle(out)
    log(
        f"wrote {out} in {seconds:.1f} s"
        + (
            f"; valid accuracy {output.metrics['accuracy']:.3f}, macro-F1 {output.metrics['macro_f1']:.3f} "
            f"({output.metrics['n_tracks']} tracks)"
            if output.metrics
            else ""
        )
    )
    return TrainResult(bundle_dir=out, card=card, seconds=seconds, fit=output.fit)
