"""Fine-tuning the pretrained ``MSD_musicnn`` backbone end to end, against the frozen-backbone
linear head, under the default recipe's leave-one-source-out folds.

Protocol (``scripts/finetune_backbone.py`` runs it):

* **Corpus and folds** as :mod:`genrekit.training.recipe`: :func:`~genrekit.training.corpus.list_corpus`,
  in-taxonomy clips only, one fold for GTZAN's valid split and one per extra-pool source
  (:meth:`genrekit.training.corpus.Corpus.folds`). A fold trains on every other fold's clips.
* **Windows** cut by predict's code (:func:`~genrekit.training.corpus.clip_windows`):
  training reads every regular window of a clip (``train_windows="all"``) or the windows
  predict reads (``"inference"``); scoring always reads the ``max_windows`` spread windows
  and takes the mean of their logits (the argmax equals the recipe's ``log_mean`` answer).
* **Baseline**: a class-balanced logistic regression (:func:`~genrekit.training.heads_fit.fit_logreg`)
  on the frozen backbone's ``penultimate`` embedding of the same training windows.
* **Fine-tuned model**: the same backbone with a linear head on that embedding, the head
  initialised from the baseline (``init="logreg"``) or at random (``"random"``), trained end
  to end with AdamW (a smaller learning rate for the backbone than for the head, weight decay
  on the head only: decaying the backbone pulls it towards zero, not towards its pretrained
  weights), class-balanced cross-entropy, fixed epochs and seed.
* **Batch norm stays in eval mode** (running statistics frozen, scale and shift trained): the
  corpus is small and a batch holds several windows of the same clips, so batch statistics
  would be noisy and drift from the pretrained ones the rest of the network expects; in eval
  mode training and inference see the same normalisation, and the head's input
  standardisation (fitted on the pretrained embedding) stays meaningful.

The mel front end has no parameters, so each window's musicnn patch is computed once and
gradients are the same as from the raw window. Nothing is written into a bundle here.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from genrekit.errors import InvalidParameterError
from genrekit.training.corpus import GENRES, Clip, Corpus

BACKBONE = "MSD_musicnn"
EMBEDDING = "penultimate"
INITS = ("logreg", "random")
TRAIN_WINDOWS = ("all", "inference")
TRAIN_ONLY = "train only (GTZAN train split)"
H100_FP32_TFLOPS = 67.0
"""NVIDIA H100 SXM dense FP32 (non-tensor-core) peak, TFLOP/s (datasheet)."""


@dataclass(frozen=True)
class FinetuneConfig:
    """Options of a fine-tuning run.

    Parameters
    ----------
    epochs : int > 0
        Passes over each fold's training windows.
    batch_size : int > 0
        Windows per optimiser step.
    device : {"cpu", "cuda"}
    lr_backbone, lr_head : float > 0
        AdamW learning rates of the backbone and of the head.
    weight_decay : float >= 0
        AdamW weight decay of the head (the backbone gets none).
    init : {"logreg", "random"}
        Head initialisation: the frozen-feature logistic fit, or PyTorch's default.
    c : float > 0
        Inverse L2 strength of the logistic fit.
    train_windows : {"all", "inference"}
        Training windows per clip: every regular window, or the ``max_windows`` predict reads.
    max_windows : int > 0
        Windows predict reads per clip (scoring).
    min_source_clips : int
        Smaller extra-pool sources are pooled into one fold (as the recipe).
    max_clips_per_fold : int or None
        Keep at most this many clips of each fold, taken round-robin over genres (smoke runs).
    folds : tuple of str or None
        Held-out folds to run (names as :meth:`Corpus.folds` gives them); ``None``: all.
    seed : int
    """

    epochs: int = 3
    batch_size: int = 16
    device: str = "cpu"
    lr_backbone: float = 1e-5
    lr_head: float = 1e-3
    weight_decay: float = 1e-2
    init: str = "logreg"
    c: float = 1e-3
    train_windows: str = "all"
    max_windows: int = 4
    min_source_clips: int = 20
    max_clips_per_fold: int | None = None
    folds: tuple[str, ...] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "max_windows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.max_clips_per_fold is not None and self.max_clips_per_fold < 1:
            raise InvalidParameterError(f"max_clips_per_fold must be >= 1, got {self.max_clips_per_fold}")
        for name in ("lr_backbone", "lr_head", "c"):
            if not float(getattr(self, name)) > 0:
                raise InvalidParameterError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if float(self.weight_decay) < 0:
            raise InvalidParameterError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.init not in INITS:
            raise InvalidParameterError(f"init must be one of {INITS}, got {self.init!r}")
        if self.train_windows not in TRAIN_WINDOWS:
            raise InvalidParameterError(f"train_windows must be one of {TRAIN_WINDOWS}, got {self.train_windows!r}")
        if self.device not in ("cpu", "cuda"):
            raise InvalidParameterError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.folds is not None:
            object.__setattr__(self, "folds", tuple(self.folds))


def resolve_device(name: str) -> torch.device:
    """``"cpu"`` or ``"cuda"`` as a device; CUDA must be available.

    Raises
    ------
    InvalidParameterError
        Unknown name, or ``"cuda"`` where this PyTorch build or machine has no CUDA device.
    """
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InvalidParameterError(
                f"--device cuda: no CUDA device is available to this PyTorch ({torch.__version__}, "
                f"CUDA build {torch.version.cuda or 'none'}); run on a GPU machine or use --device cpu")
        return torch.device("cuda")
    raise InvalidParameterError(f"device must be 'cpu' or 'cuda', got {name!r}")


class FinetuneModel(nn.Module):
    """musicnn patches ``(n, 187, 96)`` -> the backbone's ``penultimate`` embedding -> linear genre logits.

    :meth:`train` leaves every batch norm of the backbone in eval mode (see the module docstring).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def train(self, mode: bool = True) -> "FinetuneModel":
        """Train mode for the head; the backbone (batch norms) stays in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, patches: Tensor) -> Tensor:
        """Uncalibrated logits ``(n, n_genres)``."""
        return self.head(self.backbone.features(patches)[EMBEDDING])


@dataclass
class ClipPatches:
    """One clip's musicnn patches: ``train`` (training windows) and ``score`` (the windows predict reads)."""

    clip: Clip
    label: int
    train: Tensor
    score: Tensor


def _round_robin(indices: Sequence[int], clips: Sequence[Clip], limit: int | None) -> list[int]:
    """At most ``limit`` of ``indices``, taken in turn from each genre (stable order)."""
    if limit is None or len(indices) <= limit:
        return list(indices)
    by_label: dict[str, list[int]] = {}
    for i in indices:
        by_label.setdefault(clips[i].label, []).append(i)
    queues = [by_label[g] for g in GENRES if g in by_label]
    out: list[int] = []
    depth = 0
    while len(out) < limit:
        for queue in queues:
            if depth < len(queue) and len(out) < limit:
                out.append(queue[depth])
        depth += 1
    return sorted(out)


def select_folds(clips: Sequence[Clip], config: FinetuneConfig) -> tuple[list[tuple[str, list[int]]], list[int]]:
    """The recipe's source folds over in-taxonomy ``clips`` (indices into ``clips``) and every clip
    used (the folds' and GTZAN's train split, which no fold holds out), each fold and the GTZAN
    train split capped by ``max_clips_per_fold``.

    Raises
    ------
    InvalidParameterError
        Fewer than two folds, or ``config.folds`` names a fold that does not exist.
    """
    corpus = Corpus(list(clips), [])
    folds = [(name, _round_robin(idx, clips, config.max_clips_per_fold)) for name, idx in corpus.folds()]
    if len(folds) < 2:
        raise InvalidParameterError("leave-one-source-out needs at least two source folds")
    if config.folds is not None:
        unknown = sorted(set(config.folds) - {name for name, _ in folds})
        if unknown:
            raise InvalidParameterError(f"unknown folds {unknown}; the corpus has {[name for name, _ in folds]}")
    in_folds = {i for _, idx in corpus.folds() for i in idx}
    train_only = _round_robin([i for i in corpus.inside if i not in in_folds], clips, config.max_clips_per_fold)
    return folds, sorted(train_only + [i for _, idx in folds for i in idx])


def clip_patches(clips: Sequence[Clip], *, max_windows: int, train_windows: str,
                 log: Callable[[str], None] = lambda message: None) -> list[ClipPatches]:
    """Decode each clip at 16 kHz, cut its windows with predict's code and turn them into musicnn patches."""
    from genrekit.audio import load_audio
    from genrekit.models.heads import MusicnnHeadConfig
    from genrekit.models.musicnn import N_FRAMES, SAMPLE_RATE
    from genrekit.features.modules import MusicnnInput
    from genrekit.training.corpus import clip_windows

    frontend = MusicnnInput(MusicnnHeadConfig(backbones=(BACKBONE,), embeddings=(EMBEDDING,)).input_config())

    def patches(windows: np.ndarray) -> Tensor:
        with torch.no_grad():
            mel = frontend(torch.from_numpy(np.ascontiguousarray(windows, np.float32)))  # (n, 96, frames)
            return mel[..., :N_FRAMES].transpose(-1, -2).contiguous()

    out = []
    started = time.perf_counter()
    for n, clip in enumerate(clips, start=1):
        y, _ = load_audio(clip.path, sr=SAMPLE_RATE)
        regular, inference = clip_windows(y, max_windows=max_windows)
        score = patches(inference)
        train = patches(regular) if train_windows == "all" else score
        out.append(ClipPatches(clip, GENRES.index(clip.label), train, score))
        if n % 50 == 0 or n == len(clips):
            log(f"windows: {n}/{len(clips)} clips, {time.perf_counter() - started:.0f} s")
    return out


def _embed(backbone: nn.Module, patches: Tensor, device: torch.device, batch_size: int) -> np.ndarray:
    backbone.eval()
    rows = []
    with torch.no_grad():
        for first in range(0, len(patches), batch_size):
            rows.append(backbone.features(patches[first : first + batch_size].to(device))[EMBEDDING].float().cpu())
    return torch.cat(rows).numpy()


def _track_logits(model: FinetuneModel, items: Sequence[ClipPatches], device: torch.device, batch_size: int) -> np.ndarray:
    """Mean window logits over each clip's scoring windows, ``(n_clips, n_genres)``."""
    model.eval()
    out = []
    with torch.no_grad():
        for item in items:
            logits = torch.cat([model(item.score[f : f + batch_size].to(device)).double().cpu()
                                for f in range(0, len(item.score), batch_size)])
            out.append(logits.mean(0).numpy())
    return np.stack(out)


def _figures(logits: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from genrekit.evaluation.metrics import macro_recall

    pred = logits.argmax(1)
    return {"accuracy": round(float(np.mean(pred == y)), 4), "macro_recall": round(macro_recall(y, pred), 4)}


def max_weight_change(model: nn.Module, reference: nn.Module) -> float:
    """Largest absolute difference between two same-shaped models' parameters and buffers."""
    ref = reference.state_dict()
    return max((float((v.detach().cpu().double() - ref[k].detach().cpu().double()).abs().max())
                for k, v in model.state_dict().items() if v.is_floating_point()), default=0.0)


def finetune_fold(train_items: Sequence[ClipPatches], test_items: Sequence[ClipPatches], config: FinetuneConfig,
                  log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Fit the frozen baseline and fine-tune on ``train_items``; score both on ``test_items``.

    Returns
    -------
    dict
        ``baseline`` / ``finetuned``: held-out track ``accuracy`` and ``macro_recall``;
        counts, seconds, per-epoch mean training loss, and the largest absolute weight change of
        the fine-tuned backbone and of the baseline's backbone against the pretrained weights.
    """
    from genrekit.models.heads import MusicnnHead
    from genrekit.models.musicnn import load_pretrained
    from genrekit.training.heads_fit import class_weights, fit_logreg

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    pretrained = load_pretrained(BACKBONE)
    frozen = load_pretrained(BACKBONE, device=device).requires_grad_(False)
    x_patches = torch.cat([item.train for item in train_items])
    y = np.concatenate([np.full(len(item.train), item.label) for item in train_items])
    weights = class_weights(y, len(GENRES), balance=True)
    started = time.perf_counter()
    x = _embed(frozen, x_patches, device, config.batch_size)
    baseline_head = fit_logreg(x, y, weights, n_classes=len(GENRES), c=config.c, seed=config.seed)
    baseline = FinetuneModel(frozen, baseline_head).to(device)
    y_test = np.array([item.label for item in test_items])
    baseline_figures = _figures(_track_logits(baseline, test_items, device, config.batch_size), y_test)
    baseline_seconds = time.perf_counter() - started

    if config.init == "logreg":
        head = copy.deepcopy(baseline_head)
    else:
        head = MusicnnHead(x.shape[1], len(GENRES)).set_standardization(x)
    model = FinetuneModel(load_pretrained(BACKBONE), head).to(device)
    model.backbone.requires_grad_(True)
    optimizer = torch.optim.AdamW([
        {"params": list(model.backbone.parameters()), "lr": config.lr_backbone, "weight_decay": 0.0},
        {"params": list(model.head.parameters()), "lr": config.lr_head, "weight_decay": config.weight_decay},
    ])
    yt = torch.from_numpy(y.astype(np.int64))
    wt = torch.from_numpy(weights.astype(np.float32))
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    started = time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(yt), generator=generator)
        total, seen = 0.0, 0.0
        for first in range(0, len(order), config.batch_size):
            idx = order[first : first + config.batch_size]
            w = wt[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            ce = nn.functional.cross_entropy(model(x_patches[idx].to(device)), yt[idx].to(device), reduction="none")
            loss = (w * ce).sum() / w.sum()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        losses.append(round(total / seen, 4))
        log(f"  epoch {epoch + 1}/{config.epochs}: mean weighted loss {losses[-1]:.4f}, "
            f"{time.perf_counter() - started:.0f} s")
    train_seconds = time.perf_counter() - started
    finetuned_figures = _figures(_track_logits(model, test_items, device, config.batch_size), y_test)
    return {
        "n_train_clips": len(train_items),
        "n_train_windows": int(len(y)),
        "n_test_tracks": len(test_items),
        "baseline": baseline_figures,
        "finetuned": finetuned_figures,
        "epoch_loss": losses,
        "baseline_seconds": round(baseline_seconds, 2),
        "finetune_seconds": round(train_seconds, 2),
        "backbone_max_abs_change": max_weight_change(model.backbone, pretrained),
        "baseline_backbone_max_abs_change": max_weight_change(frozen, pretrained),
    }


def run_finetune(data_root: str | Path, config: FinetuneConfig,
                 log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Cross-validate fine-tuning against the frozen baseline on the recipe's source folds.

    Parameters
    ----------
    data_root : path
        ``../shared/data`` (see :func:`~genrekit.training.corpus.list_corpus`).
    config : FinetuneConfig
    log : callable
        Progress lines.

    Returns
    -------
    dict
        ``config``, ``folds`` (one row per held-out fold, see :func:`finetune_fold`),
        ``mean_over_folds`` (both models' mean accuracy and macro-recall) and ``seconds``.
    """
    from genrekit.training.corpus import list_corpus

    device = resolve_device(config.device)
    started = time.perf_counter()
    clips = [c for c in list_corpus(data_root, min_source_clips=config.min_source_clips) if c.in_taxonomy]
    folds, used = select_folds(clips, config)
    log(f"{len(used)} in-taxonomy clips in {len(folds)} folds on {device}")
    items = dict(zip(used, clip_patches([clips[i] for i in used], max_windows=config.max_windows,
                                        train_windows=config.train_windows, log=log), strict=True))
    rows = []
    for name, held_out in folds:
        if config.folds is not None and name not in config.folds:
            continue
        held = set(held_out)
        train = [items[i] for i in used if i not in held]
        test = [items[i] for i in held_out]
        log(f"fold {name}: train {len(train)} clips, test {len(test)} clips")
        row = {"fold": name, **finetune_fold(train, test, config, log)}
        rows.append(row)
        log(f"  baseline acc {row['baseline']['accuracy']:.3f} macro-recall {row['baseline']['macro_recall']:.3f}; "
            f"fine-tuned acc {row['finetuned']['accuracy']:.3f} macro-recall {row['finetuned']['macro_recall']:.3f}")
    summary = {
        key: {"mean_accuracy": round(float(np.mean([r[key]["accuracy"] for r in rows])), 4),
              "mean_macro_recall": round(float(np.mean([r[key]["macro_recall"] for r in rows])), 4)}
        for key in ("baseline", "finetuned")
    }
    return {"config": dataclasses.asdict(config), "folds": rows, "mean_over_folds": summary,
            "seconds": round(time.perf_counter() - started, 1)}


def markdown_table(result: dict[str, Any]) -> str:
    """The per-fold comparison of :func:`run_finetune` as a markdown table."""
    lines = ["| held-out fold | tracks | train windows | frozen acc | frozen macro-recall | fine-tuned acc | "
             "fine-tuned macro-recall | fine-tune s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["folds"]:
        lines.append(f"| {r['fold']} | {r['n_test_tracks']} | {r['n_train_windows']} | {r['baseline']['accuracy']:.3f} | "
                     f"{r['baseline']['macro_recall']:.3f} | {r['finetuned']['accuracy']:.3f} | "
                     f"{r['finetuned']['macro_recall']:.3f} | {r['finetune_seconds']:.0f} |")
    mean = result["mean_over_folds"]
    lines.append(f"| mean over folds | | | {mean['baseline']['mean_accuracy']:.3f} | "
                 f"{mean['baseline']['mean_macro_recall']:.3f} | {mean['finetuned']['mean_accuracy']:.3f} | "
                 f"{mean['finetuned']['mean_macro_recall']:.3f} | |")
    return "\n".join(lines)


# ---------------------------------------------------------------- cost


def measure_step(batch_size: int, device: str = "cpu", *, n_steps: int = 3, seed: int = 0) -> dict[str, float]:
    """Seconds per training step (forward, backward, AdamW update) of a batch of random musicnn
    patches, after one warm-up step, and the FLOPs of one window's forward + backward.

    Returns
    -------
    dict
        ``seconds_per_step`` (median of ``n_steps``), ``seconds_per_window``,
        ``gflop_per_window`` (forward + backward, :class:`torch.utils.flop_counter.FlopCounterMode`).
    """
    from torch.utils.flop_counter import FlopCounterMode

    from genrekit.models.heads import MusicnnHead
    from genrekit.models.musicnn import N_FRAMES, N_MELS, load_pretrained

    if n_steps < 1 or batch_size < 1:
        raise InvalidParameterError("batch_size and n_steps must be >= 1")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    model = FinetuneModel(load_pretrained(BACKBONE), MusicnnHead(200, len(GENRES))).to(dev)
    model.backbone.requires_grad_(True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    x = torch.randn(batch_size, N_FRAMES, N_MELS, device=dev)
    y = torch.randint(0, len(GENRES), (batch_size,), device=dev)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    model.train()
    step()
    times = []
    for _ in range(n_steps):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    counter = FlopCounterMode(display=False)
    with counter:
        nn.functional.cross_entropy(model(x[:1]), y[:1]).backward()
    seconds = float(np.median(times))
    return {"batch_size": batch_size, "seconds_per_step": round(seconds, 3),
            "seconds_per_window": round(seconds / batch_size, 4),
            "gflop_per_window": round(counter.get_total_flops() / 1e9, 2)}


def corpus_window_counts(data_root: str | Path, *, min_source_clips: int = 20, max_windows: int = 4) -> dict[str, dict[str, int]]:
    """Per fold (and for :data:`TRAIN_ONLY`, the GTZAN train split no fold holds out): in-taxonomy
    clips, their regular windows (training, ``train_windows="all"``) and scoring windows, from the
    files' lengths (no decoding where the header tells the length)."""
    import soundfile as sf

    from genrekit.models.heads import WINDOW_LENGTH
    from genrekit.models.musicnn import SAMPLE_RATE
    from genrekit.training.corpus import list_corpus

    clips = [c for c in list_corpus(data_root, min_source_clips=min_source_clips) if c.in_taxonomy]
    folds, used = select_folds(clips, FinetuneConfig(min_source_clips=min_source_clips, max_windows=max_windows))
    in_folds = {i for _, idx in folds for i in idx}
    counts = {}
    for name, idx in [*folds, (TRAIN_ONLY, [i for i in used if i not in in_folds])]:
        regular = scoring = 0
        for i in idx:
            try:
                info = sf.info(str(clips[i].path))
                n = int(info.frames * SAMPLE_RATE / info.samplerate)
            except RuntimeError:
                from genrekit.audio import load_audio

                n = len(load_audio(clips[i].path, sr=SAMPLE_RATE)[0])
            windows = max(1, math.ceil(n / WINDOW_LENGTH))
            regular += windows
            scoring += min(windows, max_windows)
        counts[name] = {"clips": len(idx), "regular_windows": regular, "scoring_windows": scoring}
    return counts


def project_cost(counts: dict[str, dict[str, int]], step: dict[str, float], *, epochs: int,
                 train_windows: str = "all", gpu_fraction: float = 0.10,
                 gpu_tflops: float = H100_FP32_TFLOPS) -> dict[str, Any]:
    """Projected training time of a full cross-validation from measured per-window figures.

    Per fold the training set is every other fold's windows; an epoch costs
    ``windows x seconds_per_window`` on the measured device, and on a GPU
    ``windows x gflop_per_window / (gpu_fraction x gpu_tflops)`` (an assumption, not a
    measurement). The frozen embedding pass and scoring (forward only, about a third of a
    training step per window) are added once per fold.

    Returns
    -------
    dict
        Per fold and in total: training windows, seconds per epoch and for the fold, measured
        device and GPU projection.
    """
    key = "regular_windows" if train_windows == "all" else "scoring_windows"
    total_windows = sum(c[key] for c in counts.values())
    gpu_seconds_per_window = step["gflop_per_window"] / (gpu_fraction * gpu_tflops * 1e3)
    folds = {}
    for name, c in counts.items():
        if name == TRAIN_ONLY:
            continue
        n_train = total_windows - c[key]
        extra = (n_train + c["scoring_windows"]) / 3.0
        per = {"measured": step["seconds_per_window"], "gpu_projected": gpu_seconds_per_window}
        folds[name] = {"train_windows": n_train, **{
            f"{which}_seconds_per_epoch": round(n_train * s, 1) for which, s in per.items()}, **{
            f"{which}_seconds_fold": round((epochs * n_train + extra) * s, 1) for which, s in per.items()}}
    return {
        "epochs": epochs,
        "train_windows": train_windows,
        "gpu_assumption": f"{gpu_fraction:.0%} of {gpu_tflops:g} TFLOP/s (H100 dense FP32) at "
        f"{step['gflop_per_window']} GFLOP per window forward+backward",
        "folds": folds,
        "total_measured_seconds": round(sum(f["measured_seconds_fold"] for f in folds.values()), 1),
        "total_gpu_projected_seconds": round(sum(f["gpu_projected_seconds_fold"] for f in folds.values()), 1),
    }
