"""Entry point of the ``genrekit`` command.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable
``func(args) -> int`` returning the exit code.

Exit codes (the same for every subcommand):

* 0: everything asked for was done;
* 1: some inputs failed (each reported on stderr), or a runtime error;
* 2: the command line itself is wrong (argparse's convention);
* 130: interrupted by the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genrekit._version import __version__
from genrekit.cli import (
    classify,
    compare,
    data,
    evaluate,
    explain,
    export,
    features,
    info,
    keys,
    models,
    organize,
    retrain,
    scan,
    serve,
    similar,
    tag,
    train,
    tune,
)
from genrekit.cli.exit_codes import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from genrekit.errors import GenrekitError


SUBCOMMANDS = (
    classify,
    features,
    data,
    train,
    serve,
    keys,
    models,
    retrain,
    evaluate,
    compare,
    tune,
    scan,
    export,
    organize,
    tag,
    explain,
    similar,
    info,
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="genrekit",
        description="Music genre classification: classify songs, extract features, "
        "check datasets, train and evaluate models, and serve the web app.",
        epilog="Run 'genrekit COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"genrekit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for subcommand in SUBCOMMANDS:
        subcommand.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except GenrekitError as error:
        print(f"genrekit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
