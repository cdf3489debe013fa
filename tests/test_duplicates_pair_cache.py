"""The near pass's candidate pairs are remembered, and never used for inputs they were not computed for."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from gallerfs.config import Settings
from gallerfs.db import files as files_db
from gallerfs.db.connection import Database
from gallerfs.indexer.duplicates import pair_cache
from gallerfs.indexer.duplicates.near import HashedFile, candidate_pairs
from gallerfs.indexer.duplicates.pair_cache import FILE_NAME, cached_pairs
from tests.dup_helpers import CORPORA, add_source, scan, store


def _files(n: int = 400, seed: int = 1) -> list[HashedFile]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        if i % 10 == 9:  # a near copy of the previous file
            p, d = out[-1].phash ^ (1 << rnd.randrange(63)), out[-1].dhash
        else:
            p, d = rnd.getrandbits(63), rnd.getrandbits(63)
        out.append(HashedFile(i + 1, p, None if i % 7 == 3 else d))
    return out


class _Counting:
    def __init__(self, files: list[HashedFile], distance: int) -> None:
        self.files, self.distance, self.calls = files, distance, 0

    def __call__(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.calls += 1
        return candidate_pairs(self.files, self.distance)


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_pairs_are_computed_once_for_the_same_inputs(tmp_path: Path) -> None:
    files = _files()
    first = _Counting(files, 8)
    got = cached_pairs(tmp_path, files, 8, first)
    assert first.calls == 1 and _same(got, candidate_pairs(files, 8)) and len(got[0]) >= 30
    again = _Counting(list(files), 8)
    assert _same(cached_pairs(tmp_path, list(files), 8, again), got)
    assert again.calls == 0


@pytest.mark.parametrize(
    "change",
    ["one phash bit", "one dhash bit", "a dhash lost", "a file added", "a file removed", "an id changed",
     "the order", "the distance", "the rule version"],
)  # fmt: skip
def test_any_change_to_the_inputs_recomputes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    files = _files()
    cached_pairs(tmp_path, files, 8, _Counting(files, 8))
    changed, distance = list(files), 8
    f = changed[9]
    if change == "one phash bit":
        changed[9] = HashedFile(f.id, f.phash ^ 1, f.dhash)
    elif change == "one dhash bit":
        changed[9] = HashedFile(f.id, f.phash, (f.dhash or 0) ^ (1 << 40))
    elif change == "a dhash lost":
        changed[9] = HashedFile(f.id, f.phash, None)
    elif change == "a file added":
        changed.append(HashedFile(10_000, f.phash ^ 3, f.dhash))
    elif change == "a file removed":
        del changed[9]
    elif change == "an id changed":
        changed[9] = HashedFile(20_000, f.phash, f.dhash)
    elif change == "the order":
        changed[8], changed[9] = changed[9], changed[8]
    elif change == "the distance":
        distance = 6
    else:
        monkeypatch.setattr(pair_cache, "VERSION", pair_cache.VERSION + 1)
    recount = _Counting(changed, distance)
    got = cached_pairs(tmp_path, changed, distance, recount)
    assert recount.calls == 1
    assert _same(got, candidate_pairs(changed, distance))
    # ... and the new answer is what is remembered now.
    third = _Counting(changed, distance)
    assert _same(cached_pairs(tmp_path, changed, distance, third), got) and third.calls == 0


def test_a_damaged_cache_is_recomputed_and_replaced(tmp_path: Path) -> None:
    files = _files()
    want = candidate_pairs(files, 8)
    for junk in (b"", b"PK\x03\x04 not really a zip", os.urandom(5000)):
        (tmp_path / FILE_NAME).write_bytes(junk)
        count = _Counting(files, 8)
        assert _same(cached_pairs(tmp_path, files, 8, count), want) and count.calls == 1
        again = _Counting(files, 8)
        assert _same(cached_pairs(tmp_path, files, 8, again), want) and again.calls == 0
    # A well-formed file whose arrays are not pairs (another program's, a partial write) is not trusted.
    key = pair_cache.inputs_digest(files, 8)
    np.savez(tmp_path / FILE_NAME, key=np.frombuffer(key, dtype=np.uint8), ii=np.zeros(3, np.int64),
             jj=np.zeros(2, np.int64), dist=np.zeros(3, np.int64))  # fmt: skip
    count = _Counting(files, 8)
    assert _same(cached_pairs(tmp_path, files, 8, count), want) and count.calls == 1


def test_an_unwritable_cache_folder_only_costs_the_time(tmp_path: Path) -> None:
    files = _files()
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder should be")
    count = _Counting(files, 8)
    assert _same(cached_pairs(blocked, files, 8, count), candidate_pairs(files, 8))
    assert count.calls == 1 and blocked.read_text() == "a file where the folder should be"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".near-pairs-")]


def test_near_sets_use_the_cache_and_see_a_new_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from gallerfs.indexer.duplicates import near
    from gallerfs.indexer.duplicates.sets import near_sets

    (tmp_path / "lib").mkdir()
    db = Database(tmp_path / "lib" / "library.sqlite3")
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
    calls = []
    real = near.candidate_pairs
    monkeypatch.setattr(near, "candidate_pairs", lambda *a: calls.append(1) or real(*a))
    [first] = near_sets(db, Settings())
    assert len(calls) == 1 and (tmp_path / "lib" / "cache" / FILE_NAME).exists()
    [again] = near_sets(db, Settings())
    assert len(calls) == 1 and again == first
    # A third copy indexed later: the inputs changed, the pairs are found afresh and include it.
    photo.resize((photo.width // 3, photo.height // 3)).save(src / "c.jpg", quality=80)
    st = (src / "c.jpg").stat()
    with db.transaction():
        files_db.insert_new(db, sid, [files_db.ScannedFile(b"c.jpg", "image", st.st_size, st.st_mtime_ns,
                                                           st.st_ctime_ns, st.st_dev, st.st_ino)])  # fmt: skip
    c_id = files_db.file_by_path(db, sid, b"c.jpg").id  # type: ignore[union-attr]
    store(db, c_id, src / "c.jpg", phash=0x0F0F_0F0F_0F0F_0F0E, dhash=0x55)
    [grown] = near_sets(db, Settings())
    assert len(calls) == 2
    assert sorted(os.fsdecode(m.relpath) for m in grown.members) == ["a.jpg", "b.jpg", "c.jpg"]
    db.close()
