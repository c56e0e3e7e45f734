"""Explanations of stored classifications, computed on demand and cached.

Nothing here runs on the classify path: the explanation route calls :func:`explain_stored`
in a worker thread. Where the served model is an ONNX Runtime musicnn head (the shipped
model, and every bundle genrekit saves), the explanation is computed on that same graph:
window shares, occlusion saliency and the faithfulness check, without PyTorch. Other served
models are loaded once with PyTorch (if installed). It needs the classification's stored
audio, so it only works where the server keeps audio.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from genrekit.service.errors import ServiceError
from genrekit.service.state import ServiceState, model_identity
from genrekit.store import queries

MAX_CACHED = 32  # explanations kept in memory per app (LRU)
SERVICE_MAX_WINDOWS = 4  # windows explained per song (GENREKIT_EXPLAIN_MAX_WINDOWS overrides it)
MAX_WINDOWS_ENV = "GENREKIT_EXPLAIN_MAX_WINDOWS"
SERVICE_PATCH_S = 0.6  # occlusion patch length (s): 5 columns per 3-s window (30 patches with the bands)
SERVICE_PATCH_BANDS = 6  # occlusion patches per column (16 of musicnn's 96 bands each)


class ExplanationUnavailableError(ServiceError):
    """The classification cannot be explained here (audio not kept, model changed)."""

    status = 409
    slug = "explanation-unavailable"
    title = "Explanation unavailable"


class ExplanationNotSupportedError(ServiceError):
    """The server cannot explain its model (not an ONNX Runtime musicnn head, and no PyTorch)."""

    status = 501
    slug = "explanation-not-supported"
    title = "Explanations not supported by this server"


class ExplanationCache:
    """The last :data:`MAX_CACHED` explanations, and the PyTorch model of a served model that has
    no ONNX Runtime view.

    One explanation is computed at a time (each takes seconds of CPU); a request for one
    already being computed waits for it instead of computing it again.
    """

    def __init__(self, max_items: int = MAX_CACHED) -> None:
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._model: tuple[Any, Any] | None = None

    def get(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str, str], value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def model(self, bundle: Any, classifier: Any) -> tuple[Any, Any]:
        """``(card, model)`` to explain with: the served ONNX Runtime graph itself where the
        explanation can run on it, else the served bundle loaded with PyTorch (once)."""
        from genrekit.explain.serving import supports_array_view

        model, card = getattr(classifier, "model", None), getattr(classifier, "card", None)
        if card is not None and supports_array_view(model):
            return card, model
        if self._model is None:
            try:
                from genrekit.models.loaders import load_model
            except ImportError as error:
                raise ExplanationNotSupportedError(
                    "this server's model runs without an ONNX graph of a musicnn head, and explaining it needs "
                    "PyTorch, which this server does not have installed"
                ) from error
            self._model = load_model(bundle)
        return self._model


def service_max_windows() -> int:
    """Windows explained per song: ``GENREKIT_EXPLAIN_MAX_WINDOWS`` (read at call time), else 4."""
    text = os.environ.get(MAX_WINDOWS_ENV, "").strip()
    if not text:
        return SERVICE_MAX_WINDOWS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ServiceError(f"{MAX_WINDOWS_ENV} must be a positive integer, got {text!r}")
    return value


def cache_of(app_state: Any) -> ExplanationCache:
    """The app's :class:`ExplanationCache` (created on first use)."""
    cache = getattr(app_state, "genrekit_explanations", None)
    if cache is None:
        with _CREATE_LOCK:
            cache = getattr(app_state, "genrekit_explanations", None)
            if cache is None:
                cache = ExplanationCache()
                app_state.genrekit_explanations = cache
    return cache


_CREATE_LOCK = threading.Lock()


def explain_stored(
    state: ServiceState, cache: ExplanationCache, classification_id: str, *, owner_key_id: Any = queries.ALL_OWNERS
) -> dict[str, Any]:
    """The explanation of a stored classification (cached), with ``cached`` telling which.

    ``owner_key_id`` limits it to that API key's classifications (as every history route does).

    Raises
    ------
    genrekit.store.errors.NotFound
        No such classification (the service answers 404).
    ExplanationUnavailableError
        The server keeps no audio, this classification's audio is gone, or it was made by
        another model than the one the server runs now.
    ExplanationNotSupportedError
        The served model has no ONNX Runtime view and PyTorch is not installed.
    """
    with state.new_session() as session:
        row = queries.get_owned_classification(session, classification_id=classification_id, owner_key_id=owner_key_id)
        model_name, model_version, filename = row.model_name, row.model_version, row.filename
    if not state.settings.keeps_audio:
        raise ExplanationUnavailableError(
            "this server does not keep submitted audio (keep_audio is off), and an explanation is computed "
            "from the audio; run `genrekit explain FILE` on your copy instead"
        )
    served = model_identity(state.require_classifier())
    if served != (model_name, model_version):
        raise ExplanationUnavailableError(
            f"classification {classification_id!r} was made by model {model_name} {model_version}; "
            f"this server now runs {served[0]} {served[1]} and would explain a different decision"
        )
    key = (classification_id, model_name, model_version)
    cached = cache.get(key)
    if cached is not None:
        return {**cached, "cached": True}
    with cache._compute_lock:
        cached = cache.get(key)
        if cached is not None:
            return {**cached, "cached": True}
        with state.new_session() as session:
            audio = queries.get_audio(session, classification_id=classification_id)
            content = bytes(audio.content) if audio is not None else None
        if content is None:
            raise ExplanationUnavailableError(
                f"the audio of classification {classification_id!r} is no longer stored (removed by the size or age "
                "limits), so it cannot be explained"
            )
        from genrekit.explain.song import ExplainSettings, explain_file

        settings = ExplainSettings(max_windows=service_max_windows(), patch_s=SERVICE_PATCH_S, patch_bands=SERVICE_PATCH_BANDS)
        loaded = cache.model(state.settings.model, state.require_classifier())
        explanation = explain_file(content, settings=settings, loaded=loaded)
        data = dict(explanation.data)
        data["name"] = filename or data.get("name") or ""
        data["classification_id"] = classification_id
        cache.put(key, data)
    return {**data, "cached": False}
