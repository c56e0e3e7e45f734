"""Hyper-parameter search over a family's declared search space (``genrekit tune``).

* :mod:`genrekit.tuning.space`: the ``[search]`` table of a training config, as data;
* :mod:`genrekit.tuning.objective`: grouped cross-validation of one set of settings;
* :mod:`genrekit.tuning.study`: the Optuna study (stored in a database, resumable and
  shared between processes) and its report.

Optuna is imported lazily, inside the functions that need it.
"""
