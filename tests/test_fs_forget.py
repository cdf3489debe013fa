"""The kernel forgetting inodes through a real mount: ``echo 3 > drop_caches`` mid-browse loses nothing.

After the kernel drops every inode it can, the mount has dropped its nodes too
(see ``gallerfs.fs.inodes``); browsing again must give the same files the
same numbers, and whatever stayed open (a file, a folder someone is in) must
keep working.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import run_gallerfs
from tests.mountutil import Mount

FOLDERS, PER_FOLDER = 3, 40


def _drop_caches() -> None:
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as fh:
        fh.write("3\n")


def _tree(root: bytes) -> dict[bytes, tuple[int, int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_ino if not stat.S_ISDIR(st.st_mode) else 0, st.st_mode, st.st_size)
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop the kernel's caches")
def test_dropping_the_kernels_caches_mid_browse(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for f in range(FOLDERS):
        (photos / f"d{f}").mkdir(parents=True)
        for i in range(PER_FOLDER):
            (photos / f"d{f}" / f"IMG_{f}{i:03d}.jpg").write_bytes(b"\xff\xd8stub %d %d" % (f, i))
    library = tmp_path / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 1\n")
    run_gallerfs(library, "add", "--name", "photos", str(photos))
    run_gallerfs(library, "index", "--scan-only")
    with Mount(library, tmp_path / "mnt") as m:
        sources = m.p("sources")
        before = _tree(sources)
        assert sum(1 for _, mode, _ in before.values() if stat.S_ISREG(mode)) == FOLDERS * PER_FOLDER
        held = open(m.p("sources", "photos", "d0", "IMG_0000.jpg"), "rb")
        inside = os.open(m.p("sources", "photos", "d1"), os.O_RDONLY | os.O_DIRECTORY)
        similar = [os.stat(m.p("similar", "IMG_2%03d.jpg" % i)).st_ino for i in range(PER_FOLDER)]
        try:
            for _ in range(2):
                _drop_caches()
                assert _tree(sources) == before  # the same files, the same numbers
                assert held.read() == b"\xff\xd8stub 0 0"
                held.seek(0)
                listed = sorted(os.fsencode(n) for n in os.listdir(inside))  # the folder this process is in
                assert listed == sorted(os.listdir(m.p("sources", "photos", "d1"))) and len(listed) == PER_FOLDER
            again = [os.stat(m.p("similar", "IMG_2%03d.jpg" % i)) for i in range(PER_FOLDER)]
            assert all(stat.S_ISDIR(st.st_mode) for st in again)
            assert len({st.st_ino for st in again}) == len(set(similar)) == PER_FOLDER
        finally:
            held.close()
            os.close(inside)
