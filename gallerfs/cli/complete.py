"""Shell completion: the candidates for one word of a gallerfs command line.

The scripts ``gallerfs completion bash|zsh`` prints call back into
``gallerfs __complete SHELL CWORD WORD...`` (hidden: ``main`` dispatches it
before any parsing), with the words of the line as the shell split them and
the index of the word being completed. The answer is one candidate per line,
or a single ``__files__`` / ``__dirs__`` line asking the shell to complete
paths itself.

Everything comes from the argparse parser of the one command being completed
(``build_parser([command])``, so a completion is as quick as ``--help``):
subcommands, option strings, ``choices``; what a value means is read from its
``dest`` and ``metavar`` (``SOURCE`` and ``--source``: source names; album
names for ``--album`` and ``album show|add|remove|rename|delete NAME``; the library's
country, region and city names for ``PLACE``; ``PERSON`` and ``--person``: person names;
``FOLDER``, ``DIR``, ``MOUNTPOINT``: folders; ``FILE``, ``PATH``: files;
``KEY``: setting names). Names come from the library read-only; a library
that is missing, busy or broken gives no names, never an error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

FILES = "__files__"
DIRS = "__dirs__"

# The global options (gallerfs.cli._global_options): only --library takes a value.
GLOBAL_OPTIONS = ("-h", "--help", "--version", "-v", "--verbose", "-q", "--quiet", "--library")

PATH_METAVARS = {"FOLDER": DIRS, "DIR": DIRS, "MOUNTPOINT": DIRS, "PATH": DIRS, "FILE": FILES, "PATH|ID": FILES}
PERIODS = ("today", "yesterday", "week", "last-week")


@dataclass
class _State:
    """Where the words before the current one leave the parse."""

    parser: argparse.ArgumentParser | None = None
    path: list[str] = field(default_factory=list)  # command, then subcommands
    positionals: int = 0  # positional words given to the innermost parser
    library: str | None = None
    pending: argparse.Action | None = None  # an option whose value is the current word
    pending_global: str | None = None
    after_dashdash: bool = False


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(action, (argparse._HelpAction, argparse._VersionAction))


def _option(parser: argparse.ArgumentParser, word: str) -> argparse.Action | None:
    """The option a word names, exactly or as an unambiguous abbreviation (as argparse accepts)."""
    table = parser._option_string_actions
    if word in table:
        return table[word]
    if word.startswith("--"):
        found = {a for s, a in table.items() if s.startswith(word)}
        if len(found) == 1:
            return found.pop()
    return None


def _command_parser(command: str) -> argparse.ArgumentParser | None:
    from gallerfs.cli import build_parser

    top = build_parser([command])
    sub = _subparsers(top)
    return sub.choices.get(command) if sub is not None else None


def _walk(words: Sequence[str]) -> _State:
    from gallerfs.cli import COMMAND_MODULES

    st = _State()
    for word in words:
        if st.pending_global is not None:
            if st.pending_global == "--library":
                st.library = word
            st.pending_global = None
            continue
        if st.pending is not None:
            st.pending = None
            continue
        if st.parser is None:  # before the command: global options
            if word.startswith("-"):
                name, eq, value = word.partition("=")
                if len(name) > 3 and "--library".startswith(name):  # argparse takes abbreviations
                    if eq:
                        st.library = value
                    else:
                        st.pending_global = "--library"
                continue
            if word not in COMMAND_MODULES:
                st.path.append(word)
                return st  # an unknown command: nothing more to offer
            st.parser = _command_parser(word)
            st.path.append(word)
            if st.parser is None:
                return st
            continue
        if word == "--" and not st.after_dashdash:
            st.after_dashdash = True
            continue
        if word.startswith("-") and not st.after_dashdash and len(word) > 1:
            name, eq, _ = word.partition("=")
            action = _option(st.parser, name)
            if action is not None and _takes_value(action) and not eq:
                st.pending = action
            continue
        sub = _subparsers(st.parser)
        if sub is not None and st.positionals == 0 and word in sub.choices:
            st.parser = sub.choices[word]
            st.path.append(word)
            continue
        st.positionals += 1
    return st


def _positional(parser: argparse.ArgumentParser, index: int) -> argparse.Action | None:
    """The positional argument that the *index*-th positional word fills."""
    seen = 0
    for action in parser._actions:
        if action.option_strings or isinstance(action, argparse._SubParsersAction):
            continue
        if action.nargs in ("*", "+", argparse.REMAINDER):
            return action
        count = action.nargs if isinstance(action.nargs, int) else 1  # None or "?": one word
        if index < seen + count:
            return action
        seen += count
    return None


def _names(library: str | None, kind: str) -> list[str]:
    """Source, album, place or person names of the library; none when it cannot be read."""
    try:
        from gallerfs.db.connection import Database
        from gallerfs.paths import resolve_library

        paths = resolve_library(library)
        if not paths.db.exists():
            return []
        with Database(paths.db, readonly=True) as db:
            if kind == "sources":
                from gallerfs.db import sources

                return [s.name for s in sources.list_sources(db)]
            if kind == "places":
                from gallerfs.db import places

                return sorted({name for _, name, _, _ in places.names(db)})
            if kind == "persons":
                from gallerfs.db import faces

                return faces.person_names(db)
            from gallerfs.db import albums

            return [a.name for a in albums.list_albums(db)]
    except Exception:  # completion never fails: no names instead
        return []


def _setting_names() -> list[str]:
    from gallerfs import config

    return [k.name for k in config.KEYS]


def _values(st: _State, action: argparse.Action, *, option: bool) -> list[str] | str:
    """What may fill *action*: a list of words, or FILES / DIRS."""
    if action.choices is not None:
        return [str(c) for c in action.choices]
    dest, metavar = action.dest, str(action.metavar or "")
    if dest in ("source", "sources") or metavar == "SOURCE":
        return _names(st.library, "sources")
    if dest == "album" or (not option and st.path[:1] == ["album"] and dest == "name" and st.path[1:] != ["create"]):
        return _names(st.library, "albums")
    if metavar == "PLACE":
        return _names(st.library, "places")
    if dest == "person" or metavar == "PERSON":
        return _names(st.library, "persons")
    if metavar == "KEY":
        return _setting_names()
    if metavar == "PERIOD":
        return list(PERIODS)
    if metavar in PATH_METAVARS:
        return PATH_METAVARS[metavar]
    return [] if option or metavar or dest not in ("file", "files") else FILES


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        s
        for a in parser._actions
        if a.help is not argparse.SUPPRESS
        for s in a.option_strings
        if s.startswith("--") or len(a.option_strings) == 1
    ]


def candidates(words: Sequence[str], current: str) -> list[str] | str:
    """The candidates for *current*, given the words before it (the program's name left out)."""
    from gallerfs.cli import COMMAND_MODULES

    st = _walk(words)
    if st.pending_global is not None:
        return DIRS
    if st.parser is None:
        if st.path:  # an unknown command
            return []
        if current.startswith("-") and "=" in current:
            name = current.partition("=")[0]
            return DIRS if len(name) > 3 and "--library".startswith(name) else []
        if current.startswith("-"):
            return list(GLOBAL_OPTIONS)
        return sorted(COMMAND_MODULES)
    if st.pending is not None:
        return _values(st, st.pending, option=True)
    if current.startswith("-") and not st.after_dashdash:
        if "=" in current:
            action = _option(st.parser, current.partition("=")[0])
            if action is not None and _takes_value(action):
                return _values(st, action, option=True)  # the shell completes the part after '='
            return []
        return _options(st.parser)
    sub = _subparsers(st.parser)
    if sub is not None and st.positionals == 0:
        return list(sub.choices)
    action = _positional(st.parser, st.positionals)
    if action is None:
        return []
    return _values(st, action, option=False)


def _bash_quote(word: str) -> str:
    """A candidate as bash inserts it on the line: special characters backslash-escaped."""
    out = []
    for ch in word:
        if ch in " \t'\"\\$`!&|;<>()[]{}*?#~":
            out.append("\\")
        out.append(ch)
    return "".join(out)


def _unquote_prefix(word: str) -> str:
    """What a partly typed word means: the shell's quotes and backslashes removed, as far as they go."""
    out, quote, escaped = [], "", False
    for ch in word:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        else:
            out.append(ch)
    return "".join(out)


def _merge_equals(words: list[str], cword: int) -> tuple[list[str], int]:
    """Join ``--opt`` ``=`` ``value`` back into ``--opt=value`` (bash splits words at ``=``)."""
    merged: list[str] = []
    index, joining = cword, False
    for i, word in enumerate(words):
        if word == "=" and merged and merged[-1].startswith("-") and "=" not in merged[-1]:
            merged[-1] += "="
            joining = True
        elif joining:
            merged[-1] += word
            joining = False
        else:
            merged.append(word)
            continue
        if i <= cword:
            index -= 1
    return merged, index


def main(argv: Sequence[str], out: Callable[[str], None] | None = None) -> int:
    """``gallerfs __complete SHELL CWORD WORD...``: print the candidates for word CWORD."""
    write = out or (lambda line: print(line))
    if len(argv) < 2 or not argv[1].isdigit():
        print("usage: gallerfs __complete bash|zsh CWORD WORD...", file=sys.stderr)
        return 2
    shell, cword, words = argv[0], int(argv[1]), list(argv[2:])
    while len(words) <= cword:
        words.append("")
    if shell == "bash":
        words, cword = _merge_equals(words, cword)
    quoted = words[cword][:1] in ("'", '"')  # inside quotes the shell takes the candidate as it is
    words = [_unquote_prefix(w) for w in words]
    current = words[cword]
    typed = current.partition("=")[2] if current.startswith("-") and "=" in current else current
    try:
        found = candidates(words[1:cword], current)
    except Exception:  # a completion must never print a traceback into the user's line
        return 1
    if isinstance(found, str):
        write(found)
        return 0
    seen = set()
    for word in found:
        if "\n" in word or word in seen:
            continue
        seen.add(word)
        if shell == "bash":
            if word.startswith(typed):
                write(word if quoted else _bash_quote(word))
        else:
            write(word)
    return 0
