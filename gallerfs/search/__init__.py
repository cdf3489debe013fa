"""Search: a plain-English query or a photo in, ranked library files out.

Entry points for the CLI, the mount's ``search/`` folder and the viewer:

- ``search_files(reader_db, paths, settings, query, limit, filters)``
- ``search_query(...)``: the same, with the query's interpretation (``query_parse``: its words about
  dates, places, cameras, media type and favourites become filters, the rest goes to CLIP), results
  by date when no words are left for CLIP, and filters alone when no model is installed
- ``text_search(reader_db, query, limit, filters)``: the text inside photos only (OCR)
- ``similar_files(reader_db, paths, settings, file_id, limit, filters)``
- ``is_model_installed(paths)`` and ``NO_MODEL_MESSAGE`` (one line, names the command to run)
- ``prepare(paths, settings)`` for long-lived processes: loads the text tower and an
  in-memory copy of the vectors in the background, so queries skip both costs

Layout: ``filters`` parses and applies filters (one place), ``signals`` holds
each scoring signal behind one interface, ``registry`` lists the modules that
make a query's signals (CLIP, OCR text, ...), ``engine`` fuses and ranks.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import embeddings as embeddings_db
from gallerfs.db import search as search_db
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.search import engine, memindex, registry, tag_signal
from gallerfs.search.engine import SearchHit
from gallerfs.search.filters import Filters, scope
from gallerfs.search.query_parse import Interpretation
from gallerfs.search.signals import VectorSignal
from gallerfs.models.store import NO_MODEL_MESSAGE, NoModelError, is_model_installed, require_model
from gallerfs.models.store import current_model as store_current_model

__all__ = [
    "Filters",
    "NO_MODEL_MESSAGE",
    "NoModelError",
    "SearchHit",
    "can_search",
    "SearchResult",
    "is_model_installed",
    "search_files",
    "text_search",
    "prepare",
    "similar_files",
    "text_vector",
    "search_query",
    "SearchResult",
]

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000


def _check_space(db: Database, model_identity: str | None) -> bool:
    """False when nothing is embedded yet; an error when the vectors come from another model."""
    space = embeddings_db.space(db)
    if space is None:
        return False
    if model_identity is not None and space.model != model_identity:
        raise GallerfsError(
            "the library's embeddings were made with another CLIP model: run 'gallerfs index' to embed again"
        )
    return True


def prepare(paths: LibraryPaths, settings: Settings, max_vectors: int = memindex.DEFAULT_MAX_VECTORS) -> None:
    """Warm up a long-lived process (mount, viewer): returns at once, loads in the background."""
    import threading

    index = memindex.enable(paths.db, max_vectors)
    if paths.db.exists():
        try:
            with Database(paths.db, readonly=True) as db:
                index.get(db)  # starts the load when the library has vectors
        except GallerfsError as exc:
            log.debug("no in-memory index: %s", exc)
    model = store_current_model(paths)
    if model is not None:

        def load_text_tower() -> None:
            try:
                from gallerfs.indexer.clip.model import text_encoder

                text_encoder(str(model.text_path), settings.embed_device).encode_one("a photo")
            except Exception:  # the first query will report the problem in its own words
                log.exception("loading the CLIP text tower failed")

        threading.Thread(target=load_text_tower, name="gallerfs-text-tower", daemon=True).start()
    tag_signal.warm_up(paths, settings)


def can_search(paths: LibraryPaths) -> bool:
    """Whether a plain-English query can be answered: a CLIP model or the tags' text model is installed."""
    return is_model_installed(paths) or tag_signal.available(paths)


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    interpretation: Interpretation
    by_date: bool = False  # no words were left for the signals (or none can run): newest first, scores 0
    notices: tuple[str, ...] = ()  # one line each: a signal that could not run, content words ignored
    signals: tuple[str, ...] = ()  # the signals that scored this query (registry.QUERY_SIGNALS)

    @property
    def note(self) -> str | None:
        return "; ".join(self.notices) or None


def interpret(reader_db: Database, query: str, filters: Filters | None = None,
              today: dt.date | None = None) -> Interpretation:  # fmt: skip
    """The query's filters (merged with ``filters``, which win) and its words for CLIP."""
    from gallerfs.search.query_parse import merge, parse
    from gallerfs.search.query_vocab import vocabulary

    found = parse(query, vocabulary(reader_db), today)
    return replace(found, filters=merge(found.filters, filters or Filters()))


def _clean(query: str) -> str:
    query = " ".join(query.split())
    if not query:
        raise GallerfsError("the search query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise GallerfsError(f"the search query is longer than {MAX_QUERY_CHARS} characters")
    return query


def search_query(
    reader_db: Database,
    paths: LibraryPaths,
    settings: Settings,
    query: str,
    limit: int,
    filters: Filters | None = None,
    *,
    today: dt.date | None = None,
) -> SearchResult:
    """A plain-English query: its words about time, place, camera, media type and favourites filter,
    the rest ranks by every signal of ``registry.QUERY_SIGNALS`` that can run here (CLIP, the text
    in photos, the photos' tags by meaning). With no words left for CLIP the matching files come newest first; with
    words left but no model installed, the filters alone (and a note saying what was ignored), unless
    nothing was understood as a filter: then ``NoModelError``, as ever."""
    found = interpret(reader_db, _clean(query), filters, today)
    the_scope = scope(reader_db, found.filters)
    if not found.content:
        ids = search_db.dated_ids(reader_db, the_scope.spec, limit)
        return SearchResult([SearchHit(i, 0.0) for i in ids], found, by_date=True)
    built = registry.build(registry.Query(found.content, reader_db, paths, settings))
    clip_missing = built.unavailable.get("clip")
    if not built.signals and clip_missing is not None:
        if found.understood:  # the filters alone answer, newest first
            ids = search_db.dated_ids(reader_db, the_scope.spec, limit)
            note = f"no CLIP model is installed, so \u201c{found.content}\u201d was ignored ('gallerfs models install')"
            return SearchResult([SearchHit(i, 0.0) for i in ids], found, by_date=True, notices=(note,))
        if not can_search(paths):
            raise NoModelError(clip_missing)
    names = tuple(s.name for s in built.signals)
    notices = tuple(f"{text}; results come from {', '.join(names)} only" for text in built.unavailable.values()
                    if names)  # fmt: skip
    hits = engine.rank(reader_db, built.signals, the_scope, limit, settings.search_relative_cutoff)
    if not hits and clip_missing is not None and not found.understood and not can_search(paths):
        raise NoModelError(clip_missing)  # nothing found without CLIP: installing it comes first
    return SearchResult(hits, found, notices=notices, signals=names)


def search_files(
    reader_db: Database,
    paths: LibraryPaths,
    settings: Settings,
    query: str,
    limit: int,
    filters: Filters | None = None,
) -> list[SearchHit]:
    """Files matching a plain-English query, best first (``search_query``'s hits; its notices are
    logged). Raises ``NoModelError`` (a ``GallerfsError``, exit code 5, message ``NO_MODEL_MESSAGE``)
    when nothing installed can answer the query, and ``GallerfsError`` for bad filters. Returns []
    while nothing is embedded, read or tagged yet.
    """
    result = search_query(reader_db, paths, settings, query, limit, filters)
    for notice in result.notices:
        log.info("%s", notice)
    return result.hits


def text_search(reader_db: Database, query: str, limit: int, filters: Filters | None = None) -> list[SearchHit]:
    """Photos whose text (found by the OCR job) holds every word and "quoted phrase" of the query,
    best first (BM25, the best scoring 1). Filters apply; no relative cutoff (every match is one)."""
    from gallerfs.search.ocr_signal import text_only

    query = _clean(query)
    signal = text_only(query)
    if signal.query.empty:
        raise GallerfsError("the text to look for has no letters or digits")
    return engine.rank(reader_db, [signal], scope(reader_db, filters), limit, 0.0)


def text_vector(paths: LibraryPaths, settings: Settings, query: str) -> np.ndarray:
    """The CLIP text vector of a query (unit length); ``NoModelError`` without an installed model."""
    model = require_model(paths)
    from gallerfs.indexer.clip.model import text_encoder  # onnxruntime loads only when a search runs

    return np.asarray(text_encoder(str(model.text_path), settings.embed_device).encode_one(query), dtype=np.float32)


def similar_files(
    reader_db: Database,
    paths: LibraryPaths,
    settings: Settings,
    file_id: int,
    limit: int,
    filters: Filters | None = None,
) -> list[SearchHit]:
    """The photos nearest to one photo (itself excluded), best first.

    Needs the library's embeddings, not the model files. With nothing embedded it raises
    ``NoModelError`` (exit code 5, as ``search_files``) when no model is installed either, since
    installing one is what comes first, and ``GallerfsError`` (run 'gallerfs index') otherwise.
    """
    the_scope = scope(reader_db, filters)
    if not _check_space(reader_db, None):
        if not is_model_installed(paths):
            raise NoModelError(NO_MODEL_MESSAGE)
        raise GallerfsError("no photo is embedded yet: run 'gallerfs index'")
    vector = embeddings_db.vector_of(reader_db, file_id)
    if vector is None:
        raise GallerfsError(f"file {file_id} has no embedding (not a photo, not embedded yet, or it failed)")
    signal = VectorSignal(vector, name="similar", exclude=frozenset({file_id}))
    return engine.rank(reader_db, [signal], the_scope, limit, settings.search_relative_cutoff)
