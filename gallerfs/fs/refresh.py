"""Following the library: poll ``library_state.generation``, re-list cached folders, tell the kernel.

The same poll follows the settings file: when it changes (``gallerfs config
set``), the mount re-reads it, so new values (``search_limit``,
``search_history``…) apply to the next listing, and a new ``journal_dir``
replaces ``journal/`` in the running mount (a new inode, so the kernel drops
whatever it cached of the old folder; programs still inside it keep it).

``Refresher`` works on the tree's listings (``lister.TreeLister``), the
settings the mount shares (``provider.MountConfig``) and the journal
passthrough it switches to a new folder.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
from typing import Sequence

import pyfuse3
import trio

from gallerfs import config
from gallerfs.db import tree as q
from gallerfs.errors import GallerfsError
from gallerfs.fs import journal as jr
from gallerfs.fs.fuseutil import POLL_INTERVAL, Listing
from gallerfs.fs.inodes import ROOT_INODE, InodeTable
from gallerfs.fs.lister import TreeLister
from gallerfs.fs.listing_cache import ListingCache
from gallerfs.fs.nodes import DirNode, Memo
from gallerfs.fs.passthrough import JournalPassthrough
from gallerfs.fs.provider import MountConfig
from gallerfs.fs.toplevel import RootDir
from gallerfs.fs.workers import Workers

log = logging.getLogger(__name__)

_journal_serial = itertools.count(1)


def config_stamp(path: os.PathLike[str]) -> tuple[int, int, int] | None:
    """What changes when the settings file is rewritten (None: there is none)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def invalidate_inodes(inos: Sequence[int]) -> None:
    """Blocking (the kernel may wait on its page cache): call it on a worker thread."""
    for ino in inos:
        try:
            pyfuse3.invalidate_inode(ino)
        except OSError as exc:  # ENOENT: the kernel does not know it
            if exc.errno != errno.ENOENT:
                log.warning("invalidating inode %d: %s", ino, exc)


class Refresher:
    """Follows the library and the settings file for the running mount."""

    def __init__(self, config: MountConfig, lister: TreeLister, inodes: InodeTable, root: RootDir, workers: Workers,
                 journal: JournalPassthrough) -> None:  # fmt: skip
        self.config = config
        self.lister = lister
        self.inodes = inodes
        self.root = root
        self.workers = workers
        self.journal = journal
        self._config_stamp: tuple[int, int, int] | None | bool = False  # False: not read yet

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
        paths = self.config.paths
        gen, stamp = await self.workers.read(lambda: (q.generation(self.workers.pool.get()), config_stamp(paths.config_file)))
        reloaded = False
        if stamp != self._config_stamp:
            first_read = self._config_stamp is False
            self._config_stamp = stamp
            reloaded = not first_read and await self.reload_settings()
        lister = self.lister
        if gen == lister.generation and not reloaded:
            return
        first = lister.generation < 0
        lister.generation = gen
        lister.memo = Memo(gen)
        old = lister.listings
        lister.listings = ListingCache(old.max_entries)
        if first or not old:
            return
        memo = lister.memo
        gone, changed, fresh = await self.workers.read(self._relist, old.items())
        if memo is lister.memo:  # not already stale again
            for dir_ino, listing in fresh:
                if dir_ino not in lister.listings and self.inodes.get(dir_ino) is not None:
                    lister.listings.put(dir_ino, listing)
        for parent, name in gone:
            pyfuse3.invalidate_entry_async(parent, name, ignore_enoent=True)
        if changed:
            await trio.to_thread.run_sync(invalidate_inodes, changed)

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
                after = self.lister.build(dir_ino, node) if isinstance(node, DirNode) else None
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

    async def reload_settings(self) -> bool:
        """The settings file changed: use its values from now on (True when they differ).

        The caller then re-lists cached folders as after a library change (results depend on
        settings such as ``search_limit``); a new journal folder is switched to at once.
        """
        try:
            settings = await self.workers.read(config.load, self.config.paths.config_file)
        except GallerfsError as exc:  # half-written or invalid: keep what the mount has
            log.warning("settings not reloaded: %s", exc)
            return False
        if settings == self.config.settings:
            return False
        log.info("settings changed: reloaded %s", self.config.paths.config_file)
        self.config.settings = settings
        journal = os.fsencode(os.path.abspath(config.journal_dir(settings, self.config.paths.root)))
        if journal != self.journal.path:
            await self.switch_journal(journal)
        return True

    async def switch_journal(self, path: bytes) -> None:
        """Serve *path* as ``journal/`` from now on."""
        try:
            await self.workers.read(lambda: os.makedirs(path, exist_ok=True))
        except OSError as exc:
            log.warning("journal folder %s unusable, keeping %s: %s", os.fsdecode(path), os.fsdecode(self.journal.path), exc)
            return
        log.info("journal folder is now %s", os.fsdecode(path))
        node = jr.JournalRoot(path, next(_journal_serial))
        old = self.root.replace(b"journal", node)
        self.inodes.unpin(self.inodes.ino(old, ROOT_INODE))
        self.inodes.pin(node, ROOT_INODE, stable=False)  # its number is new: the mount's generation
        self.journal.switch(path)
        self.lister.listings.pop(ROOT_INODE)
        pyfuse3.invalidate_entry_async(ROOT_INODE, b"journal", ignore_enoent=True)
