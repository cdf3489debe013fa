"""write_if_empty: a template never replaces what an editor wrote or is about to write."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gallerfs.journal import safewrite
from gallerfs.journal.safewrite import open_for_writing_elsewhere, write_if_empty


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_missing_and_empty_files_get_the_text(tmp_path: Path) -> None:
    assert write_if_empty(tmp_path / "new.md", "hello\n") is True
    assert (tmp_path / "new.md").read_text() == "hello\n"
    (tmp_path / "empty.md").touch()
    assert write_if_empty(tmp_path / "empty.md", "hello\n") is True
    assert write_if_empty(tmp_path / "empty.md", "again\n") is False  # has content now
    assert (tmp_path / "empty.md").read_text() == "hello\n"
    assert listing(tmp_path) == ["empty.md", "new.md"]


def test_lease_probe_sees_writers_not_readers(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.touch()
    assert open_for_writing_elsewhere(path) is False
    with open(path, "rb"):
        assert open_for_writing_elsewhere(path) is False
    with open(path, "ab"):
        assert open_for_writing_elsewhere(path) is True
    assert open_for_writing_elsewhere(tmp_path / "missing.md") is None


def test_editor_holding_the_empty_file_open_for_writing_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor opened the empty file (no write yet, so size and mtime are unchanged) and writes later."""
    path = tmp_path / "2024-07-14.md"
    path.touch()
    held: list[int] = []
    monkeypatch.setattr(safewrite, "_before_commit", lambda p: held.append(os.open(p, os.O_WRONLY)))
    assert write_if_empty(path, "template\n") is False
    os.write(held[0], b"the editor's text\n")
    os.close(held[0])
    assert path.read_text() == "the editor's text\n"
    assert listing(tmp_path) == ["2024-07-14.md"]


def test_writer_arriving_during_the_swap_gets_its_file_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The editor opens the old empty file in the instant between the last check and the swap."""
    path = tmp_path / "2024-07-14.md"
    path.touch()
    real = safewrite._renameat2
    held: list[int] = []

    def racing_rename(src: Path, dst: Path, flags: int) -> None:
        if flags == safewrite._RENAME_EXCHANGE and not held:
            held.append(os.open(dst, os.O_WRONLY))
        real(src, dst, flags)

    monkeypatch.setattr(safewrite, "_renameat2", racing_rename)
    assert write_if_empty(path, "template\n") is False
    os.write(held[0], b"typed\n")
    os.close(held[0])
    assert path.read_text() == "typed\n"
    assert listing(tmp_path) == ["2024-07-14.md"]


def test_many_concurrent_writers_never_lose_their_text(tmp_path: Path) -> None:
    """Editors saving by path while templates are written: the editor's text is always what remains."""
    for i in range(100):
        path = tmp_path / f"2024-01-{i % 28 + 1:02d}-{i}.md"
        path.touch()
        start = threading.Barrier(2)

        def editor(start: threading.Barrier = start, path: Path = path, i: int = i) -> None:
            start.wait()
            with open(path, "w") as fh:
                fh.write(f"edit {i}\n")

        t = threading.Thread(target=editor)
        t.start()
        start.wait()
        write_if_empty(path, "template\n")
        t.join()
        assert path.read_text() == f"edit {i}\n", path
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".gallerfs-tmp")]
