"""The places job: a place name (country, region, city) for every geotagged file, resumable per file.

Runs after phase 2 as the ``places`` job (a row in ``jobs``). What is done is recorded per file in
``places`` with the coordinates and the geocoder version it was computed from, so a killed job
resumes with the files still to do, an edited GPS position is geocoded again, and a new rule or
data version redoes everything. Geocoding is pure computation on package data (no file I/O, no
network): batches are computed first, then written in one short transaction each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import jobs as jobs_db
from gallerfs.db import places as places_db
from gallerfs.db.connection import Database
from gallerfs.db.places import PlaceRow
from gallerfs.db.state import bump_generation
from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)

JOB_KIND = "places"
BATCH = 5000


@dataclass
class PlacesReport:
    placed: int = 0
    no_place: int = 0
    forgotten: int = 0

    def as_dict(self) -> dict[str, Any]:
        summary = f"{self.placed} files placed"
        if self.no_place:
            summary += f", {self.no_place} with no place (far at sea)"
        return {"placed": self.placed, "no_place": self.no_place, "forgotten": self.forgotten, "summary": summary}


def place_library(db: Database, settings: Settings, on_progress: Any = None) -> PlacesReport:
    from gallerfs.places.geocode import ReverseGeocoder, version

    report = PlacesReport()
    geocoder_version = version(settings.places_min_population)
    with db.transaction():
        report.forgotten = places_db.forget_without_gps(db)
        if report.forgotten:
            bump_generation(db)
    todo = places_db.count_todo(db, geocoder_version)
    if not todo:
        return report
    job = jobs_db.claim(db, JOB_KIND)
    with db.transaction():
        jobs_db.set_total(db, job.id, job.done + todo)
    try:
        geocoder = ReverseGeocoder(settings.places_min_population)
        after = 0
        while True:
            batch = places_db.todo_batch(db, geocoder_version, after, BATCH)
            if not batch:
                break
            after = batch[-1][0]
            lat = np.array([b[1] for b in batch], dtype=np.float64)
            lon = np.array([b[2] for b in batch], dtype=np.float64)
            found = geocoder.reverse(lat, lon)
            rows = [(fid, la, lo, PlaceRow(p.country, p.region, p.city, p.country_code) if p else None)
                    for (fid, la, lo), p in zip(batch, found)]  # fmt: skip
            with db.transaction():
                places_db.store(db, geocoder_version, rows)
                jobs_db.progress(db, job.id, done=len(rows))
                bump_generation(db)
            report.placed += sum(1 for p in found if p is not None)
            report.no_place += sum(1 for p in found if p is None)
            if on_progress:
                on_progress(len(rows))
    except BaseException as exc:
        jobs_db.finish(db, job.id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    jobs_db.finish(db, job.id, "done")
    log.info("places: %s", report.as_dict()["summary"])
    return report


def stage(db: Database, paths: LibraryPaths, settings: Settings, progress: Any) -> dict[str, Any]:
    """A later stage of ``gallerfs index`` (``indexer.run.LATER_STAGES``)."""
    update = progress.start("places", places_db.count_todo(db, _version(settings))) if progress else None
    try:
        return place_library(db, settings, update).as_dict()
    finally:
        if progress:
            progress.close()


def _version(settings: Settings) -> str:
    from gallerfs.places.geocode import version

    return version(settings.places_min_population)
