"""The windowing moved to :mod:`genrekit.audio.windows`; these names stay here only for
:mod:`genrekit.predict.classifier` until its import moves there too."""

from genrekit.audio.windows import _Window, _WindowSlicer, slice_windows, spread_starts

__all__ = ["_Window", "_WindowSlicer", "slice_windows", "spread_starts"]
