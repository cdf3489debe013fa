"""Helpers shared by the duplicates tests: libraries built through the library's own write API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.files import ScannedFile
from gallerfs.indexer.hashing import file_hashes
from gallerfs.indexer.media import media_kind
from gallerfs.indexer.volumes import identify

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"


def add_source(db: Database, name: str, folder: Path) -> int:
    path = os.fsencode(folder.resolve())
    ident = identify(path)
    source = sources_db.add_source(
        db, name=name, path=path, mount_point=ident.mount_point, fs_uuid=ident.fs_uuid,
        fs_type=ident.fs_type, device=ident.device, root_inode=ident.root_inode,
    )  # fmt: skip
    return int(source.id)


def scan(db: Database, source_id: int, folder: Path) -> dict[str, int]:
    """Phase-1 rows for every media file under folder; returns relpath -> file id."""
    entries = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and (media_kind(path.name) or path.suffix == ".bin"):
            st = path.stat()
            rel = os.fsencode(path.relative_to(folder))
            entries.append(ScannedFile(rel, media_kind(path.name) or "image", st.st_size, st.st_mtime_ns,
                                       st.st_ctime_ns, st.st_dev, st.st_ino))  # fmt: skip
    with db.transaction():
        files_db.insert_new(db, source_id, entries)
    return {
        os.fsdecode(e.relpath): files_db.file_by_path(db, source_id, e.relpath).id  # type: ignore[union-attr]
        for e in entries
    }


def store(
    db: Database, file_id: int, path: Path, *, hashes: bool = True, phash: int | None = None,
    dhash: int | None = None, metadata: dict | None = None,
) -> None:  # fmt: skip
    full, partial = file_hashes(str(path)) if hashes else (None, None)
    with db.transaction():
        files_db.store_result(
            db, file_id, metadata=metadata, content_hash=full, partial_hash=partial, phash=phash, dhash=dhash,
            error=None,
        )  # fmt: skip


def gallerfs(library: Path, *args: str, env: dict | None = None, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    run_env = dict(os.environ)
    run_env["PYTHONPATH"] = str(ROOT)
    run_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "gallerfs", "--library", str(library), *args],
        capture_output=True, text=True, env=run_env, cwd=ROOT, timeout=240, input=input, check=False,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"gallerfs {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
        )
    return proc
