"""Mount lifecycle: checks, daemonising, signals, clean unmount, stale mounts.

``mount`` mounts first and forks afterwards, so the command returns 0 only
once the filesystem is really there; the child serves it. SIGTERM, SIGINT and
SIGHUP unmount cleanly. A mount point left behind by a process that died
("Transport endpoint is not connected") is explained, and ``--force`` clears
it with a lazy unmount.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gallerfs.config import Settings, journal_dir
from gallerfs.errors import GallerfsError, LockedError
from gallerfs.paths import LibraryPaths
from gallerfs.sdnotify import notify

if TYPE_CHECKING:
    from gallerfs.fs.operations import FuseOperations, MountParts

log = logging.getLogger(__name__)

FSNAME = "gallerfs"
READ_AHEAD_KB = 1024  # what the mount asks of the kernel for sequential reads, where it may (root)


@dataclass(frozen=True)
class MountOptions:
    foreground: bool = False
    allow_other: bool = False
    xattrs: bool = False
    force: bool = False
    debug: bool = False


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


class _LateReleaseReplies(logging.Filter):
    """pyfuse3 logs an ERROR when it answers a release the kernel no longer waits for.

    Releases are sent asynchronously; those still queued when the filesystem is
    unmounted are dropped by the kernel, so the reply finds no request (ENOENT).
    Nothing is lost (the handle is closed all the same): log it at debug level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "release" in msg and "fuse_reply_* failed with No such file or directory" in msg:
            log.debug("late reply after unmount: %s", msg)
            return False
        return True


def _mountinfo(mountpoint: str) -> tuple[list[str], list[str]] | None:
    """The /proc/self/mountinfo line of what is mounted exactly at *mountpoint* (last one wins):
    (fields before " - ", fields after), or None."""
    target = os.path.abspath(mountpoint)
    found = None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) >= 5 and _unescape(fields[4]) == target:
                    found = fields, right.split()
    except OSError:
        return None
    return found


def mounted_fstype(mountpoint: str) -> str | None:
    """The filesystem type mounted exactly at *mountpoint*, or None."""
    entry = _mountinfo(mountpoint)
    return entry[1][0] if entry else None


def mount_device(mountpoint: str) -> str | None:
    """The "major:minor" of the filesystem mounted at *mountpoint* (no stat of the mount itself)."""
    entry = _mountinfo(mountpoint)
    return entry[0][2] if entry else None


def raise_read_ahead(mountpoint: str, kb: int = READ_AHEAD_KB) -> bool:
    """Let the kernel read *kb* ahead in this mount's files (1 MiB FUSE reads instead of 128 KiB).

    Only root may write /sys/class/bdi/*/read_ahead_kb; anyone else keeps the
    kernel's default. Must run after FUSE_INIT, whose reply caps it.
    """
    device = mount_device(mountpoint)
    if device is None:
        return False
    try:
        with open(f"/sys/class/bdi/{device}/read_ahead_kb", "w") as fh:
            fh.write(f"{kb}\n")
    except OSError as exc:
        log.debug("read-ahead of %s left as it is: %s", mountpoint, exc)
        return False
    log.info("kernel read-ahead of %s raised to %d KiB", mountpoint, kb)
    return True


def is_stale(mountpoint: str) -> bool:
    """A FUSE mount whose process is gone. (stat alone can succeed from the kernel's attribute cache.)"""
    try:
        os.stat(mountpoint)
        fstype = mounted_fstype(mountpoint)
        if fstype is not None and fstype.startswith("fuse"):
            with os.scandir(mountpoint) as it:
                next(it, None)
    except OSError as exc:
        return exc.errno == errno.ENOTCONN
    return False


def lazy_unmount(mountpoint: str) -> None:
    proc = subprocess.run(["fusermount3", "-u", "-z", mountpoint], capture_output=True, text=True)
    if proc.returncode != 0 and mounted_fstype(mountpoint):
        raise GallerfsError(f"{mountpoint}: could not unmount: {proc.stderr.strip()}")


def stale_message(mountpoint: str) -> str:
    return (
        f"{mountpoint} is a stale mount: the gallerfs serving it is no longer running "
        "(Transport endpoint is not connected); run 'gallerfs umount --force "
        f"{mountpoint}' or mount again with --force"
    )


def pid_file(paths: LibraryPaths, mountpoint: str) -> Path:
    digest = hashlib.sha1(os.path.abspath(mountpoint).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return paths.run_dir / f"mount-{digest}.pid"


def check_mountpoint(mountpoint: str, force: bool) -> None:
    if is_stale(mountpoint):
        if not force:
            raise GallerfsError(stale_message(mountpoint))
        log.warning("%s: clearing a stale mount", mountpoint)
        lazy_unmount(mountpoint)
    if not os.path.isdir(mountpoint):
        raise GallerfsError(f"{mountpoint}: no such folder (create the mount point first)")
    fstype = mounted_fstype(mountpoint)
    if fstype is not None:
        what = "a gallerfs is" if fstype == f"fuse.{FSNAME}" else f"a {fstype} filesystem is"
        raise LockedError(f"{mountpoint}: {what} already mounted there")


def _daemonise(log_path: Path) -> bool:
    """Fork; True in the child (which keeps serving), False in the parent."""
    child = os.fork()
    if child > 0:
        os.waitpid(child, 0)
        return False
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    logfd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(devnull, 0)
    os.dup2(logfd, 1)
    os.dup2(logfd, 2)
    os.close(devnull)
    os.close(logfd)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    logging.basicConfig(
        level=root.level or logging.WARNING,
        format="%(asctime)s gallerfs[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return True


def build_parts(paths: LibraryPaths, settings: Settings, journal_dir: os.PathLike[str] | str, *,
                xattrs: bool = False) -> MountParts:  # fmt: skip
    """The composition root: every collaborator of the mount's ``Operations``, wired together."""
    from gallerfs.fs.copies import AlbumCopies
    from gallerfs.fs.fuseutil import WRITE_WAIT_MS
    from gallerfs.fs.handles import HandleTable
    from gallerfs.fs.inodes import ROOT_INODE, InodeTable
    from gallerfs.fs.lister import TreeLister
    from gallerfs.fs.operations import MountParts
    from gallerfs.fs.originals import Originals
    from gallerfs.fs.passthrough import JournalPassthrough
    from gallerfs.fs.provider import MountConfig
    from gallerfs.fs.readers import ReaderLoans
    from gallerfs.fs.refresh import Refresher
    from gallerfs.fs.sourceio import Buffers, SourceGates
    from gallerfs.fs.toplevel import RootDir
    from gallerfs.fs.virtual import VirtualTree
    from gallerfs.fs.workers import LibraryWriter, Workers
    from gallerfs.fs.xattrs import XattrSource

    config = MountConfig(paths, settings, xattrs)
    journal_path = os.fsencode(os.path.abspath(journal_dir))
    root = RootDir(journal_path)
    inodes = InodeTable(root)
    for entry in root.entries:  # the top-level folders live as long as the mount
        inodes.pin(entry.node, ROOT_INODE)
    workers = Workers(ReaderLoans(paths.db), LibraryWriter(paths.db, WRITE_WAIT_MS))
    handles = HandleTable()
    lister = TreeLister(config, inodes, workers)
    journal = JournalPassthrough(journal_path, config, inodes, workers, handles, lister)
    refresher = Refresher(config, lister, inodes, root, workers, journal)
    originals = Originals(inodes, workers, handles, SourceGates(), Buffers(), refresher)
    tree = VirtualTree(lister, inodes, workers, handles, originals, AlbumCopies(lister, inodes, workers), XattrSource())
    return MountParts(config, root, inodes, workers, handles, lister, refresher, tree, journal)


def mount(paths: LibraryPaths, settings: Settings, mountpoint: str, opts: MountOptions) -> int:
    """Mount the library at *mountpoint*; returns when unmounted (or at once in the parent when daemonising)."""
    import pyfuse3
    import trio

    from gallerfs.db.connection import Database
    from gallerfs.fs.operations import FuseOperations

    mountpoint = os.path.abspath(mountpoint)
    check_mountpoint(mountpoint, opts.force)
    Database(paths.db, readonly=True).close()  # fails with one clear line if there is no library
    journal = journal_dir(settings, paths.root)
    journal.mkdir(parents=True, exist_ok=True)
    paths.ensure()

    logging.getLogger("pyfuse3").addFilter(_LateReleaseReplies())
    ops = FuseOperations(build_parts(paths, settings, journal, xattrs=opts.xattrs))
    options = set(pyfuse3.default_options)
    options |= {f"fsname={FSNAME}", f"subtype={FSNAME}", "noatime"}
    if opts.allow_other:
        options.add("allow_other")
    if opts.debug:
        options.add("debug")
    try:
        pyfuse3.init(ops, mountpoint, options)
    except RuntimeError as exc:
        raise GallerfsError(f"{mountpoint}: cannot mount ({exc}); is /dev/fuse usable and fuse3 installed?") from None

    if not opts.foreground and not _daemonise(paths.log_dir / "mount.log"):
        print(f"mounted the library on {mountpoint}")
        return 0

    pidf = pid_file(paths, mountpoint)
    pidf.write_text(f"{os.getpid()}\n{mountpoint}\n")
    log.info("serving %s (pid %d)", mountpoint, os.getpid())
    notify("READY=1", f"STATUS=serving {mountpoint}")  # the unit of 'gallerfs unit' is Type=notify
    _prepare_search(paths, settings)
    clean = False
    try:
        trio.run(_serve, ops, mountpoint)
        clean = True
    finally:
        try:
            pyfuse3.close(unmount=True)
        except Exception:  # the kernel side may already be gone
            log.exception("closing the FUSE session")
        ops.close()
        pidf.unlink(missing_ok=True)
        log.info("unmounted %s%s", mountpoint, "" if clean else " after an error")
    return 0


def _prepare_search(paths: LibraryPaths, settings: Settings) -> None:
    """Load the CLIP text tower and the vectors in the background (after forking: threads do not survive it)."""
    try:
        from gallerfs.search import prepare

        prepare(paths, settings)
    except Exception as exc:  # search/ then loads on its first query, or explains what is missing
        log.warning("search is not prepared: %s", exc)


async def _serve(ops: FuseOperations, mountpoint: str) -> None:
    import pyfuse3
    import trio

    async def tune_read_ahead() -> None:
        await ops.initialised.wait()
        await trio.sleep(0)  # the INIT reply is written in the step that set it
        await trio.to_thread.run_sync(raise_read_ahead, mountpoint)

    async def on_signals() -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                log.info("signal %d: unmounting", signum)
                notify("STOPPING=1")
                pyfuse3.terminate()
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(on_signals)
        nursery.start_soon(ops.watch_generation)
        nursery.start_soon(tune_read_ahead)
        await ops.check_generation()
        await pyfuse3.main(min_tasks=4)
        nursery.cancel_scope.cancel()


def umount(paths: LibraryPaths, mountpoint: str, force: bool, wait_s: float = 10.0) -> None:
    mountpoint = os.path.abspath(mountpoint)
    stale = is_stale(mountpoint)
    fstype = mounted_fstype(mountpoint)
    if fstype is None and not stale:
        raise GallerfsError(f"{mountpoint}: nothing is mounted there")
    if fstype is not None and fstype != f"fuse.{FSNAME}":
        raise GallerfsError(f"{mountpoint}: not a gallerfs mount ({fstype})")
    proc = subprocess.run(["fusermount3", "-u", mountpoint], capture_output=True, text=True)
    if proc.returncode != 0:
        busy = "busy" in proc.stderr
        if not force:
            if busy:
                raise LockedError(
                    f"{mountpoint} is busy: close the programs using it (see 'fuser -vm {mountpoint}'), "
                    "or use --force for a lazy unmount"
                )
            raise GallerfsError(f"{mountpoint}: fusermount3 failed: {proc.stderr.strip()}")
        lazy_unmount(mountpoint)
    pidf = pid_file(paths, mountpoint)
    deadline = time.monotonic() + wait_s
    while pidf.exists() and time.monotonic() < deadline:
        try:
            pid = int(pidf.read_text().split()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, FileNotFoundError):
            pidf.unlink(missing_ok=True)
            break
        time.sleep(0.05)
