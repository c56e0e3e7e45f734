"""Track-level inference over a list of records, and matching data labels to model labels.

:func:`predict_tracks` runs :class:`genrekit.predict.Classifier` (the same whole-song path as
``genrekit classify`` and the REST API, so evaluated numbers are those users get) on each
record and collects the track-level probability matrix; a file that fails to decode is
reported and skipped, never fatal.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from genrekit.errors import GenrekitError, InvalidParameterError

if TYPE_CHECKING:
    from genrekit.datasets.records import TrackRecord
    from genrekit.predict import Prediction


class TrackClassifier(Protocol):
    """What :func:`predict_tracks` needs: :class:`genrekit.predict.Classifier` fits."""

    labels: list[str]

    def predict(self, source: Any, *, top_k: int = ..., hop_s: float | None = ...) -> Prediction:
        """Classify one song."""
        ...


@dataclass
class TrackScores:
    """Track-level probabilities of the records that could be classified.

    Attributes
    ----------
    records : list of TrackRecord
        The classified records, in input order.
    proba : np.ndarray [shape=(len(records), n_labels), dtype=float64]
        Columns follow ``labels``.
    labels : list of str
        The model's labels.
    failures : list of (str, str)
        ``(path, error message)`` of every record that could not be classified.
    inference_s : list of float
        Wall-clock seconds spent on each classified record (decode + model).
    warnings : dict of str to list of str
        Prediction warnings (near-silent, may not be music) by path.
    """

    records: list[TrackRecord]
    proba: np.ndarray
    labels: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    inference_s: list[float] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ms_per_track(self) -> float:
        """Median wall-clock milliseconds per classified track (NaN if none)."""
        return float(np.median(self.inference_s) * 1000.0) if self.inference_s else float("nan")


def prediction_to_proba(prediction: Prediction, labels: Sequence[str]) -> np.ndarray:
    """The track-level scores of a prediction as a vector in ``labels`` order.

    Returns
    -------
    np.ndarray [shape=(len(labels),), dtype=float64]
        Renormalised to sum to 1.

    Raises
    ------
    InvalidParameterError
        The prediction's genres are not exactly ``labels``.
    """
    scores = {g.genre: float(g.score) for g in prediction.genres}
    if set(scores) != set(labels):
        raise InvalidParameterError(
            f"prediction genres {sorted(scores)} differ from the model labels {sorted(labels)}"
        )
    vector = np.array([scores[lab] for lab in labels], dtype=np.float64)
    total = vector.sum()
    return vector / total if total > 0 else np.full(len(labels), 1.0 / len(labels))


def predict_tracks(
    classifier: TrackClassifier,
    records: Iterable[TrackRecord],
    *,
    hop_s: float | None = None,
    on_failure: Callable[[str, str], None] | None = None,
    progress: bool = False,
) -> TrackScores:
    """Classify each record's file with ``classifier`` (decode errors are skipped).

    Parameters
    ----------
    classifier : Classifier
        e.g. ``genrekit.predict.Classifier.load(bundle)``.
    records : iterable of TrackRecord
    hop_s : float or None
        Seconds between analysis windows; ``None``: the classifier's default.
    on_failure : callable or None
        Called as ``on_failure(path, message)`` for each failed record.
    progress : bool
        Show a progress bar on stderr (only where stderr is a terminal).

    Returns
    -------
    TrackScores
    """
    from tqdm import tqdm

    labels = list(classifier.labels)
    kept: list[TrackRecord] = []
    rows: list[np.ndarray] = []
    scores = TrackScores(records=kept, proba=np.zeros((0, len(labels))), labels=labels)
    records = list(records)
    for record in tqdm(records, desc="classifying", unit="track", disable=None if progress else True, leave=False):
        path = str(record.path)
        start = time.perf_counter()
        try:
            prediction = classifier.predict(path, top_k=0, hop_s=hop_s)
        except GenrekitError as e:
            message = f"{type(e).__name__}: {e}"
            scores.failures.append((path, message))
            if on_failure is not None:
                on_failure(path, message)
            continue
        scores.inference_s.append(time.perf_counter() - start)
        rows.append(prediction_to_proba(prediction, labels))
        kept.append(record)
        if prediction.warnings:
            scores.warnings[path] = list(prediction.warnings)
    if rows:
        scores.proba = np.stack(rows)
    return scores


def label_key(label: str) -> str:
    """Matching key of a genre name: lower case, letters and digits only (``Hip-Hop`` -> ``hiphop``)."""
    return re.sub(r"[^0-9a-z]+", "", label.lower())


def match_labels(data_labels: Iterable[str], model_labels: Sequence[str]) -> dict[str, str | None]:
    """Map each data label to the model label it names, or ``None`` if the model lacks it.

    Labels match exactly, else by :func:`label_key` when that is unambiguous
    (``"Hip-Hop"`` matches ``"hiphop"``; ``"R&B"`` matches ``"rnb"``).

    Returns
    -------
    dict of str to str or None
    """
    by_key: dict[str, list[str]] = {}
    for lab in model_labels:
        by_key.setdefault(label_key(lab), []).append(lab)
    out: dict[str, str | None] = {}
    for lab in sorted(set(data_labels)):
        if lab in model_labels:
            out[lab] = lab
        else:
            candidates = by_key.get(label_key(lab), [])
            out[lab] = candidates[0] if len(candidates) == 1 else None
    return out


def training_track_ids(training: Mapping[str, Any]) -> dict[str, set[str]]:
    """Track ids a model card says were used to fit or tune the model, by split.

    Reads ``training["track_ids"]`` (``{"train": [...], "valid": [...]}``) or
    ``training["splits"][side]["track_ids"]``, whichever the trainer wrote; empty if none.
    """
    found: dict[str, set[str]] = {}
    raw = training.get("track_ids")
    if isinstance(raw, Mapping):
        for side, ids in raw.items():
            if isinstance(ids, (list, tuple)):
                found[str(side)] = {str(i) for i in ids}
    elif isinstance(raw, (list, tuple)):
        found["train"] = {str(i) for i in raw}
    splits = training.get("splits")
    if isinstance(splits, Mapping):
        for side, value in splits.items():
            ids = value.get("track_ids") if isinstance(value, Mapping) else value
            if isinstance(ids, (list, tuple)) and all(isinstance(i, str) for i in ids):
                found.setdefault(str(side), set()).update(ids)
    return found


def training_data_names(training: Mapping[str, Any]) -> set[str]:
    """Names of the datasets a model card says were used to fit or tune the model.

    Reads ``training["data"]["name"]`` and the folder name of ``training["data"]["spec"]``
    (genrekit's trainer); where a section has neither, its keys name the datasets
    (``training["data"]``, ``training["selection_data"]``; ``"gtzan-dev/train"`` counts as
    ``"gtzan-dev"``), skipping an entry marked ``"used_for_training": false``.
    """
    names: set[str] = set()
    for section in ("data", "selection_data"):
        data = training.get(section)
        if not isinstance(data, Mapping):
            continue
        if isinstance(data.get("name"), str) or isinstance(data.get("spec"), str):
            if isinstance(data.get("name"), str):
                names.add(data["name"])
            if isinstance(data.get("spec"), str):
                names.add(re.split(r"[\\/]", data["spec"].rstrip("/\\"))[-1])
            continue
        for key, value in data.items():
            if isinstance(value, Mapping) and value.get("used_for_training") is not False:
                names.add(str(key).split("/")[0])
    return {n for n in names if n}
