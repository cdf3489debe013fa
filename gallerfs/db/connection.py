"""Opening the library's SQLite file.

apsw is used instead of the standard ``sqlite3`` module because it can load
extensions (sqlite-vec) on every CPython build, including those compiled
without ``enable_load_extension``.

One process writes at a time (SQLite's lock, waited on with a busy timeout);
readers (the mount, the viewer) open their own connections and never wait on
the writer thanks to WAL.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import apsw

from gallerfs.errors import GallerfsError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

Params = Sequence[Any] | dict[str, Any]


def _vec_extension_path() -> str:
    """sqlite-vec's loadable extension, found without importing the package (which imports numpy)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise GallerfsError("sqlite-vec is not installed (pip install sqlite-vec)")
    return os.path.join(list(spec.submodule_search_locations)[0], "vec0")


def _dict_rows(cursor: apsw.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip((d[0] for d in cursor.get_description()), row))


class Database:
    """A connection to the library plus the few helpers every query module uses."""

    def __init__(self, path: Path, *, readonly: bool = False, migrate: bool = True) -> None:
        self.path = Path(path)
        self.readonly = readonly
        flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        flags |= apsw.SQLITE_OPEN_URI
        if readonly and not self.path.exists():
            raise GallerfsError(f"no library at {self.path.parent} (run 'gallerfs add FOLDER' first)")
        try:
            self.conn = apsw.Connection(str(self.path), flags=flags)
        except apsw.CantOpenError:
            raise GallerfsError(f"cannot open the library at {self.path}") from None
        self.conn.set_busy_timeout(BUSY_TIMEOUT_MS)
        self.conn.enable_load_extension(True)
        self.conn.load_extension(_vec_extension_path())
        self.conn.enable_load_extension(False)
        self.execute("PRAGMA foreign_keys = ON")
        self.execute("PRAGMA mmap_size = 268435456")
        self.execute("PRAGMA cache_size = -32000")
        if not readonly:
            self.execute("PRAGMA journal_mode = WAL")
            self.execute("PRAGMA synchronous = NORMAL")
        self._tx_depth = 0
        from gallerfs.db import migrations

        if migrate and not readonly:
            migrations.upgrade(self)
        else:
            migrations.check_version(self)

    # -- queries ---------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> None:
        self.conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, seq: Sequence[Params]) -> None:
        if seq:
            self.conn.executemany(sql, seq)

    def tuples(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def iter_tuples(self, sql: str, params: Params = ()) -> Iterator[tuple[Any, ...]]:
        return iter(self.conn.execute(sql, params))

    def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        cursor = self.conn.cursor()
        cursor.row_trace = _dict_rows
        return cursor.execute(sql, params).fetchall()

    def row(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params: Params = ()) -> Any:
        for row in self.conn.execute(sql, params):
            return row[0]
        return None

    def last_rowid(self) -> int:
        return self.conn.last_insert_rowid()

    def changes(self) -> int:
        return self.conn.changes()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """A write transaction, taken immediately so a second writer waits up front.

        Nested use joins the outer transaction.
        """
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        self.execute("BEGIN IMMEDIATE")
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self._tx_depth = 0
            self.execute("ROLLBACK")
            raise
        self._tx_depth = 0
        self.execute("COMMIT")

    def integrity_check(self) -> str:
        return "; ".join(r[0] for r in self.tuples("PRAGMA integrity_check"))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReaderPool:
    """One read-only connection per thread, for readers running on worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def get(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = Database(self.path, readonly=True)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except apsw.Error:  # closing from another thread is best effort
                    pass
            self._all.clear()
