"""Shared fixtures. ``shared_data`` is ``../shared/data`` beside the checkout (also in CI);
tests that need it skip with a clear reason where it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared real-music data (gtzan-dev, gtzan-splits, extra-pool, feature CSV)."""
    if not (SHARED_DATA / "gtzan-dev").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set GENREKIT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture()
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread for the test: tiny tensors, and on a shared CPU extra threads
    mostly wait for each other. Torch is imported here, not by this file, so tests of the
    torch-free serving path do not load it."""
    import torch

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
