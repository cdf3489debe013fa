"""Keeping the index live while 'gallerfs watch' runs.

watchdog (inotify) reports changes under each online source; structural changes
(moves, deletions) are applied in the order they happened, and new or modified
files once they have been quiet for ``watch_debounce_s`` (or as soon as the
writer closes them), then phase 2 runs on them in a persistent worker pool, so
a new photo is browsable and indexed within about a second; CLIP vectors
follow once phase 2 is quiet. Sources are checked
every few seconds: one that is unplugged is marked offline (nothing deleted),
one that comes back is rescanned.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from gallerfs.config import Settings
from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.files import ScannedFile
from gallerfs.db.sources import Source
from gallerfs.db.state import bump_generation
from gallerfs.paths import LibraryPaths
from indexer.media import kind_of
from indexer.pipeline import Phase2, make_pool
from indexer.run import resolve
from indexer.scanner import refresh_presence, scan_source, walk

log = logging.getLogger(__name__)

PRESENCE_CHECK_S = 3.0
TICK_S = 0.1

# Folders outside the sources that the watcher also follows, as "module:function":
# fn(db, paths, settings) -> list[(folder bytes, callback(db, path bytes))].
EXTRA_WATCHES: tuple[str, ...] = ("gallerfs.journal.watch:journal_watches",)


@dataclass(frozen=True)
class Change:
    kind: str  # touched, deleted, moved
    path: bytes
    dest: bytes | None
    is_dir: bool
    at: float


class _Collector(FileSystemEventHandler):
    def __init__(self, out: queue.Queue[Change]) -> None:
        self.out = out

    def on_any_event(self, event: FileSystemEvent) -> None:
        now = time.monotonic()
        src = os.fsencode(event.src_path)
        if event.event_type in ("created", "modified", "closed"):
            if event.is_directory and event.event_type != "created":
                return
            self.out.put(Change("touched", src, None, event.is_directory, now))
        elif event.event_type == "deleted":
            self.out.put(Change("deleted", src, None, event.is_directory, now))
        elif event.event_type == "moved":
            self.out.put(Change("moved", src, os.fsencode(event.dest_path), event.is_directory, now))


class Watcher:
    def __init__(self, db: Database, paths: LibraryPaths, settings: Settings) -> None:
        self.db = db
        self.paths = paths
        self.settings = settings
        self.events: queue.Queue[Change] = queue.Queue()
        self.observer = Observer()
        self.watches: dict[int, ObservedWatch] = {}
        self.extra: list[tuple[bytes, Callable[[Database, bytes], None]]] = []
        self.touched: dict[bytes, float] = {}
        self.deleted: dict[bytes, float] = {}
        self._roots: dict[int, bytes] = {}
        self.stop_event = threading.Event()
        self.applied = 0

    # -- sources ---------------------------------------------------------
    def _source_of(self, path: bytes) -> Source | None:
        return sources_db.source_containing(self.db, path)

    def _schedule(self, source: Source) -> None:
        if source.id not in self.watches:
            try:
                self.watches[source.id] = self.observer.schedule(_Collector(self.events), source.path, recursive=True)
                log.info("watching %s (%s)", source.name, os.fsdecode(source.path))
            except OSError as exc:
                log.warning("cannot watch %s: %s", source.name, exc)

    def _unschedule(self, source_id: int) -> None:
        watch = self.watches.pop(source_id, None)
        if watch is not None:
            try:
                self.observer.unschedule(watch)
            except (KeyError, OSError):
                pass

    def check_sources(self) -> None:
        for source in sources_db.list_sources(self.db):
            was_online = source.online
            source = refresh_presence(self.db, source)
            if source.online:
                if not was_online or source.id not in self.watches:
                    self._schedule(source)
                if not was_online:
                    log.info("source %s is back online: rescanning", source.name)
                    scan_source(self.db, source)
            else:
                if source.id in self.watches:
                    log.warning("source %s went offline: %s", source.name, source.offline_reason)
                self._unschedule(source.id)

    # -- applying changes ----------------------------------------------------
    def _relpath(self, source: Source, path: bytes) -> bytes:
        return path[len(source.path.rstrip(b"/")) + 1 :]

    def _ignored(self, relpath: bytes) -> bool:
        return any(part.startswith(b".") for part in relpath.split(b"/"))

    def _touch(self, path: bytes) -> None:
        source = self._source_of(path)
        if source is None or not source.online:
            return
        rel = self._relpath(source, path)
        if not rel or self._ignored(rel):
            return
        if os.path.isdir(path):
            for item in walk(path):
                if isinstance(item, ScannedFile):
                    self._record(source, ScannedFile(rel + b"/" + item.relpath, item.kind, item.size,
                                                     item.mtime_ns, item.ctime_ns, item.device, item.inode))  # fmt: skip
            return
        kind = kind_of(rel.rpartition(b"/")[2], path)
        if kind is None:
            return
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._delete(path)
            return
        except OSError as exc:
            log.warning("cannot read %s: %s", os.fsdecode(path), exc.strerror)
            return
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device named like a photo is not indexed, as in the walk
            return
        self._record(source, ScannedFile(rel, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino))

    def _record(self, source: Source, entry: ScannedFile) -> None:
        if files_db.file_by_path(self.db, source.id, entry.relpath) is None and self._moved_here(source, entry):
            return
        files_db.upsert_scanned(self.db, source.id, entry)

    def _moved_here(self, source: Source, entry: ScannedFile) -> bool:
        """A move reported as a deletion plus a creation (e.g. into a folder not yet watched)."""
        for old in files_db.files_with_inode(self.db, entry.device, entry.inode):
            if (old.size, old.mtime_ns) != (entry.size, entry.mtime_ns):
                continue  # a new file that reuses a freed inode number
            old_root = self._roots.get(old.source_id)
            if old_root is None or os.path.lexists(old_root.rstrip(b"/") + b"/" + old.relpath):
                continue  # a hard link, or a copy still in place: not a move
            files_db.move_file(self.db, old.id, source.id, entry)
            return True
        return False

    def _delete(self, path: bytes) -> None:
        source = self._source_of(path)
        if source is None or os.path.lexists(path):
            return
        # Only a source that is really there can lose files: an unplugged drive is not a deletion.
        source = refresh_presence(self.db, source)
        if not source.online:
            return
        files_db.delete_under(self.db, source.id, self._relpath(source, path))

    def _move(self, change: Change) -> None:
        assert change.dest is not None
        src_source, dest_source = self._source_of(change.path), self._source_of(change.dest)
        if src_source is None or dest_source is None or src_source.id != dest_source.id:
            self._delete(change.path)
            self._touch(change.dest)
            return
        old_rel, new_rel = self._relpath(src_source, change.path), self._relpath(src_source, change.dest)
        if change.is_dir:
            files_db.move_folder(self.db, src_source.id, old_rel, new_rel)
            return
        row = files_db.file_by_path(self.db, src_source.id, old_rel)
        kind = kind_of(new_rel.rpartition(b"/")[2], change.dest)
        if row is None or kind is None or self._ignored(new_rel):
            if row is not None:
                files_db.delete_files(self.db, [row.id])
            self.touched[change.dest] = change.at
            return
        try:
            st = os.stat(change.dest)
        except OSError:
            return
        files_db.move_file(self.db, row.id, src_source.id,
                           ScannedFile(new_rel, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino))  # fmt: skip

    def apply_events(self) -> int:
        """Apply what the watches reported; returns how many changes reached the index."""
        structural: list[Change] = []
        while True:
            try:
                change = self.events.get_nowait()
            except queue.Empty:
                break
            for folder, callback in self.extra:
                if change.path.startswith(folder + b"/") or (change.dest or b"").startswith(folder + b"/"):
                    try:
                        callback(self.db, change.dest or change.path)
                    except Exception:  # a hook's failure must not stop the watcher
                        log.exception("watch hook failed for %s", os.fsdecode(change.path))
            if change.kind == "touched":
                self.touched[change.path] = change.at
            elif change.kind == "deleted":
                self.deleted[change.path] = change.at
            else:
                structural.append(change)
        now = time.monotonic()
        wait = self.settings.watch_debounce_s
        due = [p for p, at in self.touched.items() if now - at >= wait]
        # Deletions wait as long as creations, so a move reported as delete + create keeps its row.
        gone = [p for p, at in self.deleted.items() if now - at >= wait]
        if not structural and not due and not gone:
            return 0
        self._roots = {s.id: s.path for s in sources_db.list_sources(self.db)}
        with self.db.transaction():
            for change in structural:
                self._move(change)
            for path in due:
                self.touched.pop(path, None)
                self._touch(path)
            for path in gone:
                self.deleted.pop(path, None)
                self._delete(path)
            bump_generation(self.db)
        count = len(structural) + len(due) + len(gone)
        self.applied += count
        return count

    # -- main loop -----------------------------------------------------------
    def run(self, on_tick: Callable[[], None] | None = None) -> None:
        for target in EXTRA_WATCHES:
            for folder, callback in resolve(target)(self.db, self.paths, self.settings):
                try:
                    os.makedirs(folder, exist_ok=True)
                    self.observer.schedule(_Collector(self.events), folder, recursive=True)
                    self.extra.append((folder.rstrip(b"/"), callback))
                except OSError as exc:
                    log.warning("cannot watch %s: %s", os.fsdecode(folder), exc)
        self.check_sources()
        self.observer.start()
        pool = make_pool(max(1, self.settings.workers))
        embed_due = True
        last_check = time.monotonic()
        try:
            while not self.stop_event.is_set():
                self.apply_events()
                if files_db.count_pending(self.db):
                    phase2 = Phase2(self.db, self.paths, self.settings, None, pool=pool)
                    if phase2.run().processed:
                        embed_due = True
                    pool = phase2.pool
                elif embed_due:
                    # New photos get their CLIP vectors once phase 2 is quiet (nothing without a model).
                    embed_due = False
                    resolve("indexer.embed:embed_library")(self.db, self.paths, self.settings)
                if time.monotonic() - last_check >= PRESENCE_CHECK_S:
                    self.check_sources()
                    last_check = time.monotonic()
                if on_tick:
                    on_tick()
                self.stop_event.wait(TICK_S)
        finally:
            self.observer.stop()
            self.observer.join(timeout=5)
            pool.shutdown()

    def stop(self) -> None:
        self.stop_event.set()
