"""The ``gallerfs`` command: global options, subcommand discovery, one place for errors.

Each module ``gallerfs/cli/cmd_*.py`` exposes ``register(subparsers)``; the
modules import heavy dependencies inside their ``run`` functions so that
``--help`` stays instant and one feature cannot break the others. The
parsers it adds carry ``func=run`` where ``run(ctx) -> int``. Every user-facing
error becomes one line on stderr and a documented exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from typing import Sequence

import apsw

from gallerfs import __version__
from gallerfs.cli.context import Context
from gallerfs.errors import EXIT_ERROR, EXIT_LOCKED, GallerfsError

log = logging.getLogger("gallerfs")

DESCRIPTION = """\
gallerfs indexes your photo and video folders in place and shows the library
as a filesystem (see 'gallerfs mount'). Run 'gallerfs COMMAND --help' for a
command's options; 'man gallerfs' for the whole manual."""


def command_modules() -> list[str]:
    import gallerfs.cli as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("cmd_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gallerfs", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"gallerfs {__version__}")
    parser.add_argument(
        "--library",
        metavar="PATH",
        help="library directory (default: $GALLERFS_LIBRARY, else the XDG data dir)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True
    for name in command_modules():
        importlib.import_module(f"gallerfs.cli.{name}").register(sub)
    return parser


def configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="gallerfs: %(levelname)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    ctx = Context.from_args(args)
    try:
        return int(args.func(ctx) or 0)
    except GallerfsError as exc:
        print(f"gallerfs: {exc}", file=sys.stderr)
        return exc.exit_code
    except apsw.BusyError:
        print("gallerfs: the library is busy (another gallerfs is writing); try again", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        print("gallerfs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. 'head' that exited: not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line for the user, the traceback with -vv
        log.debug("internal error", exc_info=True)
        print(f"gallerfs: internal error: {exc!r} (run with -vv for the traceback, and please report it)",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    finally:
        ctx.close()
