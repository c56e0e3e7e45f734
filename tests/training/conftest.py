"""Training tests run torch on one thread: their tensors are tiny, and on a shared CPU
extra threads mostly wait for each other (the fixture is in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread_here(one_torch_thread: None) -> None:
    """Every training test takes the shared fixture."""
