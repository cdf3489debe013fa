"""Keeping the index live while 'gallerfs watch' runs.

watchdog (inotify) reports changes under each online source; structural changes
(moves, deletions) are applied in the order they happened, and new or modified
files once they have been quiet for ``watch_debounce_s`` (or as soon as the
writer closes them), then phase 2 runs on them in a persistent worker pool, so
a new photo is browsable and indexed within about a second; CLIP vectors
follow once phase 2 is quiet. Sources are checked
every few seconds: one that is unplugged is marked offline (nothing deleted),
one that comes back is rescanned. A source that contains a gallerfs mount is
not watched with inotify (whose recursive registration would walk into the
mount) but rescanned every minute; no walk ever enters the mount. Each change
is planned with the file I/O it needs first, then written in a short
transaction.
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
from gallerfs.journal.watch import journal_watches
from gallerfs.mountguard import gallerfs_mounts
from gallerfs.paths import LibraryPaths
from gallerfs.indexer.embed import embed_library
from gallerfs.indexer.places import place_library
from gallerfs.indexer.tags_job import tag_library
from gallerfs.indexer.faces import scan_library as scan_faces
from gallerfs.indexer.projection import project_library
from gallerfs.indexer.media import kind_of
from gallerfs.indexer.pipeline import Phase2, make_pool
from gallerfs.indexer.scanner import APPLY_CHUNK, refresh_presence, scan_source, stat_verdict, still_there, walk

log = logging.getLogger(__name__)

PRESENCE_CHECK_S = 3.0
POLL_RESCAN_S = 60  # how often a source that cannot be watched live (it contains a gallerfs mount) is rescanned

Write = Callable[[], object]  # one database write of a planned change, run inside a short transaction
TICK_S = 0.1

# Folders outside the sources that the watcher also follows:
# fn(db, paths, settings) -> list[(folder bytes, callback(db, path bytes))].
EXTRA_WATCHES = (journal_watches,)


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
        self.mounts = gallerfs_mounts()
        self.polled: dict[int, float] = {}  # sources rescanned periodically instead of watched: last scan

    # -- sources ---------------------------------------------------------
    def _source_of(self, path: bytes) -> Source | None:
        return sources_db.source_containing(self.db, path)

    def _schedule(self, source: Source) -> None:
        inner = gallerfs_mounts().inside(source.path)
        if inner:
            # inotify's recursive registration would walk into the mount (and run its searches): poll instead.
            if source.id not in self.polled:
                log.warning("source %s contains the gallerfs mount %s: not watched live, rescanned every %d s "
                            "instead", source.name, os.fsdecode(inner[0]), POLL_RESCAN_S)  # fmt: skip
                self.polled[source.id] = time.monotonic()
            self._unschedule(source.id)
            return
        self.polled.pop(source.id, None)
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
                elif source.id in self.polled and time.monotonic() - self.polled[source.id] >= POLL_RESCAN_S:
                    self.polled[source.id] = time.monotonic()
                    scan_source(self.db, source)
            else:
                if source.id in self.watches:
                    log.warning("source %s went offline: %s", source.name, source.offline_reason)
                self._unschedule(source.id)

    # -- applying changes ----------------------------------------------------
    # Each change is planned first (stat, walk: file I/O, no lock held), then its writes run in a
    # short transaction (database only), so the mount's writes never wait on the disk.
    def _relpath(self, source: Source, path: bytes) -> bytes:
        return path[len(source.path.rstrip(b"/")) + 1 :]

    def _ignored(self, relpath: bytes) -> bool:
        return any(part.startswith(b".") for part in relpath.split(b"/"))

    def _apply(self, writes: list[Write]) -> None:
        for i in range(0, len(writes), APPLY_CHUNK):
            with self.db.transaction():
                for write in writes[i : i + APPLY_CHUNK]:
                    write()
                bump_generation(self.db)

    def _plan_touch(self, path: bytes, claimed: set[int]) -> list[Write]:
        source = self._source_of(path)
        if source is None or not source.online:
            return []
        rel = self._relpath(source, path)
        if not rel or self._ignored(rel):
            return []
        if os.path.isdir(path):
            if self.mounts.is_mount(path):
                return []
            writes: list[Write] = []
            for item in walk(path, self.mounts):
                if isinstance(item, ScannedFile):
                    writes += self._plan_record(source, ScannedFile(
                        rel + b"/" + item.relpath, item.kind, item.size, item.mtime_ns, item.ctime_ns, item.device,
                        item.inode), claimed)  # fmt: skip
            return writes
        kind = kind_of(rel.rpartition(b"/")[2], path)
        if kind is None:
            return []
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.deleted.setdefault(path, 0.0)  # gone again already: checked like any deletion
            return []
        except OSError as exc:
            log.warning("cannot read %s: %s", os.fsdecode(path), exc.strerror)
            return []
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device named like a photo is not indexed, as in the walk
            return []
        entry = ScannedFile(rel, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino)
        return self._plan_record(source, entry, claimed)

    def _plan_record(self, source: Source, entry: ScannedFile, claimed: set[int]) -> list[Write]:
        if files_db.file_by_path(self.db, source.id, entry.relpath) is None:
            old_id = self._moved_here(source, entry, claimed)
            if old_id is not None:
                return [lambda: files_db.move_file(self.db, old_id, source.id, entry)]
        return [lambda: files_db.upsert_scanned(self.db, source.id, entry)]

    def _moved_here(self, source: Source, entry: ScannedFile, claimed: set[int]) -> int | None:
        """A move reported as a deletion plus a creation (e.g. into a folder not yet watched): the old row's id."""
        for old in files_db.files_with_inode(self.db, entry.device, entry.inode):
            if old.id in claimed or (old.size, old.mtime_ns) != (entry.size, entry.mtime_ns):
                continue  # a new file that reuses a freed inode number
            old_root = self._roots.get(old.source_id)
            if old_root is None or stat_verdict(old_root.rstrip(b"/") + b"/" + old.relpath)[0] != "gone":
                continue  # a hard link, or a copy still in place: not a move
            claimed.add(old.id)
            return old.id
        return None

    def _plan_deletes(self, paths: list[bytes]) -> list[Write]:
        """Forget what is gone: only on a source confirmed online before and after, and only paths whose
        stat answers ENOENT (an unreadable path is not a deleted one)."""
        by_source: dict[int, tuple[Source, list[bytes]]] = {}
        for path in paths:
            source = self._source_of(path)
            if source is not None:
                by_source.setdefault(source.id, (source, []))[1].append(path)
        writes: list[Write] = []
        for source, group in by_source.values():
            # Only a source that is really there can lose files: an unplugged drive is not a deletion.
            before = refresh_presence(self.db, source)
            if not before.online:
                continue
            gone = [p for p in group if stat_verdict(p)[0] == "gone"]
            if not gone:
                continue
            _, not_confirmed = still_there(self.db, before)
            if not_confirmed:
                log.warning("source %s: %s; deletions not applied", source.name, not_confirmed)
                continue
            for path in gone:
                rel = self._relpath(before, path)
                writes.append(lambda sid=before.id, rel=rel: files_db.delete_under(self.db, sid, rel))
        return writes

    def _plan_move(self, change: Change) -> list[Write]:
        assert change.dest is not None
        src_source, dest_source = self._source_of(change.path), self._source_of(change.dest)
        if src_source is None or dest_source is None or src_source.id != dest_source.id:
            return self._plan_deletes([change.path]) + self._plan_touch(change.dest, set())
        sid = src_source.id
        old_rel, new_rel = self._relpath(src_source, change.path), self._relpath(src_source, change.dest)
        if change.is_dir:
            return [lambda: files_db.move_folder(self.db, sid, old_rel, new_rel)]
        row = files_db.file_by_path(self.db, sid, old_rel)
        kind = kind_of(new_rel.rpartition(b"/")[2], change.dest)
        if row is None or kind is None or self._ignored(new_rel):
            self.touched[change.dest] = change.at
            if row is not None:
                return [lambda: files_db.delete_files(self.db, [row.id])]
            return []
        try:
            st = os.stat(change.dest)
        except OSError:
            return []
        entry = ScannedFile(new_rel, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino)
        return [lambda: files_db.move_file(self.db, row.id, sid, entry)]

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
        self.mounts = gallerfs_mounts()
        for change in structural:  # in order: a later change may depend on an earlier one's row
            self._apply(self._plan_move(change))
        claimed: set[int] = set()
        writes: list[Write] = []
        for path in due:
            self.touched.pop(path, None)
            writes += self._plan_touch(path, claimed)
        self._apply(writes)
        for path in gone:
            self.deleted.pop(path, None)
        self._apply(self._plan_deletes(gone))
        count = len(structural) + len(due) + len(gone)
        self.applied += count
        return count

    # -- main loop -----------------------------------------------------------
    def run(self, on_tick: Callable[[], None] | None = None) -> None:
        for watches in EXTRA_WATCHES:
            for folder, callback in watches(self.db, self.paths, self.settings):
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
                    # New photos get their CLIP vectors once phase 2 is quiet (nothing without a model),
                    # and geotagged ones their place names.
                    embed_due = False
                    embed_library(self.db, self.paths, self.settings)
                    project_library(self.db)  # and place them on the clusters map
                    place_library(self.db, self.settings)  # and their places
                    tag_library(self.db, self.paths, self.settings)  # and tag them (nothing without a model)
                    scan_faces(self.db, self.paths, self.settings)  # and find their faces (with the faces extra)
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
