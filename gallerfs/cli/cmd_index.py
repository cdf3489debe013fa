"""gallerfs index / rescan: bring the index in line with the sources."""

from __future__ import annotations

import argparse

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.errors import GallerfsError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index", help="index sources: phase 1 (walk), then phase 2 (metadata, thumbnails, hashes, ...)",
        description="Walk the sources and process every new or changed file. Resumable: an interrupted "
        "index continues where it stopped.",
    )  # fmt: skip
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="only these sources (default: all)")
    p.add_argument("--retry-failed", action="store_true", help="process files that failed before again, quarantined ones included")
    p.add_argument("--scan-only", action="store_true",
                   help="phase 1 only: make new files browsable now, process them later")
    add_json_flag(p)
    p.set_defaults(func=run_index)

    p = sub.add_parser(
        "rescan", help="reconcile what changed on disk while gallerfs was not running",
        description="Walk the sources again: new files are added, moved ones keep their albums, edited ones "
        "are re-processed, deleted ones are forgotten. Offline sources are left alone.",
    )  # fmt: skip
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="only these sources (default: all)")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept that a source folder is now empty (otherwise it is treated as unplugged)")
    add_json_flag(p)
    p.set_defaults(func=run_rescan)


def _chosen(ctx: Context, db) -> list[sources_db.Source]:
    all_sources = sources_db.list_sources(db)
    if not all_sources:
        raise GallerfsError("no sources yet: add one with 'gallerfs add FOLDER'")
    if not ctx.args.sources:
        return all_sources
    return [sources_db.find_source(db, name) for name in ctx.args.sources]


def _summary(report) -> str:
    lines = []
    for s in report.scans:
        if not s.online:
            lines.append(f"{s.source}: offline ({s.offline_reason}); nothing changed")
            continue
        parts = [f"{s.seen} files", f"{s.new} new"]
        parts += [f"{n} {what}" for n, what in ((s.changed, "changed"), (s.moved, "moved"),
                                                (s.deleted, "deleted"), (s.failures, "unreadable")) if n]  # fmt: skip
        lines.append(f"{s.source}: " + ", ".join(parts))
        lines += [f"  skipped {printable(p.relpath) or '.'}: {p.error}" for p in s.problems[:10]]
        if s.kept_unreadable:
            lines.append(f"  {s.kept_unreadable} indexed files could not be read and keep their entries, albums "
                         "and favourites (see 'gallerfs status --failures')")  # fmt: skip
    lines.append(f"processed {report.processed} files, {report.failed} with errors")
    if report.failed:
        lines.append("see 'gallerfs status --failures' for what failed")
    for name, stage in report.stages.items():
        if stage.get("summary"):
            lines.append(f"{name}: {stage['summary']}")
    return "\n".join(lines)


def run_index(ctx: Context) -> int:
    from gallerfs.indexer.lock import IndexerLock
    from gallerfs.indexer.run import index_library

    db = ctx.open_db()
    chosen = _chosen(ctx, db)
    with IndexerLock(ctx.paths.run_dir) as lock:
        lock.acquire("index")
        if ctx.args.retry_failed:
            files_db.retry_failed(db)
        report = index_library(db, ctx.paths, ctx.settings, chosen, show_progress=not ctx.json,
                               process=not ctx.args.scan_only)
    ctx.emit(report.as_dict(), lambda _: _summary(report))
    return 0


def run_rescan(ctx: Context) -> int:
    from gallerfs.indexer.lock import IndexerLock
    from gallerfs.indexer.run import rescan_library

    db = ctx.open_db()
    chosen = _chosen(ctx, db)
    with IndexerLock(ctx.paths.run_dir) as lock:
        lock.acquire("rescan")
        report = rescan_library(db, ctx.paths, ctx.settings, chosen, show_progress=not ctx.json,
                                allow_empty=ctx.args.allow_empty)
    ctx.emit(report.as_dict(), lambda _: _summary(report))
    return 0
