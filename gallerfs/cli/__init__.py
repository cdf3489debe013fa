"""The ``gallerfs`` command: global options, subcommand discovery, one place for errors.

Each module ``gallerfs/cli/cmd_*.py`` exposes ``register(subparsers)``; the
modules import heavy dependencies inside their ``run`` functions so that
``--help`` stays instant and one feature cannot break the others. The
parsers it adds carry ``func=run`` where ``run(ctx) -> int``. Every user-facing
error becomes one line on stderr and a documented exit code.

Start-up: a run that names a known command imports and registers only the
module of that command (``COMMAND_MODULES``); the top-level ``--help``, an
unknown command or a missing one build the whole parser, so every message
lists all commands exactly as before. ``tests/test_cli_startup.py`` keeps the
table in step with what the modules register.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Iterable, NoReturn, Sequence, TextIO

import apsw

from gallerfs import __version__
from gallerfs.cli.context import Context
from gallerfs.errors import EXIT_ERROR, EXIT_LOCKED, GallerfsError

log = logging.getLogger("gallerfs")

DESCRIPTION = """\
gallerfs indexes your photo and video folders in place and shows the library
as a filesystem (see 'gallerfs mount'). Run 'gallerfs COMMAND --help' for a
command's options; 'man gallerfs' for the whole manual."""


# Which module registers each command. A command missing here still works (its run builds the whole
# parser); a wrong entry is caught at run time the same way, and by the test that checks this table.
COMMAND_MODULES = {
    "album": "cmd_album", "favourite": "cmd_album",
    "completion": "cmd_completion",
    "config": "cmd_config",
    "duplicates": "cmd_duplicates",
    "export": "cmd_export", "import": "cmd_export",
    "index": "cmd_index", "rescan": "cmd_index",
    "journal": "cmd_journal",
    "models": "cmd_models",
    "mount": "cmd_mount", "umount": "cmd_mount",
    "places": "cmd_places",
    "people": "cmd_people",
    "search": "cmd_search", "similar": "cmd_search",
    "serve": "cmd_serve",
    "add": "cmd_sources", "remove": "cmd_sources", "sources": "cmd_sources",
    "status": "cmd_status", "jobs": "cmd_status",
    "unit": "cmd_unit",
    "watch": "cmd_watch",
}  # fmt: skip


def command_modules() -> list[str]:
    import pkgutil

    import gallerfs.cli as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("cmd_"))


class _NotSimple(Exception):
    """The pre-scan of the command line met something only the whole parser handles."""


class _PreScanParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _NotSimple(message)


def _global_options(parser: argparse.ArgumentParser, *, version: bool = True) -> None:
    if version:
        parser.add_argument("--version", action="version", version=f"gallerfs {__version__}")
    else:
        parser.add_argument("--version", action="store_true")
    parser.add_argument(
        "--library",
        metavar="PATH",
        help="library directory (default: $GALLERFS_LIBRARY, else the XDG data dir)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")


def chosen_commands(argv: Sequence[str]) -> list[str] | None:
    """The commands a command line needs registered, found with the global options alone.

    ``[name]`` for a known command, ``[]`` for a bare ``--version``, None for everything else
    (``--help``, no or an unknown command, what the pre-scan cannot read): the whole parser.
    argparse itself reads the global options (abbreviations, ``--library=PATH``, ``-vq``), so
    the name found is the token the whole parser would dispatch on.
    """
    pre = _PreScanParser(prog="gallerfs", add_help=False)
    pre.add_argument("-h", "--help", action="store_true")
    _global_options(pre, version=False)
    pre.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        args = pre.parse_args(list(argv))
    except _NotSimple:
        return None
    if args.help:
        return None
    if not args.rest:
        return [] if args.version else None
    return [args.rest[0]] if args.rest[0] in COMMAND_MODULES else None


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The command line parser, with every command, or only the modules registering ``commands``."""
    parser = argparse.ArgumentParser(
        prog="gallerfs", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True
    if commands is None:
        modules = command_modules()
    else:
        commands = list(commands)
        modules = sorted({COMMAND_MODULES[c] for c in commands if c in COMMAND_MODULES})
    for name in modules:
        importlib.import_module(f"gallerfs.cli.{name}").register(sub)
    if commands is not None and not set(commands) <= set(sub.choices):
        log.debug("COMMAND_MODULES is out of date for %s: building the whole parser", commands)
        return build_parser()
    return parser


class BarAwareHandler(logging.StreamHandler[TextIO]):
    """Log lines that keep a progress bar on one line: the bars are cleared, the line written, the bars redrawn.

    tqdm is only looked at when something has imported it already (a command showing a bar), so
    logging costs nothing at start-up.
    """

    def emit(self, record: logging.LogRecord) -> None:
        tqdm_module = sys.modules.get("tqdm")
        bar = getattr(tqdm_module, "tqdm", None)
        if bar is None or not getattr(bar, "_instances", None):
            super().emit(record)
            return
        with bar.external_write_mode(file=self.stream):
            super().emit(record)


def configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = BarAwareHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("gallerfs: %(levelname)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    logging.captureWarnings(True)  # Python warnings (e.g. from Pillow) go through the same handler


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["__complete"]:  # the completion scripts' hidden call-back: no parser, no logging
        from gallerfs.cli.complete import main as complete

        return complete(argv[1:])
    parser = build_parser(chosen_commands(argv))
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
