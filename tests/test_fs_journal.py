"""journal/: a read-write passthrough. Real editor save patterns must never lose an edit."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.mountutil import Mount, build_library, wait_until

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(old: Path, new: Path, flags: int) -> None:
    if _libc.renameat2(-100, os.fsencode(old), -100, os.fsencode(new), ctypes.c_uint(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_library(tmp_path_factory.mktemp("fsjournal"))


@pytest.fixture(scope="module")
def mnt(lib: tuple[Path, Path]):
    library, _ = lib
    with Mount(library, library.parent / "mnt") as m:
        yield m


@pytest.fixture
def jdir(mnt: Mount, lib: tuple[Path, Path], request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """(folder in the mount, the same folder on disk), fresh per test."""
    name = request.node.name.replace("[", "_").replace("]", "")
    real = lib[0] / "journal" / name
    via = mnt.path / "journal" / name
    os.mkdir(via)
    assert real.is_dir()
    return via, real


def test_create_write_read_truncate_unlink(jdir: tuple[Path, Path]) -> None:
    via, real = jdir
    (via / "2024-07-14.md").write_text("# Sunday\n")
    assert (real / "2024-07-14.md").read_text() == "# Sunday\n"
    with open(via / "2024-07-14.md", "a") as fh:
        fh.write("more\n")
        fh.flush()
        os.fsync(fh.fileno())
    assert (via / "2024-07-14.md").read_text() == "# Sunday\nmore\n"
    os.truncate(via / "2024-07-14.md", 3)
    assert (real / "2024-07-14.md").read_bytes() == b"# S"
    os.unlink(via / "2024-07-14.md")
    assert not (real / "2024-07-14.md").exists() and not (via / "2024-07-14.md").exists()


def test_vim_write_with_backupcopy_no(jdir: tuple[Path, Path]) -> None:
    via, real = jdir
    note = via / "2024-W28.md"
    note.write_text("week 28\nold line\n")
    ino_before = os.stat(real / "2024-W28.md").st_ino
    # backupskip defaults to /tmp/*: clear it so vim really renames the original away and writes anew.
    proc = subprocess.run(
        ["vim", "-u", "NONE", "-i", "NONE", "-N", "-c", "set backupcopy=no writebackup nobackup backupskip=",
         "-c", "%s/old/new/", "-c", "wq", str(note)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30, cwd=via, env={**os.environ, "TERM": "dumb"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    expected = "week 28\nnew line\n"
    assert note.read_text() == expected and (real / "2024-W28.md").read_text() == expected
    assert os.stat(real / "2024-W28.md").st_ino != ino_before, "vim wrote a new file (backupcopy=no)"
    assert sorted(os.listdir(via)) == ["2024-W28.md"], "backup and swap files cleaned up"
    # Again, now that the kernel knows the old names: the second save must not be lost either.
    subprocess.run(
        ["vim", "-u", "NONE", "-i", "NONE", "-N", "-c", "set backupcopy=no writebackup nobackup backupskip=",
         "-c", "$put ='third line'", "-c", "wq", str(note)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30, cwd=via, env={**os.environ, "TERM": "dumb"},
        check=True,
    )  # fmt: skip
    assert (real / "2024-W28.md").read_text() == expected + "third line\n" == note.read_text()


def test_vim_swap_file_while_editing(jdir: tuple[Path, Path]) -> None:
    """The swap-file dance by hand: create .x.swp, write blocks, fsync, delete; the 4913 probe."""
    via, real = jdir
    swap = via / ".note.md.swp"
    fd = os.open(swap, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.pwrite(fd, b"b0VIM 9.0" + b"\0" * 4087, 0)
    os.pwrite(fd, b"\x01" * 4096, 4096)
    os.fsync(fd)
    os.close(fd)
    probe = via / "4913"
    fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644)
    os.fchown(fd, os.getuid(), os.getgid())
    os.close(fd)
    os.unlink(probe)
    assert (real / ".note.md.swp").stat().st_size == 8192
    os.unlink(swap)
    assert sorted(os.listdir(real)) == []


def test_temp_file_and_rename_over(jdir: tuple[Path, Path]) -> None:
    via, real = jdir
    target = via / "2024-07-15.md"
    target.write_text("first version\n")
    os.chmod(target, 0o640)
    for i in range(20):  # an editor saving repeatedly
        content = f"version {i}\n" + "x" * (i * 1000) + "\n"
        tmp = via / f".2024-07-15.md.tmp{i}"
        with open(tmp, "w") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.rename(tmp, target)
        assert target.read_text() == content
        assert (real / "2024-07-15.md").read_text() == content
    assert sorted(os.listdir(real)) == ["2024-07-15.md"]
    assert os.stat(target).st_mode & 0o777 == 0o640


def test_obsidian_rewrites_in_place_and_keeps_its_settings(jdir: tuple[Path, Path]) -> None:
    via, real = jdir
    os.mkdir(via / ".obsidian")
    settings = via / ".obsidian" / "workspace.json"
    note = via / "Daily.md"
    note.write_text("# Daily\n- [ ] one\n")
    for round_ in range(10):
        body = f"# Daily\n- [x] one\n- [ ] item {round_}\n" + "é" * round_
        with open(note, "w", encoding="utf-8") as fh:  # fs.writeFile: O_WRONLY|O_CREAT|O_TRUNC
            fh.write(body)
        settings.write_text('{"main": {"id": "%d"}, "lastOpenFiles": ["Daily.md"]}' % round_)
        os.utime(note, ns=(time.time_ns(), 1_700_000_000_000_000_000 + round_))
        assert (real / "Daily.md").read_text(encoding="utf-8") == body
        assert os.stat(note).st_mtime_ns == 1_700_000_000_000_000_000 + round_
    assert (real / ".obsidian" / "workspace.json").read_text().startswith('{"main": {"id": "9"}')
    assert sorted(os.listdir(via / ".obsidian")) == ["workspace.json"]
    (via / ".obsidian" / "plugins").mkdir()
    (via / ".obsidian" / "plugins" / "data.json").write_text("{}")
    shutil.rmtree(via / ".obsidian")
    assert not (real / ".obsidian").exists()


def test_rename_flags_and_directories(jdir: tuple[Path, Path]) -> None:
    via, real = jdir
    (via / "a.md").write_text("A")
    (via / "b.md").write_text("B")
    with pytest.raises(OSError) as info:
        renameat2(via / "a.md", via / "b.md", RENAME_NOREPLACE)
    assert info.value.errno == errno.EEXIST
    renameat2(via / "a.md", via / "b.md", RENAME_EXCHANGE)
    assert (via / "a.md").read_text() == "B" and (via / "b.md").read_text() == "A"
    assert (real / "a.md").read_text() == "B"
    renameat2(via / "a.md", via / "c.md", RENAME_NOREPLACE)
    assert sorted(os.listdir(via)) == ["b.md", "c.md"]
    # A folder renamed keeps working, and so do the files inside it.
    os.makedirs(via / "2024" / "07")
    (via / "2024" / "07" / "14.md").write_text("day")
    os.rename(via / "2024", via / "archive-2024")
    assert (via / "archive-2024" / "07" / "14.md").read_text() == "day"
    (via / "archive-2024" / "07" / "14.md").write_text("day, edited")
    assert (real / "archive-2024" / "07" / "14.md").read_text() == "day, edited"
    with pytest.raises(OSError) as info:
        os.rmdir(via / "archive-2024")
    assert info.value.errno == errno.ENOTEMPTY
    # Across the journal boundary: refused, nothing lost.
    with pytest.raises(OSError) as info:
        os.rename(via / "b.md", via.parent.parent / "by-album" / "b.md")
    assert info.value.errno in (errno.EXDEV, errno.EROFS)
    assert (real / "b.md").read_text() == "A"


def test_changes_made_directly_on_disk_show_up(jdir: tuple[Path, Path]) -> None:
    via, real = jdir
    (via / "x.md").write_text("one")
    assert (via / "x.md").read_text() == "one"
    (real / "x.md").write_text("two, longer")
    (real / "y.md").write_text("new")
    assert wait_until(lambda: (via / "x.md").read_text() == "two, longer", 5)
    assert wait_until(lambda: sorted(os.listdir(via)) == ["x.md", "y.md"], 5)
