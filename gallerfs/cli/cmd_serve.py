"""``gallerfs serve``: the web viewer on 127.0.0.1."""

from __future__ import annotations

import argparse

from gallerfs.cli.context import Context
from gallerfs.errors import GallerfsError

DEFAULT_PORT = 8765


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="browse the library in a web browser (http://127.0.0.1:8765/)",
        description="Serve the web viewer on 127.0.0.1 only: the library grid, photo pages, search, sources "
        "and jobs. Requests must name a loopback host; nothing is loaded from the network.",
    )  # fmt: skip
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, metavar="N", help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--open", action="store_true", help="open the viewer in the default browser (xdg-open)")
    p.set_defaults(func=run)


def run(ctx: Context) -> int:
    from gallerfs.search import prepare
    from gallerfs.viewer import create_app
    from gallerfs.viewer.server import serve

    if not ctx.paths.db.exists():
        raise GallerfsError(f"no library at {ctx.paths.root} (run 'gallerfs add FOLDER' first)")
    app = create_app(ctx.paths, ctx.settings)
    prepare(ctx.paths, ctx.settings)  # search answers fast from the first query
    serve(app, ctx.args.port, open_url=ctx.args.open)
    return 0
