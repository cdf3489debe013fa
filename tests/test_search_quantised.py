"""Int8-coded vector search: the exact float32 top k, filters, the on-disk cache and its invalidation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gallerfs.db import embeddings as embeddings_db
from gallerfs.db.connection import Database
from gallerfs.search import memindex, quantised, vectorcache
from gallerfs.search.memindex import Snapshot

DIM = 64


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _library(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clustered random vectors, queries, and for each query 20 planted near neighbours."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    matrix = _unit(centres[rng.integers(0, 40, n)] + 0.7 * rng.standard_normal((n, DIM)))
    queries = _unit(rng.standard_normal((12, DIM)))
    for q in queries:  # near copies of the query, at a few distances
        rows = rng.choice(n, 20, replace=False)
        matrix[rows] = _unit(q + rng.uniform(0.05, 0.6, (20, 1)) * rng.standard_normal((20, DIM)))
    return np.arange(1, n + 1, dtype=np.int64) * 3, matrix, queries


def _exact_top(matrix: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    scores = (matrix @ query).astype(np.float64)
    if allowed is not None:
        scores[~allowed] = -np.inf
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(r) for r in order[:k] if np.isfinite(scores[r])]


@pytest.mark.parametrize("numpy_only", [False, True])
def test_quantised_search_returns_exactly_the_brute_force_top_k(numpy_only: bool) -> None:
    ids, matrix, queries = _library(20_000, 1)
    snap = Snapshot(("v",), ids, matrix)
    assert snap.codes is not None
    for q in queries:
        for k in (1, 10, 50, 300):
            rows, scores = quantised.best(snap.codes, lambda r, q=q: snap.exact(r, q), q, k, numpy_only=numpy_only)
            assert rows.tolist() == _exact_top(matrix, q, k)  # same files, same order: recall 1.0
            np.testing.assert_allclose(scores, matrix[rows] @ q, rtol=0, atol=1e-6)
    approx, bound = quantised.approximate(snap.codes, queries[0], numpy_only)
    exact = matrix @ queries[0]
    assert np.all(np.abs(approx - exact) <= bound)  # the bound holds for every vector
    assert np.mean(np.abs(approx - exact)) < 0.01  # and the codes are a close approximation


def test_a_crowd_of_near_ties_is_ranked_exactly() -> None:
    # 3,000 vectors within 1e-3 of the query: their scores differ far less than the codes' error,
    # so only the bound (scoring every vector that might still beat the k-th) gets the order right.
    rng = np.random.default_rng(8)
    q = _unit(rng.standard_normal((1, DIM)))[0]
    crowd = _unit(q + 1e-3 * rng.standard_normal((3000, DIM)))
    matrix = np.concatenate([_unit(rng.standard_normal((20_000, DIM))), crowd])
    snap = Snapshot(("v",), np.arange(len(matrix), dtype=np.int64), matrix)
    for k in (5, 50, 400):
        assert snap.best(q, k)[0].tolist() == _exact_top(matrix, q, k)


def test_onnxruntime_and_numpy_scans_agree() -> None:
    ids, matrix, queries = _library(3000, 2)
    snap = Snapshot(("v",), ids, matrix)
    assert snap.codes is not None
    fast = quantised.approximate(snap.codes, queries[3])
    slow = quantised.approximate(snap.codes, queries[3], numpy_only=True)
    assert quantised._Kernel.session() is not None  # onnxruntime is a dependency: the fast path runs here
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


def test_the_embedded_scan_model_is_the_matmulinteger_graph() -> None:
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("A", TensorProto.UINT8, [1, "D"])
    b = helper.make_tensor_value_info("B", TensorProto.INT8, ["D", "N"])
    y = helper.make_tensor_value_info("Y", TensorProto.INT32, [1, "N"])
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "scan", [a, b], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="gallerfs")
    model.ir_version = 8
    assert model.SerializeToString() == quantised.SCAN_MODEL


def test_codes_hold_extreme_vectors() -> None:
    matrix = np.zeros((4, DIM), dtype=np.float32)
    matrix[0, 0] = 1.0  # one-hot: all of the vector in one code
    matrix[1] = 1 / np.sqrt(DIM)  # flat
    matrix[2, :2] = [0.6, -0.8]
    matrix[3] = 0.0  # a zero vector (never stored, but must not break the scan)
    snap = Snapshot(("v",), np.arange(4, dtype=np.int64), matrix)
    for q in (matrix[0], matrix[1], _unit(np.ones((1, DIM)))[0]):
        rows, scores = snap.best(q, 4)
        assert rows.tolist() == _exact_top(matrix, q, 4)


def test_filters_as_mask_and_as_check_give_the_exact_filtered_top_k() -> None:
    ids, matrix, queries = _library(20_000, 3)
    snap = Snapshot(("v",), ids, matrix)
    for share in (0.003, 0.1, 0.6):
        allowed = np.random.default_rng(int(share * 1000)).random(len(ids)) < share
        asked: list[int] = []

        def keep(rows: np.ndarray, allowed: np.ndarray = allowed, asked: list[int] = asked) -> np.ndarray:
            asked.append(len(rows))
            return allowed[rows]

        for q in queries[:4]:
            want = _exact_top(matrix, q, 50, allowed)
            assert snap.best(q, 50, allowed=allowed)[0].tolist() == want
            asked.clear()
            assert snap.best(q, 50, keep=keep)[0].tolist() == want
            if share >= 0.1:
                assert sum(asked) < len(ids) // 4  # a broad filter checks the best candidates, not everything
    nothing = np.zeros(len(ids), dtype=bool)
    assert snap.best(queries[0], 10, allowed=nothing)[0].tolist() == []
    assert snap.best(queries[0], 10, keep=lambda rows: np.zeros(len(rows), dtype=bool))[0].tolist() == []


def test_cache_file_round_trip_and_every_kind_of_invalid_file(tmp_path: Path) -> None:
    ids, matrix, queries = _library(5000, 4)
    path = tmp_path / "cache" / vectorcache.FILE_NAME
    version = ("clip-test", 1700000000.123456, 41)
    vectorcache.write(path, version, ids, matrix)
    stored = vectorcache.read(path, version)
    assert stored is not None
    np.testing.assert_array_equal(stored.ids, ids)
    np.testing.assert_array_equal(stored.matrix, matrix)
    snap = Snapshot.from_stored(stored)
    assert snap.best(queries[0], 20)[0].tolist() == _exact_top(matrix, queries[0], 20)
    assert not list(path.parent.glob(".vectors-*"))  # no temporary file left behind
    abandoned, young = path.parent / ".vectors-dead.tmp", path.parent / ".vectors-live.tmp"
    abandoned.write_bytes(b"x")
    young.write_bytes(b"x")
    os.utime(abandoned, (1, 1))
    vectorcache.write(path, version, ids, matrix)
    assert not abandoned.exists() and young.exists()  # a killed writer's file goes, a live writer's stays
    # Another version of the vectors, another model, another space: never served.
    for other in (("clip-test", 1700000000.123456, 42), ("other", 1700000000.123456, 41), ("clip-test", 1.0, 41)):
        assert vectorcache.read(path, other) is None
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    assert vectorcache.read(path, version) is None
    path.write_bytes(b"not a cache" + data[11:])  # damaged magic
    assert vectorcache.read(path, version) is None
    path.unlink()
    assert vectorcache.read(path, version) is None
    vectorcache.write(path, version, np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
    empty = vectorcache.read(path, version)
    assert empty is not None and len(empty.ids) == 0


def test_a_mapped_cache_keeps_its_vectors_when_the_file_is_replaced(tmp_path: Path) -> None:
    ids, matrix, _ = _library(1000, 5)
    path = tmp_path / vectorcache.FILE_NAME
    vectorcache.write(path, ("m", 1.0, 1), ids, matrix)
    old = vectorcache.read(path, ("m", 1.0, 1))
    vectorcache.write(path, ("m", 1.0, 2), ids[:10], matrix[:10] * 0)
    assert old is not None and np.array_equal(old.matrix, matrix)  # the old mapping reads the old file
    assert vectorcache.read(path, ("m", 1.0, 1)) is None
    new = vectorcache.read(path, ("m", 1.0, 2))
    assert new is not None and len(new.ids) == 10


# A library: the chunk reader, the cache written by a load, and invalidation after every change.


def _db_with_vectors(tmp_path: Path, n: int) -> tuple[Database, np.ndarray]:
    from gallerfs.db import files as files_db
    from gallerfs.db import sources as sources_db

    db = Database(tmp_path / "library.sqlite3")
    source = sources_db.add_source(db, name="s", path=b"/nowhere", mount_point=b"/", fs_uuid=None, fs_type=None,
                                   device=0, root_inode=0)  # fmt: skip
    entries = [files_db.ScannedFile(f"IMG_{i:05}.jpg".encode(), "image", 1000 + i, 10**18 + i, 10**18 + i, 0, i)
               for i in range(n)]  # fmt: skip
    with db.transaction():
        files_db.insert_new(db, source.id, entries)
    embeddings_db.ensure_space(db, "clip-test", DIM)
    tasks = embeddings_db.todo_batch(db, 0, n)
    vectors = _unit(np.random.default_rng(6).standard_normal((len(tasks), DIM)))
    with db.transaction():
        embeddings_db.store(db, list(zip(tasks, vectors)), [])
    return db, vectors


def test_vectors_read_from_vec0_chunks_equal_the_virtual_table_scan(tmp_path: Path, monkeypatch) -> None:
    from gallerfs.db import files as files_db

    db, _ = _db_with_vectors(tmp_path, 2500)  # three vec0 chunks
    with db.transaction():
        files_db.delete_files(db, list(range(5, 2500, 7)))  # holes in every chunk
    tasks = embeddings_db.todo_batch(db, 0, 10)
    with db.transaction():  # replaced vectors
        embeddings_db.store(db, [(t, _unit(np.ones((1, DIM)))[0]) for t in tasks], [])
    slow = embeddings_db._scan_vectors(db)
    monkeypatch.setattr(embeddings_db, "_scan_vectors", None)  # the chunk reader must not fall back
    fast = embeddings_db.all_vectors(db)
    order_fast, order_slow = np.argsort(fast[0]), np.argsort(slow[0])
    np.testing.assert_array_equal(fast[0][order_fast], slow[0][order_slow])
    np.testing.assert_array_equal(fast[1][order_fast], slow[1][order_slow])
    db.close()


def test_search_uses_the_cache_only_while_it_matches_the_library(tmp_path: Path, monkeypatch) -> None:
    from gallerfs.db import files as files_db

    db, vectors = _db_with_vectors(tmp_path, 300)
    monkeypatch.setattr(memindex, "ONE_SHOT_MIN", 100)
    assert memindex.one_shot(db) is None  # vectors stored just now: an embedding job may be running, vec0 answers
    assert not vectorcache.path_for(db.path).exists()
    monkeypatch.setattr(memindex, "SETTLED_S", 0.0)
    reads: list[int] = []
    real = embeddings_db.all_vectors

    def counting(d: Database):
        reads.append(1)
        return real(d)

    monkeypatch.setattr(embeddings_db, "all_vectors", counting)
    memindex.disable()
    snap = memindex.active_snapshot(db)  # a one-shot search: writes the cache, then uses it
    assert snap is not None and len(reads) == 1
    assert vectorcache.path_for(db.path).exists()
    assert memindex.active_snapshot(db) is not None and len(reads) == 1  # the next search maps the file
    with db.transaction():
        files_db.delete_files(db, [7])
    snap = memindex.active_snapshot(db)  # the library changed: the file is stale, written again
    assert snap is not None and len(reads) == 2 and 7 not in snap.ids.tolist()
    # A long-lived process loads from the file without reading SQLite, and still never serves stale vectors.
    index = memindex.MemoryIndex(db.path)
    index._reload()
    assert index.loads == 1 and len(reads) == 2
    assert index.get(db) is not None
    with db.transaction():
        files_db.delete_files(db, [8])
    assert index.get(db) is None
    index.wait(30)
    assert index.get(db) is not None and 8 not in index.get(db).ids.tolist() and len(reads) == 3
    monkeypatch.setattr(memindex, "ONE_SHOT_MIN", 10_000)
    vectorcache.path_for(db.path).unlink()
    assert memindex.one_shot(db) is None  # a small library without a current file: vec0 answers
    db.close()


def test_an_unwritable_cache_folder_keeps_the_copy_in_memory(tmp_path: Path, monkeypatch) -> None:
    db, vectors = _db_with_vectors(tmp_path, 200)

    def refuse(*args, **kwargs) -> None:
        raise PermissionError("read-only library")

    monkeypatch.setattr(vectorcache, "write", refuse)
    index = memindex.MemoryIndex(db.path)
    index._reload()
    snap = index.get(db)
    assert snap is not None and len(snap.ids) == 200
    q = vectors[17]
    rows, _ = snap.best(q, 5)
    assert int(snap.ids[rows[0]]) == int(embeddings_db.all_vectors(db)[0][_exact_top(snap.matrix, q, 1)[0]])
    db.close()
