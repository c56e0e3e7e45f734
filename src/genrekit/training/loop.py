"""The torch training loop: batches, augmentation, class balance, early stopping, checkpoints.

:func:`fit_net` trains a :class:`~genrekit.models.neural.WaveformNet` on
:class:`TrainData` (decoded tracks to crop windows from, or fixed table rows), validates
each epoch on :class:`EvalData` at the *track* level (window probabilities averaged per
track) and keeps the best epoch. Checkpoints are pickle-free: ``last.safetensors`` holds
the model, the optimizer's tensors and torch's RNG state; ``last.json`` the epoch, the
history, the optimizer's other settings and the NumPy generator state. ``resume=True``
continues exactly where the last completed epoch left off.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from genrekit.errors import InvalidParameterError
from genrekit.models.neural import WaveformNet
from genrekit.training.augment import augment_waveforms, draw_training_batch, mixup, spec_augment
from genrekit.training.config import TrainConfig

CHECKPOINT_STATE = "last.json"
CHECKPOINT_TENSORS = "last.safetensors"
CHECKPOINT_BEST = "best.safetensors"
# Settings that may change when a run is resumed (more epochs, another device...).
RESUMABLE_CHANGES = frozenset({"epochs", "patience", "device", "n_jobs", "mixed_precision"})


@dataclass
class TrainData:
    """Training inputs: decoded tracks to draw windows from, or fixed table rows.

    Attributes
    ----------
    labels : np.ndarray [shape=(n_items,), dtype=int64]
        Label index of each track (or row).
    tracks : list of torch.Tensor [shape=(n_samples,)], optional
        Mono float32 tracks at the model's rate (waveform families).
    rows : torch.Tensor [shape=(n_rows, n_features)], optional
        Table features (table families).
    """

    labels: np.ndarray
    tracks: list[torch.Tensor] | None = None
    rows: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if (self.tracks is None) == (self.rows is None):
            raise InvalidParameterError("TrainData needs exactly one of tracks or rows")
        n_items = len(self.tracks) if self.tracks is not None else self.rows.shape[0]  # type: ignore[union-attr]
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (n_items,) or n_items == 0:
            raise InvalidParameterError(f"TrainData: {n_items} items but labels of shape {self.labels.shape}")


@dataclass
class EvalData:
    """Validation inputs: fixed windows (or rows) and the track each belongs to.

    Attributes
    ----------
    inputs : torch.Tensor [shape=(n_windows, ...)]
        Waveform windows ``(n_windows, n_samples)`` or table rows.
    owner : np.ndarray [shape=(n_windows,), dtype=int64]
        Track index of each window.
    labels : np.ndarray [shape=(n_tracks,), dtype=int64]
        Label index of each track.
    """

    inputs: torch.Tensor
    owner: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.owner = np.asarray(self.owner, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.owner.shape != (self.inputs.shape[0],):
            raise InvalidParameterError("EvalData: one owner per window is needed")
        if self.labels.size == 0 or self.owner.min() < 0 or self.owner.max() >= self.labels.size:
            raise InvalidParameterError("EvalData: owners must index the tracks")


@dataclass
class FitResult:
    """What :func:`fit_net` returns (the net itself is left at its best epoch)."""

    history: list[dict[str, float]]
    best_epoch: int
    best_metrics: dict[str, float]
    epochs_run: int
    stopped_early: bool
    seconds: float
    device: str
    temperature: float = 1.0
    resumed_from_epoch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def select_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError("--device cuda was asked for, but torch sees no CUDA device")
    if name not in ("cpu", "cuda"):
        raise InvalidParameterError(f"device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def class_weights(labels: np.ndarray, n_labels: int) -> torch.Tensor:
    """Balanced class weights ``n / (n_present * count_c)`` (0 for absent classes).

    Parameters
    ----------
    labels : np.ndarray [shape=(n,), dtype=int]
    n_labels : int

    Returns
    -------
    torch.Tensor [shape=(n_labels,), dtype=float32]
        The count-weighted mean weight over the data is 1.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_labels).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_labels)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def epoch_indices(labels: np.ndarray, n_per_item: int, rng: np.random.Generator, *, balanced: bool) -> np.ndarray:
    """Item indices for one epoch: each item ``n_per_item`` times, shuffled; or, when
    ``balanced``, as many draws with replacement where every class is equally likely."""
    n_items = len(labels)
    n_draws = n_items * n_per_item
    if not balanced:
        return rng.permutation(np.repeat(np.arange(n_items), n_per_item))
    counts = np.bincount(labels)
    p = 1.0 / counts[labels]
    return rng.choice(n_items, size=n_draws, replace=True, p=p / p.sum())


def track_level(window_probs: np.ndarray, owner: np.ndarray, n_tracks: int) -> np.ndarray:
    """Mean window probabilities per track: ``(n_windows, k) -> (n_tracks, k)``."""
    sums = np.zeros((n_tracks, window_probs.shape[1]))
    np.add.at(sums, owner, window_probs)
    counts = np.bincount(owner, minlength=n_tracks)[:, None]
    return sums / np.maximum(counts, 1)


def track_metrics(track_probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 (labels present in truth or prediction, zero_division 0) and NLL."""
    from sklearn.metrics import f1_score

    pred = np.argmax(track_probs, axis=1)
    eps = 1e-7
    nll = float(-np.mean(np.log(np.clip(track_probs[np.arange(len(labels)), labels], eps, 1.0))))
    return {
        "accuracy": float(np.mean(pred == labels)),
        "macro_f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
        "nll": nll,
    }


def predict_logits(net: WaveformNet, inputs: torch.Tensor, *, device: torch.device, batch_size: int) -> torch.Tensor:
    """Logits of every window (eval mode, no gradient), on the CPU, float32."""
    net.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, inputs.shape[0], batch_size):
            out.append(net(inputs[start : start + batch_size].to(device)).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, 0))


def evaluate(
    net: WaveformNet, data: EvalData, *, device: torch.device, batch_size: int, temperature: float = 1.0
) -> dict[str, float]:
    """Track-level validation metrics of ``net`` on ``data``."""
    logits = predict_logits(net, data.inputs, device=device, batch_size=batch_size)
    probs = torch.softmax(logits / temperature, dim=-1).numpy()
    return track_metrics(track_level(probs, data.owner, data.labels.size), data.labels)


def _optimizer_to_checkpoint(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state_dict["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _optimizer_from_checkpoint(
    optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, entries in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else dict(g) for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def _atomic_write_json(data: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def has_checkpoint(directory: str | os.PathLike[str]) -> bool:
    """True if ``directory`` holds a resumable checkpoint."""
    directory = Path(directory)
    return (directory / CHECKPOINT_STATE).is_file() and (directory / CHECKPOINT_TENSORS).is_file()


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in RESUMABLE_CHANGES}


def _state_cpu(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def _batches(
    data: TrainData,
    config: TrainConfig,
    rng: np.random.Generator,
    n_samples: int,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    balanced = config.balance == "sampler"
    n_per_item = config.crops_per_track if data.tracks is not None else 1
    order = epoch_indices(data.labels, n_per_item, rng, balanced=balanced)
    aug = config.augment
    for start in range(0, len(order), config.batch_size):
        idx = order[start : start + config.batch_size]
        if data.tracks is not None:
            x = draw_training_batch(
                data.tracks,
                idx,
                n_samples,
                rng,
                random_crop=aug.random_crop,
                pitch_shift_semitones=aug.pitch_shift_semitones,
                pitch_shift_p=aug.pitch_shift_p,
            )
            x = augment_waveforms(
                x, rng, gain_db=aug.gain_db, max_shift_samples=int(round(aug.time_shift_s * config.sample_rate))
            )
        else:
            x = data.rows[torch.from_numpy(idx)]  # type: ignore[index]
        yield x, torch.from_numpy(data.labels[idx])


def fit_net(
    net: WaveformNet,
    train: TrainData,
    valid: EvalData | None,
    config: TrainConfig,
    *,
    n_labels: int,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``net`` with early stopping on track-level validation, checkpointing each epoch.

    Parameters
    ----------
    net : WaveformNet
        Freshly initialised (its initial weights are overwritten on resume).
    train : TrainData
    valid : EvalData or None
        ``None``: no early stopping, the last epoch is kept.
    config : TrainConfig
        Uses ``epochs``, ``batch_size``, ``learning_rate``, ``weight_decay``, ``patience``,
        ``monitor``, ``balance``, ``label_smoothing``, ``window_s``, ``sample_rate``,
        ``crops_per_track``, ``augment``, ``calibrate``, ``device``, ``mixed_precision``,
        ``seed``.
    n_labels : int
    checkpoint_dir : path, optional
        Where ``last.*`` and ``best.safetensors`` go; ``None`` disables checkpoints.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir`` (an error if there is none, or
        if it was made with another config, ``epochs``/``patience``/``device`` aside).
    progress : bool
        Show a tqdm bar per epoch.
    log : callable, optional
        Receives one line per epoch.
    on_epoch : callable, optional
        Receives each epoch's history entry (``epoch``, ``train_loss``, ``valid_*``) after
        its checkpoint is written; an exception it raises stops training (a tuner's pruner).

    Returns
    -------
    FitResult
        The net is left in eval mode at its best epoch, on the CPU.
    """
    run = _Run.start(net, train, config, n_labels=n_labels)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume:
        state = _restore(net, run, ckpt, config)
        if log:
            log(f"resuming from epoch {state.epoch} ({ckpt})")
    else:
        torch.manual_seed(config.seed)
        state = _Progress(best_state=_state_cpu(net))
    start_epoch = state.epoch
    started = time.perf_counter()
    stopped_early = bool(config.patience and state.bad_epochs >= config.patience and start_epoch > 0)
    while state.epoch < config.epochs and not stopped_early:
        epoch_started = time.perf_counter()
        train_loss = _train_epoch(net, train, config, run, epoch=state.epoch, progress=progress)
        state.epoch += 1
        entry: dict[str, float] = {"epoch": state.epoch, "train_loss": train_loss}
        if valid is not None:
            metrics = evaluate(net, valid, device=run.device, batch_size=config.batch_size)
            entry.update({f"valid_{k}": v for k, v in metrics.items()})
            if state.record(net, metrics, config.monitor) and ckpt is not None:
                ckpt.mkdir(parents=True, exist_ok=True)
                _atomic_save_tensors(state.best_state, ckpt / CHECKPOINT_BEST)
            stopped_early = bool(config.patience and state.bad_epochs >= config.patience)
        else:
            state.best_epoch, state.best_state = state.epoch, _state_cpu(net)
        entry["seconds"] = time.perf_counter() - epoch_started
        state.history.append(entry)
        if log:
            log(_epoch_line(entry, state, config, validated=valid is not None))
        if ckpt is not None:
            _save_checkpoint(ckpt, net, run, state, config)
        if on_epoch is not None:
            on_epoch(dict(entry))

    net.load_state_dict({k: v.to(run.device) for k, v in state.best_state.items()})
    temperature, final_metrics = _calibrate(net, valid, config, run.device, state.best_metrics)
    net.to("cpu").eval()
    return FitResult(
        history=state.history,
        best_epoch=state.best_epoch,
        best_metrics=final_metrics,
        epochs_run=state.epoch,
        stopped_early=stopped_early,
        seconds=time.perf_counter() - started,
        device=str(run.device),
        temperature=temperature,
        resumed_from_epoch=start_epoch if resume else 0,
    )


@dataclass
class _Run:
    """What stays fixed during one :func:`fit_net` call: device, optimiser, mixed precision, loss weights."""

    device: torch.device
    optimizer: torch.optim.Optimizer
    use_amp: bool
    amp_dtype: torch.dtype
    scaler: torch.amp.GradScaler
    weights: torch.Tensor | None
    n_samples: int
    n_labels: int
    rng: np.random.Generator

    @classmethod
    def start(cls, net: WaveformNet, train: TrainData, config: TrainConfig, *, n_labels: int) -> _Run:
        device = select_device(config.device)
        net.to(device)
        use_amp = device.type == "cuda" and config.mixed_precision
        amp_dtype = torch.bfloat16 if (use_amp and torch.cuda.is_bf16_supported()) else torch.float16
        return cls(
            device=device,
            optimizer=torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay),
            use_amp=use_amp,
            amp_dtype=amp_dtype,
            scaler=torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16),
            weights=class_weights(train.labels, n_labels).to(device) if config.balance == "weights" else None,
            n_samples=int(round(config.window_s * config.sample_rate)),
            n_labels=n_labels,
            rng=np.random.default_rng(config.seed),
        )


@dataclass
class _Progress:
    """What changes epoch after epoch, and what a checkpoint saves."""

    best_state: dict[str, torch.Tensor]
    history: list[dict[str, float]] = field(default_factory=list)
    epoch: int = 0
    best_score: tuple[float, float] | None = None
    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_epochs: int = 0

    def record(self, net: WaveformNet, metrics: dict[str, float], monitor: str) -> bool:
        """Take this epoch's validation metrics; True when it is the best so far (its weights kept)."""
        score = (metrics[monitor], -metrics["nll"])
        if self.best_score is not None and score <= self.best_score:
            self.bad_epochs += 1
            return False
        self.best_score, self.best_epoch, self.best_metrics, self.bad_epochs = score, self.epoch, metrics, 0
        self.best_state = _state_cpu(net)
        return True


def _restore(net: WaveformNet, run: _Run, ckpt: Path | None, config: TrainConfig) -> _Progress:
    """Load the net, optimiser, random states and progress of the checkpoint in ``ckpt``."""
    if ckpt is None or not has_checkpoint(ckpt):
        raise InvalidParameterError(f"--resume: no checkpoint in {ckpt}")
    config_dict = config.to_dict()
    meta = json.loads((ckpt / CHECKPOINT_STATE).read_text(encoding="utf-8"))
    if _comparable(meta["config"]) != _comparable(config_dict):
        changed = sorted(k for k in set(meta["config"]) | set(config_dict) if meta["config"].get(k) != config_dict.get(k))
        raise InvalidParameterError(
            f"--resume: the checkpoint in {ckpt} was made with another config (differs in: {', '.join(changed)})"
        )
    tensors = load_file(str(ckpt / CHECKPOINT_TENSORS))
    net.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    # load_state_dict moves each state tensor to its parameter's device (``step`` stays on the CPU).
    _optimizer_from_checkpoint(run.optimizer, tensors, meta["optimizer"])
    torch.set_rng_state(tensors["rng.torch"])
    if run.device.type == "cuda" and "rng.cuda" in tensors:
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    run.rng.bit_generator.state = meta["numpy_rng"]
    best_path = ckpt / CHECKPOINT_BEST
    return _Progress(
        best_state=load_file(str(best_path)) if best_path.is_file() else _state_cpu(net),
        history=meta["history"],
        epoch=int(meta["epoch"]),
        best_score=tuple(meta["best_score"]) if meta["best_score"] is not None else None,  # type: ignore[arg-type]
        best_epoch=int(meta["best_epoch"]),
        best_metrics=meta["best_metrics"],
        bad_epochs=int(meta["bad_epochs"]),
    )


def _train_epoch(net: WaveformNet, train: TrainData, config: TrainConfig, run: _Run, *, epoch: int, progress: bool) -> float:
    """One pass over the training data (augmented, mixed up); returns the mean training loss."""
    net.train()
    aug = config.augment
    n_items = len(train.labels) * (config.crops_per_track if train.tracks is not None else 1)
    total_loss, seen = 0.0, 0
    bar = tqdm(
        total=math.ceil(n_items / config.batch_size), desc=f"epoch {epoch + 1}/{config.epochs}", leave=False,
        disable=not progress, unit="batch",
    )  # fmt: skip
    for x, y in _batches(train, config, run.rng, run.n_samples):
        x = x.to(run.device, non_blocking=True)
        y = y.to(run.device)
        features = net.features(x)
        if features.ndim >= 3 and (aug.freq_mask_bins > 0 or aug.time_mask_frames > 0):
            features = spec_augment(
                features,
                run.rng,
                freq_mask_bins=aug.freq_mask_bins,
                time_mask_frames=aug.time_mask_frames,
                n_freq_masks=aug.n_freq_masks,
                n_time_masks=aug.n_time_masks,
            )
        targets = F.one_hot(y, run.n_labels).float()
        if aug.mixup_alpha > 0 and x.shape[0] > 1:
            features, targets = mixup(features, targets, run.rng, alpha=aug.mixup_alpha)
        with torch.autocast(device_type=run.device.type, dtype=run.amp_dtype, enabled=run.use_amp):
            logits = net.classify(features)
        loss = F.cross_entropy(logits.float(), targets, weight=run.weights, label_smoothing=config.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        total_loss += float(loss.detach()) * x.shape[0]
        seen += x.shape[0]
        bar.update(1)
        bar.set_postfix(loss=f"{total_loss / max(seen, 1):.3f}")
    bar.close()
    return total_loss / max(seen, 1)


def _epoch_line(entry: dict[str, float], state: _Progress, config: TrainConfig, *, validated: bool) -> str:
    line = f"epoch {state.epoch}/{config.epochs}: loss {entry['train_loss']:.4f}"
    if validated:
        current = entry[f"valid_{config.monitor}"]
        best = state.best_metrics.get(config.monitor, float("nan"))
        line += f", valid {config.monitor} {current:.3f} (best {best:.3f} @ {state.best_epoch})"
    return line


def _save_checkpoint(ckpt: Path, net: WaveformNet, run: _Run, state: _Progress, config: TrainConfig) -> None:
    """Write ``last.safetensors`` (net, optimiser, random states) and ``last.json`` (progress) atomically."""
    ckpt.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in net.state_dict().items()}
    opt_tensors, opt_meta = _optimizer_to_checkpoint(run.optimizer)
    tensors.update(opt_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    if run.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    _atomic_save_tensors(tensors, ckpt / CHECKPOINT_TENSORS)
    _atomic_write_json(
        {
            "epoch": state.epoch,
            "config": config.to_dict(),
            "history": state.history,
            "best_epoch": state.best_epoch,
            "best_metrics": state.best_metrics,
            "best_score": list(state.best_score) if state.best_score is not None else None,
            "bad_epochs": state.bad_epochs,
            "optimizer": opt_meta,
            "numpy_rng": run.rng.bit_generator.state,
        },
        ckpt / CHECKPOINT_STATE,
    )


def _calibrate(
    net: WaveformNet, valid: EvalData | None, config: TrainConfig, device: torch.device, best_metrics: dict[str, float]
) -> tuple[float, dict[str, float]]:
    """Temperature fitted on the validation windows (1 without calibration) and the metrics it gives."""
    if valid is None or not config.calibrate:
        return 1.0, dict(best_metrics)
    from genrekit.evaluation.calibration import fit_temperature

    logits = predict_logits(net, valid.inputs, device=device, batch_size=config.batch_size)
    temperature = fit_temperature(logits.detach().double().cpu().numpy(), valid.labels[valid.owner])
    return temperature, evaluate(net, valid, device=device, batch_size=config.batch_size, temperature=temperature)
