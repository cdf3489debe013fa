"""A source that stops answering (a hung USB disk, an NFS share gone away) stalls only its own files.

One source is added *through* tests/faultfs.py, indexed, and the library is
mounted; then reads (or opens) of some of its originals are made to hang.
Every other path of the mount must go on answering: listings, stats, reads
of the same source's other files and of another source's files. When the
fault is lifted, the hung reads complete with the right bytes and the mount
unmounts cleanly.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from gallerfs.fs import sourceio
from tests.faultfs import FaultFS
from tests.mountutil import JPG, Mount, run_gallerfs

SLOW = ["Canon_40D.jpg", "Pentax_K10D.jpg", "Kodak_CX7530.jpg", "Nikon_COOLPIX_P1.jpg", "Canon_PowerShot_S40.jpg",
        "Ricoh_Caplio_RR330.jpg", "Fujifilm_FinePix6900ZOOM.jpg", "Panasonic_DMC-FZ30.jpg"]  # fmt: skip
SPARE = [f"spare{i}.jpg" for i in range(sourceio.SOURCE_THREADS + 2)]  # never read before the third test
LOCAL = ["Konica_Minolta_DiMAGE_Z3.jpg", "Canon_DIGITAL_IXUS_400.jpg", "Reconyx_HC500_Hyperfire.jpg"]
ANSWER_S = 1.0  # what "answering" means here: a hang would never return


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultFS, Mount, Path]]:
    """(the faulty filesystem, the gallerfs mount, the real folder under the faulty one)."""
    root = tmp_path_factory.mktemp("hung")
    real, local = root / "usb-real", root / "local"
    real.mkdir()
    (local / "day").mkdir(parents=True)
    for name in SLOW:
        shutil.copyfile(JPG / name, real / name)
    for i, name in enumerate(SPARE):
        (real / name).write_bytes((JPG / SLOW[0]).read_bytes() + b"spare %d" % i)
    for name in LOCAL:
        shutil.copyfile(JPG / name, local / "day" / name)
    library = root / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    with FaultFS(real, root / "usb") as ffs:
        run_gallerfs(library, "add", "--name", "usb", str(ffs.path))
        run_gallerfs(library, "add", "--name", "local", str(local))
        run_gallerfs(library, "index")
        with Mount(library, root / "mnt") as mnt:
            yield ffs, mnt, real
            ffs.set([])  # let hung requests finish before the mount goes away


def answers(fn: Callable[[], Any], what: str) -> Any:
    """fn() run on a thread; fails unless it returns within ANSWER_S (a stalled mount never does)."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # reported below
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(ANSWER_S)
    assert not t.is_alive(), f"{what} did not answer within {ANSWER_S} s while a source hangs"
    if errors:
        raise errors[0]
    return out[0]


def start_reader(path: bytes) -> tuple[threading.Thread, list[bytes | BaseException]]:
    got: list[bytes | BaseException] = []

    def read() -> None:
        try:
            with open(path, "rb") as fh:
                got.append(fh.read())
        except OSError as exc:
            got.append(exc)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t, got


def blocked(t: threading.Thread) -> bool:
    t.join(0.5)
    return t.is_alive()


def others_answer(mnt: Mount, real: Path, healthy_slow: list[str]) -> None:
    """Everything that does not touch the hung files answers."""
    assert sorted(answers(lambda: os.listdir(mnt.path / "sources"), "ls sources/")) == ["local", "usb"]
    assert sorted(answers(lambda: os.listdir(mnt.path / "sources" / "usb"), "ls sources/usb/")) == sorted(SLOW + SPARE)
    answers(lambda: os.listdir(mnt.path / "by-date"), "ls by-date/")
    answers(lambda: os.listdir(mnt.path / "by-album"), "ls by-album/")
    answers(lambda: os.stat(mnt.path / "sources" / "usb" / SLOW[0]), "stat of a hung file")
    answers(lambda: os.statvfs(mnt.path), "statfs")

    def read(path: Path) -> bytes:
        return answers(path.read_bytes, f"read of {path}")

    for name in LOCAL:
        assert read(mnt.path / "sources" / "local" / "day" / name) == (JPG / name).read_bytes()
    for name in healthy_slow:
        assert read(mnt.path / "sources" / "usb" / name) == (real / name).read_bytes()


def test_a_hanging_read_stalls_only_that_file(setup: tuple[FaultFS, Mount, Path]) -> None:
    ffs, mnt, real = setup
    ffs.set([{"path": SLOW[0], "ops": ["read"], "fault": "hang"}])
    reader, got = start_reader(mnt.p("sources", "usb", SLOW[0]))
    assert blocked(reader), "the fault should hang the read"
    others_answer(mnt, real, healthy_slow=SLOW[1:3])
    ffs.set([])
    reader.join(10)
    assert got == [(real / SLOW[0]).read_bytes()]


def test_a_hanging_open_stalls_only_that_file(setup: tuple[FaultFS, Mount, Path]) -> None:
    ffs, mnt, real = setup
    ffs.set([{"path": SLOW[3], "ops": ["open"], "fault": "hang"}])
    reader, got = start_reader(mnt.p("sources", "usb", SLOW[3]))
    assert blocked(reader)
    others_answer(mnt, real, healthy_slow=SLOW[4:5])
    ffs.set([])
    reader.join(10)
    assert got == [(real / SLOW[3]).read_bytes()]


def test_a_hung_source_cannot_take_every_thread(setup: tuple[FaultFS, Mount, Path]) -> None:
    ffs, mnt, real = setup
    hung = SPARE
    assert len(hung) > sourceio.SOURCE_THREADS
    ffs.set([{"path": "*", "ops": ["read"], "fault": "hang"}])  # the whole disk stops answering
    readers = [start_reader(mnt.p("sources", "usb", name)) for name in hung]
    assert all(blocked(t) for t, _ in readers)
    others_answer(mnt, real, healthy_slow=[])
    ffs.set([])
    for (t, got), name in zip(readers, hung):
        t.join(10)
        assert got == [(real / name).read_bytes()]
