"""The command palette's entries (Ctrl+K or /): every view to jump to and every action to run, declared
once here and rendered into each page by ``templates/_palette.html``; ``static/palette.js`` filters them
as the user types, and anything else typed runs a plain-English search.

An entry names its Flask endpoint and is shown only while that endpoint exists (a page another part of
the viewer adds later, e.g. the journal's ``journal.create_entry``, appears once its blueprint is
registered), so a new page is one more line in ``ENTRIES``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, url_for
from werkzeug.routing import BuildError

log = logging.getLogger(__name__)

GO, POST, FAVOURITE = "go", "post", "favourite"  # open a page; submit a form to it; the current photo's star


@dataclass(frozen=True)
class Entry:
    label: str
    endpoint: str
    kind: str = GO
    section: str = "Go to"
    keywords: str = ""  # other words that find it
    args: dict[str, Any] = field(default_factory=dict)  # url_for values
    fields: dict[str, str] = field(default_factory=dict)  # a POST's form fields (the CSRF token is added)
    prompt: tuple[str, str] | None = None  # a POST asks for one value first: (form field, question)
    needs: str = ""  # "photo": a current photo (the photo page, a selection in the grid); "view": a grid
    filters: bool = False  # the current filters go along in the URL


ENTRIES: tuple[Entry, ...] = (
    Entry("Library", "pages.grid", keywords="grid photos timeline months home", filters=True),
    Entry("Library by day", "pages.grid", keywords="timeline days", args={"group": "day"}, filters=True),
    Entry("Library as one grid", "pages.grid", keywords="all flat ungrouped", args={"group": "none"}, filters=True),
    Entry("Search", "pages.search", keywords="find describe clip", filters=True),
    Entry("Map", "map.map_page", keywords="gps places world where location heatmap", filters=True),
    Entry("Clusters", "clusters.page", keywords="embeddings similar scatter pca groups", filters=True),
    Entry("Dashboard", "dashboard.page", keywords="statistics totals disk usage sunburst cameras", filters=True),
    Entry("Duplicates", "duplicates.review", keywords="copies trash reclaim space review"),
    Entry("Journal", "journal.calendar", keywords="diary calendar notes entries"),
    Entry("Albums", "albums.albums", keywords="collections"),
    Entry("People", "people.people_page", keywords="faces persons names who friends family"),
    Entry("Sources", "pages.sources", keywords="folders drives add folder online offline"),
    Entry("Jobs", "pages.jobs", keywords="progress failures index"),
    Entry("Rescan all sources", "sources.rescan_all", POST, "Run", keywords="refresh scan index update"),
    Entry("New journal entry for today", "journal.create_entry", POST, "Run", keywords="diary write day",
          fields={"period": "day"}),  # fmt: skip
    Entry("New journal entry for this week", "journal.create_entry", POST, "Run", keywords="diary write week",
          fields={"period": "week"}),  # fmt: skip
    Entry("Save this view as a new album…", "albums.save_view", POST, "Run", keywords="album collection filters",
          prompt=("new_name", "Name of the new album"), needs="view", filters=True),  # fmt: skip
    Entry("Add this view to an album…", "albums.save_view", POST, "Run", keywords="album collection filters existing",
          prompt=("album", "Name of the album to add these photos to"), needs="view", filters=True),  # fmt: skip
    Entry("Toggle favourite", "api.favourite", FAVOURITE, "Run", keywords="star like heart f",
          args={"file_id": "0"}, needs="photo"),  # fmt: skip
)


MAX_NAMED = 500  # albums and sources listed by name (a library rarely has more)


def named_views() -> list[Entry]:
    """One entry per album and per source: the library filtered to it (none when there is no library)."""
    from gallerfs.db import tree as tree_db
    from gallerfs.errors import GallerfsError
    from gallerfs.viewer.library import library

    try:
        db = library().reader()
        albums, sources = tree_db.list_albums(db), tree_db.list_sources(db)
    except GallerfsError:
        return []
    return [
        *(Entry(a.name, "pages.grid", section="Album", keywords="album", args={"album": a.name})
          for a in albums[:MAX_NAMED]),
        *(Entry(s.name, "pages.grid", section="Source", keywords="source folder drive", args={"source": s.name})
          for s in sources[:MAX_NAMED]),
    ]  # fmt: skip


def available(entries: tuple[Entry, ...] | None = None) -> list[dict[str, Any]]:
    """The entries whose endpoint exists in this app, with their URLs (in a request context); by
    default ``ENTRIES`` and then every album and source."""
    out = []
    for entry in entries if entries is not None else (*ENTRIES, *named_views()):
        try:
            url = url_for(entry.endpoint, **entry.args)
        except BuildError:
            continue
        out.append({
            "label": entry.label, "kind": entry.kind, "section": entry.section, "keywords": entry.keywords,
            "url": url, "fields": entry.fields, "prompt_field": entry.prompt[0] if entry.prompt else "",
            "prompt": entry.prompt[1] if entry.prompt else "", "needs": entry.needs, "filters": entry.filters,
        })  # fmt: skip
    return out


def register(app: Flask) -> None:
    @app.context_processor
    def _palette() -> dict[str, Any]:
        return {"palette_entries": available}
