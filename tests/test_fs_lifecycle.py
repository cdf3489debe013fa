"""Mount lifecycle, extended attributes, offline sources, and listings that follow the indexer."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.mountutil import JPG, Mount, build_library, force_unmount, run_gallerfs, wait_until


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_library(tmp_path_factory.mktemp("fslife"))


def _pid(library: Path) -> int | None:
    for f in (library / "run").glob("mount-*.pid"):
        return int(f.read_text().split()[0])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_daemon_mode_returns_once_mounted_and_umount_ends_it(lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, _ = lib
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        run_gallerfs(library, "mount", str(mnt), timeout=30)
        assert os.path.ismount(mnt), "mounted when the command returns"
        assert "photos" in os.listdir(mnt / "sources")
        pid = _pid(library)
        assert pid and _alive(pid)
        run_gallerfs(library, "umount", str(mnt))
        assert not os.path.ismount(mnt)
        assert wait_until(lambda: not _alive(pid), 5), "the daemon exits after the unmount"
        proc = run_gallerfs(library, "umount", str(mnt), check=False)
        assert proc.returncode == 1 and "nothing is mounted" in proc.stderr
    finally:
        pid = _pid(library)
        force_unmount(mnt)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_unmount_cleanly(lib: tuple[Path, Path], tmp_path: Path, signum: int) -> None:
    library, _ = lib
    with Mount(library, tmp_path / "mnt") as m:
        assert m.proc is not None
        m.proc.send_signal(signum)
        assert m.proc.wait(timeout=15) == 0
        assert not os.path.ismount(m.path)
        assert "Traceback" not in m.log_text()


def test_a_second_mount_on_the_same_point_is_refused(lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, _ = lib
    with Mount(library, tmp_path / "mnt") as m:
        proc = run_gallerfs(library, "mount", "-f", str(m.path), check=False, timeout=30)
        assert proc.returncode == 4 and "already mounted" in proc.stderr


def test_allow_other_is_opt_in(lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, _ = lib

    def options(path: Path) -> str:
        for line in open("/proc/self/mounts"):
            fields = line.split()
            if fields[1] == str(path):
                return fields[3]
        raise AssertionError("not mounted")

    with Mount(library, tmp_path / "private") as m:
        assert "allow_other" not in options(m.path)
    with Mount(library, tmp_path / "shared", "--allow-other") as m:
        assert "allow_other" in options(m.path)


def test_stale_mount_is_explained_and_force_recovers(lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, _ = lib
    mnt = tmp_path / "mnt"
    m = Mount(library, mnt, check_log=False)
    with m:
        assert m.proc is not None
        m.proc.kill()  # a crash: the kernel mount stays behind
        m.proc.wait(timeout=10)
        with pytest.raises(OSError) as info:
            os.listdir(mnt)
        assert info.value.errno == errno.ENOTCONN
        proc = run_gallerfs(library, "mount", str(mnt), check=False, timeout=30)
        assert proc.returncode == 1
        assert "stale mount" in proc.stderr and "--force" in proc.stderr and "\n" == proc.stderr[-1]
        assert proc.stderr.count("\n") == 1, "one line, no traceback"
        try:
            run_gallerfs(library, "mount", "--force", str(mnt), timeout=30)
            assert "photos" in os.listdir(mnt / "sources")
            run_gallerfs(library, "umount", str(mnt))
        finally:
            pid = _pid(library)
            force_unmount(mnt)
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_umount_force_clears_a_stale_mount(lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, _ = lib
    with Mount(library, tmp_path / "mnt", check_log=False) as m:
        assert m.proc is not None
        m.proc.kill()
        m.proc.wait(timeout=10)
        run_gallerfs(library, "umount", "--force", str(m.path))
        assert not os.path.ismount(m.path) and os.listdir(m.path) == []


def test_no_library_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    proc = run_gallerfs(tmp_path / "nothing", "mount", str(tmp_path / "mnt"), check=False)
    assert proc.returncode == 1 and "no library" in proc.stderr and not (tmp_path / "nothing").exists()


def test_xattrs_mount_option(lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, photos = lib
    with Mount(library, tmp_path / "mnt", "--xattrs") as m:
        path = m.p("by-date", "2008", "05", "30", "Canon_40D.jpg")
        assert os.getxattr(path, "user.gallerfs.date_taken").startswith(b"2008-05-30T15:56:01")
        assert os.getxattr(path, "user.gallerfs.camera") == b"Canon Canon EOS 40D"
        assert os.getxattr(path, "user.gallerfs.source_path") == os.fsencode(photos / "cams" / "Canon_40D.jpg")
        names = os.listxattr(path)
        assert {"user.gallerfs.date_taken", "user.gallerfs.camera", "user.gallerfs.source_path"} <= set(names)
        with pytest.raises(OSError) as info:
            os.getxattr(path, "user.gallerfs.nothing")
        assert info.value.errno == errno.ENODATA
        with pytest.raises(OSError) as info:
            os.setxattr(path, "user.x", b"1")
        assert info.value.errno == errno.EROFS
        out = subprocess.run(["getfattr", "-d", path], capture_output=True) if shutil.which("getfattr") else None
        assert out is None or b"user.gallerfs.gps" in out.stdout or b"user.gallerfs.camera" in out.stdout
        assert subprocess.run(["ls", "-lR", m.path], capture_output=True).returncode == 0


def test_listings_follow_the_indexer(lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, photos = lib
    with Mount(library, tmp_path / "mnt") as m:
        cams = m.path / "sources" / "photos" / "cams"
        before = sorted(os.listdir(cams))
        assert "Ricoh_Caplio_RR330.jpg" not in before
        for name in before:  # the kernel now caches these entries and attributes
            os.stat(cams / name)
        assert os.path.isdir(m.path / "by-date" / "2008" / "05" / "04")
        shutil.copyfile(JPG / "Ricoh_Caplio_RR330.jpg", photos / "cams" / "Ricoh_Caplio_RR330.jpg")
        (photos / "cams" / "Pentax_K10D.jpg").unlink()
        with open(photos / "cams" / "Kodak_CX7530.jpg", "ab") as fh:
            fh.write(b"grown")
        run_gallerfs(library, "rescan")
        assert wait_until(lambda: "Ricoh_Caplio_RR330.jpg" in os.listdir(cams), 5)
        assert wait_until(lambda: not os.path.exists(cams / "Pentax_K10D.jpg"), 5)
        assert wait_until(lambda: not os.path.exists(m.path / "by-date" / "2008" / "05" / "04"), 5)
        assert wait_until(lambda: os.path.exists(m.path / "by-date" / "2004" / "08" / "31" / "Ricoh_Caplio_RR330.jpg"), 5)
        real = (photos / "cams" / "Kodak_CX7530.jpg").read_bytes()
        assert wait_until(lambda: os.stat(cams / "Kodak_CX7530.jpg").st_size == len(real), 5)
        assert (cams / "Kodak_CX7530.jpg").read_bytes() == real


def test_offline_source_is_listed_but_cannot_be_opened(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "gallerfs-test", str(usb)], check=True)
    mounted = True
    try:
        (usb / "DCIM").mkdir()
        shutil.copyfile(JPG / "Canon_40D.jpg", usb / "DCIM" / "IMG_1.jpg")
        shutil.copyfile(JPG / "Pentax_K10D.jpg", usb / "DCIM" / "IMG_2.jpg")
        library, _ = build_library(tmp_path, photos=usb / "DCIM")
        with Mount(library, tmp_path / "mnt") as m:
            one = m.path / "sources" / "DCIM" / "IMG_1.jpg"
            assert one.read_bytes() == (JPG / "Canon_40D.jpg").read_bytes()
            # The drive is pulled (our read's handle is released just after close(), so retry briefly).
            assert wait_until(lambda: subprocess.run(["umount", str(usb)], capture_output=True).returncode == 0, 10)
            mounted = False
            assert one.stat().st_size == (JPG / "Canon_40D.jpg").stat().st_size
            for path in (one, m.path / "sources" / "DCIM" / "IMG_2.jpg", m.path / "by-date" / "2008" / "05" / "04" / "IMG_2.jpg"):
                with pytest.raises(OSError) as info:
                    open(path, "rb").read()
                assert info.value.errno == errno.ENOMEDIUM, path
            run_gallerfs(library, "sources")  # notices the drive is gone
            assert sorted(os.listdir(m.path / "sources" / "DCIM")) == ["IMG_1.jpg", "IMG_2.jpg"]
            assert wait_until(lambda: "offline" in (m.path / ".gallerfs" / "sources").read_text(), 5)
            with pytest.raises(OSError) as info:
                open(one, "rb")
            assert info.value.errno == errno.ENOMEDIUM
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(usb)])


def test_the_mount_never_waits_for_a_writer(lib: tuple[Path, Path], tmp_path: Path) -> None:
    """A writer holding the library's write lock (an indexer mid-batch) delays nothing the mount shows."""
    from gallerfs.db.connection import Database

    library, photos = lib
    with Mount(library, tmp_path / "mnt") as m:
        writer = Database(library / "library.sqlite3")
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE library_state SET generation = generation + 1")
            start = time.monotonic()
            assert "photos" in os.listdir(m.path / "sources")
            names = sorted(os.listdir(m.path / "sources" / "photos" / "cams"))
            assert (m.path / "sources" / "photos" / "cams" / names[0]).read_bytes()
            assert sum(len(files) for _, _, files in os.walk(m.path / "by-date")) >= 9
            assert "photos" in (m.path / ".gallerfs" / "sources").read_text()
            assert time.monotonic() - start < 2.0
        finally:
            writer.execute("ROLLBACK")
            writer.close()
