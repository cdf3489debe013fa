"""gallerfs watch: the watcher and the workers in the foreground (the daemon's core)."""

from __future__ import annotations

import argparse
import logging
import signal

from gallerfs.cli.context import Context

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "watch", help="keep the index live: follow new, changed, moved and deleted files (foreground)",
        description="Watch every online source (and the journal folder); changes reach the index within "
        "about a second. Unplugged drives are marked offline, and rescanned when they come back. "
        "Stop with Ctrl-C or SIGTERM.",
    )  # fmt: skip
    p.add_argument("--no-initial-scan", action="store_true",
                   help="skip the rescan that reconciles changes made while gallerfs was not running")  # fmt: skip
    p.set_defaults(func=run_watch)


def run_watch(ctx: Context) -> int:
    from gallerfs.indexer.lock import IndexerLock
    from gallerfs.indexer.run import Progress, scan_sources
    from gallerfs.indexer.watcher import Watcher

    db = ctx.open_db()
    with IndexerLock(ctx.paths.run_dir) as lock:
        lock.acquire("watch")
        watcher = Watcher(db, ctx.paths, ctx.settings)
        signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
        signal.signal(signal.SIGINT, lambda *_: watcher.stop())
        if not ctx.args.no_initial_scan:
            from gallerfs.db import sources as sources_db

            scan_sources(db, sources_db.list_sources(db), Progress(False))
        log.info("watching; stop with Ctrl-C")
        watcher.run()
    return 0
