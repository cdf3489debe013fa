"""Opening the library's SQLite file.

apsw is used instead of the standard ``sqlite3`` module because it can load
extensions (sqlite-vec) on every CPython build, including those compiled
without ``enable_load_extension``.

One process writes at a time (SQLite's lock, waited on with a busy timeout);
readers (the mount, the viewer) open their own connections and never wait on
the writer thanks to WAL. A write that cannot get the lock within the
connection's wait raises ``LibraryBusyError`` (never a bare apsw error): the
CLI reports it as one line, the mount as EBUSY. The mount waits only a few
seconds (``busy_timeout_ms``), polling often so that it slips in between a
busy indexer's short transactions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence, cast

import apsw

from gallerfs.db import migrations
from gallerfs.errors import GallerfsError, LibraryBusyError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
BUSY_POLL_S = (0.001, 0.002, 0.005, 0.005, 0.01)  # then every 10 ms: short gaps between another writer's commits
BULK_CHECKPOINT_PAGES = 8192  # 32 MiB of WAL between checkpoints during a bulk load (SQLite's default: 1000)

Params = Sequence[Any] | dict[str, Any]


def _vec_extension_path() -> str:
    """sqlite-vec's loadable extension, found without importing the package (which imports numpy)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise GallerfsError("sqlite-vec is not installed (pip install sqlite-vec)")
    return os.path.join(list(spec.submodule_search_locations)[0], "vec0")


class _BusyWait:
    """An apsw busy handler: retry every few ms until *timeout_ms* has passed since the first refusal."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_s = timeout_ms / 1000
        self.deadline = 0.0

    def __call__(self, count: int) -> bool:
        now = time.monotonic()
        if count == 0:
            self.deadline = now + self.timeout_s
        if now >= self.deadline:
            return False
        time.sleep(min(BUSY_POLL_S[min(count, len(BUSY_POLL_S) - 1)], self.deadline - now))
        return True


def _dict_rows(cursor: apsw.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip((d[0] for d in cursor.get_description()), row))


class Database:
    """A connection to the library plus the few helpers every query module uses."""

    def __init__(
        self, path: Path, *, readonly: bool = False, migrate: bool = True, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.readonly = readonly
        flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        flags |= apsw.SQLITE_OPEN_URI
        if readonly and not self.path.exists():
            raise GallerfsError(f"no library at {self.path.parent} (run 'gallerfs add FOLDER' first)")
        try:
            self.conn = apsw.Connection(str(self.path), flags=flags)
        except apsw.CantOpenError:
            raise GallerfsError(f"cannot open the library at {self.path}") from None
        self.conn.set_busy_handler(_BusyWait(busy_timeout_ms))
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
        from gallerfs.db import area

        area.register(self)  # the map-area filter's SQL function

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
        # apsw's stubs type rows as tuples; the row trace above makes them dicts.
        return cast(list[dict[str, Any]], cursor.execute(sql, params).fetchall())

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
        try:
            self.execute("BEGIN IMMEDIATE")
        except apsw.BusyError:
            raise self.busy_error() from None
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self._tx_depth = 0
            self.execute("ROLLBACK")
            raise
        self._tx_depth = 0
        try:
            self.execute("COMMIT")
        except apsw.BusyError:
            self.execute("ROLLBACK")
            raise self.busy_error() from None

    @contextlib.contextmanager
    def bulk_load(self, checkpoint_pages: int = BULK_CHECKPOINT_PAGES) -> Iterator[Database]:
        """Many short transactions in a row (a first walk): the WAL is copied into the database (a checkpoint,
        with its fsyncs) every *checkpoint_pages* pages instead of every 1000, so a page that several
        transactions touched is written back once. The usual threshold returns at the end, and with it the
        checkpoint of what is left, at the next commit."""
        before = int(self.value("PRAGMA wal_autocheckpoint"))
        self.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages)}")
        try:
            yield self
        finally:
            self.execute(f"PRAGMA wal_autocheckpoint = {before}")

    def busy_error(self) -> LibraryBusyError:
        return LibraryBusyError(
            f"the library is locked by another process (waited {self.busy_timeout_ms / 1000:g} s); try again"
        )

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
