"""Phase 1's walk in a child process, so that the walk's system calls and the database's writes stop
taking turns on one interpreter lock.

On one process, the walk (a thread: ahead.run_ahead) and the writes each run at about two thirds of
their speed when they run together: every os.stat releases and takes back the lock. A child process
walks at full speed, and the parent only unpacks its batches. The child costs its start-up (an
interpreter and the walk's imports, tens of milliseconds), which a small source must not pay; so a
walk begins on a thread, and once it has found `hand_over_at` files it starts the child and keeps
walking while the child starts; when the child is ready, the thread stops at the end of a folder and
hands the rest of the walk over (the folders still to list, the folders met), and the child carries
on. The batches come in walk order either way, the thread's before the child's.

The child is a fresh interpreter running walk_child (its frames are described there): it inherits the
environment, the credentials and the module search path of this process, and reads the gallerfs mounts
itself. The end of its output without an END frame (it was killed, ran out of memory, crashed) is an
error, never the end of the walk: a rescan takes the files a walk did not see for deleted ones. When
the consumer stops early, the child is killed; one that does not die at once (stuck on a hung disk) is
waited for briefly and left behind.
"""

from __future__ import annotations

import fcntl
import logging
import marshal
import os
import select
import subprocess
import sys
import threading
from typing import IO, Callable, Iterator, TypeVar

from gallerfs.errors import GallerfsError
from gallerfs.indexer.ahead import run_ahead
from gallerfs.indexer.walk import FileFields, Walk, WalkProblem, in_batches
from gallerfs.indexer.walk_child import BATCH, END, ERROR, HEADER, READY

log = logging.getLogger(__name__)

R = TypeVar("R")
Batch = tuple[list[R], list[WalkProblem]]

# Files a walk finds on its thread before it starts a child process: the thread walks about 6,000 more
# while the child starts, so a source much smaller than ~20,000 files would gain nothing from a child, and
# one smaller than this never starts one (bench/bench_walk_process.py; the scanner's docstring).
HAND_OVER_AT = 10_000
# A source whose index already holds this many files (a rescan) hands its walk over after its first folder:
# the child is then ready early enough to pay off (a rescan of 20,000 files: 0.84x the thread's time).
KNOWN_LARGE = 20_000
PIPE_BYTES = 1 << 20  # the child's output pipe: a few batches of read-ahead (at most /proc/sys/fs/pipe-max-size)
KILL_WAIT_S = 1.0  # how long a killed child is waited for before it is left behind

# The child runs without site (-S: the .pth files and site-packages scan cost ~15 ms) on this process's
# module search path; should gallerfs only be found through a .pth import hook (an editable install),
# it runs site after all.
_BOOT = """import sys
sys.path[:] = sys.argv[1:]
try:
    from gallerfs.indexer.walk_child import main
except ImportError:
    import site
    site.main()
    from gallerfs.indexer.walk_child import main
main()
"""


class WalkProcessError(GallerfsError):
    """The walk's child process failed or ended before the walk was complete."""


def hand_over_threshold(indexed: int) -> int:
    """hand_over_at for the walk of a source whose index holds `indexed` files."""
    return 0 if indexed >= KNOWN_LARGE else HAND_OVER_AT


def _pipe_bytes(wanted: int) -> int:
    try:
        with open("/proc/sys/fs/pipe-max-size", "rb") as f:
            return min(wanted, int(f.read()))
    except (OSError, ValueError):
        return wanted


class WalkChild:
    """One child process serving one walk."""

    def __init__(self, pipe_bytes: int = PIPE_BYTES) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _BOOT, *sys.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            process_group=0,  # a Ctrl-C reaches this process, which stops the child
        )  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._stdin: IO[bytes] = self.proc.stdin
        self._out: IO[bytes] = self.proc.stdout
        self.ready = False
        self.finished = False
        self.root = b""
        if pipe_bytes:
            try:
                fcntl.fcntl(self._out.fileno(), fcntl.F_SETPIPE_SZ, _pipe_bytes(pipe_bytes))
            except OSError as exc:  # e.g. over the user's pipe quota: the default size still works
                log.debug("could not resize the walk's pipe: %s", exc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll_ready(self) -> bool:
        """Whether the child is ready for its request, without waiting; raises WalkProcessError if it died."""
        if not self.ready and select.select([self._out], [], [], 0)[0]:
            self._expect_ready()
        return self.ready

    def _expect_ready(self) -> None:
        kind, _ = self._read_frame()
        if kind != READY:
            raise WalkProcessError(f"{self._walking}: the walk process said {kind!r} before it was ready")
        self.ready = True

    def send(self, root: bytes, size: int, state: tuple[list[bytes], set[tuple[int, int]]] | None) -> None:
        """The request: walk root (from `state`, or from the beginning) in batches of `size` files."""
        self.root = root if isinstance(root, bytes) else os.fsencode(root)
        try:
            self._stdin.write(marshal.dumps((root, size, state)))
            self._stdin.close()
        except BrokenPipeError:
            raise WalkProcessError(self._ended("before it read what to walk")) from None

    def batches(self, make: Callable[[FileFields], R]) -> Iterator[Batch[R]]:
        """The child's batches, in order, its files made into rows by `make`; after the END frame, stops."""
        if not self.ready:
            self._expect_ready()
        files_seen = problems_seen = 0
        while True:
            kind, payload = self._read_frame()
            if kind == BATCH:
                rows, problems = marshal.loads(payload)
                files_seen += len(rows)
                problems_seen += len(problems)
                yield list(map(make, rows)), [WalkProblem(*p) for p in problems]
            elif kind == END:
                if marshal.loads(payload) != (files_seen, problems_seen):
                    raise WalkProcessError(f"{self._walking}: the walk process lost part of its output")
                self.finished = True
                self._reap()
                return
            elif kind == ERROR:
                name, message = marshal.loads(payload)
                raise WalkProcessError(f"{self._walking}: the walk failed in its process: {name}: {message}")
            else:
                raise WalkProcessError(f"{self._walking}: the walk process sent an unknown frame {kind!r}")

    def _read_frame(self) -> tuple[bytes, bytes]:
        header = self._out.read(HEADER.size)
        if len(header) < HEADER.size:
            raise WalkProcessError(self._ended("before the walk was complete"))
        kind, length = HEADER.unpack(header)
        payload = self._out.read(length) if length else b""
        if len(payload) < length:
            raise WalkProcessError(self._ended("in the middle of its output"))
        return kind, payload

    def _ended(self, when: str) -> str:
        self._reap()
        code = self.proc.returncode
        how = "" if code is None else f" (killed by signal {-code})" if code < 0 else f" (exit status {code})"
        return f"{self._walking}: the walk process ended {when}{how}"

    @property
    def _walking(self) -> str:
        return f"walking {os.fsdecode(self.root)}" if self.root else "walking"

    def _reap(self) -> None:
        try:
            self.proc.wait(KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Stop the child (unless it finished) and close its pipes; never waits long."""
        if self.proc.returncode is None:
            try:
                self.proc.kill()
                self.proc.wait(KILL_WAIT_S)
            except subprocess.TimeoutExpired:  # stuck in the kernel (a hung disk): it dies when that returns
                log.warning("the walk process %d did not stop within %.0f s; left behind", self.pid, KILL_WAIT_S)
            except OSError:
                pass
        for pipe in (self._stdin, self._out):
            try:
                pipe.close()
            except OSError:
                pass


def process_batches(
    root: bytes, size: int, make: Callable[[FileFields], R], *, pipe_bytes: int = PIPE_BYTES
) -> Iterator[Batch[R]]:
    """walk.in_batches(Walk(root, make).folders(), size), walked whole by a child process."""
    child = WalkChild(pipe_bytes)
    try:
        child.send(root, size, None)
        yield from child.batches(make)
    finally:
        child.kill()


class _HandOver:
    """The child a walk's thread starts and hands the rest of its walk to, shared with the consumer, which
    reads the child's batches once the thread's are done and kills the child whatever happens."""

    def __init__(self, pipe_bytes: int) -> None:
        self.pipe_bytes = pipe_bytes
        self.lock = threading.Lock()
        self.closed = False
        self.failed = False
        self.child: WalkChild | None = None
        self.taken_over = False

    def start(self) -> None:
        with self.lock:
            if self.closed or self.failed or self.child is not None:
                return
            try:
                self.child = WalkChild(self.pipe_bytes)
            except OSError as exc:
                self.failed = True
                log.warning("the walk goes on in this process: cannot start its child process: %s", exc)

    def ready(self) -> WalkChild | None:
        """The started child, once it is ready for the rest of the walk; None while it is not (or cannot be)."""
        child = self.child
        if child is None or self.failed:
            return None
        try:
            return child if child.poll_ready() else None
        except WalkProcessError as exc:  # it died before it began: the thread walks on
            log.warning("the walk goes on in this process: %s", exc)
            self.failed = True
            return None

    def close(self) -> None:
        with self.lock:
            self.closed = True
            child = self.child
        if child is not None and not child.finished:
            child.kill()


def walk_batches(
    root: bytes,
    size: int,
    make: Callable[[FileFields], R],
    *,
    hand_over_at: int | None = None,
    pipe_bytes: int = PIPE_BYTES,
    depth: int = 4,
    name: str = "gallerfs-walk",
) -> Iterator[Batch[R]]:
    """The batches of walk.in_batches(Walk(root, make).folders(), size), walked on a thread `depth`
    batches ahead of the caller and, past `hand_over_at` files, in a child process (see above).

    A batch may be short where the walk moved to the child. An exception of the walk is raised here.
    hand_over_at is HAND_OVER_AT unless given."""
    threshold = HAND_OVER_AT if hand_over_at is None else hand_over_at
    hand_over = _HandOver(pipe_bytes)

    def on_thread() -> Iterator[Batch[R]]:
        walk = Walk(root, make)
        found = 0

        def folders() -> Iterator[Batch[R]]:
            nonlocal found
            for folder in walk.folders():
                yield folder
                found += len(folder[0])
                if found < threshold or hand_over.failed:
                    continue
                if hand_over.child is None:
                    hand_over.start()
                child = hand_over.ready()
                if child is not None and walk.stack:
                    try:
                        child.send(walk.root, size, walk.state())
                    except WalkProcessError as exc:  # it died before it read the request: the thread walks on
                        log.warning("the walk goes on in this process: %s", exc)
                        hand_over.failed = True
                        continue
                    log.debug("the walk of %s goes on in process %d after %d files", os.fsdecode(root), child.pid, found)
                    hand_over.taken_over = True
                    return

        yield from in_batches(folders(), size)

    try:
        yield from run_ahead(on_thread(), depth, name=name)
        if hand_over.taken_over:
            assert hand_over.child is not None
            yield from hand_over.child.batches(make)
    finally:
        hand_over.close()
