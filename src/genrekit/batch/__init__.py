"""The batch engine: many songs classified by worker processes that each hold one model.

* :mod:`~genrekit.batch.engine` runs :class:`~genrekit.batch.engine.Job` streams on
  worker processes (``genrekit classify`` of several files, ``genrekit scan``, ``genrekit tag``);
  :mod:`~genrekit.batch.ray_engine` runs the same two stages on Ray Data.
* :mod:`~genrekit.batch.records` flattens an outcome into the record of one file (Parquet and
  ``genrekit export`` columns).
* :mod:`~genrekit.batch.progress` shows a batch's progress on the terminal.
"""
