"""``genrekit classify``: not wired yet."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``classify`` subcommand (nothing yet)."""
