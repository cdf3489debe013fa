"""Duplicate finding without the indexer: hashing, MIH, grouping bounds, keepers, the trash."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db import files as files_db
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from gallerfs.indexer import trash as trash_mod
from gallerfs.indexer.duplicates.exact import HEAD, HashStats, find_exact, partial_hash
from gallerfs.indexer.duplicates.mih import near_pairs
from gallerfs.indexer.duplicates.near import HashedFile, find_near, group_pairs
from gallerfs.indexer.duplicates.sets import find_sets, keeper_order
from gallerfs.indexer.hashing import file_hashes
from tests.dup_helpers import CORPORA, add_source, scan, store


@pytest.fixture()
def db(tmp_path: Path):
    (tmp_path / "lib").mkdir()
    database = Database(tmp_path / "lib" / "library.sqlite3")
    yield database
    database.close()


def test_partial_hash_matches_the_indexer_format(tmp_path: Path) -> None:
    for size in (
        1,
        1000,
        64 * 1024,
        64 * 1024 + 1,
        128 * 1024,
        128 * 1024 + 1,
        300_000,
    ):
        p = tmp_path / f"f{size}"
        p.write_bytes(os.urandom(size))
        part, full, nread = partial_hash(str(p), size)
        want_full, want_partial = file_hashes(str(p))
        assert part == want_partial
        assert full in (None, want_full)
        assert nread == min(size, 128 * 1024) if size > 128 * 1024 else nread == size


def test_mih_finds_exactly_the_pairs_brute_force_finds() -> None:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 2**63, size=600, dtype=np.int64).view(np.uint64)
    copies = base.copy()
    for k in range(len(copies)):
        for bit in rng.choice(64, size=int(rng.integers(1, 12)), replace=False):
            copies[k] ^= np.uint64(1 << int(bit))
    brute = np.bitwise_count(
        np.concatenate([base, copies])[:, None]
        ^ np.concatenate([base, copies])[None, :]
    )
    for distance in (0, 1, 4, 8, 12):
        ii, jj, dist = near_pairs(np.concatenate([base, copies]), distance)
        got = set(zip(ii.tolist(), jj.tolist()))
        want = {(i, j) for i, j in zip(*np.nonzero(brute <= distance)) if i < j}
        assert got == want, distance
        assert (dist <= distance).all()


def test_mih_links_identical_hashes_without_quadratic_pairs() -> None:
    rng = np.random.default_rng(8)
    base = rng.integers(0, 2**63, size=300, dtype=np.int64).view(np.uint64)
    hashes = np.concatenate(
        [base, np.repeat(base[:3], 2000)]
    )  # 2000 identical copies of three hashes
    ii, jj, dist = near_pairs(hashes, 6)
    assert len(ii) < 3 * 2000 + 300  # linear, not 3 * 2000² / 2
    assert (ii < jj).all()
    # The same groups as all pairs give (components computed on the 300 distinct values by brute force).
    groups = {
        tuple(g)
        for g, _ in group_pairs(len(hashes), ii, jj, dist, max_group=len(hashes))
    }
    close = np.bitwise_count(base[:, None] ^ base[None, :]) <= 6
    component = list(
        range(len(base))
    )  # union-find over the 300 distinct values, by brute force

    def root(i: int) -> int:
        while component[i] != i:
            i = component[i]
        return i

    for i, j in zip(*np.nonzero(close)):
        component[root(int(i))] = root(int(j))
    value_of = {int(v): k for k, v in enumerate(base)}
    members: dict[int, list[int]] = {}
    for k, h in enumerate(hashes.tolist()):
        members.setdefault(root(value_of[h]), []).append(k)
    want = [tuple(m) for m in members.values() if len(m) > 1]
    assert groups == set(want)


def test_transitive_groups_are_bounded() -> None:
    # A chain 0-1-2-...-199, each link distance 1: one unbounded group would hold all 200.
    n = 200
    ii = np.arange(n - 1)
    jj = ii + 1
    groups = group_pairs(n, ii, jj, np.ones(n - 1, dtype=np.int64), max_group=50)
    assert max(len(g) for g, _ in groups) <= 50
    assert (
        sum(len(g) for g, _ in groups) == n
    )  # every member still grouped with a neighbour
    # Closest pairs join first: a tight pair is not split by a loose chain.
    groups = group_pairs(
        4, np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([5, 0, 5]), max_group=2
    )
    assert [g for g, _ in groups] == [[1, 2]]


def test_flat_images_are_not_grouped_by_their_shared_hash(tmp_path: Path) -> None:
    from PIL import Image

    from gallerfs.indexer.duplicates.look import load_look

    paths = {}
    for i, (colour, size) in enumerate([((255, 255, 255), (100, 150)), ((137, 137, 137), (400, 200)),
                                        ((0, 0, 255), (100, 100)), ((0, 0, 0), (120, 80)),
                                        ((255, 255, 255), (100, 150)), ((255, 255, 255), (200, 300)),
                                        ((0, 0, 235), (100, 100)), ((255, 255, 255), (40, 60)),
                                        ((255, 255, 255), (40, 60))]):  # fmt: skip
        p = tmp_path / f"flat{i}.jpg"
        Image.new("RGB", size, colour).save(p, quality=90)
        paths[i + 1] = os.fsencode(p)
    files = [
        HashedFile(i, 0, 0) for i in paths
    ]  # identical pHash and dHash, as the indexer computes

    def look(i: int):
        return load_look(None, paths[i], None, None)

    groups = find_near(files, max_distance=8, max_group=50, flat_look=look)
    # Only the two white 100x150 copies: not the same white at another size, not another blue,
    # and never tiny placeholders (under 64 px), even pixel-identical ones.
    assert [g.ids for g in groups] == [(1, 5)]
    # Unreadable (offline, no thumbnail): never grouped.
    assert find_near(files, max_distance=8, max_group=50, flat_look=lambda i: None) == []


def _dup(i: int, **kw) -> DupFile:
    base = {"id": i, "source_id": 1, "source_name": "s", "source_path": b"/p", "online": True, "relpath": b"a.jpg", "kind": "image",
                "size": 100, "mtime_ns": 0, "device": 1, "inode": i, "partial_hash": None, "content_hash": None, "phash": None,
                "dhash": None, "width": None, "height": None, "taken_at": None, "format": None, "make": None, "model": None,
                "ctime_ns": 0}  # fmt: skip
    base.update(kw)
    return DupFile(**base)


def test_keeper_order() -> None:
    big = _dup(1, width=4000, height=3000, size=100)
    small = _dup(2, width=2000, height=1500, size=900)
    assert min([small, big], key=keeper_order) is big
    camera = _dup(3, width=100, height=100, make="Canon", size=10)
    reencode = _dup(4, width=100, height=100, size=50, format="WEBP")
    assert min([reencode, camera], key=keeper_order) is camera
    larger = _dup(5, width=100, height=100, size=60)
    assert min([reencode, larger], key=keeper_order) is larger
    early = _dup(6, taken_at="2001-01-01T00:00:00", relpath=b"very/long/path/a.jpg")
    late = _dup(7, taken_at="2020-01-01T00:00:00")
    assert min([late, early], key=keeper_order) is early
    short = _dup(8, relpath=b"a.jpg")
    long = _dup(9, relpath=b"deeper/a.jpg")
    assert min([long, short], key=keeper_order) is short


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_exact_sets_read_only_what_is_needed(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    rnd = random.Random(3)
    body = rnd.randbytes(400_000)
    _write(src / "a/orig.jpg", body)
    _write(src / "b/copy.jpg", body)
    _write(src / "c/copy2.jpg", body)
    # Same size, same first and last 64 KiB, different middle: partial hashes collide, full hashes do not.
    tricky = bytearray(body)
    tricky[200_000] ^= 0xFF
    _write(src / "d/tricky.jpg", bytes(tricky))
    # Same size, different head: ruled out by the partial hash alone.
    other = bytearray(body)
    other[0] ^= 0xFF
    _write(src / "e/other.jpg", bytes(other))
    unique_total = 0
    for k in range(30):
        data = rnd.randbytes(10_000 + 997 * k)
        unique_total += len(data)
        _write(src / f"u/unique{k}.jpg", data)
    small = rnd.randbytes(5000)
    _write(src / "s/small1.png", small)
    _write(src / "s/small2.png", small)
    sid = add_source(db, "main", src)
    ids = scan(db, sid, src)
    # The index already knows one copy's hashes; the others have none (phase 2 not run).
    store(db, ids["a/orig.jpg"], src / "a/orig.jpg")
    stats = HashStats()
    sets = find_exact(db, stats)
    got = sorted(sorted(os.fsdecode(m.relpath) for m in s.members) for s in sets)
    assert got == [
        ["a/orig.jpg", "b/copy.jpg", "c/copy2.jpg"],
        ["s/small1.png", "s/small2.png"],
    ]
    # Never a byte of the unique-size files; whole files only for the partial-hash collisions.
    assert (
        stats.full_hashed == 3
    )  # copy, copy2, tricky (other is ruled out by its partial hash)
    # The small pair nobody had hashed: their first 4 KiB agree, so they are read whole.
    assert stats.heads_read == 2
    assert stats.bytes_read == 4 * 128 * 1024 + 3 * 400_000 + 2 * HEAD + 2 * 5000
    assert stats.bytes_read < 3 * 400_000 + 4 * 400_000
    # Hashes were written back: a second pass reads nothing.
    again = HashStats()
    assert len(find_exact(db, again)) == 2
    assert again.bytes_read == 0
    row = files_db.get_file(db, ids["b/copy.jpg"])
    assert (
        row is not None and row.content_hash == file_hashes(str(src / "b/copy.jpg"))[0]
    )


def test_keeper_override_is_stored(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    data = os.urandom(2000)
    _write(src / "x/short.jpg", data)
    _write(src / "longer/name/here.jpg", data)
    sid = add_source(db, "main", src)
    ids = scan(db, sid, src)
    [s] = find_sets(db, Settings(), near=False)
    assert os.fsdecode(s.keeper.relpath) == "x/short.jpg" and not s.keeper_chosen
    dupdb.set_keeper(db, ids["longer/name/here.jpg"], [m.id for m in s.members])
    [s] = find_sets(db, Settings(), near=False)
    assert os.fsdecode(s.keeper.relpath) == "longer/name/here.jpg" and s.keeper_chosen


def test_trash_to_home_trash_with_trashinfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    victim = tmp_path / "photos" / "IMG 1 é.jpg"
    _write(victim, b"x" * 10)
    first = trash_mod.trash(os.fsencode(victim))
    trash_mod.verify(first)
    assert not victim.exists()
    assert first.trash_path == os.fsencode(
        data_home / "Trash" / "files" / "IMG 1 é.jpg"
    )
    info = Path(os.fsdecode(first.trashinfo_path)).read_text()
    assert (
        info.startswith("[Trash Info]\nPath=")
        and "IMG%201%20%C3%A9.jpg" in info
        and "DeletionDate=" in info
    )
    # A second file with the same name gets a new trash name; both stay restorable.
    _write(victim, b"y" * 10)
    second = trash_mod.trash(os.fsencode(victim))
    assert second.trash_path != first.trash_path
    assert trash_mod.read_trashinfo(second.trashinfo_path)[0] == os.fsencode(victim)
    assert Path(os.fsdecode(second.trash_path)).read_bytes() == b"y" * 10


def test_clip_similarity_vetoes_hash_neighbours(db: Database, tmp_path: Path) -> None:
    """Where both photos are embedded, a pHash match also needs CLIP to agree; unembedded pairs go by hash."""
    from gallerfs.db import embeddings as emb
    from gallerfs.db.embeddings import EmbedTask
    from gallerfs.indexer.duplicates.sets import near_sets

    from PIL import Image

    src = tmp_path / "src"
    src.mkdir()
    # Three photos, each with a half-size copy: the pixel check passes every pair; CLIP decides.
    for k, name in enumerate(("fujifilm-mx1700.jpg", "nikon-e950.jpg", "sony-cybershot.jpg")):
        with Image.open(CORPORA / "exif" / "exif-samples" / "jpg" / "exif-org" / name) as im:
            photo = im.convert("RGB")
        photo.save(src / f"p{2 * k}.jpg", quality=90)
        photo.resize((photo.width // 2, photo.height // 2)).save(src / f"p{2 * k + 1}.jpg", quality=85)
    sid = add_source(db, "main", src)
    ids = scan(db, sid, src)
    close, veto = 0x0F0F_0F0F_0F0F_0F0F, 0x7123_4567_89AB_CDEF
    hashes = {"p0.jpg": close, "p1.jpg": close ^ 0b11, "p2.jpg": veto, "p3.jpg": veto ^ 0b1,
              "p4.jpg": -0x1111_2222_3333_4444, "p5.jpg": -0x1111_2222_3333_4444 ^ 0b111}  # fmt: skip
    for rel, h in hashes.items():
        store(db, ids[rel], src / rel, phash=h, dhash=h ^ 0x55)
    assert emb.ensure_space(db, "test-model", 4)
    vectors = {"p0.jpg": [1, 0, 0, 0], "p1.jpg": [0.99, 0.1, 0, 0],  # similar: stays a set
               "p2.jpg": [1, 0, 0, 0], "p3.jpg": [0, 1, 0, 0]}  # different pictures: vetoed  # fmt: skip
    tasks = []
    for rel, vec in vectors.items():
        row = files_db.get_file(db, ids[rel])
        assert row is not None
        v = np.asarray(vec, dtype=np.float32)
        tasks.append(
            (
                EmbedTask(
                    row.id, sid, row.relpath, os.fsencode(src), row.size, row.mtime_ns
                ),
                v / np.linalg.norm(v),
            )
        )
    with db.transaction():
        emb.store(db, tasks, [])
    groups = sorted(
        sorted(os.fsdecode(m.relpath) for m in s.members)
        for s in near_sets(db, Settings())
    )
    assert groups == [["p0.jpg", "p1.jpg"], ["p4.jpg", "p5.jpg"]]


def test_trash_a_name_that_is_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    folder = os.fsencode(tmp_path / "photos")
    os.mkdir(folder)
    victim = os.path.join(folder, b"caf\xe9 \n.jpg")
    with open(victim, "wb") as fh:
        fh.write(b"z")
    moved = trash_mod.trash(victim)
    trash_mod.verify(moved)
    text = Path(os.fsdecode(moved.trashinfo_path)).read_bytes()
    assert b"caf%E9%20%0A.jpg" in text and text.isascii()
    assert trash_mod.read_trashinfo(moved.trashinfo_path)[0] == victim
    assert not os.path.lexists(victim)


def test_pixel_verdicts_are_stored_and_redone_when_a_file_changes(db: Database, tmp_path: Path) -> None:
    from PIL import Image

    from gallerfs.indexer.duplicates.sets import near_sets

    src = tmp_path / "src"
    src.mkdir()
    with Image.open(CORPORA / "exif" / "exif-samples" / "jpg" / "exif-org" / "nikon-e950.jpg") as im:
        photo = im.convert("RGB")
    photo.save(src / "a.jpg", quality=90)
    photo.resize((photo.width // 2, photo.height // 2)).save(src / "b.jpg", quality=85)
    sid = add_source(db, "main", src)
    ids = scan(db, sid, src)
    for rel in ("a.jpg", "b.jpg"):
        store(db, ids[rel], src / rel, phash=0x0F0F_0F0F_0F0F_0F0F, dhash=0x55)
    assert len(near_sets(db, Settings())) == 1
    stored = dupdb.pair_verdicts(db)
    assert [v[2] for v in stored.values()] == [True]
    # b.jpg is replaced by another picture (not re-indexed: same hashes in the index): its new
    # size and mtime void the verdict, the pictures are compared again, and the set is gone.
    with Image.open(CORPORA / "exif" / "exif-samples" / "jpg" / "exif-org" / "sony-cybershot.jpg") as im:
        im.convert("RGB").resize((photo.width // 2, photo.height // 2)).save(src / "b.jpg", quality=85)
    st = (src / "b.jpg").stat()
    with db.transaction():
        db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?", (st.st_size, st.st_mtime_ns, ids["b.jpg"]))
    (tmp_path / "lib" / "thumbnails").mkdir(exist_ok=True)  # no thumbnails: the originals are read
    assert near_sets(db, Settings()) == []
    assert [v[2] for v in dupdb.pair_verdicts(db).values()] == [False]


def test_folder_names_are_stable_and_unique() -> None:
    from gallerfs.indexer.duplicates.sets import DuplicateSet, folder_names

    a, b, c = _dup(1, relpath=b"x/IMG_1.jpg", width=400, height=300), _dup(2, width=200, height=150), _dup(3)
    near = DuplicateSet("near", "near:1", (b, a, c), True, 3)
    # Named after the largest picture, whoever the keeper is; unchanged when another member goes.
    assert folder_names([near])["near:1"] == near.tag.encode() + b" IMG_1.jpg near"
    smaller = DuplicateSet("near", "near:1", (a, b), False, 3)
    assert folder_names([smaller]) == folder_names([near])
    exact = DuplicateSet("exact", "exact:" + "ab" * 32, (c, b), False, 0)
    assert folder_names([exact])[exact.key] == exact.tag.encode() + b" a.jpg"
    # Two sets of one kind whose 8-digit tags collide both get 16 digits, so names stay unique.
    clash = [DuplicateSet("exact", f"exact:{k}", (c, b), False, 0) for k in range(200_000)]
    tags: dict[str, list[DuplicateSet]] = {}
    for s in clash:
        tags.setdefault(s.tag, []).append(s)
    pair = next(v for v in tags.values() if len(v) > 1)[:2]
    names = folder_names(pair)
    assert len(set(names.values())) == 2 and all(len(n.partition(b" ")[0]) == 16 for n in names.values())
