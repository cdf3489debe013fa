"""Albums and favourites through the mount: mkdir, cp, ln, rm, rmdir, mv; and in-place edits of originals."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.mountutil import Mount, build_library, run_gallerfs, wait_until

DAY = ("by-date", "2008", "05", "30")


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_library(tmp_path_factory.mktemp("fsalbums"))


@pytest.fixture(scope="module")
def mnt(lib: tuple[Path, Path]):
    library, _ = lib
    with Mount(library, library.parent / "mnt") as m:
        yield m


def digests(folder: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(dirpath, name)
            out[p] = hashlib.sha256(open(p, "rb").read()).hexdigest() + str(os.stat(p).st_mtime_ns)
    return out


def albums(library: Path) -> dict[str, int]:
    rows = json.loads(run_gallerfs(library, "album", "list", "--json").stdout)
    return {r["name"]: r["files"] for r in rows}


def file_id(m: Mount, *path: str) -> int:
    ino = os.stat(m.p(*path)).st_ino
    return json.load(open(m.p(".gallerfs", "inodes", f"{ino}.json")))["id"]


def test_mkdir_cp_adds_members_without_copying_data(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, photos = lib
    before = digests(photos)
    size_before = sum(f.stat().st_size for f in library.rglob("*") if f.is_file())
    os.mkdir(mnt.p("by-album", "Trip"))
    day = mnt.path.joinpath(*DAY)
    subprocess.run(f"cp '{day}'/*.jpg '{mnt.path}/by-album/Trip/'", shell=True, check=True)
    assert sorted(os.listdir(mnt.path / "by-album" / "Trip")) == sorted(os.listdir(day))
    for name in os.listdir(day):
        assert open(day / name, "rb").read() == open(mnt.p("by-album", "Trip", name), "rb").read()
    assert digests(photos) == before, "originals untouched"
    size_after = sum(f.stat().st_size for f in library.rglob("*") if f.is_file())
    assert size_after - size_before < 200_000, "no image data stored in the library"
    assert albums(library)["Trip"] == 3
    # Copying the same files again changes nothing and touches no original.
    subprocess.run(f"cp '{day}'/*.jpg '{mnt.path}/by-album/Trip/'", shell=True, check=True)
    assert albums(library)["Trip"] == 3 and digests(photos) == before


def test_cp_onto_an_existing_member_adds_the_copy_and_keeps_the_original(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, photos = lib
    before = digests(photos)
    os.mkdir(mnt.p("by-album", "Overwrite"))
    shutil.copyfile(mnt.p("sources", "photos", "cams", "Pentax_K10D.jpg"), mnt.p("by-album", "Overwrite", "x.jpg"))
    assert os.listdir(mnt.path / "by-album" / "Overwrite") == ["Pentax_K10D.jpg"]
    # Overwrite that member's name with another photo: the other photo joins, Pentax's original is untouched.
    shutil.copyfile(mnt.p("sources", "photos", "cams", "Kodak_CX7530.jpg"), mnt.p("by-album", "Overwrite", "Pentax_K10D.jpg"))
    assert sorted(os.listdir(mnt.path / "by-album" / "Overwrite")) == ["Kodak_CX7530.jpg", "Pentax_K10D.jpg"]
    assert digests(photos) == before


def test_cp_of_a_foreign_file_is_refused(mnt: Mount, lib: tuple[Path, Path], tmp_path: Path) -> None:
    os.mkdir(mnt.p("by-album", "Foreign"))
    stranger = tmp_path / "Canon_40D.jpg"  # a library name, other bytes
    stranger.write_bytes(b"not the library's photo" * 100)
    proc = subprocess.run(["cp", str(stranger), str(mnt.path / "by-album" / "Foreign")], capture_output=True, text=True)
    assert proc.returncode != 0 and "Read-only file system" in proc.stderr
    assert os.listdir(mnt.p("by-album", "Foreign")) == []
    assert albums(lib[0])["Foreign"] == 0


def test_cp_under_another_name_is_recognised_by_content(mnt: Mount, lib: tuple[Path, Path]) -> None:
    os.mkdir(mnt.p("by-album", "Renamed"))
    shutil.copyfile(mnt.p("sources", "photos", "cams", "Canon_PowerShot_S40.jpg"), mnt.p("by-album", "Renamed", "holiday.jpg"))
    assert os.listdir(mnt.path / "by-album" / "Renamed") == ["Canon_PowerShot_S40.jpg"]


def test_ln_adds_and_rm_removes_from_the_album_only(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, photos = lib
    os.mkdir(mnt.p("by-album", "Linked"))
    os.link(mnt.p("sources", "photos", "cams", "Kodak_CX7530.jpg"), mnt.p("by-album", "Linked", "Kodak_CX7530.jpg"))
    os.link(mnt.p("sources", "photos", "videos", "clip.mp4"), mnt.p("by-album", "Linked", "another name.mp4"))
    assert sorted(os.listdir(mnt.path / "by-album" / "Linked")) == ["Kodak_CX7530.jpg", "clip.mp4"]
    # Album members have inodes of their own, and the metadata is still found by inode.
    member = os.stat(mnt.p("by-album", "Linked", "clip.mp4")).st_ino
    assert member != os.stat(mnt.p("sources", "photos", "videos", "clip.mp4")).st_ino
    assert file_id(mnt, "by-album", "Linked", "clip.mp4") == file_id(mnt, "sources", "photos", "videos", "clip.mp4")
    os.unlink(mnt.p("by-album", "Linked", "Kodak_CX7530.jpg"))
    assert os.listdir(mnt.path / "by-album" / "Linked") == ["clip.mp4"]
    assert (photos / "cams" / "Kodak_CX7530.jpg").exists()
    assert os.path.exists(mnt.p("sources", "photos", "cams", "Kodak_CX7530.jpg"))
    assert albums(library)["Linked"] == 1
    with pytest.raises(OSError) as info:
        os.link(mnt.p(".gallerfs", "stats.json"), mnt.p("by-album", "Linked", "stats.json"))
    assert info.value.errno in (errno.EXDEV, errno.EPERM, errno.EROFS)


def test_rmdir_only_deletes_empty_albums_and_mv_renames(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, _ = lib
    os.mkdir(mnt.p("by-album", "Temp"))
    os.link(mnt.p("sources", "photos", "cams", "Canon_40D.jpg"), mnt.p("by-album", "Temp", "Canon_40D.jpg"))
    with pytest.raises(OSError) as info:
        os.rmdir(mnt.p("by-album", "Temp"))
    assert info.value.errno == errno.ENOTEMPTY
    os.rename(mnt.p("by-album", "Temp"), mnt.p("by-album", "Kept"))
    assert "Kept" in albums(library) and "Temp" not in albums(library)
    assert os.listdir(mnt.path / "by-album" / "Kept") == ["Canon_40D.jpg"]
    os.unlink(mnt.p("by-album", "Kept", "Canon_40D.jpg"))
    os.rmdir(mnt.p("by-album", "Kept"))
    assert "Kept" not in os.listdir(mnt.path / "by-album") and "Kept" not in albums(library)
    os.mkdir(mnt.p("by-album", "Dup"))
    with pytest.raises(FileExistsError):
        os.mkdir(mnt.p("by-album", "Dup"))


def test_mv_between_albums_moves_membership(mnt: Mount, lib: tuple[Path, Path]) -> None:
    os.mkdir(mnt.p("by-album", "From"))
    os.mkdir(mnt.p("by-album", "To"))
    os.link(mnt.p("sources", "photos", "cams", "Pentax_K10D.jpg"), mnt.p("by-album", "From", "Pentax_K10D.jpg"))
    subprocess.run(["mv", str(mnt.path / "by-album" / "From" / "Pentax_K10D.jpg"), str(mnt.path / "by-album" / "To")], check=True)
    assert os.listdir(mnt.path / "by-album" / "From") == []
    assert os.listdir(mnt.path / "by-album" / "To") == ["Pentax_K10D.jpg"]


def test_albums_made_by_the_cli_show_up(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, photos = lib
    run_gallerfs(library, "album", "create", "From CLI")
    run_gallerfs(library, "album", "add", "From CLI", str(photos / "cams" / "Canon_40D.jpg"))
    assert wait_until(lambda: os.path.exists(mnt.p("by-album", "From CLI", "Canon_40D.jpg")), 5)
    # A file named by its path inside the mount works too.
    run_gallerfs(library, "album", "add", "From CLI", str(mnt.path / "by-date" / "2008" / "05" / "04" / "Pentax_K10D.jpg"))
    assert wait_until(lambda: os.path.exists(mnt.p("by-album", "From CLI", "Pentax_K10D.jpg")), 5)
    proc = run_gallerfs(library, "album", "add", "From CLI", str(mnt.path / ".gallerfs" / "stats.json"), check=False)
    assert proc.returncode == 1 and "not a file of the library" in proc.stderr


def test_favourites(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, _ = lib
    shutil.copyfile(mnt.p("sources", "photos", "cams", "Canon_40D.jpg"), mnt.p("favourites", "Canon_40D.jpg"))
    os.link(mnt.p("sources", "photos", "videos", "clip.mp4"), mnt.p("favourites", "clip.mp4"))
    assert sorted(os.listdir(mnt.path / "favourites")) == ["Canon_40D.jpg", "clip.mp4"]
    listed = json.loads(run_gallerfs(library, "favourite", "--json").stdout)
    assert sorted(os.path.basename(r["path"]) for r in listed) == ["Canon_40D.jpg", "clip.mp4"]
    os.unlink(mnt.p("favourites", "clip.mp4"))
    assert os.listdir(mnt.path / "favourites") == ["Canon_40D.jpg"]
    with pytest.raises(OSError) as info:
        os.mkdir(mnt.p("favourites", "sub"))
    assert info.value.errno == errno.EROFS


def test_in_place_edit_goes_to_the_original_and_requeues_it(mnt: Mount, lib: tuple[Path, Path]) -> None:
    _, photos = lib
    original = photos / "cams" / "Canon_PowerShot_S40.jpg"
    via = mnt.p("sources", "photos", "cams", "Canon_PowerShot_S40.jpg")
    fid = file_id(mnt, "sources", "photos", "cams", "Canon_PowerShot_S40.jpg")
    data = original.read_bytes()
    mtime = original.stat().st_mtime_ns
    # Saving identical bytes (O_TRUNC + write) touches nothing.
    with open(via, "wb") as fh:
        fh.write(data)
    assert original.stat().st_mtime_ns == mtime and original.read_bytes() == data
    # A real edit (here: a comment appended) lands in the original and queues phase 2 again.
    edited = data + b"edited"
    with open(via, "wb") as fh:
        fh.write(edited)
    assert original.read_bytes() == edited
    assert os.stat(via).st_size == len(edited)
    info = json.load(open(mnt.p(".gallerfs", "files", f"{fid}.json")))
    assert info["size"] == len(edited) and info["state"] in ("pending", "done", "error")


def test_an_original_changed_behind_the_index_reads_whole(mnt: Mount, lib: tuple[Path, Path]) -> None:
    _, photos = lib
    via = mnt.p("sources", "photos", "odd", "undated.jpg")
    before = os.stat(via).st_size
    with open(photos / "odd" / "undated.jpg", "ab") as fh:  # edited by another program, not re-indexed yet
        fh.write(b"x" * 5000)
    data = open(via, "rb").read()
    assert data == (photos / "odd" / "undated.jpg").read_bytes() and len(data) == before + 5000
    assert wait_until(lambda: os.stat(via).st_size == before + 5000, 2)


@pytest.mark.parametrize("flag", ["-p", "-a"])
def test_cp_preserving_attributes_works(mnt: Mount, lib: tuple[Path, Path], flag: str) -> None:
    album = mnt.path / "by-album" / f"Preserve{flag}"
    os.mkdir(album)
    source = mnt.path / "sources" / "photos" / "cams" / "Canon_40D.jpg"
    subprocess.run(["cp", flag, str(source), str(album)], check=True, capture_output=True)
    assert os.listdir(album) == ["Canon_40D.jpg"]
    assert os.stat(album / "Canon_40D.jpg").st_mtime_ns == os.stat(source).st_mtime_ns
    subprocess.run(["cp", flag, str(source), str(album)], check=True, capture_output=True)  # again, onto itself
    assert os.listdir(album) == ["Canon_40D.jpg"]
