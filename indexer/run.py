"""Running the indexing jobs in order: phase 1 per source, then phase 2, then later stages."""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from gallerfs.config import Settings
from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.sources import Source
from gallerfs.paths import LibraryPaths
from gallerfs.indexer.scanner import ScanReport, scan_source

log = logging.getLogger(__name__)

# A stage after phase 2: fn(db, paths, settings, progress) -> its report (a "summary" key is shown to the user).
Stage = Callable[[Database, LibraryPaths, Settings, "Progress"], dict[str, Any]]


def _imported_when_run(module: str, function: str = "stage") -> Stage:
    """The stage *module*.*function*, imported only when it runs, so that importing this runner loads none of
    the stages, nor what they load (numpy, onnxruntime, the models, the place polygons and gazetteer)."""

    def run(db: Database, paths: LibraryPaths, settings: Settings, progress: Progress) -> dict[str, Any]:
        stage: Stage = getattr(importlib.import_module(module), function)
        return stage(db, paths, settings, progress)

    return run


# The stages after phase 2, in order.
LATER_STAGES: tuple[tuple[str, Stage], ...] = (
    # CLIP image vectors, when a model is installed
    ("embed", _imported_when_run("gallerfs.indexer.embed")),
    # the vectors placed on the viewer's clusters map (a 2-D PCA)
    ("project", _imported_when_run("gallerfs.indexer.projection")),
    # country, region and city of geotagged files
    ("places", _imported_when_run("gallerfs.indexer.places")),
    # what is in each photo, when the tags model is installed (onnxruntime loads only when there is work)
    ("tags", _imported_when_run("gallerfs.indexer.tags_job")),
    # text in photos (the 'ocr' extra), on sources that have it on (its models load only when there is work)
    ("ocr", _imported_when_run("gallerfs.indexer.ocr")),
    # faces found, described and grouped into people, with the faces extra
    ("faces", _imported_when_run("gallerfs.indexer.faces")),
    # journal entries and the photos they mention
    ("journal", _imported_when_run("gallerfs.journal.entries", "journal_index_stage")),
)


def run_later_stages(db: Database, paths: LibraryPaths, settings: Settings, progress: Progress) -> dict[str, Any]:
    return {name: stage(db, paths, settings, progress) for name, stage in LATER_STAGES}


@dataclass
class IndexReport:
    scans: list[ScanReport] = field(default_factory=list)
    processed: int = 0
    failed: int = 0
    stages: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": [s.as_dict() for s in self.scans],
            "processed": self.processed,
            "failed": self.failed,
            "stages": self.stages,
        }


class Progress:
    """A tqdm bar on a terminal, silence elsewhere."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None

    def start(self, desc: str, total: int | None, unit: str = "file") -> Callable[[int], None]:
        self.close()
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
            return self._bar.update
        return lambda n: None

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def scan_sources(db: Database, sources: list[Source], progress: Progress, *, allow_empty: bool = False,
                 batch_size: int = 2000) -> list[ScanReport]:  # fmt: skip
    reports = []
    for source in sources:
        job = jobs_db.claim(db, "scan", source.id)
        update = progress.start(f"scan {source.name}", None)
        try:
            report = scan_source(db, source, job_id=job.id, allow_empty=allow_empty, on_progress=update,
                                 batch_size=batch_size)  # fmt: skip
        except BaseException as exc:
            jobs_db.finish(db, job.id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            progress.close()
        state = "done" if report.online else "cancelled"
        jobs_db.finish(db, job.id, state, None if report.online else f"offline: {report.offline_reason}")
        reports.append(report)
    return reports


def requeue_missing_thumbnails(db: Database, paths: LibraryPaths) -> int:
    """Send processed files of online sources whose thumbnails are gone (an imported library, a cleared
    cache) back to phase 2, so offline browsing works again; returns how many."""
    from gallerfs.indexer.thumbnails import missing_thumbnails  # Pillow: not needed by a phase-1-only run

    missing = missing_thumbnails(paths.thumbnails, files_db.processed_online(db))
    if missing:
        with db.transaction():
            files_db.requeue(db, missing)
        log.info("%d processed files have no thumbnails: processing them again", len(missing))
    return len(missing)


def process_pending(db: Database, paths: LibraryPaths, settings: Settings, progress: Progress) -> tuple[int, int]:
    requeue_missing_thumbnails(db, paths)
    pending = files_db.count_pending(db)
    job = jobs_db.claim(db, "process")
    with db.transaction():
        jobs_db.set_total(db, job.id, job.done + pending)
    update = progress.start("index", pending)
    from gallerfs.indexer.pipeline import Phase2  # numpy, Pillow and the decoders: not needed by a phase-1-only run

    try:
        report = Phase2(db, paths, settings, job.id, on_progress=update).run()
    except BaseException as exc:
        jobs_db.finish(db, job.id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        progress.close()
    jobs_db.finish(db, job.id, "done")
    return report.processed, report.failed


def index_library(db: Database, paths: LibraryPaths, settings: Settings, sources: list[Source] | None = None,
                  *, show_progress: bool = True, process: bool = True) -> IndexReport:  # fmt: skip
    progress = Progress(show_progress)
    report = IndexReport()
    chosen = sources if sources is not None else sources_db.list_sources(db)
    report.scans = scan_sources(db, chosen, progress)
    if not process:
        return report
    report.processed, report.failed = process_pending(db, paths, settings, progress)
    report.stages = run_later_stages(db, paths, settings, progress)
    return report


def rescan_library(db: Database, paths: LibraryPaths, settings: Settings, sources: list[Source], *,
                   show_progress: bool = True, allow_empty: bool = False) -> IndexReport:  # fmt: skip
    """What 'gallerfs rescan' runs (the CLI and the viewer's Rescan), under the caller's IndexerLock."""
    progress = Progress(show_progress)
    report = IndexReport()
    report.scans = scan_sources(db, sources, progress, allow_empty=allow_empty)
    report.processed, report.failed = process_pending(db, paths, settings, progress)
    report.stages = run_later_stages(db, paths, settings, progress)
    return report
