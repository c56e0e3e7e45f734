"""``genrekit info``: where genrekit keeps things, which model it runs, and the versions.

Examples::

    genrekit info                 # a short table
    genrekit info --format json   # the same, as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata
from typing import Any

DATABASE_FROM = {
    "default": "default; --db or GENREKIT_DATABASE_URL change it",
    "GENREKIT_DATABASE_URL": "from GENREKIT_DATABASE_URL",
}
PACKAGES = ("numpy", "onnxruntime", "fastapi", "sqlalchemy", "torch")  # versions shown (torch only if installed)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="print the default database, data and cache folders, the model and the versions",
        description="Print what every command uses unless told otherwise: the database (scan, export, organize, "
        "tag, similar and serve share it; GENREKIT_DATABASE_URL or --db change it), the data and cache folders, "
        "the default model, and the versions of genrekit, Python and its main packages.",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    parser.add_argument("--model", metavar="BUNDLE", default=None, help="model bundle to describe (default: the bundled one)")
    parser.set_defaults(func=run)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def collect(bundle: str | None = None) -> dict[str, Any]:
    """What :func:`run` prints: ``genrekit``, ``python``, ``packages``, ``database``, ``data_dir``,
    ``model_registry``, ``cache_dir`` and ``model`` (read from the card, no weights loaded).

    ``bundle`` ``None``: the service's model (``GENREKIT_MODEL``), else the bundled one; a
    database password is shown as ``***``."""
    from genrekit._version import __version__
    from genrekit.bundle.embedding import embedding_spec
    from genrekit.bundle.io import default_bundle_path, read_card
    from genrekit.service.config import Settings
    from genrekit.settings import cache_dir

    from sqlalchemy.engine import make_url

    settings = Settings()
    if bundle is None and settings.model is not None:
        bundle = str(settings.model)
    card = read_card(bundle)
    embedding = embedding_spec(card.config)
    return {
        "genrekit": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "packages": {name: _version(name) for name in PACKAGES if _version(name) is not None},
        "database": make_url(settings.resolved_database_url).render_as_string(hide_password=True),
        "database_from": "GENREKIT_DATABASE_URL" if os.environ.get("GENREKIT_DATABASE_URL") else "default",
        "data_dir": str(settings.data_dir),
        "model_registry": str(settings.registry_dir),
        "cache_dir": str(cache_dir()),
        "model": {
            "name": card.name,
            "version": card.version,
            "model_type": card.model_type,
            "path": str(bundle if bundle is not None else default_bundle_path()),
            "labels": list(card.labels),
            "embedding": embedding.space if embedding is not None else None,
        },
    }


def run(args: argparse.Namespace) -> int:
    """Print the information; return 0."""
    info = collect(args.model)
    if args.format == "json":
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    model = info["model"]
    rows = [
        ("genrekit", info["genrekit"]),
        ("python", info["python"]),
        ("packages", ", ".join(f"{k} {v}" for k, v in info["packages"].items())),
        ("database", f"{info['database']} ({DATABASE_FROM[info['database_from']]})"),
        ("data folder", info["data_dir"]),
        ("model registry", info["model_registry"]),
        ("cache folder", info["cache_dir"]),
        ("model", f"{model['name']} {model['version']} ({model['model_type']}, {len(model['labels'])} genres)"),
        ("model path", model["path"]),
        ("embedding", model["embedding"] or "none"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0
