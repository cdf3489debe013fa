"""The mount's ``search/``: every folder name under it is a plain-English query.

``search/red car/`` lists the top ``settings.search_limit`` matches, best
first, each a regular file reading the original, named with its rank so that
name order is rank order: ``01 IMG_0042.jpg``, ``02 …`` (three digits when
more than 99 are listed). ``ls search/`` shows the recent queries (kept in the
library, so they survive a remount, at most ``settings.search_history``, the
least recently listed forgotten first); ``rmdir search/<query>`` forgets one
and ``mkdir search/<query>`` remembers one.

A query runs, and is remembered, only when its folder is listed (opendir) or
made: a bare lookup (``stat``, or the first step of ``cd``) answers with a
folder without running anything, so the names file managers and SMB clients
probe everywhere cost nothing and are never remembered. Those well-known probe
names (``desktop.ini``, ``Thumbs.db``, ``folder.jpg``, ``AlbumArt*``…, and
every name starting with a dot) are not queries at all: ENOENT.

Without an installed CLIP model ``search/`` holds only ``README.txt`` (how to
install one) and looking up a query fails with ENOENT at once.

Queries run on the mount's reader threads (the text tower takes ~100 ms on a
CPU); the results are kept per query until the library changes (``Memo``).
Recording a query never waits for the library's write lock: a background
thread writes it, and the listing of ``search/`` merges what it has not
written yet.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Hashable

from gallerfs.db import search_history as sh
from gallerfs.fs.nodes import DirNode, Entry, LibraryFile, TextFile, TreeContext

if TYPE_CHECKING:
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)

README = b"README.txt"
MAX_NAME_BYTES = 255
# Names file managers, media players and SMB clients look up in every folder (compared
# case-insensitively; names starting with a dot are never queries either).
PROBE_NAMES = frozenset(
    n.lower()
    for n in (
        "desktop.ini", "Thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "autorun.inf", "folder.jpg",
        "folder.gif", "folder.png", "cover.jpg", "cover.png", "front.jpg", "Icon\r", "$RECYCLE.BIN",
        "RECYCLER", "RECYCLED", "System Volume Information", "lost+found", "__MACOSX", "@eaDir",
        "#recycle", "#snapshot", "Network Trash Folder", "Temporary Items", "TheVolumeSettingsFolder",
    )
)  # fmt: skip
PROBE_PREFIXES = (b"albumart", b"~$")  # AlbumArt_{GUID}_Large.jpg, AlbumArtSmall.jpg; Office lock files


def _enoent() -> OSError:
    return OSError(errno.ENOENT, os.strerror(errno.ENOENT))


def model_installed(paths: LibraryPaths) -> bool:
    from gallerfs.search import can_search

    return bool(can_search(paths))


def readme_text() -> bytes:
    from gallerfs.search import NO_MODEL_MESSAGE

    return (
        f"{NO_MODEL_MESSAGE}\n\n"
        "Once a model is installed and 'gallerfs index' has embedded the photos, open any\n"
        "folder name under search/ (for example search/red car/) to list the best matches,\n"
        "best first.\n"
    ).encode()


def readme_node(key: tuple[Hashable, ...], produce: Callable[[], bytes]) -> TextFile:
    """A README that needs nothing of the library (its size is known without a listing context)."""
    return TextFile(key, lambda ctx: produce(), len(produce()))


def rank_entries(ctx: TreeContext, file_ids: list[int]) -> list[Entry]:
    """``NN name`` entries in rank order; files gone from the library since are left out."""
    rows = sh.file_rows(ctx.db, file_ids)
    ranked = [rows[i] for i in file_ids if i in rows]
    return [Entry(rank_name(n, len(ranked), row.name), LibraryFile(row)) for n, row in enumerate(ranked, 1)]


def rank_name(rank: int, count: int, name: bytes) -> bytes:
    """``01 IMG_0042.jpg``: zero-padded to the width of *count* (at least two digits), so names sort by rank."""
    return b"%0*d " % (max(2, len(str(count))), rank) + name


def is_probe(name: bytes) -> bool:
    """A name that programs look up on their own (``desktop.ini``, ``.hidden``…), never a user's."""
    if name.startswith(b"."):
        return True
    lower = name.lower()
    return lower.startswith(PROBE_PREFIXES) or lower.decode("utf-8", "replace") in PROBE_NAMES


def query_of(name: bytes) -> str | None:
    """The query a folder name stands for, or None when the name is not one."""
    if not name or len(name) > MAX_NAME_BYTES or is_probe(name):
        return None
    try:
        query = name.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return query if query.strip() else None


def ranked_ids(ctx: TreeContext, key: tuple[Hashable, ...], compute: Callable[[], list[int]],
               quiet: tuple[type[Exception], ...] = ()) -> list[int]:  # fmt: skip
    """compute()'s ranked file ids, memoised per library generation under *key*.

    A failure (no model, vectors of another model, a bad query) is remembered too and
    answered with ENOENT, so a folder that cannot be listed never hangs or retries per call.
    A busy library is not remembered: it is answered EBUSY and the next listing tries again.
    """
    from gallerfs.errors import GallerfsError, LibraryBusyError

    def run() -> list[int] | str:
        try:
            return compute()
        except quiet as exc:  # expected, and explained elsewhere (README.txt)
            return str(exc)
        except LibraryBusyError:
            raise
        except GallerfsError as exc:
            log.warning("%s/%s: %s", key[0], key[1], exc)
            return str(exc)

    found = ctx.memo.get_recent(key, run)  # the newest few hundred: 10k distinct names stay cheap
    if isinstance(found, str):
        raise _enoent()
    return found


def run_query(ctx: TreeContext, query: str) -> list[int]:
    """The ranked file ids for *query*, once per library generation. ENOENT when it cannot run."""
    from gallerfs.search import NoModelError, search_files

    limit = max(1, ctx.settings.search_limit)

    def compute() -> list[int]:
        started = time.monotonic()
        hits = search_files(ctx.db, ctx.paths, ctx.settings, query, limit)
        log.debug("search %r: %d hits in %.3f s", query, len(hits), time.monotonic() - started)
        return [h.file_id for h in hits]

    return ranked_ids(ctx, ("search", query, limit), compute, quiet=(NoModelError,))


def history_size(ctx: TreeContext) -> int:
    return max(1, ctx.settings.search_history)


class QueryRecorder:
    """Writes listed queries to the library on its own thread, so an opendir never waits for the lock."""

    def __init__(self) -> None:
        self.recent: dict[str, float] = {}  # recorded by this mount, newest time
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[LibraryPaths, str, float, int]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._db: Database | None = None

    def record(self, paths: LibraryPaths, query: str, keep: int) -> None:
        """Remember *query* as used now; the library keeps the *keep* most recently used."""
        now = time.time()
        with self._lock:
            self.recent[query] = now
            if len(self.recent) > keep:  # only the newest can still matter to the merged listing
                for old in sorted(self.recent, key=self.recent.__getitem__)[: len(self.recent) - keep]:
                    del self.recent[old]
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="gallerfs-search-history", daemon=True)
                self._thread.start()
        self._queue.put((paths, query, now, keep))

    def forget(self, query: str) -> None:
        """Drop *query* from memory once every pending write is done (the caller deletes the row)."""
        self._queue.join()
        with self._lock:
            self.recent.pop(query, None)

    def merged(self, remembered: list[str], keep: int) -> list[str]:
        """This mount's recent queries and the library's, most recent first, at most *keep*.

        *remembered* is most recent first; a query this mount used is as recent as its newer time.
        """
        with self._lock:
            newer = sorted(self.recent, key=lambda q: -self.recent[q])
        return list(dict.fromkeys(newer + remembered))[:keep]

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (at most *timeout* s) until every recorded query is written; True when all were."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _work(self) -> None:
        from gallerfs.db.connection import Database

        while True:
            paths, query, when, keep = self._queue.get()
            try:
                if self._db is None:
                    self._db = Database(paths.db)
                sh.record_query(self._db, query, when, keep)
            except Exception as exc:  # a busy or read-only library: the query is only not remembered
                log.warning("could not remember the search %r: %s", query, exc)
            finally:
                self._queue.task_done()


class SearchRoot(DirNode):
    key: tuple[Hashable, ...] = ("top", b"search")
    dynamic_lookup = True
    cache_listing = False  # recent queries change on every listing of one, which bumps no generation

    def __init__(self) -> None:
        self.recorder = QueryRecorder()
        self.readme = readme_node(("search-readme",), readme_text)

    def close(self) -> None:
        """At unmount: the queries listed last are remembered too."""
        if not self.recorder.flush():
            log.warning("unmounting before the last searches could be remembered")

    def list(self, ctx: TreeContext) -> list[Entry]:
        if not model_installed(ctx.paths):
            return [Entry(README, self.readme)]
        keep = history_size(ctx)
        queries = self.recorder.merged(sh.recent_queries(ctx.db, keep), keep)
        return [Entry(q.encode("utf-8"), SearchQueryDir(q, self.recorder)) for q in queries]

    def lookup(self, ctx: TreeContext, name: bytes) -> Entry | None:
        """A folder for any query name, without running it (its listing does) or remembering it."""
        if is_probe(name):  # before anything else: probes cost nothing
            return None
        if not model_installed(ctx.paths):
            return Entry(README, self.readme) if name == README else None
        query = query_of(name)
        if query is None:
            return None
        return Entry(name, SearchQueryDir(query, self.recorder))

    def mkdir(self, ctx: TreeContext, name: bytes) -> None:
        query = query_of(name)
        if query is None:
            raise OSError(errno.EINVAL, "not a search query")
        if not model_installed(ctx.paths):
            raise _enoent()
        sh.record_query(ctx.writer(), query, keep=history_size(ctx))

    def rmdir(self, ctx: TreeContext, name: bytes, child: object) -> None:
        query = query_of(name)
        if query is None or not isinstance(child, SearchQueryDir):
            raise _enoent()
        self.recorder.forget(query)
        sh.forget_query(ctx.writer(), query)


RANKED_NAME = re.compile(rb"^\d{2,4} .")


@dataclass(frozen=True)
class SearchQueryDir(DirNode):
    """``search/<query>/``: the ranked matches. Listing it runs the query; opening it remembers it."""

    query: str
    recorder: QueryRecorder | None = field(default=None, compare=False, repr=False)
    dynamic_lookup = True  # only ranked names can be inside: anything else is ENOENT without a query

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("search", self.query)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return rank_entries(ctx, run_query(ctx, self.query))

    def lookup(self, ctx: TreeContext, name: bytes) -> Entry | None:
        if not RANKED_NAME.match(name):
            return None
        return next((e for e in self.list(ctx) if e.name == name), None)

    def opened(self, ctx: TreeContext) -> None:
        if self.recorder is not None:
            self.recorder.record(ctx.paths, self.query, history_size(ctx))
