"""Whole libraries and catalogs: scan, export, tag and organize (``genrekit scan`` & co.).

* :mod:`~genrekit.catalog.walk` finds the audio files of a library (symlinks followed
  without loops, hidden and system files skipped).
* The songs are classified by the batch engine (:mod:`genrekit.batch.engine`, or
  :mod:`genrekit.batch.ray_engine` on Ray Data), which ``genrekit classify`` runs on too.
* :mod:`~genrekit.catalog.database` keeps the results in the service's database (one
  ``library_tracks`` row per file, pointing at a ``classifications`` row per content and
  model version), so the service's history and permalinks show scanned tracks.
* :mod:`~genrekit.catalog.scan` ties them together, resumably.
* :mod:`~genrekit.catalog.export`, :mod:`~genrekit.catalog.tagging` and
  :mod:`~genrekit.catalog.organize` use the stored results.
"""
