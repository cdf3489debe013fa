"""Filter candidates: the index-driven query agrees with the general one, and cached scopes never go stale."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from gallerfs.db import albums as albums_db
from gallerfs.db import files as files_db
from gallerfs.db import search as search_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.state import bump_generation
from gallerfs.search import Filters
from gallerfs.search import filters as filters_mod

# (make, model, gps, year); None: the file has no metadata row at all
FILES = [
    ("Canon", "EOS 5D", True, 2019), ("Canon", "EOS 5D", False, 2020), ("Canon", None, False, 2019),
    (None, "EOS R", True, 2020), (None, None, True, 2019), ("Apple", "iPhone 12", True, 2021),
    ("Apple", "iPhone 12", False, 2019), ("SONY", "ILCE-7M3", False, 2020), ("Sony", "a_7%", True, 2021),
    ("NIKON CORPORATION", "NIKON D750", False, 2019), ("Ünïcode", "Çam", True, 2020), None, None,
]  # fmt: skip
NOT_EMBEDDED = {3, 8}  # indexes in FILES whose vectors are missing (not embedded yet)
YEAR_START = {2019: 1546300800.0, 2020: 1577836800.0, 2021: 1609459200.0}


@pytest.fixture
def db(tmp_path: Path):
    db = Database(tmp_path / "library.sqlite3")
    source = sources_db.add_source(db, name="photos", path=os.fsencode(tmp_path), mount_point=b"/", fs_uuid=None,
                                   fs_type=None, device=0, root_inode=0)  # fmt: skip
    entries = [files_db.ScannedFile(f"IMG_{i}.jpg".encode(), "video" if i == 9 else "image", 100, 10**18, 10**18, 0, i)
               for i in range(len(FILES))]  # fmt: skip
    with db.transaction():
        files_db.insert_new(db, source.id, entries)
        ids = [r[0] for r in db.tuples("SELECT id FROM files ORDER BY inode")]
        for i, (file_id, row) in enumerate(zip(ids, FILES)):
            if row is not None:
                make, model, gps, year = row
                files_db.store_result(db, file_id, metadata={
                    "sort_time": YEAR_START[year] + 86400 * i, "make": make, "model": model,
                    "latitude": 10.0 if gps else None, "longitude": 20.0 if gps else None,
                }, content_hash=None, partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
            if i not in NOT_EMBEDDED:
                db.execute("INSERT INTO embeddings (file_id, size, mtime_ns, state, embedded_at) VALUES (?, 100, 0, 'done', 0)",
                           (file_id,))  # fmt: skip
        bump_generation(db)
    albums_db.create_album(db, "Trip")
    albums_db.add_to_album(db, "Trip", ids[::2])
    albums_db.add_favourites(db, ids[1::3])
    db.ids = ids  # type: ignore[attr-defined]
    yield db
    filters_mod._scopes.clear()
    db.close()


CAMERAS = [None, "canon", "CANON eos", "eos", "sony", "a_7%", "7%", "_", "\\", "apple iphone", "nikon d", "ünï", "çam",
           " ", "5d", "zzz", "n"]  # fmt: skip


def _specs():
    for camera, gps, year, extra in itertools.product(
        CAMERAS, (None, True, False), (None, 2019, 2020),
        ({}, {"source": "photos"}, {"source": "other"}, {"album": "Trip"}, {"favourites": True}, {"kind": "image"}),
    ):
        flt = Filters(camera=camera, has_gps=gps, since=str(year) if year else None,
                      until=str(year) if year else None, **extra)  # fmt: skip
        spec = flt.to_spec()
        if not spec.is_empty():
            yield spec


def test_candidates_agree_with_the_general_query_on_every_embedded_file(db, monkeypatch):
    embedded = [i for n, i in enumerate(db.ids) if n not in NOT_EMBEDDED]
    for limits in ((2000, 200), (1, 200), (2000, 1)):  # index seeks; too many cameras; too many matching
        monkeypatch.setattr(search_db, "_MAX_CAMERAS", limits[0])
        monkeypatch.setattr(search_db, "_MAX_CAMERA_OR", limits[1])
        for spec in _specs():
            candidates = set(search_db.matching_ids(db, spec, 10**6))
            assert candidates & set(embedded) == search_db.filter_ids(db, spec, embedded), (spec, limits)


def test_camera_pairs_lists_each_distinct_pair_once(db):
    pairs = search_db.camera_pairs(db)
    expected = {(r[0], r[1]) for r in FILES if r is not None}
    assert pairs is not None and len(pairs) == len(set(pairs)) and set(pairs) == expected
    assert search_db.camera_pairs(db, limit=3) is None


def test_a_filters_scope_is_kept_until_the_library_changes(db):
    canon = Filters(camera="canon")
    first = filters_mod.scope(db, canon)
    assert filters_mod.scope(db, canon) is first
    assert sorted(first.ids.tolist()) == db.ids[:3]
    assert filters_mod.scope(db, canon, selective_max=0) is not first  # another threshold, another scope

    # phase 2 finds that a file is a Canon photo: the generation changes, the next scope sees it
    with db.transaction():
        files_db.store_result(db, db.ids[11], metadata={"make": "Canon", "model": "EOS M"}, content_hash=None,
                              partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
        bump_generation(db)
    second = filters_mod.scope(db, canon)
    assert second is not first and sorted(second.ids.tolist()) == [*db.ids[:3], db.ids[11]]

    # an album edit bumps the generation too
    album = Filters(album="Trip", camera="canon")
    before = filters_mod.scope(db, album).ids.tolist()
    albums_db.add_to_album(db, "Trip", [db.ids[1]])
    assert sorted(filters_mod.scope(db, album).ids.tolist()) == sorted({*before, db.ids[1]})


def test_a_vector_change_alone_invalidates_the_cached_scope(db):
    gps = Filters(has_gps=True)
    first = filters_mod.scope(db, gps)
    # the vector version moves (as when a file's embedding is stored or removed) without a generation bump
    db.execute("INSERT OR REPLACE INTO embedding_space (id, model, dim, created_at, version) VALUES (1, 'm', 4, 1, 1)")
    assert filters_mod.scope(db, gps) is not first
    again = filters_mod.scope(db, gps)
    db.execute("UPDATE embedding_space SET version = version + 1 WHERE id = 1")
    assert filters_mod.scope(db, gps) is not again


def test_journal_filters_are_never_served_from_the_cache(db):
    journaled = Filters(journaled=True)
    assert filters_mod.scope(db, journaled).ids.tolist() == []
    with db.transaction():  # journal links are written without a generation bump
        db.execute("INSERT INTO journal_entries (relpath, name, mtime_ns, size, scanned_at) VALUES (?, 'x', 0, 0, 0)",
                   (b"x.md",))  # fmt: skip
        db.execute("INSERT INTO journal_mentions (entry_id, file_id, position) VALUES (1, ?, 0)", (db.ids[0],))
    assert filters_mod.scope(db, journaled).ids.tolist() == [db.ids[0]]


def test_two_libraries_do_not_share_cached_scopes(db, tmp_path: Path):
    other = Database(tmp_path / "other.sqlite3")
    try:
        assert filters_mod.scope(db, Filters(camera="canon")).ids.size == 3
        assert filters_mod.scope(other, Filters(camera="canon")).ids.size == 0
    finally:
        other.close()


def test_the_cache_keeps_only_the_last_few_filters(db):
    scopes = [filters_mod.scope(db, Filters(camera=c)) for c in CAMERAS[1 : filters_mod.CACHED_SCOPES + 2]]
    assert filters_mod.scope(db, Filters(camera=CAMERAS[1])) is not scopes[0]  # the oldest was dropped
    assert filters_mod.scope(db, Filters(camera=CAMERAS[-1 + filters_mod.CACHED_SCOPES + 2])) is scopes[-1]


def test_the_in_memory_mask_is_computed_once_per_index(db):
    import numpy as np

    scope = filters_mod.scope(db, Filters(camera="apple"))
    ids = np.array(db.ids, dtype=np.int64)
    mask = scope.mask(ids)
    assert ids[mask].tolist() == db.ids[5:7]
    assert scope.mask(ids) is mask
    other = ids[::-1].copy()  # a reloaded index: another array
    assert other[scope.mask(other)].tolist() == db.ids[5:7][::-1]


class _SparseScope:
    """A broad filter (no candidate list) that lets one file in 97 through."""

    ids = None
    filtered = True

    def keep(self, db, ids):
        return {i for i in ids if i % 97 == 0}


def test_a_broad_filter_over_the_in_memory_index_widens_until_enough_pass():
    import numpy as np

    from gallerfs.search.memindex import Snapshot
    from gallerfs.search.quantised import _order as _best
    from gallerfs.search.signals import VectorSignal

    rng = np.random.default_rng(4)
    matrix = rng.standard_normal((5000, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = np.arange(1, 5001, dtype=np.int64)
    query = matrix[10]
    scores = matrix @ query
    assert _best(scores, 300).tolist() == np.argsort(-scores, kind="stable")[:300].tolist()
    found = VectorSignal(query)._in_memory(None, Snapshot(("v",), ids, matrix), _SparseScope(), 40)
    passing = [i for i in np.argsort(-scores, kind="stable") if ids[i] % 97 == 0][:40]  # 51 pass in all
    assert list(found) == [int(ids[i]) for i in passing]  # past the first 256 and the next 1024 checked


def test_online_and_offline_select_by_the_sources_recorded_presence(db, tmp_path: Path):
    drive = sources_db.add_source(db, name="drive", path=b"/media/usb", mount_point=b"/media/usb", fs_uuid=None,
                                  fs_type=None, device=0, root_inode=0)  # fmt: skip
    with db.transaction():
        files_db.insert_new(db, drive.id, [files_db.ScannedFile(f"D_{i}.jpg".encode(), "image", 100, 10**18, 10**18, 0,
                                                                100 + i) for i in range(3)])  # fmt: skip
        on_drive = [r[0] for r in db.tuples("SELECT id FROM files WHERE source_id = ? ORDER BY id", (drive.id,))]
        files_db.store_result(db, on_drive[0], metadata={"sort_time": YEAR_START[2019], "latitude": 1.0, "longitude": 2.0},
                              content_hash=None, partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
        for fid in on_drive:
            db.execute("INSERT INTO embeddings (file_id, size, mtime_ns, state, embedded_at) VALUES (?, 100, 0, 'done', 0)",
                       (fid,))  # fmt: skip
    sources_db.set_presence(db, drive.id, online=False, reason="unplugged")
    everything = [*db.ids, *on_drive]
    assert search_db.filter_ids(db, Filters(online=False).to_spec(), everything) == set(on_drive)
    embedded = {i for n, i in enumerate(db.ids) if n not in NOT_EMBEDDED}
    assert search_db.filter_ids(db, Filters(online=True).to_spec(), everything) == embedded
    # A metadata-driven query (dates, GPS) joins the source's presence too.
    spec = Filters(online=False, has_gps=True, since="2019", until="2019").to_spec()
    assert search_db.matching_ids(db, spec, 100) == [on_drive[0]]
    assert set(search_db.matching_ids(db, Filters(online=True, has_gps=True).to_spec(), 100)).isdisjoint(on_drive)
    # Plugged back in: the same filter now finds none of them offline.
    sources_db.set_presence(db, drive.id, online=True, reason=None)
    assert search_db.filter_ids(db, Filters(online=False).to_spec(), everything) == set()
