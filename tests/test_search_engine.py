"""The embedding job and the search engine on a generated library, in process (no CLI)."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pytest

from gallerfs.config import Settings
from gallerfs.db import albums as albums_db
from gallerfs.db import embeddings as embeddings_db
from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.search import Filters, search_files, similar_files
from gallerfs.search import engine, filters as filters_mod
from gallerfs.search.signals import VectorSignal
from gallerfs.indexer.embed import embed_library
from gallerfs.indexer.scanner import scan_source
from gallerfs.indexer.volumes import identify
from gallerfs.models import manifest as manifest_mod
from gallerfs.models import store
from tests import clipmodel

PHOTOS = {"red": 4, "blue": 3, "green": 3, "yellow": 2}
UTC_2023_07 = 1688947200.0  # 2023-07-10
UTC_2024_03 = 1710028800.0  # 2024-03-10


@dataclasses.dataclass
class Lib:
    paths: LibraryPaths
    db: Database
    settings: Settings
    photos: Path
    ids: dict[str, int]


def _set_metadata(db: Database, file_id: int, sort_time: float, make: str, model: str, gps: bool) -> None:
    with db.transaction():
        files_db.store_result(
            db, file_id, metadata={"sort_time": sort_time, "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sort_time)),
                                   "make": make, "model": model, "latitude": 48.1 if gps else None,
                                   "longitude": 11.5 if gps else None},
            content_hash=None, partial_hash=None, phash=None, dhash=None, error=None,
        )  # fmt: skip


@pytest.fixture
def lib(tmp_path: Path) -> Lib:
    photos = tmp_path / "photos"
    photos.mkdir()
    seed = 0
    for colour, n in PHOTOS.items():
        for i in range(n):
            seed += 1
            clipmodel.colour_photo(photos / f"{colour}_{i}.jpg", colour, seed)
    clipmodel.reencode(photos / "blue_0.jpg", photos / "blue_0 copy.jpg")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    root = tmp_path / "library"
    paths = LibraryPaths(root=root, config_file=root / "config.toml")
    paths.ensure()
    db = Database(paths.db)
    ident = identify(os.fsencode(photos))
    source = sources_db.add_source(
        db, name="photos", path=os.fsencode(photos), mount_point=ident.mount_point, fs_uuid=ident.fs_uuid,
        fs_type=ident.fs_type, device=ident.device, root_inode=ident.root_inode,
    )  # fmt: skip
    scan_source(db, source)
    ids = {os.fsdecode(r[1]).removesuffix(".jpg"): r[0] for r in db.tuples("SELECT id, name FROM files")}
    for name, file_id in ids.items():
        old = name in ("red_0", "red_1")
        _set_metadata(db, file_id, UTC_2023_07 if old else UTC_2024_03, "Canon" if old else "Apple",
                      "EOS 5D" if old else "iPhone 12", gps=name.startswith("red_0") or name.startswith("green"))  # fmt: skip
    model_src = tmp_path / "model"
    spec = manifest_mod.load(clipmodel.write_model_dir(model_src)).get(None)
    store.import_dir(paths, spec, model_src)
    settings = Settings(embed_batch_size=4)
    return Lib(paths, db, settings, photos, ids)


def _names(lib: Lib, hits) -> list[str]:
    by_id = {v: k for k, v in lib.ids.items()}
    return [by_id[h.file_id] for h in hits]


def test_embed_then_search_by_colour(lib: Lib) -> None:
    report = embed_library(lib.db, lib.paths, lib.settings)
    assert (report.embedded, report.failed) == (13, 1)
    counts = embeddings_db.counts(lib.db)
    assert counts == {"embedded": 13, "failed": 1, "todo": 0}
    failure = lib.db.row("SELECT stage, error FROM failures WHERE file_id = ?", (lib.ids["broken"],))
    assert failure["stage"] == "embed" and "cannot decode" in failure["error"]
    job = jobs_db.list_jobs(lib.db)[0]
    assert (job.kind, job.state, job.total, job.done, job.failed) == ("embed", "done", 14, 14, 1)

    hits = search_files(lib.db, lib.paths, lib.settings, "red", 10)
    assert sorted(_names(lib, hits)) == ["red_0", "red_1", "red_2", "red_3"]  # the cut-off drops the rest
    assert all(h.score > 0.5 for h in hits)
    hits = search_files(lib.db, lib.paths, lib.settings, "a blue photo", 2)
    assert len(hits) == 2 and all(n.startswith("blue") for n in _names(lib, hits))
    no_cutoff = dataclasses.replace(lib.settings, search_relative_cutoff=0.0)
    everything = search_files(lib.db, lib.paths, no_cutoff, "yellow", 50)
    assert len(everything) == 13 and _names(lib, everything)[:2] in (["yellow_0", "yellow_1"], ["yellow_1", "yellow_0"])
    assert [h.score for h in everything] == sorted((h.score for h in everything), reverse=True)

    # a second run has nothing to do
    assert embed_library(lib.db, lib.paths, lib.settings).embedded == 0


def test_filters_narrow(lib: Lib) -> None:
    embed_library(lib.db, lib.paths, lib.settings)
    s, p = lib.settings, lib.paths

    def names(**kw) -> list[str]:
        return sorted(_names(lib, search_files(lib.db, p, s, "red", 20, Filters(**kw))))

    assert names(since="2023", until="2023") == ["red_0", "red_1"]
    assert names(since="2023-07-10", until="2023-07-10") == ["red_0", "red_1"]
    assert names(since="2024") == ["red_2", "red_3"]
    assert names(camera="iphone") == ["red_2", "red_3"]
    assert names(camera="canon", has_gps=True) == ["red_0"]
    assert names(source="photos") == ["red_0", "red_1", "red_2", "red_3"]
    assert names(kind="video") == []
    albums_db.create_album(lib.db, "Trip")
    albums_db.add_to_album(lib.db, "Trip", [lib.ids["red_3"], lib.ids["blue_1"]])
    assert names(album="Trip") == ["red_3"]
    albums_db.add_favourites(lib.db, [lib.ids["red_1"], lib.ids["green_0"]])
    assert names(favourites=True) == ["red_1"]
    with lib.db.transaction():
        lib.db.execute("INSERT INTO journal_entries (relpath, name, mtime_ns, size, scanned_at) VALUES (?, 'x', 0, 0, 0)", (b'x.md',))
        lib.db.execute("INSERT INTO journal_mentions (entry_id, file_id, position) VALUES (1, ?, 0)", (lib.ids["red_2"],))
    assert names(journaled=True) == ["red_2"]
    with pytest.raises(GallerfsError, match="YYYY"):
        names(since="last week")
    with pytest.raises(GallerfsError, match="after"):
        names(since="2024", until="2023")


def test_knn_path_and_selective_path_agree(lib: Lib) -> None:
    embed_library(lib.db, lib.paths, lib.settings)
    vector = embeddings_db.vector_of(lib.db, lib.ids["green_0"])
    for kw in ({}, {"since": "2024"}, {"has_gps": True}, {"camera": "apple"}):
        spec = Filters(**kw)
        selective = filters_mod.scope(lib.db, spec)
        broad = filters_mod.scope(lib.db, spec, selective_max=0)  # forces KNN + filtering
        assert broad.ids is None and (selective.ids is not None or not kw)
        a = engine.rank(lib.db, [VectorSignal(vector)], selective, 5, 0.0)
        b = engine.rank(lib.db, [VectorSignal(vector)], broad, 5, 0.0)
        assert [h.file_id for h in a] == [h.file_id for h in b]
        assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-5)


def test_similar_finds_the_reencoded_copy_first(lib: Lib) -> None:
    embed_library(lib.db, lib.paths, lib.settings)
    hits = similar_files(lib.db, lib.paths, lib.settings, lib.ids["blue_0"], 5)
    names = _names(lib, hits)
    assert names[0] == "blue_0 copy" and "blue_0" not in names
    assert set(names[1:]) <= {"blue_1", "blue_2"}
    with pytest.raises(GallerfsError, match="no embedding"):
        similar_files(lib.db, lib.paths, lib.settings, lib.ids["broken"], 5)


def test_changed_file_is_embedded_again_and_deleted_file_leaves(lib: Lib) -> None:
    embed_library(lib.db, lib.paths, lib.settings)
    green = lib.photos / "green_1.jpg"
    clipmodel.colour_photo(green, "red", 99)  # the user edited the photo: it is red now
    st = green.stat()
    with lib.db.transaction():
        files_db.mark_changed(lib.db, lib.ids["green_1"], files_db.ScannedFile(
            b"green_1.jpg", "image", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino))  # fmt: skip
    assert embeddings_db.count_todo(lib.db) == 1
    assert embed_library(lib.db, lib.paths, lib.settings).embedded == 1
    assert "green_1" in _names(lib, search_files(lib.db, lib.paths, lib.settings, "red", 10))
    with lib.db.transaction():
        files_db.delete_files(lib.db, [lib.ids["red_0"]])
    assert lib.db.value(f"SELECT count(*) FROM {embeddings_db.VEC_TABLE} WHERE file_id = ?", (lib.ids["red_0"],)) == 0
    assert "red_0" not in _names(lib, search_files(lib.db, lib.paths, lib.settings, "red", 10))


def test_another_model_means_embedding_again(lib: Lib, tmp_path: Path) -> None:
    embed_library(lib.db, lib.paths, lib.settings)
    other = tmp_path / "other-model"
    manifest = clipmodel.write_model_dir(other, name="other-clip")
    store.import_dir(lib.paths, manifest_mod.load(manifest).get(None), other)
    with pytest.raises(GallerfsError, match="another CLIP model"):
        search_files(lib.db, lib.paths, lib.settings, "red", 10)
    assert embed_library(lib.db, lib.paths, lib.settings).embedded == 13
    assert len(search_files(lib.db, lib.paths, lib.settings, "red", 10)) == 4


def test_search_before_anything_is_embedded_is_empty(lib: Lib) -> None:
    assert search_files(lib.db, lib.paths, lib.settings, "red", 10) == []
    with pytest.raises(GallerfsError, match="empty"):
        search_files(lib.db, lib.paths, lib.settings, "   ", 10)


def test_sparse_broad_filter_falls_back_to_search_among_matches(lib: Lib, monkeypatch: pytest.MonkeyPatch) -> None:
    embed_library(lib.db, lib.paths, lib.settings)
    from gallerfs.db import search as search_db

    monkeypatch.setattr(search_db, "MAX_KNN_K", 4)  # as if the library were far larger than sqlite-vec's k limit
    vector = embeddings_db.vector_of(lib.db, lib.ids["yellow_0"])
    broad = filters_mod.scope(lib.db, Filters(camera="canon"), selective_max=0)
    hits = engine.rank(lib.db, [VectorSignal(vector)], broad, 5, 0.0)
    assert sorted(_names(lib, hits)) == ["red_0", "red_1"]


def test_memory_index_matches_vec0_and_never_serves_stale_vectors(lib: Lib) -> None:
    from gallerfs.search import memindex

    embed_library(lib.db, lib.paths, lib.settings)
    vector = embeddings_db.vector_of(lib.db, lib.ids["green_0"])
    cases = [Filters(), Filters(since="2024"), Filters(camera="apple")]
    expected = []
    for flt in cases:
        for selective_max in (0, 1000):
            scope = filters_mod.scope(lib.db, flt, selective_max=selective_max)
            expected.append([h.file_id for h in engine.rank(lib.db, [VectorSignal(vector)], scope, 6, 0.0)])
    index = memindex.enable(lib.paths.db)
    try:
        assert memindex.active_snapshot(lib.db) is None  # not loaded yet: vec0 answers, a load starts
        index.wait(30)
        assert memindex.active_snapshot(lib.db) is not None
        got = []
        for flt in cases:
            for selective_max in (0, 1000):
                scope = filters_mod.scope(lib.db, flt, selective_max=selective_max)
                got.append([h.file_id for h in engine.rank(lib.db, [VectorSignal(vector)], scope, 6, 0.0)])
        assert got == expected
        with lib.db.transaction():
            files_db.delete_files(lib.db, [lib.ids["green_0"]])
        assert memindex.active_snapshot(lib.db) is None  # the copy is stale: not used
        hits = engine.rank(lib.db, [VectorSignal(vector)], filters_mod.scope(lib.db, None), 6, 0.0)
        assert lib.ids["green_0"] not in [h.file_id for h in hits]
        index.wait(30)
        snap = memindex.active_snapshot(lib.db)
        assert snap is not None and lib.ids["green_0"] not in snap.ids.tolist()
    finally:
        memindex.disable()


def test_prepare_warms_up_text_tower_and_memory_index(lib: Lib) -> None:
    from gallerfs.search import memindex, prepare
    from gallerfs.indexer.clip.model import text_encoder

    embed_library(lib.db, lib.paths, lib.settings)
    text_encoder.cache_clear()
    try:
        prepare(lib.paths, lib.settings)
        index = memindex.enable(lib.paths.db)
        index.wait(30)
        deadline = time.monotonic() + 30
        while text_encoder.cache_info().currsize == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert text_encoder.cache_info().currsize == 1
        assert memindex.active_snapshot(lib.db) is not None
        assert sorted(_names(lib, search_files(lib.db, lib.paths, lib.settings, "red", 10))) == [
            "red_0", "red_1", "red_2", "red_3"]
    finally:
        memindex.disable()


def test_processed_files_are_embedded_from_their_preview_even_offline(lib: Lib) -> None:
    from gallerfs.indexer.thumbnails import thumbnail_path

    # Phase 2 made previews for two photos; for green_2 it shows red (so the test can tell which was used).
    for name, colour in (("green_2", "red"), ("blue_2", "blue")):
        preview = thumbnail_path(lib.paths.thumbnails, lib.ids[name], "preview")
        preview.parent.mkdir(parents=True, exist_ok=True)
        clipmodel.colour_photo(preview, colour, 7, size=(320, 240))
    (lib.photos / "blue_2.jpg").unlink()  # the original is gone: only the preview can be embedded
    sources_db.set_presence(lib.db, 1, online=False, reason="unplugged")
    report = embed_library(lib.db, lib.paths, lib.settings)
    # Offline: processed files are embedded from their previews (2 here); the others wait, unrecorded.
    assert (report.embedded, report.failed, report.waiting) == (2, 0, 12)
    assert embeddings_db.count_todo(lib.db) == 12
    assert "green_2" in _names(lib, search_files(lib.db, lib.paths, lib.settings, "red", 10))
    sources_db.set_presence(lib.db, 1, online=True, reason=None)
    report = embed_library(lib.db, lib.paths, lib.settings)  # back online: the rest, from their originals
    assert (report.embedded, report.failed, report.waiting) == (11, 1, 0)


def test_memory_index_reads_vectors_once_while_embedding_commits(lib: Lib, monkeypatch: pytest.MonkeyPatch) -> None:
    from gallerfs.search import memindex

    embed_library(lib.db, lib.paths, lib.settings)
    before = embeddings_db.version(lib.db)
    all_ids = sorted(int(i) for i in embeddings_db.all_vectors(lib.db)[0])
    real_all_vectors = embeddings_db.all_vectors
    reads: list[int] = []
    victims = [lib.ids[n] for n in ("red_0", "blue_1", "green_2", "yellow_1", "red_3")]

    def all_vectors_while_embedding(db: Database):
        # The embedding job commits a change while the reload reads (here: between its statements).
        if len(reads) < len(victims):
            with lib.db.transaction():
                files_db.delete_files(lib.db, [victims[len(reads)]])
        reads.append(1)
        return real_all_vectors(db)

    monkeypatch.setattr(embeddings_db, "all_vectors", all_vectors_while_embedding)
    index = memindex.MemoryIndex(lib.paths.db)
    index._reload()
    assert len(reads) == 1 and index.loads == 1  # one full read, not one per batch committed meanwhile
    snap = index._snapshot
    assert snap is not None and snap.version == before  # the version of exactly the vectors read
    assert sorted(snap.ids.tolist()) == all_ids
    monkeypatch.setattr(embeddings_db, "all_vectors", real_all_vectors)
    assert index.get(lib.db) is None  # a newer version exists: the copy is not used, a reload starts
    index.wait(30)
    snap = index.get(lib.db)
    assert snap is not None and index.loads == 2 and lib.ids["red_0"] not in snap.ids.tolist()
