"""Following the library: poll ``library_state.generation``, re-list cached folders, tell the kernel.

A mixin of ``gallerfs.fs.operations.Operations`` (which provides ``listings``,
``inodes``, ``pool``, ``memo``, ``generation``, ``in_thread`` and ``_build_listing``).
"""

from __future__ import annotations

import errno
import logging
from typing import Any, Sequence

import pyfuse3
import trio

from gallerfs.db import tree as q
from gallerfs.fs.fuseutil import POLL_INTERVAL, Listing
from gallerfs.fs.nodes import DirNode, Memo

log = logging.getLogger(__name__)


class ChangeTracking:
    listings: dict[int, Listing]
    generation: int
    memo: Memo
    inodes: Any
    pool: Any

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
        gen = await self.in_thread(lambda: q.generation(self.pool.get()))
        if gen == self.generation:
            return
        first = self.generation < 0
        self.generation = gen
        self.memo = Memo(gen)
        old = self.listings
        self.listings = {}
        if first or not old:
            return
        gone, changed = await self.in_thread(self._relist, old)
        for parent, name in gone:
            pyfuse3.invalidate_entry_async(parent, name, ignore_enoent=True)
        if changed:
            await trio.to_thread.run_sync(self._invalidate_inodes, changed)

    def _relist(self, old: dict[int, Listing]) -> tuple[list[tuple[int, bytes]], list[int]]:
        """Re-list every cached directory; report the entries and inodes the kernel must drop."""
        gone: list[tuple[int, bytes]] = []
        changed: set[int] = set()
        for dir_ino, before in old.items():
            node = self.inodes.get(dir_ino)
            try:
                after = self._build_listing(dir_ino, node) if isinstance(node, DirNode) else None
            except OSError:
                after = None
            if after is None:
                gone.extend((dir_ino, n) for n in before.names)
                continue
            if self.memo.generation == self.generation:
                self.listings.setdefault(dir_ino, after)
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
        return gone, sorted(changed)

    @staticmethod
    def _invalidate_inodes(inos: Sequence[int]) -> None:
        for ino in inos:
            try:
                pyfuse3.invalidate_inode(ino)
            except OSError as exc:  # ENOENT: the kernel does not know it
                if exc.errno != errno.ENOENT:
                    log.warning("invalidating inode %d: %s", ino, exc)
