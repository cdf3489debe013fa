"""Journal entries over a real indexed library: creation, filling, mentions, sync, CLI, no lost edits."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from gallerfs import config
from gallerfs.db import files as files_db
from gallerfs.db import journal as jdb
from gallerfs.db.connection import Database
from gallerfs.journal import safewrite
from gallerfs.journal.entries import create_entry, fill_if_empty, on_journal_file_event, sync_journal
from gallerfs.journal.links import photo_refs
from gallerfs.journal.periods import parse_period
from gallerfs.journal.template import split_front_matter
from gallerfs.paths import LibraryPaths
from tests.journal_support import CORPUS, build_library, gallerfs, write_dated_copy


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_library(tmp_path_factory.mktemp("journal-lib"))


@pytest.fixture
def lib(built: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the indexed library (the photos stay shared and unmodified)."""
    library = tmp_path / "library"
    shutil.copytree(built[0], library, ignore=shutil.ignore_patterns("journal", "run"))
    return library


def ids_by_relpath(library: Path) -> dict[str, int]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        out = {}
        for rel in [
            "trip/IMG_0001.jpg", "phone/IMG_0001.jpg", "trip/beach party (sunset).jpg", "trip/monday.jpg",
            "trip/wednesday.jpg", "trip/sunday-before.jpg", "trip/monday-after.jpg", "newyear/dec31.jpg",
            "newyear/jan03.jpg", "newyear/jan04.jpg", "scans/no-date.png", "odd/caf\udce9.jpg",
        ]:  # fmt: skip
            row = files_db.file_by_path(db, 1, os.fsencode(rel))
            assert row is not None, rel
            out[rel] = row.id
        return out


def paths_settings(library: Path) -> tuple[LibraryPaths, config.Settings]:
    paths = LibraryPaths(root=library, config_file=library / "config.toml")
    return paths, config.load(paths.config_file)


def test_index_knows_the_planted_dates(lib: Path) -> None:
    with Database(lib / "library.sqlite3", readonly=True) as db:
        ids = ids_by_relpath(lib)
        taken = files_db.metadata_of(db, ids["trip/IMG_0001.jpg"])
        assert taken is not None and taken["taken_at"].startswith("2024-07-14T09:00:00")


def test_daily_entry_lists_the_days_photos(lib: Path) -> None:
    ids = ids_by_relpath(lib)
    out = json.loads(gallerfs(lib, "journal", "new", "2024-07-14", "--json").stdout)
    path = lib / "journal" / "2024-07-14.md"
    assert out["path"] == str(path) and out["created"] is True
    expected = [ids["trip/IMG_0001.jpg"], ids["phone/IMG_0001.jpg"], ids["trip/beach party (sunset).jpg"]]
    assert out["photos"] == expected  # in the order taken
    text = path.read_text()
    front, body = split_front_matter(text)
    assert yaml.safe_load(text.split("---\n")[1]) == front
    assert str(front["date"]) == "2024-07-14" and front["week"] == "2024-W28"
    assert front["tags"] == ["journal"] and front["photos"] == expected
    refs = photo_refs(body)
    # The two IMG_0001.jpg of the day get the mount's de-duplicated names (lowest id keeps the name).
    first, second = sorted([ids["trip/IMG_0001.jpg"], ids["phone/IMG_0001.jpg"]])
    names = {r.name for r in refs}
    assert names == {"IMG_0001.jpg", "IMG_0001 (2).jpg", "beach party (sunset).jpg"}
    assert "_photos/2024-07-14/IMG_0001%20%282%29.jpg" in body
    assert "_photos/2024-07-14/beach%20party%20%28sunset%29.jpg" in body
    with Database(lib / "library.sqlite3", readonly=True) as db:
        assert jdb.journaled_file_ids(db) == set(expected)


def test_weekly_entries_follow_iso_weeks(lib: Path) -> None:
    ids = ids_by_relpath(lib)
    out = json.loads(gallerfs(lib, "journal", "new", "2024-W28", "--json").stdout)
    assert set(out["photos"]) == {
        ids[r] for r in ("trip/IMG_0001.jpg", "phone/IMG_0001.jpg", "trip/beach party (sunset).jpg",
                         "trip/monday.jpg", "trip/wednesday.jpg", "scans/no-date.png", "odd/caf\udce9.jpg")
    }  # fmt: skip
    assert ids["trip/sunday-before.jpg"] not in out["photos"]
    assert ids["trip/monday-after.jpg"] not in out["photos"]
    text = (lib / "journal" / "2024-W28.md").read_text()
    front, body = split_front_matter(text)
    assert str(front["date"]) == "2024-07-08" and front["tags"] == ["journal", "weekly"]
    # A file without a date taken is filed by its local file time (Friday 12 July).
    assert body.index("no-date.png") > body.index("## Friday 12 July") > body.index("## Thursday 11 July")
    assert body.index("monday.jpg") < body.index("## Tuesday 9 July")
    # A name that is not UTF-8 is percent-encoded byte for byte and resolves back to its file.
    assert "(_photos/2024-07-13/caf%E9.jpg)" in body

    out = json.loads(gallerfs(lib, "journal", "new", "2020-W53", "--json").stdout)
    assert sorted(out["photos"]) == sorted([ids["newyear/dec31.jpg"], ids["newyear/jan03.jpg"]])
    out = json.loads(gallerfs(lib, "journal", "new", "2021-W01", "--json").stdout)
    assert out["photos"] == [ids["newyear/jan04.jpg"]]


def test_new_never_touches_an_entry_with_content(lib: Path) -> None:
    path = lib / "journal" / "2024-07-14.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"my own words\n")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    proc = gallerfs(lib, "journal", "new", "2024-07-14")
    assert "already has content" in proc.stdout
    assert path.read_bytes() == b"my own words\n" and path.stat().st_mtime_ns == 1_000_000_000
    assert [p.name for p in path.parent.iterdir()] == ["2024-07-14.md"]  # no temp file left


def test_bad_periods_are_one_line_errors(lib: Path) -> None:
    for bad in ("2024-02-30", "2021-W53", "yesterday-ish"):
        proc = gallerfs(lib, "journal", "new", bad, check=False)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = gallerfs(lib, "journal", "show", "2024-07-01", check=False)
    assert proc.returncode == 1 and "no journal entry 2024-07-01" in proc.stderr


def test_empty_file_gets_the_template_and_mentions_follow_edits(lib: Path) -> None:
    ids = ids_by_relpath(lib)
    paths, settings = paths_settings(lib)
    folder = lib / "journal"
    folder.mkdir()
    (folder / "2024-07-10.md").touch()  # as Obsidian creates a new note
    (folder / "notes.md").touch()  # not a period: stays empty
    with Database(lib / "library.sqlite3") as db:
        assert on_journal_file_event(paths, settings, db, folder / "2024-07-10.md") == "filled"
        assert on_journal_file_event(paths, settings, db, folder / "notes.md") == "recorded"
        assert (folder / "notes.md").read_bytes() == b""
        assert jdb.journaled_file_ids(db) == {ids["trip/wednesday.jpg"]}

        # The user rewrites the body: links by the by-date path and as a wikilink, drops the template's link.
        front, _ = split_front_matter((folder / "2024-07-10.md").read_text())
        (folder / "2024-07-10.md").write_text(
            "---\nphotos: [1]\n---\nA day out. ![](../by-date/2024/07/08/monday.jpg) and "
            "[[_photos/2024-07-14/beach party (sunset).jpg|sunset]], [nothing](_photos/2024-07-14/nope.jpg)\n"
        )
        assert on_journal_file_event(paths, settings, db, folder / "2024-07-10.md") == "recorded"
        entry = jdb.get_entry(db, b"2024-07-10.md")
        assert entry is not None and entry.period == "2024-07-10"
        assert jdb.entry_mentions(db, entry.id) == [ids["trip/monday.jpg"], ids["trip/beach party (sunset).jpg"]]
        assert jdb.journaled_file_ids(db) == {ids["trip/monday.jpg"], ids["trip/beach party (sunset).jpg"]}
        assert [e.relpath for e in jdb.entries_mentioning(db, ids["trip/monday.jpg"])] == [b"2024-07-10.md"]

        # The user empties the entry on purpose: it stays empty, through events and re-scans.
        (folder / "2024-07-10.md").write_bytes(b"")
        assert on_journal_file_event(paths, settings, db, folder / "2024-07-10.md") == "recorded"
        assert on_journal_file_event(paths, settings, db, folder / "2024-07-10.md") == "recorded"
        assert sync_journal(paths, settings, db, force=True).filled == []
        assert (folder / "2024-07-10.md").read_bytes() == b""

        (folder / "2024-07-10.md").unlink()
        assert on_journal_file_event(paths, settings, db, folder / "2024-07-10.md") == "forgotten"
        assert jdb.journaled_file_ids(db) == set()
        (folder / "2024-07-10.md").touch()  # deleted, then created anew: a new entry
        assert on_journal_file_event(paths, settings, db, folder / "2024-07-10.md") == "filled"
        assert on_journal_file_event(paths, settings, db, folder / ".hidden.md") == "ignored"
        assert on_journal_file_event(paths, settings, db, folder / "_photos" / "x.md") == "ignored"
        assert on_journal_file_event(paths, settings, db, lib / "elsewhere.md") == "ignored"


def test_sync_fills_records_and_forgets(lib: Path) -> None:
    paths, settings = paths_settings(lib)
    folder = lib / "journal"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024-W28.md").touch()
    (folder / "2024" / "trip notes.md").write_text("[x](../_photos/2024-07-08/monday.jpg)\n")
    (folder / "garbage.md").write_bytes(b"\xff\xfe\x00binary [a](_photos/2024-07-08/monday.jpg) \x00\x01")
    (folder / os.fsdecode(b"bad-\xff-name.md")).write_text("no links")
    (folder / ".obsidian").mkdir()
    (folder / ".obsidian" / "workspace.md").write_text("[x](_photos/2024-07-08/monday.jpg)")
    with Database(lib / "library.sqlite3") as db:
        report = sync_journal(paths, settings, db)
        assert report.filled == ["2024-W28.md"]
        assert sorted(report.recorded) == sorted(
            ["2024-W28.md", "2024/trip notes.md", "garbage.md", os.fsdecode(b"bad-\xff-name.md")]
        )
        assert report.errors == []
        entries = {e.relpath: e for e in jdb.list_entries(db)}
        assert entries[b"2024/trip notes.md"].mentions == 1 and entries[b"2024/trip notes.md"].period is None
        assert entries[b"garbage.md"].mentions == 1
        assert entries[b"2024-W28.md"].mentions == 7
        again = sync_journal(paths, settings, db)
        assert again.recorded == [] and again.unchanged == 4
        (folder / "garbage.md").unlink()
        again = sync_journal(paths, settings, db)
        assert again.forgotten == ["garbage.md"]
    listed = json.loads(gallerfs(lib, "journal", "list", "--json").stdout)
    assert [e["name"] for e in listed][:1] == ["2024-W28"]
    assert {e["name"]: e["photos_linked"] for e in listed}["trip notes"] == 1


def test_journal_dir_setting_and_show(lib: Path, tmp_path: Path) -> None:
    notes = tmp_path / "Notes" / "journal"
    gallerfs(lib, "config", "set", "journal_dir", str(notes))
    gallerfs(lib, "journal", "new", "2024-07-08")
    assert (notes / "2024-07-08.md").is_file() and not (lib / "journal").exists()
    shown = gallerfs(lib, "journal", "show", "2024-07-08").stdout
    assert shown == (notes / "2024-07-08.md").read_text()
    data = json.loads(gallerfs(lib, "journal", "show", "2024-07-08", "--json").stdout)
    assert data["front_matter"]["date"] == "2024-07-08" and data["front_matter"]["week"] == "2024-W28"
    assert [m["name"] for m in data["mentions"]] == ["monday.jpg"]
    assert data["mentions"][0]["path"].endswith("/photos/trip/monday.jpg")


def test_open_runs_the_editor_on_the_new_entry(lib: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nfor last; do :; done\nprintf "written in the editor\\n" >> "$last"\n')
    editor.chmod(0o755)
    gallerfs(lib, "journal", "open", "2024-07-14", env={"VISUAL": "", "EDITOR": str(editor)})
    text = (lib / "journal" / "2024-07-14.md").read_text()
    assert text.startswith("---\n") and text.endswith("written in the editor\n")
    gallerfs(lib, "journal", "open", "2024-07-14", env={"VISUAL": f"{editor} --wait", "EDITOR": "false"},
             check=False)  # fmt: skip
    assert (lib / "journal" / "2024-07-14.md").read_text().count("written in the editor") == 2


# -- no edit is ever lost ---------------------------------------------------------


def test_edit_between_read_and_rename_wins(lib: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths, settings = paths_settings(lib)
    folder = lib / "journal"
    folder.mkdir()
    target = folder / "2024-07-14.md"
    target.touch()

    def editor_writes(path: Path) -> None:  # an editor saving at the worst moment
        with open(path, "w") as fh:
            fh.write("typed while gallerfs was rendering\n")

    monkeypatch.setattr(safewrite, "_before_commit", editor_writes)
    with Database(lib / "library.sqlite3") as db:
        assert fill_if_empty(paths, settings, db, target) is False
        assert target.read_text() == "typed while gallerfs was rendering\n"
        # Missing file created by the editor meanwhile: the template does not replace it.
        fresh = folder / "2024-07-08.md"
        created = create_entry(paths, settings, db, parse_period("2024-07-08"))
        assert created.created is False and fresh.read_text() == "typed while gallerfs was rendering\n"

        # Saved via temp file + rename (vim, Obsidian): same outcome.
        def editor_renames(path: Path) -> None:
            tmp = path.with_name(".swap")
            tmp.write_text("saved by rename\n")
            os.replace(tmp, path)

        target.write_bytes(b"")
        monkeypatch.setattr(safewrite, "_before_commit", editor_renames)
        assert fill_if_empty(paths, settings, db, target) is False
        assert target.read_text() == "saved by rename\n"

        # Touched but still empty (mtime changed): an editor is at work, gallerfs backs off too.
        target.write_bytes(b"")
        monkeypatch.setattr(safewrite, "_before_commit", lambda p: os.utime(p, ns=(5, 5)))
        assert fill_if_empty(paths, settings, db, target) is False
        assert target.read_bytes() == b""
    assert sorted(p.name for p in folder.iterdir()) == ["2024-07-08.md", "2024-07-14.md"]  # no temp files


def test_template_write_is_atomic_and_keeps_mode(lib: Path) -> None:
    paths, settings = paths_settings(lib)
    folder = lib / "journal"
    folder.mkdir()
    target = folder / "2024-07-14.md"
    target.touch()
    target.chmod(0o600)
    inode_before = target.stat().st_ino
    with Database(lib / "library.sqlite3") as db:
        assert fill_if_empty(paths, settings, db, target) is True
    st = target.stat()
    assert st.st_ino != inode_before  # replaced by rename, never written in place
    assert st.st_mode & 0o777 == 0o600
    assert target.read_text().startswith("---\ndate: 2024-07-14\n")
    # A directory or a symlink with the entry's name is never written.
    link = folder / "2024-07-13.md"
    link.symlink_to(folder / "does-not-exist")
    (folder / "2024-07-12.md").mkdir()
    with Database(lib / "library.sqlite3") as db:
        assert fill_if_empty(paths, settings, db, link) is False
        assert fill_if_empty(paths, settings, db, folder / "2024-07-12.md") is False
        assert create_entry(paths, settings, db, parse_period("2024-07-13")).created is False
    assert link.is_symlink() and not link.exists()


def test_index_resolves_links_to_photos_indexed_later(lib: Path, tmp_path: Path) -> None:
    folder = lib / "journal"
    folder.mkdir()
    (folder / "plans.md").write_text("[soon](_photos/2024-07-09/later.jpg) and ![](_photos/2024-07-08/monday.jpg)\n")
    listed = json.loads(gallerfs(lib, "journal", "list", "--json").stdout)
    assert [(e["name"], e["photos_linked"]) for e in listed] == [("plans", 1)]
    more = tmp_path / "more"
    write_dated_copy(CORPUS / "exif-samples/jpg/Canon_40D.jpg", more / "later.jpg", dt.datetime(2024, 7, 9, 12, 0))
    gallerfs(lib, "add", str(more))
    out = json.loads(gallerfs(lib, "index", "--json").stdout)
    assert out["stages"]["journal"]["recorded"] == 1
    with Database(lib / "library.sqlite3", readonly=True) as db:
        entry = jdb.get_entry(db, b"plans.md")
        assert entry is not None and entry.mentions == 2
    out = json.loads(gallerfs(lib, "index", "--json").stdout)
    assert out["stages"]["journal"]["recorded"] == 0  # nothing left to resolve: notes are not re-read
