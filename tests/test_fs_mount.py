"""The mounted tree, read-only side: sources/, by-date/, .gallerfs/, names, inodes, errors."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.mountutil import NON_UTF8, Mount, build_library, tree_listing

MEDIA = (".jpg", ".mp4")


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_library(tmp_path_factory.mktemp("fsmount"))


@pytest.fixture(scope="module")
def mnt(lib: tuple[Path, Path]):
    library, _ = lib
    with Mount(library, library.parent / "mnt") as m:
        yield m


def sha(path: bytes | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_top_level(mnt: Mount) -> None:
    from gallerfs.fs.toplevel import TOP_LEVEL

    names = sorted(os.listdir(mnt.path))
    assert names == sorted(os.fsdecode(name) for name, _ in TOP_LEVEL)
    assert {".gallerfs", "by-album", "by-date", "favourites", "journal", "sources"} <= set(names)
    for name in os.listdir(mnt.path):
        assert stat.S_ISDIR(os.stat(mnt.p(name)).st_mode)


def test_sources_mirror_every_media_file_byte_for_byte(mnt: Mount, lib: tuple[Path, Path]) -> None:
    _, photos = lib
    root = os.fsencode(photos)
    seen = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            real = os.path.join(dirpath, name)
            rel = os.path.relpath(real, root)
            through = mnt.p("sources", "photos", rel)
            if not name.lower().endswith(tuple(e.encode() for e in MEDIA)):
                assert not os.path.exists(through), "non-media files are not shown"
                continue
            a, b = os.stat(real), os.stat(through)
            assert stat.S_ISREG(b.st_mode)
            assert (b.st_size, b.st_mtime_ns) == (a.st_size, a.st_mtime_ns)
            assert sha(through) == sha(real)
            seen += 1
    assert seen == 9


def test_random_reads_of_a_video(mnt: Mount, lib: tuple[Path, Path]) -> None:
    _, photos = lib
    real = (photos / "videos" / "clip.mp4").read_bytes()
    with open(mnt.p("sources", "photos", "videos", "clip.mp4"), "rb", buffering=0) as fh:
        for off, size in [(0, 10), (len(real) - 5, 100), (123_457, 300_000), (len(real) + 10, 5)]:
            fh.seek(off)
            assert fh.read(size) == real[off : off + size]


def test_only_regular_files_and_folders(mnt: Mount) -> None:
    for dirpath, dirnames, filenames in os.walk(mnt.p("sources")):
        for name in dirnames + filenames:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def test_by_date_uses_date_taken_and_deduplicates_names(mnt: Mount, lib: tuple[Path, Path]) -> None:
    _, photos = lib
    day = mnt.p("by-date", "2008", "05", "30")
    names = sorted(os.listdir(day))
    # cams/Canon_40D.jpg, trip/a/IMG_0001.jpg and trip/b/IMG_0001.jpg were all taken then.
    assert names == [b"Canon_40D.jpg", b"IMG_0001 (2).jpg", b"IMG_0001.jpg"]
    # The lower file id keeps the plain name; both files are there, each with its own bytes.
    ids = {n: json.loads(open(mnt.p(".gallerfs", "inodes", f"{os.stat(os.path.join(day, n)).st_ino}.json"), "rb").read())["id"] for n in names}  # fmt: skip
    assert ids[b"IMG_0001.jpg"] < ids[b"IMG_0001 (2).jpg"]
    originals = {sha(photos / "trip" / "a" / "IMG_0001.jpg"), sha(photos / "trip" / "b" / "IMG_0001.jpg")}
    assert {sha(os.path.join(day, b"IMG_0001.jpg")), sha(os.path.join(day, b"IMG_0001 (2).jpg"))} == originals
    # The same names every time.
    assert sorted(os.listdir(day)) == names


def test_by_date_falls_back_to_file_time(mnt: Mount) -> None:
    # odd/undated.jpg has no date taken; its mtime is 2019-03-04 12:00 UTC (local day may differ by one).
    found = [p for p in ("03", "04", "05") if os.path.exists(mnt.p("by-date", "2019", "03", p, "undated.jpg"))]
    assert len(found) == 1


def test_find_by_date_counts_every_file(mnt: Mount) -> None:
    out = subprocess.run(["find", str(mnt.path / "by-date"), "-type", "f"], capture_output=True, check=True)
    assert len(out.stdout.splitlines()) == 9


def test_non_utf8_names_round_trip(mnt: Mount, lib: tuple[Path, Path]) -> None:
    folder = mnt.p("sources", "photos", "odd")
    assert NON_UTF8 in os.listdir(folder)
    with open(os.path.join(folder, NON_UTF8), "rb") as fh:
        assert fh.read() == open(os.path.join(os.fsencode(lib[1] / "odd"), NON_UTF8), "rb").read()


def test_inodes_and_listings_are_stable(mnt: Mount) -> None:
    first = tree_listing(mnt.p("sources"))
    second = tree_listing(mnt.p("sources"))
    assert first == second and len(first) > 10
    # The same file has the same inode under sources/ and by-date/.
    a = os.stat(mnt.p("sources", "photos", "cams", "Pentax_K10D.jpg"))
    b = os.stat(mnt.p("by-date", "2008", "05", "04", "Pentax_K10D.jpg"))
    assert a.st_ino == b.st_ino


@pytest.mark.parametrize(
    "action",
    [
        lambda m: open(m.p("sources", "photos", "new.jpg"), "wb"),
        lambda m: os.unlink(m.p("sources", "photos", "cams", "Canon_40D.jpg")),
        lambda m: os.rename(m.p("sources", "photos", "cams", "Canon_40D.jpg"), m.p("sources", "photos", "cams", "x.jpg")),
        lambda m: os.mkdir(m.p("by-date", "1999")),
        lambda m: os.mkdir(m.p("sources", "photos", "new")),
        lambda m: os.rmdir(m.p("sources", "photos", "odd")),
        lambda m: open(m.p(".gallerfs", "stats.json"), "wb"),
        lambda m: os.utime(m.p("sources", "photos", "cams", "Canon_40D.jpg"), (1, 1)),
        lambda m: os.chmod(m.p("sources", "photos", "cams", "Canon_40D.jpg"), 0o600),
        lambda m: os.truncate(m.p("sources", "photos", "cams", "Canon_40D.jpg"), 0),
        lambda m: os.symlink("x", m.p("by-album", "link")),
        lambda m: os.unlink(m.p("by-date", "2008", "05", "04", "Pentax_K10D.jpg")),
    ],
)
def test_everything_else_is_read_only(mnt: Mount, action) -> None:
    with pytest.raises(OSError) as info:
        action(mnt)
    assert info.value.errno in (errno.EROFS, errno.EPERM, errno.EXDEV, errno.ENOSYS), info.value


def test_status_files(mnt: Mount) -> None:
    text = open(mnt.p(".gallerfs", "sources")).read()
    assert "photos" in text and "online" in text
    sources = json.load(open(mnt.p(".gallerfs", "sources.json")))
    assert [(s["name"], s["online"], s["files"]) for s in sources] == [("photos", True, 9)]
    stats = json.load(open(mnt.p(".gallerfs", "stats.json")))
    assert stats["files"] == 9 and stats["by_kind"]["video"] == 1
    jobs = json.load(open(mnt.p(".gallerfs", "jobs.json")))
    assert isinstance(jobs, list)
    assert "jobs" in open(mnt.p(".gallerfs", "README")).read()


def test_metadata_as_json_by_inode_and_id(mnt: Mount, lib: tuple[Path, Path]) -> None:
    path = mnt.p("sources", "photos", "cams", "Canon_40D.jpg")
    info = json.load(open(mnt.p(".gallerfs", "inodes", f"{os.stat(path).st_ino}.json")))
    assert info["source_path"] == str(lib[1] / "cams" / "Canon_40D.jpg")
    assert info["metadata"]["taken_at"].startswith("2008-05-30T15:56:01")
    assert info["metadata"]["make"] == "Canon"
    same = json.load(open(mnt.p(".gallerfs", "files", f"{info['id']}.json")))
    assert same == info
    assert not os.path.exists(mnt.p(".gallerfs", "files", "999999.json"))


def test_xattrs_are_off_by_default_so_ls_stays_fast(mnt: Mount) -> None:
    path = mnt.p("sources", "photos", "cams", "Canon_40D.jpg")
    with pytest.raises(OSError) as info:
        os.getxattr(path, "user.gallerfs.date_taken")
    assert info.value.errno in (errno.ENOTSUP, errno.EOPNOTSUPP)
    out = subprocess.run(["ls", "-lR", str(mnt.path / "sources")], capture_output=True, text=True, errors="replace")
    assert out.returncode == 0 and "Canon_40D.jpg" in out.stdout
