"""A song's explanation: windows, their share of the decision, saliency, faithfulness.

The song is cut into the model's windows as :class:`genrekit.predict.Classifier` cuts them
(at most ``max_windows``, spread over the song). For each window the model's genre
probabilities are computed; the song's are their aggregate (the card's ``aggregation``).

* **Share of the decision**: each window's term in the aggregate of the predicted genre
  (its probability for a mean, its log-probability above chance for a log-mean),
  normalised over windows (:func:`decision_shares`). A window is *decisive* when its own
  top genre is the song's and its share is at least half an even share (``0.5 / n_windows``).
* **Saliency** (spectrogram models): occlusion for the predicted genre, on the spectrogram
  the model reads; integrated gradients too where asked (``integrated_gradients=True``, a
  workbench extra: it needs PyTorch's gradients).
* **Feature contributions** (table models): Shapley values of the 57 table features,
  against the training mean.
* **Faithfulness**: masking the most salient 10 % (of the occlusion patches, or of the
  features) must lower the predicted genre's probability more than masking a random 10 %
  of the same patches.

A musicnn head bundle that ships its ONNX graph is explained on the serving path: the graph
the service runs scores the occluded spectrograms (:mod:`genrekit.explain.serving`,
:mod:`genrekit.explain.occlusion`), and nothing imports torch. Other models, and integrated
gradients, load the bundle with PyTorch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.errors import InvalidParameterError

DEFAULT_MAX_WINDOWS = 4
METHODS = ("occlusion", "integrated_gradients")
PRIMARY_METHOD = "occlusion"
RUNTIMES = ("auto", "onnx", "torch")
DECISIVE_SHARE = 0.5  # a deciding window carries at least half an even share (1 / n_windows) of the evidence


@dataclass(frozen=True)
class ExplainSettings:
    """How much work an explanation does.

    Attributes
    ----------
    max_windows : int >= 1 or None
        Windows explained, spread over the song; ``None``: the card's ``max_windows``
        where it sets one, else 4.
    fraction : float in (0, 1)
        Share of cells (or features) masked by the faithfulness check.
    integrated_gradients : bool
        Also compute integrated gradients (needs PyTorch; occlusion alone otherwise).
    ig_steps : int >= 1
        Integrated-gradients steps.
    patch_s : float > 0
        Occlusion patch length (seconds).
    patch_bands : int >= 1
        Occlusion patches per column: each spans ``1 / patch_bands`` of the frequency bands.
    map_bins : int >= 1
        Frequency bins of the saliency maps in the JSON (pooled).
    map_frame_rate_hz : float > 0
        Time resolution of the saliency maps in the JSON (pooled).
    n_permutations : int >= 1
        Permutations of the Shapley sampling (table models).
    seed : int
    """

    max_windows: int | None = None
    fraction: float = 0.1
    integrated_gradients: bool = False
    ig_steps: int = 16
    patch_s: float = 0.25
    patch_bands: int = 12
    map_bins: int = 48
    map_frame_rate_hz: float = 10.0
    n_permutations: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_windows is not None and self.max_windows < 1:
            raise InvalidParameterError(f"max_windows must be >= 1, got {self.max_windows}")
        if not 0.0 < self.fraction < 1.0:
            raise InvalidParameterError(f"fraction must be in (0, 1), got {self.fraction}")
        if self.patch_s <= 0 or self.map_frame_rate_hz <= 0 or self.map_bins < 1 or self.ig_steps < 1 or self.patch_bands < 1:
            raise InvalidParameterError("patch_s, patch_bands, map_frame_rate_hz, map_bins and ig_steps must be positive")


@dataclass
class Explanation:
    """An explanation: the JSON-ready ``data`` and the full-resolution arrays for pictures.

    Attributes
    ----------
    data : dict
        See :func:`explain_waveform`.
    spectrogram : np.ndarray [shape=(n_windows, n_bins, n_frames)] or None
    maps : dict of str to np.ndarray [shape=(n_windows, n_bins, n_frames)]
        Full-resolution saliency of each method.
    """

    data: dict[str, Any]
    spectrogram: np.ndarray | None = None
    maps: dict[str, np.ndarray] = field(default_factory=dict)


def pick_windows(y: np.ndarray, *, window_length: int, max_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """Start samples and windows ``(n, window_length)``: regular windows, or ``max_windows`` spread ones."""
    from genrekit.audio.windows import slice_windows, spread_starts

    spread = spread_starts(len(y), window_length=window_length, hop_length=window_length, max_windows=max_windows)
    if spread is None:
        starts, _, windows = slice_windows(y, window_length=window_length, hop_length=window_length)
        return starts, windows
    return spread, np.stack([y[s : s + window_length] for s in spread]).astype(np.float32)


def decision_shares(window_probs: np.ndarray, target: int, *, method: str) -> np.ndarray:
    """Each window's share of the song's evidence for ``target``.

    Parameters
    ----------
    window_probs : np.ndarray [shape=(n_windows, n_labels)]
    target : int
    method : {"mean", "log_mean"}
        The aggregation. ``"mean"``: a window's evidence is its probability of the target
        (its term of the mean). ``"log_mean"``: its log-probability above chance,
        ``max(0, log p + log n_labels)`` (its term of the geometric mean, where chance
        contributes nothing).

    Returns
    -------
    np.ndarray [shape=(n_windows,)]
        Non-negative, summing to 1 (even shares where no window has evidence).
    """
    n, n_labels = window_probs.shape
    p = np.clip(window_probs[:, target], 1e-7, 1.0)
    evidence = p if method == "mean" else np.clip(np.log(p) + np.log(n_labels), 0.0, None)
    total = float(evidence.sum())
    return evidence / total if total > 0 else np.full(n, 1.0 / n)


def pool_map(values: np.ndarray, *, n_bins: int, n_frames: int) -> np.ndarray:
    """Average-pool ``(n_windows, bins, frames)`` to ``(n_windows, n_bins, n_frames)`` (no upsampling)."""
    from genrekit.explain.occlusion import adaptive_mean_pool

    return adaptive_mean_pool(values, n_bins=n_bins, n_frames=n_frames)


def _probabilities(labels: list[str], row: np.ndarray) -> dict[str, float]:
    return {label: round(float(p), 5) for label, p in zip(labels, row)}


def explain_waveform(
    y: np.ndarray, model: Any, card: Any, settings: ExplainSettings | None = None, *, name: str = ""
) -> Explanation:
    """Explain a mono waveform at the model's sample rate.

    Returns
    -------
    Explanation
        ``data`` holds ``name``, ``duration_s``, ``model``, ``labels``, ``aggregation``, ``predicted``,
        ``probabilities``, ``windows`` (``index``, ``start_s``, ``end_s``,
        ``probabilities``, ``top``, ``share``, ``decisive``), ``saliency`` (or ``None``),
        ``feature_contributions`` (or ``None``), ``faithfulness``
        (``deletion_drop``, ``random_drop``, ``fraction``, ``passed``, ``method``),
        ``faithfulness_by_method`` and ``seconds``.
    """
    from genrekit.explain.serving import array_view, supports_array_view
    from genrekit.predict.aggregate import aggregate_probabilities

    started = time.perf_counter()
    settings = settings or ExplainSettings()
    sr = int(model.sample_rate)
    window_length = int(round(float(model.window_s) * sr))
    max_windows = settings.max_windows or int(card.config.get("max_windows") or 0) or DEFAULT_MAX_WINDOWS
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise InvalidParameterError(f"y must be a non-empty mono waveform, got shape {y.shape}")
    starts, windows = pick_windows(y, window_length=window_length, max_windows=max_windows)
    labels = list(model.labels)
    aggregation = str(card.config.get("aggregation", "mean"))
    table = hasattr(model, "estimator") and hasattr(model, "features")
    view: Any = None
    spec: Any = None
    if table:
        rows = model.features(windows)
        window_probs = np.asarray(model.estimator.predict_proba(rows), dtype=np.float64)
    elif supports_array_view(model):
        if settings.integrated_gradients:
            raise InvalidParameterError(
                "integrated gradients need PyTorch's gradients: load the model with PyTorch (runtime 'torch')"
            )
        view = array_view(model)
        spec = view.spectrogram(windows)
        window_probs = np.asarray(view.proba(spec), dtype=np.float64)
    else:
        import torch

        from genrekit.explain.adapters import spectrogram_view

        view = spectrogram_view(model, card)
        spec = view.spectrogram(torch.from_numpy(windows))
        with torch.no_grad():
            window_probs = view.proba(spec).double().numpy()
    window_probs = window_probs / window_probs.sum(axis=1, keepdims=True)
    song = aggregate_probabilities(window_probs, method=aggregation)
    target = int(np.argmax(song))
    shares = decision_shares(window_probs, target, method=aggregation)
    n = len(starts)
    data: dict[str, Any] = {
        "name": name,
        "duration_s": round(len(y) / sr, 3),
        "model": {"name": card.name, "version": card.version, "model_type": card.model_type},
        "labels": labels,
        "aggregation": aggregation,
        "predicted": labels[target],
        "probabilities": _probabilities(labels, song),
        "windows": [
            {
                "index": i,
                "start_s": round(float(starts[i]) / sr, 3),
                "end_s": round(min(float(starts[i]) + window_length, float(len(y))) / sr, 3),
                "probabilities": _probabilities(labels, window_probs[i]),
                "top": labels[int(np.argmax(window_probs[i]))],
                "share": round(float(shares[i]), 4),
                "decisive": bool(int(np.argmax(window_probs[i])) == target and shares[i] >= DECISIVE_SHARE / n),
            }
            for i in range(n)
        ],
        "saliency": None,
        "feature_contributions": None,
    }
    explanation = Explanation(data=data)
    if table:
        _explain_table(explanation, model, rows, target, settings)
    else:
        _explain_spectrogram(explanation, view, spec, target, settings)
    data["seconds"] = round(time.perf_counter() - started, 2)
    return explanation


def patch_size(n_bins: int, n_frames: int, *, frame_rate_hz: float, settings: ExplainSettings) -> dict[str, int]:
    """Occlusion patch ``{"patch_bins", "patch_frames"}``: ``1 / patch_bands`` of the bands, and
    about ``patch_s`` seconds, evened out so the window's columns are alike (the last is not a sliver)."""
    n_columns = max(1, int(round(n_frames / (settings.patch_s * frame_rate_hz))))
    return {"patch_bins": max(1, n_bins // settings.patch_bands), "patch_frames": max(1, -(-n_frames // n_columns))}


def _explain_spectrogram(explanation: Explanation, view: Any, spec: Any, target: int, settings: ExplainSettings) -> None:
    """Saliency maps and faithfulness checks: NumPy (ONNX Runtime) for a NumPy ``spec``, else PyTorch."""

    def score(batch: Any) -> Any:
        return view.proba(batch)[:, target]

    n_windows, n_bins, n_frames = spec.shape
    patch = patch_size(n_bins, n_frames, frame_rate_hz=view.frame_rate_hz, settings=settings)
    check = {"fraction": settings.fraction, "seed": settings.seed, **patch}
    maps: dict[str, np.ndarray]
    if isinstance(spec, np.ndarray):
        from genrekit.explain import occlusion

        reference = score(spec)
        maps = {"occlusion": occlusion.occlusion_saliency(score, spec, reference=reference, **patch)}
        checks = {"occlusion": occlusion.deletion_check(score, spec, maps["occlusion"], reference=reference, **check)}
        spectrogram = spec
    else:
        from genrekit.explain import attribution

        tensors = {"occlusion": attribution.occlusion_saliency(score, spec, **patch)}
        if settings.integrated_gradients:
            tensors["integrated_gradients"] = attribution.integrated_gradients(score, spec, n_steps=settings.ig_steps)
        checks = {m: attribution.deletion_check(score, spec, value, **check) for m, value in tensors.items()}
        maps = {m: value.numpy() for m, value in tensors.items()}
        spectrogram = spec.numpy()
    window_s = n_frames / view.frame_rate_hz
    out_frames = max(1, int(round(window_s * settings.map_frame_rate_hz)))
    pooled = {}
    for method, values in maps.items():
        array = pool_map(values, n_bins=settings.map_bins, n_frames=out_frames)
        peak = float(np.abs(array).max()) or 1.0
        pooled[method] = np.round(array / peak, 3).tolist()
    explanation.data["saliency"] = {
        "target": explanation.data["predicted"],
        "spectrogram": view.kind,
        "n_bins": int(n_bins),
        "n_frames_per_window": int(n_frames),
        "frame_rate_hz": float(view.frame_rate_hz),
        "f_max_hz": float(view.f_max_hz),
        "map_shape": [int(n_windows), len(pooled[PRIMARY_METHOD][0]), len(pooled[PRIMARY_METHOD][0][0])],
        "scale": "each map divided by its largest |value| over the song; positive: evidence for the target genre; "
        "rows run from the lowest frequency band up",
        "methods": pooled,
    }
    explanation.data["faithfulness"] = {**checks[PRIMARY_METHOD], "method": PRIMARY_METHOD}
    explanation.data["faithfulness_by_method"] = checks
    explanation.spectrogram = spectrogram
    explanation.maps = maps


def _explain_table(explanation: Explanation, model: Any, rows: np.ndarray, target: int, settings: ExplainSettings) -> None:
    from genrekit.explain.attribution import shapley_contributions

    estimator = model.estimator
    baseline = getattr(estimator, "mean_", None)
    if baseline is None:
        raise InvalidParameterError(f"no training mean stored in this {type(estimator).__name__}: no contributions")
    contributions = np.mean(
        [
            shapley_contributions(estimator.predict_proba, row, baseline, target, n_permutations=settings.n_permutations, seed=settings.seed)
            for row in rows
        ],
        axis=0,
    )
    values = rows.mean(axis=0)
    order = np.argsort(-np.abs(contributions))
    explanation.data["feature_contributions"] = [
        {"feature": model.columns[j], "value": float(values[j]), "contribution": round(float(contributions[j]), 5)} for j in order
    ]
    explanation.data["feature_contributions_method"] = (
        f"Shapley values by permutation sampling ({settings.n_permutations} permutations), absent features at the training "
        "mean; probability points of the predicted genre, averaged over windows"
    )
    k = max(1, int(round(settings.fraction * len(contributions))))
    rng = np.random.default_rng(settings.seed)

    def drop(columns: np.ndarray) -> float:
        masked = rows.copy()
        masked[:, columns] = baseline[columns]
        before = np.asarray(estimator.predict_proba(rows))[:, target]
        after = np.asarray(estimator.predict_proba(masked))[:, target]
        return float(np.mean(before - after))

    top = np.argsort(-contributions)[:k]
    random_drop = float(np.mean([drop(rng.choice(len(contributions), size=k, replace=False)) for _ in range(5)]))
    deletion = drop(top)
    explanation.data["faithfulness"] = {
        "deletion_drop": deletion,
        "random_drop": random_drop,
        "fraction": settings.fraction,
        "passed": deletion > random_drop,
        "method": "shapley",
    }
    explanation.data["faithfulness_by_method"] = {"shapley": dict(explanation.data["faithfulness"])}


def load_explainable(
    bundle: str | Path | None = None, *, runtime: str = "auto", integrated_gradients: bool = False
) -> tuple[Any, Any]:
    """``(card, model)`` to explain with: the bundle's ONNX Runtime graph where it ships one
    (no torch), else the PyTorch model.

    Parameters
    ----------
    bundle : path or None
        Model bundle (``None``: the shipped model).
    runtime : {"auto", "onnx", "torch"}
        ``"auto"``: ONNX Runtime where the bundle ships a graph and integrated gradients are
        not asked for, else PyTorch; ``"onnx"``: ONNX Runtime or an error; ``"torch"``: PyTorch.
    integrated_gradients : bool
        Integrated gradients will be asked for (they need PyTorch).

    Raises
    ------
    InvalidParameterError
        Unknown runtime, or one that cannot give what is asked.
    BundleError
        The bundle needs PyTorch and it is not installed.
    """
    from genrekit.bundle.io import read_card
    from genrekit.errors import BundleError
    from genrekit.models.onnx_runtime import has_onnx_graph, load_onnx_bundle

    if runtime not in RUNTIMES:
        raise InvalidParameterError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    card = read_card(bundle)
    if runtime == "onnx" and integrated_gradients:
        raise InvalidParameterError("integrated gradients need PyTorch's gradients: use runtime 'torch' (or 'auto')")
    if runtime != "torch" and not integrated_gradients and has_onnx_graph(card):
        return card, load_onnx_bundle(bundle, card)
    if runtime == "onnx":
        raise InvalidParameterError(f"bundle {card.name} ships no ONNX graph of a musicnn head: use runtime 'torch'")
    try:
        from genrekit.models.loaders import load_model
    except ImportError as error:
        need = "integrated gradients need" if integrated_gradients else f"bundle {card.name} ships no ONNX graph, so it needs"
        raise BundleError(f"{need} PyTorch, which is not installed ({error}); install it with: pip install 'genrekit[train]'") from error
    return load_model(bundle)


def explain_file(
    source: Any,
    *,
    bundle: str | Path | None = None,
    settings: ExplainSettings | None = None,
    loaded: tuple[Any, Any] | None = None,
    runtime: str = "auto",
) -> Explanation:
    """Decode ``source`` at the model's rate and explain it.

    Parameters
    ----------
    source : path or bytes
        Any audio :func:`genrekit.audio.load_audio` reads.
    bundle : path or None
        Model bundle (``None``: the default model), loaded by :func:`load_explainable`.
    settings : ExplainSettings or None
    loaded : (ModelCard, model) or None
        An already loaded model (skips loading ``bundle``): an ONNX Runtime musicnn head or a
        PyTorch model.
    runtime : {"auto", "onnx", "torch"}
        How ``bundle`` is loaded (see :func:`load_explainable`).
    """
    from genrekit.audio import load_audio

    settings = settings or ExplainSettings()
    if loaded is None:
        loaded = load_explainable(bundle, runtime=runtime, integrated_gradients=settings.integrated_gradients)
    card, model = loaded
    y, _ = load_audio(source, sr=model.sample_rate)
    name = Path(source).name if isinstance(source, (str, Path)) else ""
    return explain_waveform(y, model, card, settings, name=name)
