"""Optional parts of the install: what a command needs beyond the serving set, and the exact
``pip install`` line that adds it."""

from __future__ import annotations

import importlib.util

from genrekit.errors import GenrekitError

TRAIN_EXTRA_INSTALL = "pip install 'genrekit[train]'"
TRAIN_EXTRA_MODULES = ("torch", "sklearn", "librosa", "matplotlib", "safetensors", "yaml", "onnx")
"""Import names of the ``train`` extra's packages (PyTorch, scikit-learn, librosa, ...)."""


class MissingExtraError(GenrekitError):
    """A command needs packages of an optional extra that is not installed."""


def missing_modules(names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` that cannot be imported here (checked without importing them)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def require_train_extra(command: str) -> None:
    """Raise :class:`MissingExtraError` naming the install line if the ``train`` extra is missing.

    ``genrekit classify`` and ``genrekit serve`` need only the base install; ``train``,
    ``evaluate``, ``compare``, ``features`` and ``data`` need the workbench.
    """
    missing = missing_modules(TRAIN_EXTRA_MODULES)
    if missing:
        raise MissingExtraError(
            f"'genrekit {command}' needs the training extra (missing: {', '.join(missing)}); "
            f"install it with: {TRAIN_EXTRA_INSTALL}"
        )
