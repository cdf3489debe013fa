"""The tag signal: a query matched to photo tags by meaning, through text embeddings.

The query and every tag name in the library are embedded with all-MiniLM-L6-v2 (the ``text`` model; tag
vectors are stored by the tags job). A tag matches when its cosine similarity to the query is at least
``MIN_SIMILARITY`` and within ``MARGIN`` of the best-matching tag, so "kitty" matches "cat" (0.84) and
"tabby cat" (0.70) but not "dog" (0.57), and "puppy" does not match "cat" (0.53). A photo scores, over its matching tags, the best
``similarity × tag score`` — "kitty" ranks a photo that is surely a cat above one that might be a tiger cat.

Without a CLIP model this is how a plain-English query finds photos; with one, it adds to CLIP's
similarity with weight ``WEIGHT_WITH_CLIP`` (a sure match adds about 0.08, the spread between CLIP's good
and poor matches for a query).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import search as search_db
from gallerfs.db import tags as tags_db
from gallerfs.db.connection import Database
from gallerfs.models import packaged
from gallerfs.paths import LibraryPaths
from gallerfs.search.filters import Scope
from gallerfs.search.registry import Query

log = logging.getLogger(__name__)

MIN_SIMILARITY = 0.55
MARGIN = 0.15
WEIGHT_WITH_CLIP = 0.1


@dataclass(frozen=True)
class TagTextSignal:
    query: np.ndarray  # the query's unit MiniLM vector
    model: str  # identity of the text model (tag vectors from another model are not comparable)
    name: str = "tags"
    weight: float = 1.0

    def matching_tags(self, db: Database) -> dict[str, float]:
        """The tags matching the query, with their similarity to it."""
        names, matrix = tags_db.tag_vectors(db, self.model)
        if not names:
            return {}
        sims = matrix @ self.query.astype(np.float32)
        floor = max(MIN_SIMILARITY, float(sims.max()) - MARGIN)
        return {names[i]: float(sims[i]) for i in np.flatnonzero(sims >= floor)}

    def scores(self, db: Database, scope: Scope, k: int) -> dict[int, float]:
        matched = self.matching_tags(db)
        if not matched:
            return {}
        per_file = tags_db.files_with_tags(db, matched)
        scored = {f: max(matched[t] * s for t, s in tags.items()) for f, tags in per_file.items()}
        # Tagged photos need not be embedded: the filters are checked on the files themselves.
        kept = search_db.filter_files(db, scope.spec, list(scored)) if scope.filtered else set(scored)
        best = sorted(((f, s) for f, s in scored.items() if f in kept), key=lambda kv: (-kv[1], kv[0]))
        return dict(best[:k])


def for_query(db: Database, paths: LibraryPaths, settings: Settings, query: str, *,
              with_clip: bool) -> TagTextSignal | None:  # fmt: skip
    """The signal for a query, or None when the text model is not installed or nothing is tagged yet."""
    model = packaged.installed(paths, "text")
    if model is None or not available(paths) or not tags_db.has_tags(db):
        return None
    from gallerfs.search.textembed import embedder

    vector = embedder(model, settings.embed_device).encode_one(query)
    return TagTextSignal(vector, model.identity, weight=WEIGHT_WITH_CLIP if with_clip else 1.0)


def make(query: Query) -> TagTextSignal | None:
    """The registry's entry (``gallerfs.search.registry``): weighted down beside CLIP, the whole ranking
    without it."""
    from gallerfs.models.store import current_model

    with_clip = current_model(query.paths) is not None
    return for_query(query.db, query.paths, query.settings, query.text, with_clip=with_clip)


def available(paths: LibraryPaths) -> bool:
    """Whether queries can be matched to tags (the text model and its tokenizer package are installed)."""
    import importlib.util

    return packaged.installed(paths, "text") is not None and importlib.util.find_spec("tokenizers") is not None


def warm_up(paths: LibraryPaths, settings: Settings) -> None:
    """Load the text model in the background (a mount or viewer), so the first query does not wait."""
    model = packaged.installed(paths, "text")
    if model is None:
        return
    import threading

    def load() -> None:
        try:
            from gallerfs.search.textembed import embedder

            embedder(model, settings.embed_device).encode_one("a photo")
        except Exception:  # the first query reports the problem in its own words
            log.exception("loading the text model failed")

    threading.Thread(target=load, name="gallerfs-text-model", daemon=True).start()
