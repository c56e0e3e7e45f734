"""Train genrekit's default genre model (``src/genrekit/bundles/default``), reproducibly.

The model is a linear head (multinomial logistic regression, class-balanced, L2) on the
frozen embeddings of the pretrained musicnn backbones, with temperature scaling.

Data (``--data``, default ``../shared/data`` beside the checkout):

* ``gtzan-dev/train``: training set (116 GTZAN clips of the fault-filtered split);
* ``gtzan-dev/valid``: selection set (45 clips): L2 strength, temperature and window
  aggregation are chosen on it, so its figures are optimistic;
* ``extra-pool``: 121 non-GTZAN clips (no disco), the test of how the model holds up on
  other music. Two protocols are reported: (a) a head trained on GTZAN train only, tested on
  all of extra-pool (never seen); (b) 5-fold cross-validation over extra-pool, stratified by
  genre and grouped by artist where known: heads trained on GTZAN train + 4 folds, tested
  on the 5th. Two choices look at extra-pool, as the project asks (prefer the head that holds
  up on music outside GTZAN), so its figures are somewhat optimistic too, and the card says
  so: the embedding set (best (a) accuracy, ties by valid NLL) and the recipe (the shipped
  model is (b)'s recipe on GTZAN train + all of extra-pool if (b) beats (a), else (a)'s).

Inference reads at most :data:`MAX_WINDOWS` windows per song, spread over it (the card's
``max_windows``; :func:`genrekit.predict.spread_starts`), and every figure here is computed
that way. Both musicnn backbones run on each window (about 19 ms each on 2 cores): the head's,
and the other one for its tags only; 4 windows keep a warm 4-minute MP3 within 0.25 s.

Every clip is cut into 2.992 s windows exactly as inference does
(:func:`genrekit.predict.slice_windows`); training also uses windows shifted by half a window
(augmentation). Embeddings are cached in ``--cache`` (``.npz`` per clip, keyed by the file's
bytes and the extraction settings), so a re-run only trains.

Usage::

    .venv/bin/python scripts/train_default_model.py            # extract (cached) + train + save
    .venv/bin/python scripts/train_default_model.py --dry-run  # everything but saving the bundle
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.model_selection import StratifiedGroupKFold

from genrekit.audio import load_audio
from genrekit.bundle import default_bundle_path, save_bundle
from genrekit.models import heads
from genrekit.models.musicnn import load_pretrained
from genrekit.predict import aggregate_probabilities, slice_windows

REPO = Path(__file__).resolve().parent.parent
GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
BACKBONES = ("MSD_musicnn", "MTT_musicnn")
ALL_EMBEDDINGS = ("penultimate", "mean_pool", "max_pool", "taggram")
EMBEDDING_SETS = {
    "MTT:pen": (("MTT_musicnn",), ("penultimate",)),
    "MSD:pen+mean+max": (("MSD_musicnn",), ("penultimate", "mean_pool", "max_pool")),
    "MSD+MTT:pen+mean+max": (BACKBONES, ("penultimate", "mean_pool", "max_pool")),
    "MSD:pen": (("MSD_musicnn",), ("penultimate",)),
    "MSD+MTT:pen": (BACKBONES, ("penultimate",)),
    "MSD+MTT:pen+tag": (BACKBONES, ("penultimate", "taggram")),
    "MSD+MTT:mean+max": (BACKBONES, ("mean_pool", "max_pool")),
}
C_GRID = (1e-5, 3e-5, 0.0001, 0.0003, 0.001, 0.003, 0.01)
SEED = 0
N_FOLDS = 5
N_COMPONENTS = 256  # principal directions the logistic regression is fitted in
N_BOOTSTRAP = 2000
EXTRACT_VERSION = 1  # bump when the extraction changes, to invalidate the cache
MAX_WINDOWS = 4  # windows per song at inference (the card's max_windows)


@dataclasses.dataclass
class Clip:
    path: Path
    label: str
    source: str  # "gtzan-train", "gtzan-valid" or "extra"
    group: str
    base: np.ndarray | None = None  # (n_windows, n_features) embeddings of the inference windows
    shifted: np.ndarray | None = None  # (m, n_features) embeddings of the half-window-shifted windows


def list_clips(data: Path) -> list[Clip]:
    clips = []
    for split in ("train", "valid"):
        for path in sorted((data / "gtzan-dev" / split).glob("*/*.flac")):
            clips.append(Clip(path, path.parent.name, f"gtzan-{split}", path.stem))
    with open(data / "extra-pool" / "manifest.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            path = data / "extra-pool" / row["file"]
            stem = Path(row["file"]).stem
            group = stem.split("_", 4)[-1] if "__4q_MT" in stem else stem  # artist for the 4Q clips
            clips.append(Clip(path, row["genre"], "extra", f"{row['source_repo']}:{group}"))
    return clips


def cache_key(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    settings = json.dumps([EXTRACT_VERSION, BACKBONES, ALL_EMBEDDINGS, heads.WINDOW_LENGTH])
    return f"{digest}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


class _AllEmbeddings(torch.nn.Module):
    """Patches -> every embedding of every backbone, in :func:`heads.embedding_dims` order."""

    def __init__(self, models: dict) -> None:
        super().__init__()
        self.models = torch.nn.ModuleDict(models)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        blocks = []
        for model in self.models.values():
            out = model.embed(patches)
            blocks.extend(out[name] for name in ALL_EMBEDDINGS)
        return torch.cat(blocks, dim=1)


def make_embedder(cache: Path):
    """``windows (n, 47872) -> embeddings (n, n_features)``: musicnn input in torch, the
    backbones in ONNX Runtime (2.4-4x faster than torch here; same values within ~1e-5)."""
    import onnxruntime as ort

    from genrekit.features.modules import MusicnnInput

    models = {name: load_pretrained(name) for name in BACKBONES}
    frontend = MusicnnInput(heads.MusicnnHeadConfig().input_config())
    graph = cache / "all-embeddings.onnx"
    if not graph.is_file():
        torch.onnx.export(
            _AllEmbeddings(models).eval(), (torch.zeros(2, 187, 96),), str(graph), input_names=["patches"],
            output_names=["emb"], dynamic_axes={"patches": {0: "batch"}, "emb": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])

    def embed(windows: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(windows), 16):
            with torch.inference_mode():
                patches = frontend(torch.from_numpy(windows[start : start + 16]))[..., :187].transpose(-1, -2)
            out.append(session.run(None, {"patches": patches.contiguous().numpy()})[0])
        return np.concatenate(out)

    return embed


def extract_all(clips: list[Clip], cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    embed = make_embedder(cache)
    length = heads.WINDOW_LENGTH
    t0 = time.perf_counter()
    for i, clip in enumerate(clips):
        file = cache / f"{cache_key(clip.path)}.npz"
        if not file.is_file():
            y, _ = load_audio(clip.path, sr=heads.SAMPLE_RATE)
            _, _, base = slice_windows(y, window_length=length, hop_length=length)
            shifted = (
                slice_windows(y[length // 2 :], window_length=length, hop_length=length)[2]
                if clip.source == "gtzan-train" and len(y) >= length + length // 2
                else np.zeros((0, length), np.float32)
            )
            windows = np.concatenate([base, shifted])
            emb = embed(windows)
            np.savez(file, base=emb[: len(base)], shifted=emb[len(base) :])
            print(f"[{i + 1}/{len(clips)}] {clip.path.name}: {len(windows)} windows, {time.perf_counter() - t0:.0f} s", flush=True)
        with np.load(file) as data:
            clip.base, clip.shifted = data["base"], data["shifted"]


def column_index(backbones: tuple[str, ...], embeddings: tuple[str, ...]) -> np.ndarray:
    """Columns of the cached (all backbones x all embeddings) matrix for a subset, in head order."""
    offsets, start = {}, 0
    for name, width in heads.embedding_dims(BACKBONES, ALL_EMBEDDINGS):
        offsets[name] = (start, width)
        start += width
    cols = [np.arange(offsets[f"{b}/{e}"][0], sum(offsets[f"{b}/{e}"])) for b in backbones for e in embeddings]
    return np.concatenate(cols)


class LinearHead:
    """Standardise + class-balanced multinomial logistic regression (L2) + temperature.

    Minimises ``mean_i w_i CE_i / mean_i w_i + ||W||^2 / (2 C n)`` (scikit-learn's objective
    up to a constant factor) with full-batch L-BFGS in torch, restricted to the top
    :data:`N_COMPONENTS` principal directions of the standardised training embeddings (for
    speed on 2 shared cores); the solution is mapped back to a plain linear layer on the
    standardised embeddings (``W = W_pca P``), so the head stays one linear map.
    """

    def __init__(self, C: float) -> None:
        self.C = C
        self.temperature = 1.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> "LinearHead":
        self.mean_ = x.mean(0)
        self.scale_ = np.maximum(x.std(0), 1e-6)
        counts = np.bincount(y, minlength=len(GENRES)).astype(float)
        weights = counts.sum() / (np.count_nonzero(counts) * np.maximum(counts, 1))
        z = torch.tensor((x - self.mean_) / self.scale_, dtype=torch.float32)
        torch.manual_seed(SEED)
        center = z.mean(0)
        _, _, v = torch.pca_lowrank(z, q=min(N_COMPONENTS, *z.shape), center=True, niter=4)
        projection = v.T  # (n_components, n_features), orthonormal rows
        xt = (z - center) @ projection.T
        yt = torch.tensor(y)
        wt = torch.tensor(weights[y], dtype=torch.float32)
        torch.manual_seed(SEED)
        weight = torch.zeros(len(GENRES), xt.shape[1], requires_grad=True)
        bias = torch.zeros(len(GENRES), requires_grad=True)
        l2 = 1.0 / (self.C * len(y))
        optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=300, tolerance_grad=1e-6,
                                      tolerance_change=1e-10, history_size=20, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            ce = torch.nn.functional.cross_entropy(xt @ weight.T + bias, yt, reduction="none")
            loss = (wt * ce).sum() / wt.sum() + 0.5 * l2 * (weight**2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            full = weight @ projection  # logits = (z - center) P^T W^T + b = z W_full^T + b - W_full center
            self.coef_ = full.numpy().astype(np.float64)
            self.intercept_ = (bias - full @ center).numpy().astype(np.float64)
        return self

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def proba(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x) / self.temperature
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)


def stack(clips: list[Clip], cols: np.ndarray, *, augment: bool) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for clip in clips:
        parts = [clip.base] + ([clip.shifted] if augment and len(clip.shifted) else [])
        for part in parts:
            xs.append(part[:, cols])
            ys.append(np.full(len(part), GENRES.index(clip.label)))
    return np.concatenate(xs), np.concatenate(ys)


def balanced_nll(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean over present classes of the mean negative log-likelihood within the class."""
    nll = -np.log(np.maximum(proba[np.arange(len(y)), y], 1e-12))
    return float(np.mean([nll[y == k].mean() for k in np.unique(y)]))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    best = (np.inf, 1.0)
    for t in np.exp(np.linspace(np.log(0.2), np.log(10), 200)):
        z = logits / t
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        nll = -logp[np.arange(len(y)), y].mean()
        best = min(best, (nll, float(t)))
    return best[1]


def spread_indices(n_windows: int, k: int) -> np.ndarray:
    """The regular windows nearest to the ``k`` windows inference spreads over a clip of
    ``n_windows`` (one centred in each of ``k`` equal parts; all of them if ``n_windows <= k``)."""
    if n_windows <= k:
        return np.arange(n_windows)
    return np.unique(np.floor((np.arange(k) + 0.5) * n_windows / k).astype(int).clip(0, n_windows - 1))


def track_proba(model: LinearHead, clips: list[Clip], cols: np.ndarray, method: str, k: int = MAX_WINDOWS) -> np.ndarray:
    """Track probabilities as inference computes them from (at most) ``k`` spread windows."""
    return np.stack(
        [aggregate_probabilities(model.proba(c.base[spread_indices(len(c.base), k)][:, cols]), method=method) for c in clips]
    )


def track_metrics(proba: np.ndarray, labels: list[str], seed: int = SEED) -> dict:
    """Accuracy, balanced accuracy, macro-F1 over present classes and NLL, with bootstrap 95% CIs."""
    y = np.array([GENRES.index(l) for l in labels])
    pred = proba.argmax(1)

    def stats(idx: np.ndarray) -> tuple[float, float, float, float]:
        yt, yp = y[idx], pred[idx]
        classes = np.unique(yt)
        recall = [np.mean(yp[yt == k] == k) for k in classes]
        f1 = []
        for k in classes:
            tp = np.sum((yp == k) & (yt == k))
            prec = tp / max(np.sum(yp == k), 1)
            rec = tp / max(np.sum(yt == k), 1)
            f1.append(0.0 if tp == 0 else 2 * prec * rec / (prec + rec))
        nll = -np.mean(np.log(np.maximum(proba[idx, yt], 1e-12)))
        return float(np.mean(yt == yp)), float(np.mean(recall)), float(np.mean(f1)), float(nll)

    point = stats(np.arange(len(y)))
    rng = np.random.default_rng(seed)
    boot = np.array([stats(rng.integers(0, len(y), len(y))) for _ in range(N_BOOTSTRAP)])
    out = {"n_tracks": int(len(y))}
    for i, name in enumerate(("accuracy", "balanced_accuracy", "macro_f1", "nll")):
        lo, hi = np.percentile(boot[:, i], [2.5, 97.5])
        out[name] = {"value": round(point[i], 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}
    out["confusion"] = {
        "labels": GENRES,
        "counts": np.bincount(y * len(GENRES) + pred, minlength=len(GENRES) ** 2).reshape(len(GENRES), -1).tolist(),
    }
    return out


def cv_folds(extra: list[Clip]) -> list[np.ndarray]:
    splitter = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=SEED)
    y = [c.label for c in extra]
    groups = [c.group for c in extra]
    return [test for _, test in splitter.split(np.zeros(len(extra)), y, groups)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/genrekit-default-model-cache"))
    parser.add_argument("--out", type=Path, default=default_bundle_path())
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="do not write the bundle")
    args = parser.parse_args(argv)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # small problems: one thread is faster than two on a busy 2-core machine
    clips = list_clips(args.data)
    extract_all(clips, args.cache)
    if args.extract_only:
        return 0
    train = [c for c in clips if c.source == "gtzan-train"]
    valid = [c for c in clips if c.source == "gtzan-valid"]
    extra = [c for c in clips if c.source == "extra"]
    y_valid_windows = np.concatenate([np.full(len(c.base), GENRES.index(c.label)) for c in valid])

    # 1. per embedding set, C on GTZAN valid (window-level class-balanced NLL); then the set
    #    whose GTZAN-train-only head holds up best on extra-pool (ties: valid NLL)
    selection = []
    y_extra = [GENRES.index(c.label) for c in extra]
    for set_name, (backbones, embeddings) in EMBEDDING_SETS.items():
        cols = column_index(backbones, embeddings)
        x, y = stack(train, cols, augment=True)
        xv = np.concatenate([c.base[:, cols] for c in valid])
        rows = []
        for C in C_GRID:
            model = LinearHead(C).fit(x, y)
            model.temperature = fit_temperature(model.logits(xv), y_valid_windows)
            score = balanced_nll(model.proba(xv), y_valid_windows)
            acc = float(np.mean(track_proba(model, valid, cols, "mean").argmax(1) == [GENRES.index(c.label) for c in valid]))
            rows.append(({"embeddings": set_name, "C": C, "valid_balanced_nll": round(score, 4), "valid_track_accuracy": round(acc, 4)}, model))
            print(f"{set_name:24s} C={C:<6} valid balanced NLL {score:.4f}  track acc {acc:.3f}", flush=True)
        row, model = min(rows, key=lambda r: r[0]["valid_balanced_nll"])
        row["extra_pool_accuracy_gtzan_only_head"] = round(
            float(np.mean(track_proba(model, extra, cols, "mean").argmax(1) == y_extra)), 4
        )
        print(f"{set_name:24s} best C={row['C']}: extra-pool accuracy {row['extra_pool_accuracy_gtzan_only_head']:.3f}", flush=True)
        selection.append(row)
    best = max(selection, key=lambda r: (r["extra_pool_accuracy_gtzan_only_head"], -r["valid_balanced_nll"]))
    backbones, embeddings = EMBEDDING_SETS[best["embeddings"]]
    cols = column_index(backbones, embeddings)
    C = best["C"]
    print(f"selected: {best}")

    # 2. protocol (a): GTZAN train only; temperature and aggregation chosen on GTZAN valid
    x, y = stack(train, cols, augment=True)
    xv = np.concatenate([c.base[:, cols] for c in valid])
    model_a = LinearHead(C).fit(x, y)
    model_a.temperature = fit_temperature(model_a.logits(xv), y_valid_windows)
    valid_labels = [c.label for c in valid]
    aggregation_scores = {}
    for method in ("mean", "log_mean"):
        proba = track_proba(model_a, valid, cols, method)
        yv = [GENRES.index(l) for l in valid_labels]
        aggregation_scores[method] = float(-np.mean(np.log(np.maximum(proba[np.arange(len(yv)), yv], 1e-12))))
    aggregation = min(aggregation_scores, key=aggregation_scores.get)
    print(f"aggregation on valid (track NLL): {aggregation_scores} -> {aggregation}")
    valid_a = track_metrics(track_proba(model_a, valid, cols, aggregation), valid_labels)
    extra_labels = [c.label for c in extra]
    extra_a = track_metrics(track_proba(model_a, extra, cols, aggregation), extra_labels)

    # speed/accuracy: k spread windows per track (Classifier.predict(max_windows=k))
    windows_vs_accuracy = {}
    for k in (1, 2, 4, 8, 16):
        windows_vs_accuracy[f"max_windows={k}"] = {
            "gtzan-dev/valid": round(float(np.mean(track_proba(model_a, valid, cols, aggregation, k).argmax(1) == [GENRES.index(l) for l in valid_labels])), 4),
            "extra-pool": round(float(np.mean(track_proba(model_a, extra, cols, aggregation, k).argmax(1) == y_extra)), 4),
        }
    print(f"accuracy vs windows per track (head trained on GTZAN train only): {windows_vs_accuracy}")

    # 3. protocol (b): 5-fold CV over extra-pool, GTZAN train + 4 folds -> 5th fold
    folds = cv_folds(extra)
    oof = np.zeros((len(extra), len(GENRES)))
    for k, test_idx in enumerate(folds):
        fit_clips = train + [extra[i] for i in range(len(extra)) if i not in set(test_idx)]
        xb, yb = stack(fit_clips, cols, augment=True)
        model_k = LinearHead(C).fit(xb, yb)
        model_k.temperature = fit_temperature(model_k.logits(xv), y_valid_windows)
        oof[test_idx] = track_proba(model_k, [extra[i] for i in test_idx], cols, aggregation)
    extra_b = track_metrics(oof, extra_labels)
    print(f"extra-pool (a) GTZAN-only: acc {extra_a['accuracy']}  (b) CV with extra-pool: acc {extra_b['accuracy']}")
    use_extra = extra_b["balanced_accuracy"]["value"] > extra_a["balanced_accuracy"]["value"]

    # 4. the shipped head
    fit_clips = train + (extra if use_extra else [])
    x, y = stack(fit_clips, cols, augment=True)
    final = LinearHead(C).fit(x, y)
    final.temperature = fit_temperature(final.logits(xv), y_valid_windows)
    valid_final = track_metrics(track_proba(final, valid, cols, aggregation), valid_labels)
    print(f"final head: valid acc {valid_final['accuracy']}  temperature {final.temperature:.3f}")

    tag_backbones = tuple(b for b in BACKBONES if b not in backbones)
    config = heads.MusicnnHeadConfig(backbones=backbones, embeddings=embeddings, tag_backbones=tag_backbones)
    backbone_models = {name: load_pretrained(name) for name in config.all_backbones}
    head = heads.MusicnnHead(len(cols), len(GENRES))
    with torch.no_grad():
        head.mean.copy_(torch.tensor(final.mean_, dtype=torch.float32))
        head.scale.copy_(torch.tensor(final.scale_, dtype=torch.float32))
        head.net[-1].weight.copy_(torch.tensor(final.coef_, dtype=torch.float32))
        head.net[-1].bias.copy_(torch.tensor(final.intercept_, dtype=torch.float32))
    head.set_temperature(final.temperature)
    classifier = heads.MusicnnHeadClassifier(GENRES, config, backbone_models, head)

    # consistency: the bundled model reproduces the script's probabilities on raw windows
    check = valid[0]
    y16, _ = load_audio(check.path, sr=heads.SAMPLE_RATE)
    _, _, windows = slice_windows(y16, window_length=heads.WINDOW_LENGTH, hop_length=heads.WINDOW_LENGTH)
    max_diff = float(np.abs(classifier.predict_proba_windows(windows) - final.proba(check.base[:, cols])).max())
    print(f"bundle vs training features, max |dp| on {check.path.name}: {max_diff:.2e}")
    if max_diff > 1e-3:
        raise SystemExit("the model does not reproduce the training features; not saving")

    counts = lambda cs: {g: sum(c.label == g for c in cs) for g in GENRES}  # noqa: E731
    training = {
        "recipe": "linear head (class-balanced multinomial logistic regression, L2, full-batch L-BFGS in the top "
        f"{N_COMPONENTS} principal directions, mapped back to one linear layer) on frozen musicnn embeddings, "
        "standardised; temperature scaling on GTZAN valid windows",
        "script": "scripts/train_default_model.py",
        "seed": SEED,
        "data": {
            "gtzan-dev/train": {"n_tracks": len(train), "per_label": counts(train)},
            "extra-pool": {"n_tracks": len(extra), "per_label": counts(extra), "used_for_training": use_extra},
        },
        "selection_data": {"gtzan-dev/valid": {"n_tracks": len(valid), "per_label": counts(valid)}},
        "windows": "2.992 s (47872 samples at 16 kHz), non-overlapping, plus the same shifted by half a window (augmentation)",
        "class_weights": "balanced (inverse window frequency per label)",
        "selection": {
            "per_embedding_set": selection,
            "chosen": best,
            "criterion": "C: class-balanced window NLL on gtzan-dev/valid; embedding set: extra-pool track accuracy "
            "of the GTZAN-train-only head (ties: valid NLL)",
        },
        "tag_backbones": list(tag_backbones),
        "aggregation": {"track_nll_on_valid": aggregation_scores, "chosen": aggregation},
        "temperature": round(final.temperature, 4),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }
    metrics = {
        "unit": "track (window probabilities aggregated as at inference)",
        "note": "small sets: the 95% intervals are percentile bootstraps over tracks and are wide",
        "gtzan-dev/valid (selection set: optimistic)": valid_final,
        "extra-pool, head trained on GTZAN train only (never seen)": extra_a,
        "extra-pool, 5-fold CV with GTZAN train + other folds (grouped by artist)": extra_b,
        "shipped": "trained on GTZAN train + all extra-pool; its expected extra-pool-like performance is the CV row"
        if use_extra
        else "trained on GTZAN train only; its extra-pool figures are the 'never seen' row",
        "caveat": "the embedding set and the choice between the two recipes looked at extra-pool figures, "
        "so they are somewhat optimistic",
        "inference": f"every figure is computed as inference runs: at most {MAX_WINDOWS} windows per track, spread over it",
        "track_accuracy_vs_max_windows (GTZAN-train-only head)": windows_vs_accuracy,
    }
    limitations = [
        "Only GTZAN's 10 genres; music outside them (electronic, folk, latin, world, ...) is forced into one of them.",
        "Trained on very little data (116 GTZAN clips, plus 121 extra-pool clips if noted in training); "
        "the validation sets are tiny (45 and 121 tracks) and the confidence intervals wide.",
        "GTZAN has known faults (Sturm 2013, 'The GTZAN dataset: its contents, its faults, their effects on "
        "evaluation'): repeated and near-repeated excerpts, mislabelings, distortions, and many tracks per artist; "
        "the fault-filtered artist-conditional split is used, but its biases (1990s-2000s, US-centric, "
        "classical over-represented in this dev subset) remain.",
        "extra-pool has no disco and only 3 metal clips: those genres are barely tested on non-GTZAN music.",
        "Windows of 3 s are classified independently; genre is a property of songs and cultures, and a 3 s "
        "window can be ambiguous. By default a song is judged from 4 such windows spread over it (12 s of "
        "audio); `genrekit classify --full` uses every window.",
        "Probabilities are calibrated on GTZAN valid only; expect over-confidence on unfamiliar music.",
        "The 'may not be music' check is a heuristic (noise, steady tones, speech with pauses); speech over "
        "music or noise is not caught.",
    ]
    card = heads.musicnn_head_card(
        classifier,
        name="genrekit-gtzan-musicnn",
        version="1.0.0",
        training=training,
        metrics=metrics,
        limitations=limitations,
    )
    provenance = dict(card.provenance)
    provenance.update(
        {
            "backbone_paper": "J. Pons and X. Serra, 'musicnn: pre-trained convolutional neural networks for music "
            "audio tagging', ISMIR 2019 late-breaking/demo",
            "backbone_source": "musicnn 0.1.0 wheel (PyPI), TensorFlow checkpoints",
            "backbone_licence": "ISC (see genrekit/pretrained/README.md for the licence text)",
            "converter": "scripts/convert_musicnn.py (genrekit's TensorFlow-checkpoint reader, no TensorFlow)",
            "head": "trained by genrekit, scripts/train_default_model.py",
            "data_licences": "GTZAN (research use); extra-pool clips carry their own notes in its manifest.csv",
        }
    )
    card = dataclasses.replace(
        card, provenance=provenance, config={**card.config, "aggregation": aggregation, "max_windows": MAX_WINDOWS}
    )
    print(json.dumps({"valid": valid_final["accuracy"], "extra_a": extra_a["accuracy"], "extra_b": extra_b["accuracy"]}))
    if args.dry_run:
        return 0
    save_bundle(args.out, card, classifier.bundle_tensors())
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
