"""The flat record of one scanned file: the columns of Parquet output and of ``genrekit export``.

Columns (:data:`RECORD_COLUMNS`): ``path``, ``library`` (absolute root), ``size_bytes``,
``mtime_ns``, ``sha256``, ``duration_s`` (s), ``model_name``, ``model_version``,
``status`` (``"ok"`` or ``"error"``), ``error``, ``top_genre``, ``top_score`` (0..1),
``uncertainty`` (``confident``/``mixed``/``unknown`` or empty), and ``result``: the whole
prediction in the shared result schema (``Prediction.to_dict()``) as a JSON string (genres,
segments, tags, warnings, uncertainty, ...), empty for a failed file.
"""

from __future__ import annotations

import json
from typing import Any

from genrekit.batch.engine import Outcome

RECORD_COLUMNS = (
    "path", "library", "size_bytes", "mtime_ns", "sha256", "duration_s", "model_name", "model_version",
    "status", "error", "top_genre", "top_score", "uncertainty", "result",
)  # fmt: skip


def make_record(
    *,
    path: str,
    library: str,
    size_bytes: int,
    mtime_ns: int,
    sha256: str | None,
    model_name: str,
    model_version: str,
    result: dict[str, Any] | None,
    error: str | None,
) -> dict[str, Any]:
    """One record (see the module docstring); ``result`` None means the file failed with ``error``."""
    genres = (result or {}).get("genres") or []
    uncertainty = (result or {}).get("uncertainty") or {}
    return {
        "path": path,
        "library": library,
        "size_bytes": int(size_bytes),
        "mtime_ns": int(mtime_ns),
        "sha256": sha256 or "",
        "duration_s": float(result["duration_s"]) if result else None,
        "model_name": model_name,
        "model_version": model_version,
        "status": "ok" if result is not None else "error",
        "error": error or "",
        "top_genre": str(genres[0]["genre"]) if genres else "",
        "top_score": float(genres[0]["score"]) if genres else None,
        "uncertainty": str(uncertainty.get("level") or ""),
        "result": json.dumps(result, sort_keys=True) if result is not None else "",
    }


def outcome_record(
    *, path: str, library: str, size_bytes: int, mtime_ns: int, outcome: Outcome, model_name: str, model_version: str
) -> dict[str, Any]:
    """The record of an engine :class:`Outcome`."""
    error = None if outcome.ok else f"{outcome.error_type}: {outcome.error}"
    return make_record(path=path, library=library, size_bytes=size_bytes, mtime_ns=mtime_ns, sha256=outcome.sha256,
                       model_name=model_name, model_version=model_version, result=outcome.result, error=error)
