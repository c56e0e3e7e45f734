"""``genrekit serve``: run the REST API and web UI with uvicorn.

Settings not given on the command line come from ``GENREKIT_*`` environment variables
(see :class:`genrekit.service.config.Settings`).

On loopback the server runs in open single-user mode unless ``GENREKIT_REQUIRE_KEYS=1``.
On any other interface it needs API keys: it turns key mode on, and refuses to start while
no key exists (``genrekit keys create --role admin``) unless ``GENREKIT_REQUIRE_KEYS=1`` says
keys will come later, or ``--insecure`` asks for open mode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genrekit.service.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the web app and REST API",
        description="Serve the web UI at /, the REST API under /api/v1 and its docs at /docs. "
        "Other settings come from GENREKIT_* environment variables (GENREKIT_DATABASE_URL, "
        "GENREKIT_MAX_UPLOAD_MB, GENREKIT_KEEP_AUDIO, ...).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--model", type=Path, default=None, help="model bundle directory (default: the bundled model)")
    parser.add_argument(
        "--workers-jobs",
        type=int,
        default=None,
        metavar="N",
        help="classification jobs run at once (default: GENREKIT_MAX_CONCURRENT_JOBS or 2)",
    )
    parser.add_argument(
        "--max-windows",
        type=int,
        default=None,
        metavar="N",
        help="classify each song from N windows spread over it (default: the model's, 4 for the bundled one; "
        "0: every window, a complete timeline)",
    )
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data dir)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve without API keys on a public interface (anyone who reaches the port sees every result)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the app from the environment plus the options and serve it until interrupted."""
    import uvicorn
    from pydantic import ValidationError

    from genrekit.service import Settings, create_app

    overrides: dict[str, object] = {}
    if args.model is not None:
        overrides["model"] = args.model
    if args.workers_jobs is not None:
        overrides["max_concurrent_jobs"] = args.workers_jobs
    if args.database_url is not None:
        overrides["database_url"] = args.database_url
    if args.max_windows is not None:
        overrides["max_windows"] = args.max_windows
    if not 0 < args.port < 65536:
        print(f"genrekit serve: error: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        print(f"genrekit serve: error: invalid settings: {error}", file=sys.stderr)
        return 2
    if args.model is not None and not args.model.is_dir():
        print(f"genrekit serve: error: model bundle {args.model} is not a directory", file=sys.stderr)
        return 2
    settings, refusal = _access_settings(settings, host=args.host, insecure=args.insecure)
    if refusal:
        print(f"genrekit serve: error: {refusal}", file=sys.stderr)
        return 2
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _access_settings(settings: Settings, *, host: str, insecure: bool) -> tuple[Settings, str | None]:
    """The settings with key mode decided from the interface, or a reason to refuse to start.

    * ``GENREKIT_REQUIRE_KEYS=1``: key mode, wherever it binds (with no key yet, it starts and
      answers 401 until ``genrekit keys create`` makes one: the way a deployment bootstraps);
    * a public interface: key mode too, but it refuses to start while no key exists, unless
      ``--insecure`` (open mode, with a warning);
    * loopback: open single-user mode.
    """
    from genrekit.service.access.control import is_loopback_host
    from genrekit.service.access.keys import count_active_keys
    from genrekit.store.db import create_db_engine, make_session_factory, run_migrations

    public = not is_loopback_host(host)
    if not settings.require_keys and (not public or insecure):
        if public:
            print(
                f"genrekit serve: warning: serving {host} without API keys (--insecure): "
                "anyone who reaches the port can see every result",
                file=sys.stderr,
            )
        return settings, None
    engine = create_db_engine(settings.resolved_database_url)
    try:
        run_migrations(engine)
        with make_session_factory(engine)() as session:
            n_keys = count_active_keys(session)
    finally:
        engine.dispose()
    if n_keys == 0 and not settings.require_keys:
        return settings, (
            f"{host} is a public interface, so API keys are required, but none exists; create one with "
            "'genrekit keys create --role admin' (same GENREKIT_DATABASE_URL), or set GENREKIT_REQUIRE_KEYS=1 "
            "to start in key mode and create keys afterwards, or bind 127.0.0.1, or pass --insecure to serve "
            "without keys"
        )
    if n_keys == 0:
        print(
            "genrekit serve: warning: key mode is on but no API key exists yet; every API call answers 401 "
            "until 'genrekit keys create --role admin' makes one",
            file=sys.stderr,
        )
    return settings.model_copy(update={"require_keys": True}), None
