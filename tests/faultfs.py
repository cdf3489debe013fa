"""A read-only passthrough filesystem that fails or hangs on chosen paths: a failing drive for tests.

Run it as ``python -m tests.faultfs SOURCE MOUNTPOINT RULES.json`` (``FaultFS``
below does that and always unmounts). The rules file is re-read whenever it
changes, so a test can turn faults on and off while the filesystem is mounted::

    {"rules": [{"path": "trip/*", "ops": ["open", "read"], "fault": "EIO"},
               {"path": "slow/big.jpg", "ops": ["read"], "fault": "hang"}]}

``path`` is an ``fnmatch`` pattern over the path relative to SOURCE (the root
is ``""``); ``ops`` are handler names (``lookup getattr opendir readdir open
read readlink statfs``; missing means every one); ``fault`` is an errno name
(``EIO``, ``EACCES``, ``ENOENT``...) or ``hang``. A hung request waits until no
rule asks for the hang any more (or the filesystem is unmounted), which is how
an unresponsive USB disk or NFS share behaves; ``FaultFS.wait_hung`` waits
until a request is hung, so a test can act at that exact point.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyfuse3
import trio

ROOT = pyfuse3.ROOT_INODE


class Rules:
    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = -1
        self._rules: list[dict[str, Any]] = []

    def _reload(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            self._rules, self._mtime = [], -1
            return
        if mtime != self._mtime:
            with open(self.path) as fh:
                self._rules = json.load(fh).get("rules", [])
            self._mtime = mtime

    def note_hang(self, op: str, rel: bytes) -> None:
        """Record that a request is now hung (``FaultFS.wait_hung`` waits for this)."""
        with open(self.path + ".hung", "a") as fh:
            fh.write(json.dumps([op, os.fsdecode(rel)]) + "\n")

    def fault(self, op: str, rel: bytes) -> str | None:
        self._reload()
        name = os.fsdecode(rel)
        for rule in self._rules:
            if op in rule.get("ops", [op]) and fnmatch.fnmatchcase(name, rule["path"]):
                return str(rule["fault"])
        return None


class FaultOperations(pyfuse3.Operations):
    def __init__(self, source: bytes, rules: Rules) -> None:
        super().__init__()
        self.source = source.rstrip(b"/")
        self.rules = rules
        self.paths: dict[int, bytes] = {ROOT: b""}
        self.inos: dict[bytes, int] = {b"": ROOT}
        self.next_ino = ROOT + 1
        self.fds: dict[int, int] = {}
        self.open_paths: dict[int, bytes] = {}
        self.dirs: dict[int, list[tuple[bytes, bytes]]] = {}
        self.next_fh = 1

    # -- plumbing ---------------------------------------------------------
    def _abs(self, rel: bytes) -> bytes:
        return self.source + b"/" + rel if rel else self.source

    def _ino(self, rel: bytes) -> int:
        ino = self.inos.get(rel)
        if ino is None:
            ino = self.inos[rel] = self.next_ino
            self.paths[ino] = rel
            self.next_ino += 1
        return ino

    async def _check(self, op: str, rel: bytes) -> None:
        fault = self.rules.fault(op, rel)
        if fault == "hang":
            self.rules.note_hang(op, rel)
        while fault == "hang":
            await trio.sleep(0.05)
            fault = self.rules.fault(op, rel)
        if fault is not None:
            raise pyfuse3.FUSEError(getattr(errno, fault))

    def _attrs(self, rel: bytes) -> pyfuse3.EntryAttributes:
        try:
            st = os.lstat(self._abs(rel))
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        e = pyfuse3.EntryAttributes()
        for name in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_rdev", "st_size", "st_atime_ns",
                     "st_mtime_ns", "st_ctime_ns"):  # fmt: skip
            setattr(e, name, getattr(st, name))
        e.st_ino = self._ino(rel)
        e.st_blksize, e.st_blocks = 4096, st.st_blocks
        e.attr_timeout = e.entry_timeout = 0  # faults switched on later must be seen at once
        return e

    # -- handlers -------------------------------------------------------------
    async def lookup(self, parent_inode: int, name: bytes, ctx: Any = None) -> pyfuse3.EntryAttributes:
        parent = self.paths[parent_inode]
        rel = parent + b"/" + name if parent else name
        await self._check("lookup", rel)
        return self._attrs(rel)

    async def getattr(self, inode: int, ctx: Any = None) -> pyfuse3.EntryAttributes:
        rel = self.paths[inode]
        await self._check("getattr", rel)
        return self._attrs(rel)

    async def readlink(self, inode: int, ctx: Any) -> bytes:
        rel = self.paths[inode]
        await self._check("readlink", rel)
        return os.readlink(self._abs(rel))

    async def opendir(self, inode: int, ctx: Any) -> int:
        rel = self.paths[inode]
        await self._check("opendir", rel)
        try:
            names = sorted(os.listdir(self._abs(rel)))
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        fh = self.next_fh
        self.next_fh += 1
        self.dirs[fh] = [(n, rel + b"/" + n if rel else n) for n in names]
        self.dirs[fh].insert(0, (b"", rel))  # the folder itself, for readdir's fault check
        return fh

    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        entries = self.dirs[fh]
        await self._check("readdir", entries[0][1])
        for i in range(start_id + 1, len(entries)):
            name, rel = entries[i]
            try:  # listed even when its lookup fails: timeouts of 0 send the next stat to lookup()
                attrs = self._attrs(rel)
            except pyfuse3.FUSEError:
                continue
            if not pyfuse3.readdir_reply(token, name, attrs, i):
                return

    async def releasedir(self, fh: int) -> None:
        self.dirs.pop(fh, None)

    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        rel = self.paths[inode]
        await self._check("open", rel)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise pyfuse3.FUSEError(errno.EROFS)
        try:
            fd = os.open(self._abs(rel), os.O_RDONLY)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        fh = self.next_fh
        self.next_fh += 1
        self.fds[fh] = fd
        self.open_paths[fh] = rel
        return pyfuse3.FileInfo(fh=fh, direct_io=True)  # every read reaches the fault check

    async def read(self, fh: int, off: int, size: int) -> bytes:
        await self._check("read", self.open_paths[fh])
        return os.pread(self.fds[fh], size, off)

    async def release(self, fh: int) -> None:
        fd = self.fds.pop(fh, None)
        self.open_paths.pop(fh, None)
        if fd is not None:
            os.close(fd)

    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        await self._check("statfs", b"")
        st = os.statvfs(self.source)
        out = pyfuse3.StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail"):
            setattr(out, name, getattr(st, name))
        out.f_namemax = 255
        return out


def serve(source: str, mountpoint: str, rules_path: str) -> None:
    ops = FaultOperations(os.fsencode(source), Rules(rules_path))
    options = set(pyfuse3.default_options)
    options.update({"fsname=faultfs", "ro"})
    options.discard("default_permissions")
    pyfuse3.init(ops, mountpoint, options)
    try:
        trio.run(pyfuse3.main)
    finally:
        pyfuse3.close(unmount=True)


class FaultFS:
    """``with FaultFS(source, mountpoint) as ffs: ffs.set([...])`` — mounted in a subprocess, always unmounted."""

    def __init__(self, source: Path, mountpoint: Path) -> None:
        self.source, self.path = source, mountpoint
        self.rules_path = mountpoint.parent / f"{mountpoint.name}.rules.json"
        self.log_path = mountpoint.parent / f"{mountpoint.name}.faultfs.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def set(self, rules: list[dict[str, Any]]) -> None:
        """Replace the fault rules (takes effect on the next request)."""
        tmp = self.rules_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"rules": rules}))
        os.replace(tmp, self.rules_path)
        # a same-size rewrite within one mtime tick would go unseen: make the change visible
        st = os.stat(self.rules_path)
        os.utime(self.rules_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    def wait_hung(self, timeout: float = 30.0) -> list[tuple[str, str]]:
        """Wait until some request is hung on a "hang" rule; returns every (op, path) hung so far."""
        marker = Path(str(self.rules_path) + ".hung")
        deadline = time.monotonic() + timeout
        while not marker.exists() or not marker.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError("no request reached a hang rule")
            time.sleep(0.02)
        return [tuple(json.loads(line)) for line in marker.read_text().splitlines() if line]

    def __enter__(self) -> FaultFS:
        self.path.mkdir(parents=True, exist_ok=True)
        Path(str(self.rules_path) + ".hung").unlink(missing_ok=True)
        self.set([])
        project = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=str(project) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faultfs", str(self.source), str(self.path), str(self.rules_path)],
            env=env, stdout=self.log, stderr=self.log,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"faultfs did not mount:\n{self.log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.set([])  # release hung requests so the unmount is clean
        subprocess.run(["fusermount3", "-u", "-z", str(self.path)], capture_output=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None
        self.log.close()


if __name__ == "__main__":
    serve(*sys.argv[1:4])
