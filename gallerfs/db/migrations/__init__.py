"""Numbered schema migrations, recorded in ``PRAGMA user_version``.

Each module ``mNNNN_<what>.py`` holds ``VERSION = NNNN`` and ``SQL`` (or an
``apply(db)`` function). Numbers only grow; gaps are allowed so that features
can reserve their own. Before the first migration of an existing library runs,
a copy of the file is taken (``library.sqlite3.bak-vN``).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from gallerfs.errors import SchemaTooNewError

log = logging.getLogger(__name__)


class SchemaConnection(Protocol):
    """What migrating needs of a connection (``gallerfs.db.connection.Database`` has it).

    A protocol rather than an import, so that the connection imports this module and not the
    other way round.
    """

    @property
    def path(self) -> Path: ...

    def execute(self, sql: str) -> None: ...

    def value(self, sql: str) -> Any: ...

    def transaction(self) -> AbstractContextManager[object]: ...


def _migrations() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("m") and info.name[1:5].isdigit():
            found.append(importlib.import_module(f"{__name__}.{info.name}"))
    found.sort(key=lambda m: int(m.VERSION))
    return found


def latest_version() -> int:
    return max(int(m.VERSION) for m in _migrations())


def current_version(db: SchemaConnection) -> int:
    return int(db.value("PRAGMA user_version"))


def check_version(db: SchemaConnection) -> None:
    have, know = current_version(db), latest_version()
    if have > know:
        raise SchemaTooNewError(
            f"the library at {db.path.parent} was written by a newer gallerfs (schema {have}, "
            f"this one knows {know}); upgrade gallerfs"
        )


def upgrade(db: SchemaConnection) -> None:
    check_version(db)
    have = current_version(db)
    pending = [m for m in _migrations() if int(m.VERSION) > have]
    if not pending:
        return
    if have > 0:
        backup = db.path.with_name(f"{db.path.name}.bak-v{have}")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy2(db.path, backup)
        log.info("backed up the library to %s before upgrading the schema", backup)
    for migration in pending:
        with db.transaction():
            # Another process may have migrated while we waited for the lock.
            if current_version(db) >= migration.VERSION:
                continue
            if hasattr(migration, "apply"):
                migration.apply(db)
            else:
                db.execute(migration.SQL)
            db.execute(f"PRAGMA user_version = {int(migration.VERSION)}")
        log.info("library schema upgraded to %d", migration.VERSION)
