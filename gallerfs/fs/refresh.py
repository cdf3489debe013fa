"""Following the library: poll ``library_state.generation``, re-list cached folders, tell the kernel.

The same poll follows the settings file: when it changes (``gallerfs config
set``), the mount re-reads it, so new values (``search_limit``,
``search_history``…) apply to the next listing, and a new ``journal_dir``
replaces ``journal/`` in the running mount (a new inode, so the kernel drops
whatever it cached of the old folder; programs still inside it keep it).

A mixin of ``gallerfs.fs.operations.Operations`` (which provides ``listings``,
``inodes``, ``pool``, ``memo``, ``generation``, ``in_thread``, ``_build_listing``,
``paths``, ``settings``, ``root``, ``journal`` and ``journal_path``).
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
from typing import Any, Sequence

import pyfuse3
import trio

from gallerfs import config
from gallerfs.db import tree as q
from gallerfs.errors import GallerfsError
from gallerfs.fs import journal as jr
from gallerfs.fs.fuseutil import POLL_INTERVAL, Listing
from gallerfs.fs.inodes import ROOT_INODE
from gallerfs.fs.listing_cache import ListingCache
from gallerfs.fs.nodes import DirNode, Memo

log = logging.getLogger(__name__)

_journal_serial = itertools.count(1)


def config_stamp(path: os.PathLike[str]) -> tuple[int, int, int] | None:
    """What changes when the settings file is rewritten (None: there is none)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ChangeTracking:
    listings: ListingCache
    generation: int
    memo: Memo
    inodes: Any
    pool: Any
    paths: Any
    settings: config.Settings
    root: Any
    journal: jr.JournalNodes
    journal_path: bytes
    _config_stamp: tuple[int, int, int] | None | bool = False  # False: not read yet

    async def watch_generation(self) -> None:
        """Poll the change counter; a refresh that took T seconds waits at least 3T before the next
        one, so a large cached tree under constant indexing costs at most a quarter of a core."""
        while True:
            started = trio.current_time()
            try:
                await self.check_generation()
            except Exception:
                log.exception("checking the library for changes failed")
            await trio.sleep(max(POLL_INTERVAL, 3 * (trio.current_time() - started)))

    async def check_generation(self) -> None:
        gen, stamp = await self.in_thread(lambda: (q.generation(self.pool.get()), config_stamp(self.paths.config_file)))
        reloaded = False
        if stamp != self._config_stamp:
            first_read = self._config_stamp is False
            self._config_stamp = stamp
            reloaded = not first_read and await self.reload_settings()
        if gen == self.generation and not reloaded:
            return
        first = self.generation < 0
        self.generation = gen
        self.memo = Memo(gen)
        old = self.listings
        self.listings = ListingCache(old.max_entries)
        if first or not old:
            return
        memo = self.memo
        gone, changed, fresh = await self.in_thread(self._relist, old.items())
        if memo is self.memo:  # not already stale again
            for dir_ino, listing in fresh:
                if dir_ino not in self.listings and self.inodes.get(dir_ino) is not None:
                    self.listings.put(dir_ino, listing)
        for parent, name in gone:
            pyfuse3.invalidate_entry_async(parent, name, ignore_enoent=True)
        if changed:
            await trio.to_thread.run_sync(self._invalidate_inodes, changed)

    def _relist(
        self, old: list[tuple[int, Listing]]
    ) -> tuple[list[tuple[int, bytes]], list[int], list[tuple[int, Listing]]]:
        """Re-list every cached directory; report the entries and inodes the kernel must drop, and the new listings."""
        gone: list[tuple[int, bytes]] = []
        changed: set[int] = set()
        fresh: list[tuple[int, Listing]] = []
        for dir_ino, before in old:
            node = self.inodes.get(dir_ino)
            try:
                after = self._build_listing(dir_ino, node) if isinstance(node, DirNode) else None
            except OSError:
                after = None
            if after is None:
                gone.extend((dir_ino, n) for n in before.names)
                continue
            fresh.append((dir_ino, after))
            if after.names != before.names:
                changed.add(dir_ino)
            for name, ino, attr in zip(before.names, before.inos, before.attrs):
                i = after.index.get(name)
                if i is None or after.inos[i] != ino:
                    gone.append((dir_ino, name))
                else:
                    new = after.attrs[i]
                    if (new.st_size, new.st_mtime_ns, new.st_ctime_ns) != (attr.st_size, attr.st_mtime_ns, attr.st_ctime_ns):
                        changed.add(ino)
        return gone, sorted(changed), fresh

    @staticmethod
    def _invalidate_inodes(inos: Sequence[int]) -> None:
        for ino in inos:
            try:
                pyfuse3.invalidate_inode(ino)
            except OSError as exc:  # ENOENT: the kernel does not know it
                if exc.errno != errno.ENOENT:
                    log.warning("invalidating inode %d: %s", ino, exc)

    async def reload_settings(self) -> bool:
        """The settings file changed: use its values from now on (True when they differ).

        The caller then re-lists cached folders as after a library change (results depend on
        settings such as ``search_limit``); a new journal folder is switched to at once.
        """
        try:
            settings = await self.in_thread(config.load, self.paths.config_file)
        except GallerfsError as exc:  # half-written or invalid: keep what the mount has
            log.warning("settings not reloaded: %s", exc)
            return False
        if settings == self.settings:
            return False
        log.info("settings changed: reloaded %s", self.paths.config_file)
        self.settings = settings
        journal = os.fsencode(os.path.abspath(config.journal_dir(settings, self.paths.root)))
        if journal != self.journal_path:
            await self.switch_journal(journal)
        return True

    async def switch_journal(self, path: bytes) -> None:
        """Serve *path* as ``journal/`` from now on."""
        try:
            await self.in_thread(lambda: os.makedirs(path, exist_ok=True))
        except OSError as exc:
            log.warning("journal folder %s unusable, keeping %s: %s", os.fsdecode(path), os.fsdecode(self.journal_path), exc)
            return
        log.info("journal folder is now %s", os.fsdecode(path))
        node = jr.JournalRoot(path, next(_journal_serial))
        old = self.root.replace(b"journal", node)
        self.inodes.unpin(self.inodes.ino(old, ROOT_INODE))
        self.inodes.pin(node, ROOT_INODE, stable=False)  # its number is new: the mount's generation
        self.journal_path = path
        self.journal = jr.JournalNodes(path)
        self.listings.pop(ROOT_INODE)
        pyfuse3.invalidate_entry_async(ROOT_INODE, b"journal", ignore_enoent=True)
