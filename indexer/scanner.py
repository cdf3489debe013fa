"""Phase 1: walk a source with os.scandir and reconcile what is on disk with the index.

The walk works on bytes paths end to end, so names that are not UTF-8, contain
newlines or are 255 bytes long round-trip exactly. Unreadable folders and
symlink loops are recorded as failures and skipped; files under a folder that
could not be read are never treated as deleted. A source that is offline, or
whose folder is suddenly empty, is never reconciled: nothing is deleted because
a drive is missing.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.files import ScannedFile
from gallerfs.db.sources import Source
from gallerfs.db.state import bump_generation
from indexer.hashing import file_hashes
from indexer.media import media_kind
from indexer.volumes import check_presence, is_empty_dir

log = logging.getLogger(__name__)

# Folders that hold caches or trash, never a user's photos.
SKIPPED_DIRS = frozenset({b"@eaDir", b"#recycle", b"$RECYCLE.BIN", b"System Volume Information", b"lost+found"})


@dataclass(frozen=True)
class WalkProblem:
    relpath: bytes
    error: str
    is_dir: bool


@dataclass
class ScanReport:
    source: str
    online: bool = True
    offline_reason: str | None = None
    seen: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    deleted: int = 0
    failures: int = 0
    elapsed_s: float = 0.0
    problems: list[WalkProblem] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "problems"}
        d["problems"] = [{"path": p.relpath, "error": p.error} for p in self.problems]
        return d


def _join(parent: bytes, name: bytes) -> bytes:
    return parent + b"/" + name if parent else name


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def walk(root: bytes) -> Iterator[ScannedFile | WalkProblem]:
    """Every photo/video under root (relative paths), and every problem met on the way."""
    root = root.rstrip(b"/") or b"/"
    try:
        root_st = os.stat(root)
    except OSError as exc:
        yield WalkProblem(b"", _describe(exc), True)
        return
    visited = {(root_st.st_dev, root_st.st_ino)}
    stack: list[bytes] = [b""]
    while stack:
        rel_dir = stack.pop()
        abs_dir = _join(root, rel_dir) if rel_dir else root
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield WalkProblem(rel_dir, f"cannot read folder: {_describe(exc)}", True)
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith(b".") or name in SKIPPED_DIRS:
                continue
            rel = _join(rel_dir, name)
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError as exc:
                yield WalkProblem(rel, _describe(exc), False)
                continue
            if is_dir:
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        yield WalkProblem(rel, "symlink loop, not followed", True)
                    else:
                        yield WalkProblem(rel, f"cannot read folder: {_describe(exc)}", True)
                    continue
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    if is_link:
                        yield WalkProblem(rel, "symlink loop (points to a folder already walked), not followed", True)
                    continue
                visited.add(key)
                subdirs.append(rel)
                continue
            kind = media_kind(name)
            if kind is None:
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                reason = "symlink loop" if exc.errno == errno.ELOOP else _describe(exc)
                yield WalkProblem(rel, reason, False)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            yield ScannedFile(rel, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino)
        stack.extend(reversed(subdirs))


def _under(relpath: bytes, folders: list[bytes]) -> bool:
    return any(f == b"" or relpath == f or relpath.startswith(f + b"/") for f in folders)


def refresh_presence(db: Database, source: Source, *, allow_empty: bool = False) -> Source:
    """Check whether a source is plugged in and record it; returns the updated row."""
    presence = check_presence(source.path, source.mount_point, source.fs_uuid)
    online, reason = presence.online, presence.reason
    if online and not allow_empty and files_db.count_files(db, source.id) and is_empty_dir(source.path):
        online, reason = False, (
            f"{os.fsdecode(source.path)} is empty although the library has files there: treated as unplugged "
            "(use 'gallerfs rescan --allow-empty' if they were really deleted)"
        )
    ident = presence.identity
    sources_db.set_presence(
        db, source.id, online=online, reason=reason,
        device=ident.device if ident and online else None,
        root_inode=ident.root_inode if ident and online else None,
    )  # fmt: skip
    updated = sources_db.get_source(db, source.id)
    assert updated is not None
    return updated


def scan_source(
    db: Database,
    source: Source,
    *,
    job_id: int | None = None,
    batch_size: int = 2000,
    allow_empty: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ScanReport:
    """Walk one source and bring the index in line with it."""
    started = time.perf_counter()
    report = ScanReport(source=source.name)
    source = refresh_presence(db, source, allow_empty=allow_empty)
    if not source.online:
        report.online, report.offline_reason = False, source.offline_reason
        log.warning("source %s is offline: %s", source.name, source.offline_reason)
        return report
    first_walk = files_db.count_files(db, source.id) == 0
    with db.transaction():
        files_db.clear_walk_failures(db, source.id)
        files_db.begin_walk(db)
    batch: list[ScannedFile] = []

    def flush() -> None:
        with db.transaction():
            if first_walk:
                files_db.insert_new(db, source.id, batch)
                report.new += len(batch)
            else:
                report.changed += files_db.record_walk_batch(db, source.id, batch)
            if job_id is not None:
                jobs_db.progress(db, job_id, done=len(batch), total=report.seen)
            bump_generation(db)
        if on_progress:
            on_progress(len(batch))
        batch.clear()

    for item in walk(source.path):
        if isinstance(item, WalkProblem):
            report.problems.append(item)
            report.failures += 1
            log.warning("%s: %s: %s", source.name, os.fsdecode(item.relpath) or ".", item.error)
            with db.transaction():
                files_db.record_failure(
                    db, source_id=source.id, file_id=None, job_id=job_id, path=item.relpath, stage="walk",
                    error=item.error,
                )  # fmt: skip
                if job_id is not None:
                    jobs_db.progress(db, job_id, failed=1, error=f"{os.fsdecode(item.relpath)}: {item.error}")
            continue
        report.seen += 1
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if not first_walk:
        _reconcile(db, source, report)
    with db.transaction():
        files_db.end_walk(db)
        sources_db.mark_scanned(db, source.id)
    report.elapsed_s = round(time.perf_counter() - started, 3)
    return report


def _reconcile(db: Database, source: Source, report: ScanReport) -> None:
    """Match files that disappeared with files that appeared: moves keep their row, the rest are added/deleted."""
    unreadable = [p.relpath for p in report.problems if p.is_dir]
    with db.transaction():
        gone = [f for f in files_db.unseen_files(db, source.id) if not _under(f.relpath, unreadable)]
        new = files_db.staged_new(db)
        # A rename keeps inode, size and mtime; a new file that reuses a freed inode number has a new mtime.
        by_inode = {(f.device, f.inode, f.size, f.mtime_ns): f for f in gone}
        by_hash: dict[tuple[int, str], list] = {}
        for f in gone:
            if f.content_hash:
                by_hash.setdefault((f.size, f.content_hash), []).append(f)
        matched: set[int] = set()
        remaining: list[ScannedFile] = []
        for entry in new:
            old = by_inode.get((entry.device, entry.inode, entry.size, entry.mtime_ns))
            if old is not None and old.id not in matched:
                files_db.move_file(db, old.id, source.id, entry)
                matched.add(old.id)
                report.moved += 1
            else:
                remaining.append(entry)
        to_insert = []
        hashed_sizes = {size for size, _ in by_hash}
        for entry in remaining:
            digest = _content_hash(source, entry) if entry.size in hashed_sizes else None
            candidates = [f for f in by_hash.get((entry.size, digest or ""), []) if f.id not in matched]
            if candidates:
                files_db.move_file(db, candidates[0].id, source.id, entry)
                matched.add(candidates[0].id)
                report.moved += 1
            else:
                to_insert.append(entry)
        files_db.insert_new(db, source.id, to_insert)
        report.new += len(to_insert)
        deleted = [f.id for f in gone if f.id not in matched]
        report.deleted += files_db.delete_files(db, deleted)
        if report.moved or report.new or report.deleted:
            bump_generation(db)


def _content_hash(source: Source, entry: ScannedFile) -> str | None:
    """The content hash of a new file whose size matches a vanished one (a possible move)."""
    try:
        return file_hashes(_join(source.path, entry.relpath))[0]
    except OSError:
        return None
