"""The parts of fused search that need no model: text queries, per-signal cutoffs, the signal registry."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from gallerfs.config import Settings
from gallerfs.db.connection import Database
from gallerfs.paths import LibraryPaths
from gallerfs.search import engine, registry
from gallerfs.search.filters import scope
from gallerfs.search.textquery import parse


def test_words_phrases_prefixes_and_stopwords() -> None:
    q = parse('"Boarding  pass" gate 12 Café')
    assert q.expression(every=True) == '"boarding pass" AND "gate"* AND "12" AND "cafe"*'
    assert q.expression(every=False).count(" OR ") == 3
    assert q.coverage("BOARDING PASS — Gate 12B, café") == 0.75  # '12' is a whole word, '12b' is not
    assert q.coverage("pass boarding gates 12 cafeteria") == 0.75  # the phrase is out of order
    assert parse("receipt from the hardware store", drop_stopwords=True).expression(every=True) == (
        '"receipt"* AND "hardware"* AND "store"*'
    )
    assert parse("to be or not", drop_stopwords=True).expression(every=False) == '"not"*'
    assert parse("the a", drop_stopwords=True).items  # only stopwords: they are kept
    assert parse('"" * AND : NEAR(').expression(every=True) == '"and"* AND "near"*'  # FTS5 syntax is just words
    assert parse("!!").empty and parse('"').empty
    assert parse("snake_case np.zeros").expression(every=True) == '"snake"* AND "case"* AND "np" AND "zeros"*'


@dataclass(frozen=True)
class _Fixed:
    found: dict[int, float]
    name: str
    weight: float = 1.0

    def scores(self, db, scope, k):
        return dict(list(self.found.items())[:k])


@pytest.fixture
def db(tmp_path: Path):
    with Database(tmp_path / "library.sqlite3") as db:
        yield db


def test_each_signal_is_cut_on_its_own_scale_and_scores_are_kept_per_signal(db) -> None:
    clip = _Fixed({1: 0.30, 2: 0.29, 3: 0.10}, "clip")
    ocr = _Fixed({4: 1.0, 2: 0.5, 5: 0.2}, "ocr", weight=0.5)
    hits = engine.rank(db, [clip, ocr], scope(db, None), 10, 0.8)
    assert [h.file_id for h in hits] == [2, 4, 1]  # 3 and 5 fall below their own signal's cutoff
    assert hits[0].signals == {"clip": 0.29, "ocr": 0.5} and hits[0].score == pytest.approx(0.54)
    assert hits[1].signals == {"ocr": 1.0}
    # One signal alone: as before, a cutoff relative to its best.
    assert [h.file_id for h in engine.rank(db, [clip], scope(db, None), 10, 0.8)] == [1, 2]


def test_a_signal_is_one_module_in_the_registry(db, tmp_path: Path, monkeypatch) -> None:
    def module(name: str, make) -> str:
        mod = types.ModuleType(name)
        mod.make = make  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, mod)
        return name

    def unavailable(query):
        raise registry.Unavailable("faces need dlib: pip install 'gallerfs[faces]'")

    names = (module("sig_a", lambda q: _Fixed({7: 1.0}, q.text)), module("sig_none", lambda q: None),
             module("faces_signal", unavailable))  # fmt: skip
    paths = LibraryPaths(root=tmp_path, config_file=tmp_path / "config.toml")
    built = registry.build(registry.Query("hello", db, paths, Settings()), names)
    assert [s.name for s in built.signals] == ["hello"]
    assert built.unavailable == {"faces": "faces need dlib: pip install 'gallerfs[faces]'"}
    monkeypatch.setattr(registry, "QUERY_SIGNALS", names)
    from gallerfs.search import search_query

    result = search_query(db, paths, Settings(), "hello", 5)
    assert [h.file_id for h in result.hits] == [7] and result.signals == ("hello",)
    assert result.notices == ("faces need dlib: pip install 'gallerfs[faces]'; results come from hello only",)


def test_any_typed_text_is_a_valid_fts5_query(db) -> None:
    from gallerfs.db import ocr as ocr_db

    for text in ('"" * AND : NEAR(', "col:umn ^start", 'a "b', "ünïcödé ß", "-x +y", "12.5%"):
        q = parse(text)
        for every in (True, False):
            assert ocr_db.match(db, q.expression(every=every), 5) == []


def test_forgetting_a_source_takes_its_text_out_of_the_index(db) -> None:
    from gallerfs.db import files as files_db
    from gallerfs.db import ocr as ocr_db
    from gallerfs.db import sources as sources_db

    source = sources_db.add_source(db, name="s", path=b"/nowhere", mount_point=b"/", fs_uuid=None, fs_type=None,
                                   device=0, root_inode=0)  # fmt: skip
    with db.transaction():
        files_db.insert_new(db, source.id, [files_db.ScannedFile(b"a.jpg", "image", 10, 1, 1, 0, 1)])
    file_id = db.value("SELECT id FROM files")
    with db.transaction():
        files_db.store_result(db, file_id, metadata={"sort_time": 1.0}, content_hash=None, partial_hash=None,
                              phash=None, dhash=None, error=None)  # fmt: skip
    assert ocr_db.count_todo(db) == 1 and ocr_db.count_todo(db, [source.id]) == 0
    task = ocr_db.todo_batch(db, 0, 10)[0]
    line = ocr_db.OcrLine("Boarding pass", 0.99, ((0, 0), (1, 0), (1, 1), (0, 1)))
    with db.transaction():
        assert ocr_db.store(db, [(task, [line])], [], "test") == 1
    assert [r[0] for r in ocr_db.match(db, parse("boarding").expression(every=True), 5)] == [file_id]
    assert ocr_db.count_todo(db) == 0
    sources_db.remove_source(db, source.id)
    assert ocr_db.match(db, parse("boarding").expression(every=True), 5) == []
    assert db.value("SELECT count(*) FROM ocr_lines") == 0
    db.execute("INSERT INTO ocr_fts (ocr_fts) VALUES ('integrity-check')")  # raises when the index disagrees
