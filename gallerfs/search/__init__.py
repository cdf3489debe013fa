"""Search: a plain-English query or a photo in, ranked library files out.

Entry points for the CLI, the mount's ``search/`` folder and the viewer:

- ``search_files(reader_db, paths, settings, query, limit, filters)``; ``search(...)`` is the same
  with the notices of signals that could not run (``SearchResult``)
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

import logging
from dataclasses import dataclass, field

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import embeddings as embeddings_db
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.search import engine, memindex, registry
from gallerfs.search.engine import SearchHit
from gallerfs.search.filters import Filters, scope
from gallerfs.search.signals import VectorSignal
from gallerfs.models.store import NO_MODEL_MESSAGE, NoModelError, is_model_installed, require_model
from gallerfs.models.store import current_model as store_current_model

__all__ = [
    "Filters",
    "NO_MODEL_MESSAGE",
    "NoModelError",
    "SearchHit",
    "SearchResult",
    "is_model_installed",
    "search",
    "search_files",
    "text_search",
    "prepare",
    "similar_files",
    "text_vector",
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


@dataclass
class SearchResult:
    hits: list[SearchHit]
    notices: list[str] = field(default_factory=list)  # one line per signal that could not run
    signals: list[str] = field(default_factory=list)  # the signals that scored this query


def _clean(query: str) -> str:
    query = " ".join(query.split())
    if not query:
        raise GallerfsError("the search query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise GallerfsError(f"the search query is longer than {MAX_QUERY_CHARS} characters")
    return query


def search(
    reader_db: Database,
    paths: LibraryPaths,
    settings: Settings,
    query: str,
    limit: int,
    filters: Filters | None = None,
) -> SearchResult:
    """Files matching a plain-English query, best first, by every signal of ``registry.QUERY_SIGNALS``
    that can run here (CLIP when a model is installed, OCR text when photos have been read, ...).

    Raises ``NoModelError`` (a ``GallerfsError``, exit code 5, message ``NO_MODEL_MESSAGE``) when no
    CLIP model is installed and no other signal finds anything, and ``GallerfsError`` for bad
    filters. Returns no hits while nothing is indexed yet.
    """
    query = _clean(query)
    the_scope = scope(reader_db, filters)
    built = registry.build(registry.Query(query, reader_db, paths, settings))
    if not built.signals and "clip" in built.unavailable:
        raise NoModelError(built.unavailable["clip"])
    names = [s.name for s in built.signals]
    notices = [f"{text}; results come from {', '.join(names)} only" for text in built.unavailable.values()]
    hits = engine.rank(reader_db, built.signals, the_scope, limit, settings.search_relative_cutoff)
    if not hits and "clip" in built.unavailable:
        raise NoModelError(built.unavailable["clip"])  # nothing found without CLIP: installing it comes first
    return SearchResult(hits, notices, names)


def search_files(
    reader_db: Database,
    paths: LibraryPaths,
    settings: Settings,
    query: str,
    limit: int,
    filters: Filters | None = None,
) -> list[SearchHit]:
    """``search`` without the notices (logged instead)."""
    result = search(reader_db, paths, settings, query, limit, filters)
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
