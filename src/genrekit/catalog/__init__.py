"""Whole libraries and catalogs: scan, export, tag and organize (``genrekit scan`` & co.).

* :mod:`~genrekit.catalog.walk` finds the audio files of a library (symlinks followed
  without loops, hidden and system files skipped).
* :mod:`~genrekit.catalog.engine` is the batch engine: worker processes that each hold one
  loaded model classify files while the next ones are read and hashed, with a bounded
  number of songs in flight. ``genrekit classify`` and ``genrekit scan`` both run on it;
  :mod:`~genrekit.catalog.ray_engine` runs the same work on Ray Data.
* :mod:`~genrekit.catalog.store` keeps the results in the service's database (one
  ``library_tracks`` row per file, pointing at a ``classifications`` row per content and
  model version), so the service's history and permalinks show scanned tracks.
* :mod:`~genrekit.catalog.scan` ties them together, resumably.
* :mod:`~genrekit.catalog.export`, :mod:`~genrekit.catalog.tagging` and
  :mod:`~genrekit.catalog.organize` use the stored results.
"""
