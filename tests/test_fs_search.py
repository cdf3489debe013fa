"""The mount's ``search/`` end to end: a real library of colour photos, the test CLIP model, a real FUSE mount."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from gallerfs.search import NO_MODEL_MESSAGE
from tests import clipmodel
from tests.mountutil import Mount, run_gallerfs

COLOURS = ("red", "green", "blue")
PER_COLOUR = 3


def _photos(root: Path) -> Path:
    photos = root / "Photos"
    photos.mkdir()
    for c, colour in enumerate(COLOURS):
        for i in range(PER_COLOUR):
            clipmodel.colour_photo(photos / f"{colour}{i}.jpg", colour, c * 10 + i, size=(320, 240))
    # The same name as a red photo, in another folder: a ranked name stays unique by its rank.
    (photos / "more").mkdir()
    clipmodel.colour_photo(photos / "more" / "red0.jpg", "red", 99, size=(320, 240))
    return photos


def _library(tmp_path: Path, with_model: bool) -> tuple[Path, Path]:
    library = tmp_path / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    photos = _photos(tmp_path)
    run_gallerfs(library, "add", str(photos))
    if with_model:
        folder = tmp_path / "model-files"
        manifest = clipmodel.write_model_dir(folder)
        run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))
    run_gallerfs(library, "index")
    return library, photos


def _ls(mnt: Mount, *parts: str) -> list[str]:
    """A listing in the order the mount gives it."""
    return [os.fsdecode(n) for n in os.listdir(mnt.p(*parts))]


def _original(photos: Path, ranked_name: str, data: bytes) -> Path:
    """The original a ranked entry shows: same name, same bytes."""
    name = ranked_name.split(" ", 1)[1]
    candidates = [p for p in photos.rglob(name) if p.read_bytes() == data]
    assert len(candidates) == 1, (ranked_name, candidates)
    return candidates[0]


def test_search_folder_ranks_reads_and_remembers(tmp_path: Path) -> None:
    library, photos = _library(tmp_path, with_model=True)
    mnt_path = tmp_path / "mnt"
    with Mount(library, mnt_path) as mnt:
        assert "search" in os.listdir(mnt.path)
        assert _ls(mnt, "search") == []

        started = time.monotonic()
        names = _ls(mnt, "search", "red")
        first_query_s = time.monotonic() - started
        reds = [n for n in names if n.split(" ", 1)[1].startswith("red")]
        assert len(reds) == PER_COLOUR + 1
        assert names[: len(reds)] == reds, names  # every red photo ranks above every other
        assert names == sorted(names)  # name order is rank order
        assert [n.split(" ", 1)[0] for n in names] == [f"{i:02d}" for i in range(1, len(names) + 1)]
        assert sum(n.endswith(" red0.jpg") for n in names) == 2  # two originals named red0.jpg
        seen = set()
        for name in names:
            st = os.stat(mnt.p("search", "red", name))
            data = Path(os.fsdecode(mnt.p("search", "red", name))).read_bytes()
            original = _original(photos, name, data)
            assert st.st_size == original.stat().st_size
            seen.add(original)
        assert len(seen) == len(names)

        blues = _ls(mnt, "search", "blue")
        assert blues[0].split(" ", 1)[1].startswith("blue")
        assert set(_ls(mnt, "search")) == {"red", "blue"}

        # Probes by file managers are not queries and are never remembered.
        for probe in (".hidden", ".directory"):
            with pytest.raises(FileNotFoundError):
                os.stat(mnt.p("search", probe))
        # Every name under search/ exists, so mkdir says so; the query is remembered all the same
        # (mkdir -p succeeds).
        with pytest.raises(FileExistsError):
            os.mkdir(mnt.p("search", "green grass"))
        assert _ls(mnt, "search", "green grass")[0].split(" ", 1)[1].startswith("green")
        assert set(_ls(mnt, "search")) == {"red", "blue", "green grass"}
        with pytest.raises(OSError) as exc:
            os.mkdir(mnt.p("search", "red", "sub"))
        assert exc.value.errno == errno.EROFS
        with pytest.raises(OSError) as exc:
            os.unlink(mnt.p("search", "red", names[0]))
        assert exc.value.errno == errno.EROFS

    with Mount(library, mnt_path) as mnt:  # remembered across mounts
        assert set(_ls(mnt, "search")) == {"red", "blue", "green grass"}
        os.rmdir(mnt.p("search", "blue"))
        assert set(_ls(mnt, "search")) == {"red", "green grass"}
        assert _ls(mnt, "search", "red") == names  # the same ranking again

    with Mount(library, mnt_path) as mnt:
        assert set(_ls(mnt, "search")) == {"red", "green grass"}
    assert first_query_s < 10


def test_search_without_model_explains_and_fails_cleanly(tmp_path: Path) -> None:
    library, _ = _library(tmp_path, with_model=False)
    with Mount(library, tmp_path / "mnt") as mnt:
        assert _ls(mnt, "search") == ["README.txt"]
        text = Path(os.fsdecode(mnt.p("search", "README.txt"))).read_text()
        assert NO_MODEL_MESSAGE in text
        assert os.stat(mnt.p("search", "README.txt")).st_size == len(text.encode())
        started = time.monotonic()
        with pytest.raises(FileNotFoundError):
            _ls(mnt, "search", "red")
        with pytest.raises(FileNotFoundError):
            os.mkdir(mnt.p("search", "red"))
        assert time.monotonic() - started < 2
        assert _ls(mnt, "search") == ["README.txt"]
