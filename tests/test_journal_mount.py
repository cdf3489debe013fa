"""The journal through a real mount: links resolve, new empty entries fill, edits are never clobbered."""

from __future__ import annotations

import errno
import os
import posixpath
from urllib.parse import unquote_to_bytes

import pytest

from gallerfs.journal.links import link_targets, photo_refs
from gallerfs.journal.template import split_front_matter
from tests.conftest import run_gallerfs
from tests.journal_support import build_library, gallerfs, wait_for
from tests.mountutil import Mount


@pytest.fixture(scope="module")
def mounted(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("journal-mount")
    library, photos = build_library(tmp)
    gallerfs(library, "journal", "new", "2024-07-14")
    gallerfs(library, "journal", "new", "2024-W28")
    gallerfs(library, "journal", "new", "2020-W53")
    with Mount(library, tmp / "mnt") as m:  # fails the test on a traceback or an error in the mount's log
        yield m, library, photos


def test_every_template_link_resolves_in_the_mount(mounted) -> None:
    m, library, photos = mounted
    journal = m.path / "journal"
    checked = 0
    for name in ("2024-07-14.md", "2024-W28.md", "2020-W53.md"):
        text = (journal / name).read_text()
        assert text == (library / "journal" / name).read_text()  # the passthrough shows the real file
        front, body = split_front_matter(text)
        targets = [t for t in link_targets(body) if t.startswith("_photos/")]
        assert len(targets) == len(front["photos"]) > 0
        for target, ref in zip(targets, photo_refs(body)):
            # As a previewer resolves it: relative to the entry's folder, percent-decoded.
            rel = posixpath.normpath(unquote_to_bytes(target))
            in_journal = os.path.join(os.fsencode(journal), rel)
            st = os.stat(in_journal)
            by_date = os.path.join(os.fsencode(m.path), b"by-date", b"%04d" % ref.day.year, b"%02d" % ref.day.month,
                                   b"%02d" % ref.day.day, os.fsencode(ref.name))  # fmt: skip
            assert os.stat(by_date).st_ino == st.st_ino  # the very same library file
            with open(in_journal, "rb") as a, open(by_date, "rb") as b:
                assert a.read() == b.read()
            checked += 1
    assert checked == 3 + 7 + 2
    # The de-duplicated names are exactly the mount's.
    day = sorted(os.listdir(journal / "_photos" / "2024-07-14"))
    assert day == sorted(os.listdir(m.path / "by-date" / "2024" / "07" / "14"))
    assert day == ["IMG_0001 (2).jpg", "IMG_0001.jpg", "beach party (sunset).jpg"]


def test_photos_folder_is_listed_and_read_only(mounted) -> None:
    m, library, _ = mounted
    journal = m.path / "journal"
    listing = os.listdir(journal)
    assert "_photos" in listing and "2024-07-14.md" in listing
    assert not (library / "journal" / "_photos").exists()  # nothing is written to the real folder
    days = os.listdir(journal / "_photos")
    assert {"2024-07-14", "2024-07-08", "2020-12-31", "2021-01-03"} <= set(days)
    with pytest.raises(OSError) as exc:
        (journal / "_photos" / "2024-07-14" / "new.jpg").write_bytes(b"x")
    assert exc.value.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    with pytest.raises(OSError):
        (journal / "_photos" / "2024-07-14" / "IMG_0001.jpg").unlink()


def test_empty_entry_created_through_the_mount_gets_the_template(mounted) -> None:
    m, library, _ = mounted
    entry = m.path / "journal" / "2024-07-10.md"
    entry.touch()  # Obsidian's "new note"
    assert wait_for(lambda: entry.stat().st_size > 0, 10), "the template never appeared"
    text = entry.read_text()
    assert text == (library / "journal" / "2024-07-10.md").read_text()
    assert "(_photos/2024-07-10/wednesday.jpg)" in text and text.startswith("---\ndate: 2024-07-10\n")
    assert (m.path / "journal" / "_photos" / "2024-07-10" / "wednesday.jpg").is_file()
    other = m.path / "journal" / "scratch.md"
    other.touch()
    entry2 = m.path / "journal" / "2024-W29.md"
    entry2.touch()
    assert wait_for(lambda: entry2.stat().st_size > 0, 10)
    assert other.stat().st_size == 0  # not an entry name: left empty


def test_edits_through_the_mount_are_never_clobbered(mounted) -> None:
    m, library, _ = mounted
    journal = m.path / "journal"
    # Created and written in one go (vim, most editors): never replaced.
    (journal / "2024-07-09.md").write_text("written at creation\n")
    # Created empty by one handle, written by another before the first is closed.
    path = journal / "2024-07-11.md"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    with open(path, "w") as other:
        other.write("typed while the creating handle was open\n")
    os.close(fd)
    # Created empty, then saved at once by path, twenty times over, racing the template.
    raced = []
    for i in range(20):
        p = journal / f"2023-01-{i + 1:02d}.md"
        p.touch()
        p.write_text(f"edit {i}\n")
        raced.append((p, f"edit {i}\n"))
    assert wait_for(lambda: (library / "journal" / "2023-01-20.md").exists(), 5)
    # Give the mount time to act on every release, then check nothing was lost.
    wait_for(lambda: False, 1.0)
    assert (journal / "2024-07-09.md").read_text() == "written at creation\n"
    assert path.read_text() == "typed while the creating handle was open\n"
    for p, expected in raced:
        assert p.read_text() == expected, p
        assert (library / "journal" / p.name).read_text() == expected
    leftovers = [n for n in os.listdir(library / "journal") if n.endswith(".gallerfs-tmp")]
    assert leftovers == []


def test_a_new_journal_dir_takes_effect_in_the_running_mount(tmp_path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    library = tmp_path / "library"
    run_gallerfs(library, "add", str(photos))
    old = library / "journal"
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "kept.md").write_text("# kept\n")
    with Mount(library, tmp_path / "mnt") as m:
        journal = m.path / "journal"
        (journal / "before.md").write_text("before\n")
        assert (old / "before.md").read_text() == "before\n"
        old_ino = os.stat(journal).st_ino
        inside = os.open(journal, os.O_RDONLY | os.O_DIRECTORY)  # a program sitting in the old folder
        try:
            run_gallerfs(library, "config", "set", "journal_dir", str(notes))
            assert wait_for(lambda: "kept.md" in os.listdir(journal)), os.listdir(journal)
            assert sorted(os.listdir(journal)) == ["_photos", "kept.md"]
            assert os.stat(journal).st_ino != old_ino  # a new folder to the kernel: nothing stale cached
            assert (journal / "kept.md").read_text() == "# kept\n"
            (journal / "after.md").write_text("after\n")
            assert (notes / "after.md").read_text() == "after\n" and not (old / "after.md").exists()
            assert "before.md" in os.listdir(inside)  # the old folder stays usable by who holds it
        finally:
            os.close(inside)
            run_gallerfs(library, "config", "set", "journal_dir", "")  # back to the default
        assert wait_for(lambda: "before.md" in os.listdir(journal)), os.listdir(journal)
        assert "kept.md" not in os.listdir(journal)
