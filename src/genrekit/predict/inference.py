"""Windows -> model outputs: the model step of :class:`~genrekit.predict.Classifier`.

:class:`ModelStep` runs a loaded model on a batch of model inputs (the raw windows, or the
musicnn patches of a model that has a patch stage) and post-processes what it returns into
:class:`ModelOutputs`: genre probabilities, tag probabilities per backbone, window
embeddings and out-of-taxonomy logits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrekit.bundle.embedding import EmbeddingSpec
from genrekit.errors import GenrekitError, InvalidParameterError

WINDOWS = "windows"  # model inputs are the raw windows (n_windows, samples)
PATCHES = "patches"  # model inputs are the model's patches (musicnn: (n_windows, 187, 96))


@dataclass(frozen=True)
class ModelOutputs:
    """What the model says of a batch of windows, one row per window.

    ``probs`` ``(n, n_labels)`` float32; ``tags`` ``{backbone: (n, n_tags)}`` or ``None``
    (not asked for); ``embeddings`` ``(n, dim)`` or ``None``; ``ood`` the out-of-taxonomy
    logits ``(n,)`` or ``None`` (the model has none).
    """

    probs: np.ndarray
    tags: dict[str, np.ndarray] | None = None
    embeddings: np.ndarray | None = None
    ood: np.ndarray | None = None

    def rows(self, rows: slice) -> ModelOutputs:
        """The outputs of some windows."""
        tags = None if self.tags is None else {name: values[rows] for name, values in self.tags.items()}
        return ModelOutputs(
            self.probs[rows], tags,
            None if self.embeddings is None else self.embeddings[rows],
            None if self.ood is None else self.ood[rows],
        )

    @staticmethod
    def concatenate(parts: Sequence[ModelOutputs]) -> ModelOutputs:
        """The outputs of consecutive batches as one (the first batch says which parts exist)."""
        first = parts[0]
        tags = None if first.tags is None else {
            name: np.concatenate([part.tags[name] for part in parts]) for name in first.tags  # type: ignore[index]
        }
        return ModelOutputs(
            np.concatenate([part.probs for part in parts]), tags,
            None if first.embeddings is None else np.concatenate([part.embeddings for part in parts]),  # type: ignore[misc]
            None if first.ood is None else np.concatenate([part.ood for part in parts]),  # type: ignore[misc]
        )


def tag_vocabularies(model: Any) -> dict[str, list[str]]:
    """The tag names of each of a model's backbones (``{}``: the model does not tag)."""
    names = getattr(model, "tag_names", None)
    if isinstance(names, dict):
        return {str(k): [str(t) for t in v] for k, v in names.items()}
    if names:
        return {"tags": [str(t) for t in names]}
    return {}


def _ood_logits(ood: Any) -> np.ndarray | None:
    return None if ood is None else np.asarray(ood, dtype=np.float64).reshape(-1)


class ModelStep:
    """One loaded model, run on batches of windows.

    Parameters
    ----------
    model : WaveformClassifier
        The model (``predict_proba_windows`` at least; see :mod:`genrekit.predict`).
    labels : sequence of str
        Its genres, in column order.
    tag_names : dict of str to list of str
        The tag vocabulary of each backbone kept (see :func:`tag_vocabularies`).
    embedding : EmbeddingSpec or None
        Its embedding space, where it has one.
    model_name : str
        Its name, for errors.
    """

    def __init__(
        self,
        model: Any,
        *,
        labels: Sequence[str],
        tag_names: dict[str, list[str]],
        embedding: EmbeddingSpec | None,
        model_name: str,
    ) -> None:
        self.model = model
        self.labels = list(labels)
        self.tag_names = tag_names
        self.embedding = embedding
        self.model_name = model_name

    @property
    def kind(self) -> str:
        """:data:`PATCHES` where the model has a patch stage (``window_patches``), else :data:`WINDOWS`."""
        return WINDOWS if getattr(self.model, "window_patches", None) is None else PATCHES

    def inputs(self, batch: np.ndarray) -> np.ndarray:
        """The model inputs of a batch of windows ``(n, samples)`` float32, of :attr:`kind`."""
        to_patches: Callable[..., Any] | None = getattr(self.model, "window_patches", None)
        return batch if to_patches is None else np.asarray(to_patches(batch), dtype=np.float32)

    def run(self, inputs: np.ndarray, kind: str, *, want_tags: bool, embed: bool) -> ModelOutputs:
        """The outputs of model inputs of ``kind`` (windows or patches); ``want_tags``: also the
        tags, ``embed``: also the embeddings (and then the tags)."""
        if kind == WINDOWS:
            return self._with_embedding(inputs) if embed else self._windows(inputs, want_tags)
        model: Any = self.model
        vectors: np.ndarray | None = None
        if embed:
            probs, tags, vectors, ood = model.embed_outputs_patches(inputs)
            vectors = np.asarray(vectors, dtype=np.float32)
        else:
            probs, tags, ood = model.predict_outputs_patches(inputs)
        kept = {k: np.asarray(v, dtype=np.float32) for k, v in tags.items() if k in self.tag_names}
        return ModelOutputs(np.asarray(probs, dtype=np.float32), kept if (want_tags or embed) else None, vectors,
                            _ood_logits(ood))

    def _windows(self, batch: np.ndarray, want_tags: bool) -> ModelOutputs:
        """Genre probabilities (and tag probabilities per backbone, and the out-of-taxonomy
        logit of each window where the model has one) for a batch of windows."""
        model = self.model
        tags: Any = None
        ood: np.ndarray | None = None
        combined: Callable[..., Any] | None = getattr(model, "predict_all_windows", None)
        with_ood: Callable[..., Any] | None = getattr(model, "predict_outputs_windows", None)
        if with_ood is not None:
            probs, tags, ood = with_ood(batch)
            if not want_tags:
                tags = None
        elif want_tags and combined is not None:
            probs, tags = combined(batch)
        else:
            probs = model.predict_proba_windows(batch)
            if want_tags:
                tags = model.predict_tags_windows(batch)
        probs = np.asarray(probs, dtype=np.float32)
        if probs.shape != (batch.shape[0], len(self.labels)):
            raise GenrekitError(
                f"model returned probabilities of shape {probs.shape}, expected {(batch.shape[0], len(self.labels))}"
            )
        if tags is not None and not isinstance(tags, dict):
            tags = {next(iter(self.tag_names)): tags}
        if tags is not None:
            tags = {k: np.asarray(v, dtype=np.float32) for k, v in tags.items() if k in self.tag_names}
        return ModelOutputs(probs, tags, None, _ood_logits(ood))

    def _with_embedding(self, batch: np.ndarray) -> ModelOutputs:
        """Genre and tag probabilities, window embeddings ``(batch, dim)`` and, where the model
        has one, each window's out-of-taxonomy logit, in one pass."""
        with_ood: Callable[..., Any] | None = getattr(self.model, "embed_outputs_windows", None)
        embed_windows: Callable[..., Any] | None = getattr(self.model, "embed_all_windows", None)
        if (with_ood is None and embed_windows is None) or self.embedding is None:
            raise InvalidParameterError(f"model {self.model_name!r} has no embedding")
        ood: Any = None
        if with_ood is not None:
            probs, tags, vectors, ood = with_ood(batch)
        else:
            probs, tags, vectors = embed_windows(batch)  # type: ignore[misc]
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (batch.shape[0], self.embedding.dim):
            raise GenrekitError(f"model returned embeddings of shape {vectors.shape}, expected {(batch.shape[0], self.embedding.dim)}")
        probs = np.asarray(probs, dtype=np.float32)
        tags = {k: np.asarray(v, dtype=np.float32) for k, v in tags.items() if k in self.tag_names}
        return ModelOutputs(probs, tags, vectors, _ood_logits(ood))
