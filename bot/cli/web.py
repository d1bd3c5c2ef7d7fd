"""The web dashboard from the command line: `newsbot web`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bot.settings import Settings


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add this module's subcommands; return their handlers by name."""
    web = sub.add_parser(
        "web", parents=[common],
        help="the web dashboard over the database (Datasette, read-only); beyond 127.0.0.1 "
             "it needs NEWSBOT_WEB_PASSWORD")
    web.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine only)")
    web.add_argument("--port", type=int, default=None,
                     help="port (default: $PORT when set, as on Heroku-like hosts, else 8001)")
    return {"web": cmd_web}


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the dashboard until interrupted; 2 when the address needs a password first."""
    from bot.match.rules import load_watchlists
    from bot.web.catalog import catalog_of
    from bot.web.site import LOGIN, LOOPBACK, build_site, check_database, serve

    port = args.port or int(os.environ.get("PORT") or 8001)
    if args.host not in LOOPBACK and not settings.web_password:
        print(f"newsbot web: listening on {args.host} would show the news to anyone who can "
              "reach this machine; set NEWSBOT_WEB_PASSWORD (visitors then log in as "
              f"{LOGIN!r}) or keep the default --host 127.0.0.1", file=sys.stderr)
        return 2
    check_database(settings.db_path)
    catalog = catalog_of(load_watchlists(settings.rules_dir))
    password_hash = None
    if settings.web_password:
        from datasette_auth_passwords.utils import hash_password

        password_hash = hash_password(settings.web_password)
    site = build_site(settings.db_path, catalog, password_hash=password_hash)
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{port}/"
    print(f"newsbot web: {settings.db_path} read-only at {where}"
          + (f" (log in as {LOGIN!r})" if password_hash else ""), file=sys.stderr, flush=True)
    serve(site, args.host, port)
    return 0
