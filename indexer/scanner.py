"""Phase 1: walk a source with os.scandir and reconcile what is on disk with the index.

The walk (gallerfs.indexer.walk) works on bytes paths end to end, so names that
are not UTF-8, contain newlines or are 255 bytes long round-trip exactly.
Unreadable folders and symlink loops are recorded as failures and skipped; files
under a folder that could not be read are never treated as deleted. A source
that is offline, or whose folder is suddenly empty, is never reconciled: nothing
is deleted because a drive is missing. The walk never descends into a gallerfs
mount.

A rescan works in three steps so that the write lock is never held during file
I/O: the walk (recording seen files in short batches), then a plan made without
the lock (each vanished file is stat-ed on its own, possible moves are hashed),
then, once the source is confirmed online and on the same volume again, the
plan is applied in short transactions. A file is deleted only when its own
``stat`` answers ENOENT; any other error keeps the row, marked unreadable (a
``walk`` failure with its file id) until a later walk sees it again.

The walk runs a few batches ahead of the writes, which stay on the caller's
thread. It begins on a thread of its own; past walk_process.HAND_OVER_AT files
found (10,000), or after its first folder when the index already holds 20,000
files of the source (KNOWN_LARGE), it moves to a child process, which carries
on from the folders the thread has not listed yet. In one process the walk's stat calls and the
writes take turns on the interpreter lock (each alone: walk 0.41 s, inserts
0.31 s for 100,000 files; together 0.55-0.6 s each); a child walks at full
speed, but is ready only ~35 ms after it is started, as long as the thread
takes to walk several thousand files (bench/bench_walk_process.py measures
both). So a source of a few thousand files (most libraries of the test suite,
a camera card) never pays for a process, one of a few tens of thousands gains
little, and a large one (a first walk of 100,000 files, or its rescan) saves
0.1-0.2 s. Where no child can be started, the thread walks on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.files import IndexedFile, ScannedFile
from gallerfs.db.sources import Source
from gallerfs.db.state import bump_generation
from gallerfs.mountguard import GallerfsMounts
from gallerfs.indexer import walk_process
from gallerfs.indexer.volumes import source_presence
from gallerfs.indexer.walk import GALLERFS_MOUNT as GALLERFS_MOUNT  # what a walk reports for a mount
from gallerfs.indexer.walk import Walk, WalkProblem, in_batches
from gallerfs.indexer.walk import describe_error as _describe
from gallerfs.indexer.walk import join_path as _join

log = logging.getLogger(__name__)

# Rows written per transaction when a plan is applied: short enough that the mount's writes never wait long.
APPLY_CHUNK = 2000


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
    kept_unreadable: int = 0  # indexed files not seen whose stat failed with something else than ENOENT
    elapsed_s: float = 0.0
    problems: list[WalkProblem] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "problems"}
        d["problems"] = [{"path": p.relpath, "error": p.error} for p in self.problems]
        return d


# ScannedFile((relpath, kind, ...)) without the keyword handling of a NamedTuple's __new__: one per file walked.
_scanned = functools.partial(tuple.__new__, ScannedFile)


def walk(root: bytes, mounts: GallerfsMounts | None = None) -> Iterator[ScannedFile | WalkProblem]:
    """Every photo/video under root (relative paths), and every problem met on the way.

    Folders that are gallerfs mounts (by mount point, or by device) are reported as problems, never entered.
    """
    for files, problems in walk_folders(root, mounts):
        yield from problems
        yield from files


def walk_folders(
    root: bytes, mounts: GallerfsMounts | None = None
) -> Iterator[tuple[list[ScannedFile], list[WalkProblem]]]:
    """walk(), a folder at a time: for each folder, its photos and videos (by name) and the problems met in
    it (its own, and those of the entries it lists)."""
    return Walk(root, _scanned, mounts).folders()


def walk_batches(
    root: bytes, size: int, mounts: GallerfsMounts | None = None
) -> Iterator[tuple[list[ScannedFile], list[WalkProblem]]]:
    """walk_folders() regrouped into what one transaction writes: batches of `size` files (the last one
    may be shorter), each with the problems met since the one before (never more than `size` either)."""
    return in_batches(walk_folders(root, mounts), size)


def _under(relpath: bytes, folders: list[bytes]) -> bool:
    return any(f == b"" or relpath == f or relpath.startswith(f + b"/") for f in folders)


def refresh_presence(db: Database, source: Source, *, allow_empty: bool = False) -> Source:
    """Check whether a source is plugged in and record it; returns the updated row."""
    presence = source_presence(db, source, allow_empty=allow_empty)
    online, reason = presence.online, presence.reason
    ident = presence.identity
    sources_db.set_presence(
        db, source.id, online=online, reason=reason,
        device=ident.device if ident and online else None,
        root_inode=ident.root_inode if ident and online else None,
    )  # fmt: skip
    updated = sources_db.get_source(db, source.id)
    assert updated is not None
    return updated


def still_there(db: Database, before: Source, *, allow_empty: bool = False) -> tuple[Source, str | None]:
    """Re-check a source after a walk: (updated row, None) when it is online on the same volume as
    before, else (row, why not). Nothing may be deleted without this answer."""
    after = refresh_presence(db, before, allow_empty=allow_empty)
    if not after.online:
        return after, after.offline_reason or "offline"
    if (before.device, before.root_inode) != (after.device, after.root_inode):
        return after, f"{os.fsdecode(before.path)} is on another volume than when the walk began"
    return after, None


def stat_verdict(path: bytes) -> tuple[str, str | None]:
    """What a file's own stat says: ("gone", None) for ENOENT only, ("present", None), or
    ("unreadable", error) for anything else (EACCES, EIO, a dangling symlink, ...)."""
    try:
        os.stat(path)
        return "present", None
    except FileNotFoundError:
        pass
    except OSError as exc:
        return "unreadable", _describe(exc)
    try:
        os.lstat(path)  # a symlink whose target is missing: the link is still there
    except FileNotFoundError:
        return "gone", None
    except OSError as exc:
        return "unreadable", _describe(exc)
    return "unreadable", "symlink target missing"


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
    if files_db.deferred_index_names(db):  # a first walk was killed before it could build them
        _build_deferred_indexes(db)
    indexed = files_db.count_files(db, source.id)
    first_walk = indexed == 0
    # A first walk drops the secondary indexes that only later stages use once it has added as many rows
    # as the library held before (at once into an empty library), and builds them at its end: the rebuild
    # then costs less than keeping them up to date row by row would have.
    rows_before = files_db.count_all_files(db) if first_walk else 0
    deferred = False
    with db.transaction():
        files_db.clear_walk_failures(db, source.id)
        files_db.begin_walk(db)

    def flush(batch: list[ScannedFile], problems: list[WalkProblem]) -> None:
        nonlocal deferred
        with db.transaction():
            if first_walk:
                if batch and not deferred and report.new >= rows_before:
                    deferred = bool(files_db.defer_indexes(db))
                files_db.insert_new(db, source.id, batch)
                report.new += len(batch)
                written = len(batch)
            else:
                changed, written = files_db.record_walk_batch(db, source.id, batch)
                report.changed += changed
            for item in problems:
                files_db.record_failure(
                    db, source_id=source.id, file_id=None, job_id=job_id, path=item.relpath, stage="walk",
                    error=item.error,
                )  # fmt: skip
                if job_id is not None:
                    jobs_db.progress(db, job_id, failed=1, error=f"{os.fsdecode(item.relpath)}: {item.error}")
            if job_id is not None:
                jobs_db.progress(db, job_id, done=len(batch), total=report.seen)
            if written or problems:  # an unchanged batch of a rescan must not make every reader re-list
                bump_generation(db)
        if on_progress:
            on_progress(len(batch))

    # A first walk writes the whole source in a row: fewer checkpoints while it does (see Database.bulk_load).
    with db.bulk_load() if first_walk else contextlib.nullcontext(db):
        try:
            # The walk runs a few batches ahead of these writes, on a thread, and for a large source in a
            # process of its own (see the module docstring).
            hand_over_at = walk_process.hand_over_threshold(indexed)
            batches = walk_process.walk_batches(source.path, batch_size, _scanned, hand_over_at=hand_over_at)
            for batch, problems in batches:
                for item in problems:
                    report.problems.append(item)
                    report.failures += 1
                    log.warning("%s: %s: %s", source.name, os.fsdecode(item.relpath) or ".", item.error)
                report.seen += len(batch)
                flush(batch, problems)
        except BaseException:
            if deferred:
                try:
                    _build_deferred_indexes(db)
                except Exception:  # e.g. the disk filled up: the next scan builds them
                    log.exception("building the indexes of %s again failed", source.name)
            raise
        if deferred:
            _build_deferred_indexes(db)
    if not first_walk:
        plan = plan_reconcile(db, source, report)
        source, not_confirmed = still_there(db, source, allow_empty=allow_empty)
        if not_confirmed:
            # The drive went away (or was swapped) during the walk: what looked deleted may just be missing.
            log.warning("source %s: %s; nothing deleted, moved or added", source.name, not_confirmed)
            report.online, report.offline_reason = False, not_confirmed
            report.elapsed_s = round(time.perf_counter() - started, 3)
            return report
        apply_plan(db, source, plan, report, job_id)
    with db.transaction():
        files_db.end_walk(db)
        sources_db.mark_scanned(db, source.id)
    report.elapsed_s = round(time.perf_counter() - started, 3)
    return report


def _build_deferred_indexes(db: Database) -> None:
    started = time.perf_counter()
    built = files_db.restore_deferred_indexes(db)
    if built:
        log.info("built the indexes %s in %.2f s", ", ".join(built), time.perf_counter() - started)


@dataclass
class ReconcilePlan:
    """What a rescan will write, worked out without holding the write lock."""

    moves: list[tuple[int, ScannedFile]] = field(default_factory=list)  # (old row id, where it is now)
    inserts: list[ScannedFile] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)  # rows whose file's stat answered ENOENT
    unreadable: list[tuple[int, bytes, str]] = field(default_factory=list)  # (row id, relpath, error): kept


def plan_reconcile(db: Database, source: Source, report: ScanReport) -> ReconcilePlan:
    """Match files that disappeared with files that appeared (moves keep their row), and find which of
    the rest are really gone. Reads the index and the disk; writes nothing."""
    plan = ReconcilePlan()
    unreadable_dirs = [p.relpath for p in report.problems if p.is_dir]
    missing = [f for f in files_db.unseen_files(db, source.id) if not _under(f.relpath, unreadable_dirs)]
    new = files_db.staged_new(db)
    gone = []
    for f in missing:
        verdict, error = stat_verdict(_join(source.path, f.relpath))
        if verdict == "gone":
            gone.append(f)
        elif verdict == "unreadable":
            assert error is not None
            plan.unreadable.append((f.id, f.relpath, error))
        # "present": there after all (e.g. its folder could be searched but not listed); the row stays as it is
    # A rename keeps inode, size and mtime; a new file that reuses a freed inode number has a new mtime.
    by_inode = {(f.device, f.inode, f.size, f.mtime_ns): f for f in gone}
    by_hash: dict[tuple[int, str], list[IndexedFile]] = {}
    for f in gone:
        if f.content_hash:
            by_hash.setdefault((f.size, f.content_hash), []).append(f)
    matched: set[int] = set()
    remaining: list[ScannedFile] = []
    for entry in new:
        old = by_inode.get((entry.device, entry.inode, entry.size, entry.mtime_ns))
        if old is not None and old.id not in matched:
            plan.moves.append((old.id, entry))
            matched.add(old.id)
        else:
            remaining.append(entry)
    hashed_sizes = {size for size, _ in by_hash}
    for entry in remaining:
        digest = _content_hash(source, entry) if entry.size in hashed_sizes else None
        candidates = [f for f in by_hash.get((entry.size, digest or ""), []) if f.id not in matched]
        if candidates:
            plan.moves.append((candidates[0].id, entry))
            matched.add(candidates[0].id)
        else:
            plan.inserts.append(entry)
    plan.deletes = [f.id for f in gone if f.id not in matched]
    return plan


def _chunks(items: list, size: int = APPLY_CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def apply_plan(db: Database, source: Source, plan: ReconcilePlan, report: ScanReport, job_id: int | None) -> None:
    """Write a plan in short transactions (no file I/O here)."""
    for chunk in _chunks(plan.moves):
        with db.transaction():
            for file_id, entry in chunk:
                files_db.move_file(db, file_id, source.id, entry)
            bump_generation(db)
        report.moved += len(chunk)
    for chunk in _chunks(plan.inserts):
        with db.transaction():
            files_db.insert_new(db, source.id, chunk)
            bump_generation(db)
        report.new += len(chunk)
    for chunk in _chunks(plan.unreadable):
        with db.transaction():
            for file_id, relpath, error in chunk:
                files_db.mark_unreadable(db, source_id=source.id, file_id=file_id, job_id=job_id, path=relpath,
                                         error=f"unreadable, kept in the library: {error}")  # fmt: skip
        for _, relpath, error in chunk:
            log.warning("%s: %s: kept although unreadable: %s", source.name, os.fsdecode(relpath), error)
        report.kept_unreadable += len(chunk)
    with db.transaction():
        files_db.clear_unreadable_seen(db, source.id)  # readable again: the mark goes
    for chunk in _chunks(plan.deletes):
        with db.transaction():
            report.deleted += files_db.delete_files(db, chunk)
            bump_generation(db)


def _content_hash(source: Source, entry: ScannedFile) -> str | None:
    """The content hash of a new file whose size matches a vanished one (a possible move)."""
    from gallerfs.indexer.content_hash import file_hashes  # hashlib: only a rescan that finds moves needs it

    try:
        return file_hashes(_join(source.path, entry.relpath))[0]
    except OSError:
        return None
