"""The service's rooms import only downwards, function-level imports included.

``intake/`` and ``work/`` stand below ``state.py`` (which holds the worker pool and the
background jobs); ``access/`` and ``answers/`` read ``state.py``; ``deps``, ``routes/``, ``api``
and ``main`` stand above them all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.imports import imported_names

SERVICE = Path(__file__).resolve().parents[2] / "src" / "genrekit" / "service"
ABOVE_ROOMS = ("deps", "routes", "api", "main", "pages")
NEVER = {  # room -> service modules and rooms it may not import
    "intake": ("state", "model_reload", "access", "answers", "work", *ABOVE_ROOMS),
    "work": ("state", "model_reload", "access", "answers", "intake", *ABOVE_ROOMS),
    "access": ("answers", "intake", "work", *ABOVE_ROOMS),
    "answers": ("access", *ABOVE_ROOMS),
}


def _service_imports(path: Path) -> set[str]:
    """The ``genrekit.service`` modules one file imports, as dotted names below the package."""
    prefix = "genrekit.service."
    return {name.removeprefix(prefix) for name in imported_names(path, "genrekit.service") if name.startswith(prefix)}


@pytest.mark.parametrize("room", sorted(NEVER))
def test_room_imports_only_downwards(room: str) -> None:
    bad = sorted(
        f"{path.relative_to(SERVICE)}: {name}"
        for path in (SERVICE / room).rglob("*.py")
        for name in _service_imports(path)
        if name.split(".")[0] in NEVER[room]
    )
    assert not bad, f"service/{room} imports a room above it: {bad}"


def test_state_reads_no_room_above_it() -> None:
    readers = ("access", "answers", *ABOVE_ROOMS)
    bad = sorted(name for name in _service_imports(SERVICE / "state.py") if name.split(".")[0] in readers)
    assert not bad, f"state.py imports a room that reads it: {bad}"
