"""The signals a plain-English query is scored by, one module each.

Each module named in ``QUERY_SIGNALS`` has ``make(query: Query) -> Signal | None``: a signal for
this query (see ``gallerfs.search.signals.Signal``), None when it has nothing to add here (nothing
indexed yet, no usable words), or it raises ``Unavailable`` with a one-line notice naming what to
install. Modules are imported only when a search runs, so a signal's dependencies (onnxruntime, an
optional extra) cost nothing elsewhere. Adding a signal is one more module and one line below;
``gallerfs.search.engine`` fuses whatever they return.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gallerfs.config import Settings
from gallerfs.db.connection import Database
from gallerfs.paths import LibraryPaths

if TYPE_CHECKING:
    from gallerfs.search.signals import Signal

log = logging.getLogger(__name__)

QUERY_SIGNALS: tuple[str, ...] = (
    "gallerfs.search.clip_signal",  # CLIP: how much a photo looks like the description
    "gallerfs.search.ocr_signal",  # words printed in the photo (the 'ocr' job's index)
    "gallerfs.search.tag_signal",  # the photo's tags, matched to the words by meaning (the 'text' model)
    "gallerfs.search.people_signal",  # the people the query names, by the faces job's named persons
)


class Unavailable(Exception):
    """A signal cannot run in this installation; the message is one line that says how to fix it."""


@dataclass(frozen=True)
class Query:
    text: str
    db: Database
    paths: LibraryPaths
    settings: Settings


@dataclass
class Built:
    signals: list[Signal] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # signal module's short name -> notice


def build(query: Query, modules: tuple[str, ...] | None = None) -> Built:
    out = Built()
    for module_name in QUERY_SIGNALS if modules is None else modules:
        module = importlib.import_module(module_name)
        try:
            signal = module.make(query)
        except Unavailable as exc:
            out.unavailable[module_name.rsplit(".", 1)[-1].removesuffix("_signal")] = str(exc)
            continue
        if signal is not None:
            out.signals.append(signal)
    return out
