"""genrekit: music genre classification you can deploy.

The data flows audio -> features -> models -> training/evaluation -> bundle -> predict ->
service/web and cli. The most used entry points are re-exported here lazily, so that
``import genrekit`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genrekit._version import __version__

__all__ = ["__version__", "load_audio", "Classifier", "Prediction"]

if TYPE_CHECKING:
    from genrekit.audio import load_audio
    from genrekit.predict import Classifier, Prediction


def __getattr__(name: str) -> Any:
    if name == "load_audio":
        from genrekit.audio import load_audio

        return load_audio
    if name in ("Classifier", "Prediction"):
        from genrekit import predict

        return getattr(predict, name)
    raise AttributeError(f"module 'genrekit' has no attribute {name!r}")
