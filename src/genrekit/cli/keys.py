"""``genrekit keys create|list|revoke``: the API keys of a server's database.

The database is the server's (``--database-url``, else ``GENREKIT_DATABASE_URL``, else the
SQLite file in the data directory). ``create`` prints the new key on stdout, once: only its
SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import sys

ROLE_CHOICES = ("read", "editor", "admin")  # genrekit.service.access.keys.ROLES, without importing the service here


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``keys`` subcommand."""
    parser = subparsers.add_parser(
        "keys",
        help="create, list and revoke API keys",
        description="Manage the API keys of a genrekit server. Roles: read (classify, own history), "
        "editor (also corrections), admin (also models and keys).",
    )
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: GENREKIT_DATABASE_URL or SQLite)")
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--role", required=True, choices=ROLE_CHOICES)
    create.add_argument("--name", default="", help="who or what uses the key")
    create.add_argument(
        "--rate-limit", type=int, default=None, metavar="N", help="classifications per minute (default: the server's; 0: none)"
    )
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--active", action="store_true", help="only keys not revoked")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", help="the key's id, as 'list' shows it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one keys action on the configured database."""
    from genrekit.service.access import keys
    from genrekit.service.config import Settings
    from genrekit.store.db import create_db_engine, make_session_factory, run_migrations

    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    engine = create_db_engine(settings.resolved_database_url)
    try:
        run_migrations(engine)
        with make_session_factory(engine)() as session:
            if args.keys_action == "create":
                if args.rate_limit is not None and args.rate_limit < 0:
                    print("genrekit keys: error: --rate-limit must be >= 0", file=sys.stderr)
                    return 2
                info, secret = keys.create_key(
                    session, role=args.role, name=args.name, rate_limit_per_minute=args.rate_limit
                )
                print(f"created key {info.id} (role {info.role}); it is shown only this once:", file=sys.stderr)
                print(secret)
                return 0
            if args.keys_action == "list":
                rows = keys.list_keys(session, include_revoked=not args.active)
                print(f"{'id':<14}{'role':<8}{'created':<22}{'revoked':<22}{'rate/min':<10}name")
                for info in rows:
                    revoked = info.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if info.revoked_at else "-"
                    rate = "-" if info.rate_limit_per_minute is None else str(info.rate_limit_per_minute)
                    created = info.created_at.strftime("%Y-%m-%d %H:%M:%S")
                    print(f"{info.id:<14}{info.role:<8}{created:<22}{revoked:<22}{rate:<10}{info.name}")
                return 0
            info = keys.revoke_key(session, key_id=args.key_id)
            if info is None:
                print(f"genrekit keys: error: no key {args.key_id!r}", file=sys.stderr)
                return 1
            print(f"revoked key {info.id} ({info.role})")
            return 0
    finally:
        engine.dispose()
