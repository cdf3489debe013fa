"""The CLIP signal: how much a photo looks like the query (the text tower's vector against the
photos' vectors). Unavailable, with the install command, when no model is installed."""

from __future__ import annotations

from gallerfs.models.store import NO_MODEL_MESSAGE, current_model
from gallerfs.search.registry import Query, Unavailable
from gallerfs.search.signals import VectorSignal


def make(query: Query) -> VectorSignal | None:
    model = current_model(query.paths)
    if model is None:
        raise Unavailable(NO_MODEL_MESSAGE)
    from gallerfs.search import _check_space, text_vector

    if not _check_space(query.db, model.identity):
        return None  # nothing embedded yet

    return VectorSignal(text_vector(query.paths, query.settings, query.text))
