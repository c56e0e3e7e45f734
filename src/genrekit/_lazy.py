"""Lazy package exports: names listed per submodule, imported on first access.

Keeps ``import genrekit.audio`` / ``genrekit.features`` cheap, so that reading a constant
(the CLI parser) or one torch-free module (the serving path) loads nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[list[str], Callable[[str], Any]]:
    """``__all__`` and a module ``__getattr__`` serving ``exports`` (submodule -> names) of ``package``."""
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return sorted(module_of), __getattr__
