"""The exact pass reads as little as it can, never stores a hash for a version it did not read,
and lists exact copies without the imaging stack."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from gallerfs.db import duplicates as dupdb
from gallerfs.db import files as files_db
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import HashUpdate
from gallerfs.indexer.content_hash import file_hashes
from gallerfs.indexer.duplicates.exact import HEAD, HashStats, find_exact
from tests.dup_helpers import ROOT, add_source, scan, store


@pytest.fixture()
def db(tmp_path: Path):
    (tmp_path / "lib").mkdir()
    database = Database(tmp_path / "lib" / "library.sqlite3")
    yield database
    database.close()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _hashes(db: Database, file_id: int) -> tuple[str | None, str | None]:
    row = db.tuples("SELECT partial_hash, content_hash FROM files WHERE id = ?", (file_id,))
    return row[0][0], row[0][1]


def test_same_size_files_with_other_first_bytes_are_ruled_out_by_4_kib(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    rnd = random.Random(1)
    body = rnd.randbytes(300_000)
    _write(src / "orig.jpg", body)
    _write(src / "copy.jpg", body)
    for k in range(12):  # same size, other content from the first byte on
        _write(src / f"other{k}.jpg", rnd.randbytes(300_000))
    late = bytearray(body)
    late[150_000] ^= 1  # same first and last 64 KiB, same size: only the full hash tells it apart
    _write(src / "late.jpg", bytes(late))
    ids = scan(db, add_source(db, "main", src), src)
    stats = HashStats()
    [found] = find_exact(db, stats)
    assert sorted(os.fsdecode(m.relpath) for m in found.members) == ["copy.jpg", "orig.jpg"]
    assert found.content_hash == hashlib.sha256(body).hexdigest()
    assert stats.heads_read == 15
    assert stats.partial_hashed == 3 and stats.full_hashed == 3  # orig, copy, late
    assert stats.bytes_read == 15 * HEAD + 3 * 128 * 1024 + 3 * 300_000
    # Hashes are stored for what was hashed; the files ruled out by their first bytes keep none.
    assert _hashes(db, ids["copy.jpg"]) == file_hashes(str(src / "copy.jpg"))[::-1]
    assert _hashes(db, ids["late.jpg"])[1] == hashlib.sha256(bytes(late)).hexdigest()
    assert _hashes(db, ids["other0.jpg"]) == (None, None)
    # The next pass: their size is now shared with hashed files, which first bytes cannot be compared
    # with (hashed files are not read again), so the twelve get their partial hash, once.
    again = HashStats()
    assert [s.content_hash for s in find_exact(db, again)] == [found.content_hash]
    assert again.heads_read == 0 and again.partial_hashed == 12 and again.full_hashed == 0
    assert _hashes(db, ids["other0.jpg"])[0] == file_hashes(str(src / "other0.jpg"))[1]
    third = HashStats()
    assert len(find_exact(db, third)) == 1 and third.bytes_read == 0


def test_a_size_nobody_hashed_is_compared_by_4_kib_each_time(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    rnd = random.Random(5)
    for k in range(10):
        _write(src / f"other{k}.jpg", rnd.randbytes(300_000))
    ids = scan(db, add_source(db, "main", src), src)
    for _ in range(2):
        stats = HashStats()
        assert find_exact(db, stats) == []
        assert stats.heads_read == 10 and stats.bytes_read == 10 * HEAD
        assert stats.partial_hashed == stats.full_hashed == 0
    assert all(_hashes(db, i) == (None, None) for i in ids.values())


def test_files_of_at_most_4_kib_are_hashed_from_their_first_read(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    data = os.urandom(3000)
    _write(src / "a.png", data)
    _write(src / "b.png", data)
    _write(src / "c.png", os.urandom(3000))
    ids = scan(db, add_source(db, "main", src), src)
    stats = HashStats()
    [found] = find_exact(db, stats)
    assert sorted(os.fsdecode(m.relpath) for m in found.members) == ["a.png", "b.png"]
    assert stats.bytes_read == 3 * 3000 and stats.partial_hashed == stats.full_hashed == 0
    for name in ("a.png", "b.png", "c.png"):
        assert _hashes(db, ids[name]) == file_hashes(str(src / name))[::-1]
    again = HashStats()
    assert len(find_exact(db, again)) == 1 and again.bytes_read == 0


def test_files_up_to_128_kib_are_read_once_and_keep_their_full_hash(db: Database, tmp_path: Path) -> None:
    """Their partial hash would cost another read of up to 128 KiB: the full hash alone is stored,
    and a copy added later is still matched by it, reading only the new file."""
    src = tmp_path / "src"
    data = os.urandom(100_000)
    _write(src / "a.jpg", data)
    _write(src / "b.jpg", data)
    sid = add_source(db, "main", src)
    ids = scan(db, sid, src)
    stats = HashStats()
    [found] = find_exact(db, stats)
    assert len(found.members) == 2 and stats.bytes_read == 2 * HEAD + 2 * 100_000
    assert _hashes(db, ids["a.jpg"]) == (None, hashlib.sha256(data).hexdigest())
    _write(src / "later/c.jpg", data)
    _write(src / "later/d.jpg", os.urandom(100_000))
    with db.transaction():
        st = (src / "later/c.jpg").stat()
        files_db.insert_new(db, sid, [files_db.ScannedFile(b"later/c.jpg", "image", st.st_size, st.st_mtime_ns,
                                                           st.st_ctime_ns, st.st_dev, st.st_ino)])  # fmt: skip
        st = (src / "later/d.jpg").stat()
        files_db.insert_new(db, sid, [files_db.ScannedFile(b"later/d.jpg", "image", st.st_size, st.st_mtime_ns,
                                                           st.st_ctime_ns, st.st_dev, st.st_ino)])  # fmt: skip
    again = HashStats()
    [found] = find_exact(db, again)
    assert sorted(os.fsdecode(m.relpath) for m in found.members) == ["a.jpg", "b.jpg", "later/c.jpg"]
    assert again.bytes_read == 2 * 100_000 and again.full_hashed == 0


def test_a_file_changed_since_it_was_indexed_keeps_no_hash(db: Database, tmp_path: Path) -> None:
    """Grouped by what it holds now, but its new hash is never stored against the indexed version."""
    src = tmp_path / "src"
    rnd = random.Random(2)
    old, new = rnd.randbytes(200_000), rnd.randbytes(200_000)
    _write(src / "a.jpg", old)
    _write(src / "b.jpg", new)
    _write(src / "c.jpg", rnd.randbytes(200_000))
    ids = scan(db, add_source(db, "main", src), src)
    # a.jpg is rewritten with b's bytes (same size) after phase 1 saw it: its mtime moves.
    _write(src / "a.jpg", new)
    st = os.stat(src / "a.jpg")
    os.utime(src / "a.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    stats = HashStats()
    [found] = find_exact(db, stats)
    assert sorted(os.fsdecode(m.relpath) for m in found.members) == ["a.jpg", "b.jpg"]
    assert _hashes(db, ids["a.jpg"]) == (None, None)
    assert _hashes(db, ids["b.jpg"]) == file_hashes(str(src / "b.jpg"))[::-1]
    # Phase 1 then records the new version; the next pass hashes it and stores that.
    entry = files_db.ScannedFile(b"a.jpg", "image", st.st_size, st.st_mtime_ns + 5_000_000_000,
                                 st.st_ctime_ns, st.st_dev, st.st_ino)  # fmt: skip
    with db.transaction():
        files_db.mark_changed(db, ids["a.jpg"], entry)
    assert len(find_exact(db)) == 1
    assert _hashes(db, ids["a.jpg"]) == file_hashes(str(src / "a.jpg"))[::-1]


def test_store_hashes_skips_a_row_that_changed_meanwhile(db: Database, tmp_path: Path) -> None:
    """A hash computed while phase 1 recorded a new version of the file is dropped, not stored for it."""
    src = tmp_path / "src"
    _write(src / "a.jpg", b"x" * 5000)
    ids = scan(db, add_source(db, "main", src), src)
    [(size, mtime_ns)] = db.tuples("SELECT size, mtime_ns FROM files WHERE id = ?", (ids["a.jpg"],))
    dupdb.store_hashes(db, [HashUpdate(ids["a.jpg"], size, mtime_ns + 1, "p" * 64, "c" * 64)])
    assert _hashes(db, ids["a.jpg"]) == (None, None)
    dupdb.store_hashes(db, [HashUpdate(ids["a.jpg"], size + 1, mtime_ns, "p" * 64, "c" * 64)])
    assert _hashes(db, ids["a.jpg"]) == (None, None)
    dupdb.store_hashes(db, [HashUpdate(ids["a.jpg"], size, mtime_ns, "p" * 64, "c" * 64)])
    assert _hashes(db, ids["a.jpg"]) == ("p" * 64, "c" * 64)
    # A stored hash is never overwritten by the pass.
    dupdb.store_hashes(db, [HashUpdate(ids["a.jpg"], size, mtime_ns, "q" * 64, "d" * 64)])
    assert _hashes(db, ids["a.jpg"]) == ("p" * 64, "c" * 64)


def test_many_groups_read_in_parallel_give_the_sets_content_gives(db: Database, tmp_path: Path) -> None:
    """Every mix of hashed, unhashed, unreadable and ruled-out members, against grouping by the bytes."""
    src = tmp_path / "src"
    rnd = random.Random(4)
    contents: dict[str, bytes] = {}
    for g in range(40):
        size = rnd.choice([900, 4096, 5000, 70_000, 131_072, 131_073, 200_000 + g])
        base = rnd.randbytes(size)
        for k in range(rnd.randint(2, 5)):
            roll = rnd.random()
            data = bytearray(base)
            if roll < 0.3:  # other bytes early on
                data[rnd.randrange(min(size, HEAD))] ^= 0xFF
            elif roll < 0.45:  # other bytes late
                data[size - 1 - rnd.randrange(min(size, 1000))] ^= 0xFF
            contents[f"g{g:02d}/f{k}.jpg"] = bytes(data)
    for name, data in contents.items():
        _write(src / name, data)
    ids = scan(db, add_source(db, "main", src), src)
    for name in list(contents)[::7]:  # some already hashed by phase 2
        store(db, ids[name], src / name)
    unreadable = list(contents)[3]
    (src / unreadable).unlink()
    stats = HashStats()
    got = sorted(sorted(os.fsdecode(m.relpath) for m in s.members) for s in find_exact(db, stats))
    by_content: dict[bytes, list[str]] = defaultdict(list)
    for name, data in contents.items():
        if name != unreadable:
            by_content[data].append(name)
    want = sorted(sorted(v) for v in by_content.values() if len(v) > 1)
    if _hashes(db, ids[unreadable])[1] is None:
        assert ids[unreadable] in stats.unverified and len(stats.errors) == 1
    assert got == want
    # Everything stored is right, and a second pass agrees without reading a hashed file.
    for name, data in contents.items():
        partial, full = _hashes(db, ids[name])
        assert full in (None, hashlib.sha256(data).hexdigest()), name
    again = HashStats()
    assert sorted(sorted(os.fsdecode(m.relpath) for m in s.members) for s in find_exact(db, again)) == want
    assert again.full_hashed == 0


def test_listing_exact_copies_imports_neither_numpy_nor_pillow(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    data = os.urandom(9000)
    _write(src / "a.jpg", data)
    _write(src / "b.jpg", data)
    scan(db, add_source(db, "main", src), src)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gallerfs.config import Settings\n"
        "from gallerfs.db.connection import Database\n"
        "import gallerfs.cli.cmd_duplicates\n"
        "from indexer.duplicates.sets import find_sets, folder_names\n"
        f"db = Database(Path({str(db.path)!r}))\n"
        "sets = find_sets(db, Settings(), near=False)\n"
        "folder_names(sets)\n"
        "assert len(sets) == 1, sets\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'PIL')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_an_unreadable_file_is_reported_once_and_the_others_still_compared(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    data = os.urandom(50_000)
    for name in ("a.jpg", "b.jpg", "gone.jpg"):
        _write(src / name, data)
    ids = scan(db, add_source(db, "main", src), src)
    (src / "gone.jpg").unlink()
    stats = HashStats()
    [found] = find_exact(db, stats)
    assert sorted(os.fsdecode(m.relpath) for m in found.members) == ["a.jpg", "b.jpg"]
    assert stats.unverified == [ids["gone.jpg"]] and len(stats.errors) == 1
    assert "gone.jpg" in stats.errors[0]
