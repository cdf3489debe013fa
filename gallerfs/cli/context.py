"""What every command receives: its arguments, the library, settings and output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from gallerfs.db.connection import Database
from gallerfs.paths import LibraryPaths, resolve_library

if TYPE_CHECKING:
    from gallerfs import config


def to_jsonable(value: Any) -> Any:
    """bytes (paths) become text; names that are not UTF-8 keep their bytes as surrogate escapes."""
    if isinstance(value, bytes):
        return os.fsdecode(value)
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def printable(value: str | bytes) -> str:
    """A path as a terminal can show it: undecodable bytes as \\xNN, control characters escaped."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    else:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


@dataclass
class Context:
    args: argparse.Namespace
    paths: LibraryPaths
    _settings: config.Settings | None = None
    _dbs: list[Database] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        return cls(args=args, paths=resolve_library(getattr(args, "library", None)))

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            from gallerfs import config  # loaded with the settings: most commands never read them

            self._settings = config.load(self.paths.config_file)
        return self._settings

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def open_db(self) -> Database:
        """The writer connection (creates and migrates the library if needed)."""
        self.paths.ensure()
        db = Database(self.paths.db)
        self._dbs.append(db)
        return db

    def open_reader(self) -> Database:
        db = Database(self.paths.db, readonly=True)
        self._dbs.append(db)
        return db

    def open_current_reader(self) -> Database:
        """A reader, the library upgraded first when an older gallerfs wrote it (readers never
        migrate, and a new table such as places would be missing). No library: the reader's error."""
        from gallerfs.db import migrations

        db = self.open_reader()
        if migrations.current_version(db) < migrations.latest_version():
            self.open_db()  # migrates; the reader sees the new schema
        return db

    def emit(self, data: Any, text: Callable[[Any], str] | None = None) -> None:
        """Print data as JSON with --json, else as text for people."""
        if self.json or text is None:
            # One write: json.dump writes every token on its own, a system call each on an unbuffered stdout.
            sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=True, default=str) + "\n")
        else:
            out = text(data)
            if out:
                print(out)

    def close(self) -> None:
        for db in self._dbs:
            db.close()
        self._dbs.clear()


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
