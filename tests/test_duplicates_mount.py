"""Duplicates through the CLI and the mount, with copies on a drive that gets unplugged.

A library built with the real CLI over two sources: a folder, and a loop-mounted
ext4 "USB drive". `rm` in the mount's duplicates/ trashes a copy to the trash of
its own drive; the last copy, and a copy whose twin is on the unplugged drive,
are refused (EPERM in the mount, one line and exit 1 in the CLI).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gallerfs.indexer import trash as trash_mod
from tests.conftest import loop_drive_at
from tests.dup_helpers import CORPORA, gallerfs
from tests.mountutil import Mount, wait_until

JPG = CORPORA / "exif" / "exif-samples" / "jpg"


@pytest.fixture
def drive(tmp_path: Path):
    with loop_drive_at(tmp_path / "usb.img", tmp_path / "usbdrive", size="16M") as d:
        yield d


def test_rm_in_duplicates_and_cli_trash(
    tmp_path: Path, drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    usb, plug, unplug = drive
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    env = {"XDG_DATA_HOME": str(xdg)}
    main = tmp_path / "Pictures"
    main.mkdir()
    (usb / "DCIM").mkdir()
    shutil.copy2(JPG / "Canon_40D.jpg", main / "IMG_0042.jpg")
    shutil.copy2(JPG / "Canon_40D.jpg", usb / "DCIM" / "IMG_0042.jpg")
    (main / "backup").mkdir()
    shutil.copy2(JPG / "Canon_40D.jpg", main / "backup" / "IMG_0042.jpg")
    shutil.copy2(JPG / "Pentax_K10D.jpg", main / "beach.jpg")
    shutil.copy2(JPG / "Pentax_K10D.jpg", usb / "DCIM" / "beach.jpg")
    library = tmp_path / "library"
    library.mkdir()
    gallerfs(library, "add", str(main), "--name", "home")
    gallerfs(library, "add", str(usb / "DCIM"), "--name", "usb")
    gallerfs(library, "index")
    listing = json.loads(gallerfs(library, "duplicates", "--exact", "--json").stdout)
    assert len(listing["exact"]) == 2

    with Mount(library, tmp_path / "mnt") as m:
        dups = m.path / "duplicates"
        sets = sorted(os.listdir(dups))
        # Each folder is named by its set's tag (from the content hash) and the keeper's name,
        # as 'gallerfs duplicates' prints it; no position or count that would change.
        folders = {s["folder"] for s in listing["exact"]}
        assert len(sets) == 2 and set(sets) == folders
        assert all(len(n.partition(" ")[0]) == 8 for n in sets)
        canon_set = next(s for s in sets if s.endswith(" IMG_0042.jpg"))
        assert any(s.endswith(" beach.jpg") for s in sets)
        names = sorted(os.listdir(dups / canon_set))
        assert names == ["IMG_0042 (home) (2).jpg", "IMG_0042 (home).jpg", "IMG_0042 (usb).jpg"]
        with open(dups / canon_set / "IMG_0042 (usb).jpg", "rb") as fh:
            assert fh.read() == (JPG / "Canon_40D.jpg").read_bytes()

        # rm one copy: it goes to the USB drive's own trash, with its .trashinfo.
        os.unlink(dups / canon_set / "IMG_0042 (usb).jpg")
        assert (
            not (usb / "DCIM" / "IMG_0042.jpg").exists()
            and (main / "IMG_0042.jpg").exists()
        )
        trashed = usb / f".Trash-{os.getuid()}"
        assert (trashed / "files" / "IMG_0042.jpg").read_bytes() == (
            JPG / "Canon_40D.jpg"
        ).read_bytes()
        info = os.fsencode(trashed / "info" / "IMG_0042.jpg.trashinfo")
        assert trash_mod.read_trashinfo(info)[0] == os.fsencode(
            usb / "DCIM" / "IMG_0042.jpg"
        )
        # The set keeps its folder name: 'rm duplicates/<name>/...' still means the same set.
        assert wait_until(lambda: len(os.listdir(dups / canon_set)) == 2, 10)
        assert sorted(os.listdir(dups)) == sets
        os.unlink(dups / canon_set / "IMG_0042 (home) (2).jpg")
        home_copies = [p for p in (main / "IMG_0042.jpg", main / "backup" / "IMG_0042.jpg") if p.exists()]
        assert len(home_copies) == 1
        last = home_copies[0]
        # The set is gone from the listing (one copy left).
        assert wait_until(
            lambda: not any("IMG_0042" in s for s in os.listdir(dups)), 10
        )

        # The CLI refuses the last copy, in one line.
        proc = gallerfs(
            library,
            "duplicates",
            "trash",
            str(last),
            env=env,
            check=False,
        )
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1
        assert "last remaining copy" in proc.stderr and last.exists()

        # Unplug the drive: the beach set still lists both copies, but neither can be trashed.
        beach_set = next(s for s in os.listdir(dups) if "beach.jpg" in s)
        unplug()
        with pytest.raises(PermissionError) as excinfo:
            os.unlink(dups / beach_set / "beach (home).jpg")
        assert excinfo.value.errno == errno.EPERM
        assert (main / "beach.jpg").exists()
        with pytest.raises(OSError) as excinfo:
            os.unlink(dups / beach_set / "beach (usb).jpg")
        assert excinfo.value.errno == errno.ENOMEDIUM
        proc = gallerfs(
            library,
            "duplicates",
            "trash",
            str(main / "beach.jpg"),
            env=env,
            check=False,
        )
        assert (
            proc.returncode == 1
            and "offline (usb) and cannot be verified" in proc.stderr
        )
        assert (main / "beach.jpg").exists()

        # Plugged back in: the copy verifies, and the CLI trashes by id to the home trash.
        plug()
        file_id = next(mm["id"] for s in json.loads(gallerfs(library, "duplicates", "--json").stdout)["exact"]
                       for mm in s["members"] if mm["path"] == str(main / "beach.jpg"))  # fmt: skip
        out = json.loads(
            gallerfs(
                library, "duplicates", "trash", str(file_id), "--json", env=env
            ).stdout
        )
        assert out["trash_path"] == str(xdg / "Trash" / "files" / "beach.jpg")
        assert (
            not (main / "beach.jpg").exists() and (usb / "DCIM" / "beach.jpg").exists()
        )
        assert (
            (xdg / "Trash" / "info" / "beach.jpg.trashinfo")
            .read_text()
            .startswith("[Trash Info]\nPath=")
        )
        assert wait_until(lambda: os.listdir(dups) == [], 10)
        subprocess.run(
            ["umount", str(usb)], check=True
        )  # the drive is not busy because of the mount
        plug()

    records = json.loads(gallerfs(library, "duplicates", "trashed", "--json").stdout)
    assert sorted(os.path.basename(r["original"]) for r in records) == [
        "IMG_0042.jpg",
        "IMG_0042.jpg",
        "beach.jpg",
    ]
    status = json.loads(gallerfs(library, "status", "--json").stdout)
    assert (
        status["files"] == 2
    )  # the trashed copies' rows are gone; the index matches the disks
