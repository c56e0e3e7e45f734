"""``genrekit models list|register|promote|rollback``: the model registry.

The registry is ``--registry``, else ``GENREKIT_MODEL_REGISTRY``, else ``<data dir>/models``
(the folder ``genrekit serve`` follows: a promotion or rollback is served without a restart).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_registry_option(parser: argparse.ArgumentParser) -> None:
    """The ``--registry`` option shared by ``models`` and ``retrain``."""
    parser.add_argument(
        "--registry", type=Path, default=None, metavar="DIR",
        help="model registry folder (default: GENREKIT_MODEL_REGISTRY or <data dir>/models)",
    )


def registry_from(args: argparse.Namespace):  # noqa: ANN201 - returns a ModelRegistry, imported lazily
    """The registry named by ``--registry`` or the service settings."""
    from genrekit.lifecycle.versions import ModelRegistry
    from genrekit.service.config import Settings

    return ModelRegistry(args.registry if args.registry is not None else Settings().registry_dir)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand."""
    parser = subparsers.add_parser(
        "models",
        help="list, register, promote and roll back model versions",
        description="Manage the model registry: versions, the champion the server answers with, "
        "and the history of promotions, refusals and rollbacks.",
    )
    add_registry_option(parser)
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="versions, the champion and the history")
    listing.add_argument("--json", action="store_true", help="print the registry as JSON")
    add = actions.add_parser("register", help="copy a bundle into the registry as a new version")
    add.add_argument("bundle", type=Path, help="bundle directory")
    add.add_argument("--promote", action="store_true", help="make it the champion at once")
    promote = actions.add_parser("promote", help="make a registered version the champion")
    promote.add_argument("version")
    promote.add_argument("--reason", default="promoted by hand")
    rollback = actions.add_parser("rollback", help="make the previous champion the champion again")
    rollback.add_argument("--reason", default="rolled back by hand")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one registry action."""
    registry = registry_from(args)
    if args.models_action == "register":
        version = registry.register(args.bundle, source=f"import {args.bundle}")
        print(f"registered {version.id} ({version.name})")
        if args.promote:
            registry.promote(version.id, reason=f"registered and promoted from {args.bundle}")
            print(f"promoted {version.id}")
        return 0
    if args.models_action == "promote":
        version = registry.promote(args.version, reason=args.reason)
        print(f"promoted {version.id}")
        return 0
    if args.models_action == "rollback":
        version = registry.rollback(reason=args.reason)
        print(f"rolled back to {version.id}")
        return 0
    champion = registry.champion_id()
    versions, history = registry.versions(), registry.history()
    if args.json:
        print(json.dumps({"champion": champion, "versions": [v.__dict__ | {"path": str(v.path)} for v in versions],
                          "history": history}, indent=2, sort_keys=True))
        return 0
    print(f"{'':2}{'version':<20}{'registered':<27}{'parent':<20}{'held-out ' + 'macro_f1':<18}source")
    for version in versions:
        mark = "* " if version.id == champion else "  "
        score = version.evaluation.get("challenger", {}).get("macro_f1")
        score_text = "-" if score is None else f"{score:.3f}"
        print(f"{mark}{version.id:<20}{version.registered_at:<27}{version.parent or '-':<20}{score_text:<18}{version.source}")
    if history:
        print("\nhistory:", file=sys.stdout)
        for event in history:
            print(f"  {event.get('at', '')}  {event.get('action', ''):<9} {event.get('version', '')}  {event.get('reason', '')}")
    return 0
