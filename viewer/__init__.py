"""The web viewer: ``create_app`` builds the Flask app that ``gallerfs serve`` runs with waitress.

Pages: the library grid (``/``, a timeline by month or day: ``timeline``), a photo (``/photo/ID``),
search (``/search``), albums, sources (with Rescan and Add a folder), jobs, the map (``/map``), the
clusters map (``/clusters``), the dashboard (``/dashboard``), duplicate review (``/duplicates``) and
the journal (``/journal``), people (``/people``: ``people``), with a command palette on every page (``palette``). Files are named by
library id only; see ``security`` for what keeps the server private to this machine, ``errors`` for
how failures are shown and ``fastthumbs`` for how thumbnails are served.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from gallerfs.config import Settings
from gallerfs.paths import LibraryPaths


def create_app(library_paths: LibraryPaths, settings: Settings, test_config: dict[str, Any] | None = None) -> Flask:
    from gallerfs.viewer import (albums, api, clusters, dashboard, duplicates, errors, fastthumbs, journal, map_view,
                                 media, pages, palette, people, plotly_assets, security, sources)
    from gallerfs.viewer.library import Library
    from gallerfs.viewer.rescans import Rescans

    app = Flask(__name__)
    app.config.update(PORT=None, MAX_CONTENT_LENGTH=64 * 1024, TEMPLATES_AUTO_RELOAD=False)
    if test_config:
        app.config.update(test_config)
    app.extensions["gallerfs_library"] = Library(library_paths, settings)
    app.extensions["gallerfs_rescans"] = Rescans()
    errors.register(app)
    security.register(app)
    palette.register(app)
    for blueprint in (pages.bp, albums.bp, sources.bp, media.bp, api.bp, duplicates.bp, journal.bp, map_view.bp,
                      clusters.bp, dashboard.bp, plotly_assets.bp, people.bp):  # fmt: skip
        app.register_blueprint(blueprint)
    lib = app.extensions["gallerfs_library"]
    app.wsgi_app = fastthumbs.FastThumbnails(app.wsgi_app, lib, lambda: app.config.get("PORT"))  # type: ignore[method-assign]  # Flask documents wrapping wsgi_app
    return app
