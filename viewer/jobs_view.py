"""Sources and jobs as the viewer shows them: the same rules as 'gallerfs sources' and 'gallerfs jobs'."""

from __future__ import annotations

from typing import Any

from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db import viewer_queries as vq
from gallerfs.units import human_bytes
from gallerfs.viewer import present
from gallerfs.viewer.library import Library

JOBS_SHOWN = 50


def sources(lib: Library) -> list[dict[str, Any]]:
    """Every source with its presence checked now (the one rule, indexer.volumes.source_presence)."""
    from gallerfs.indexer.volumes import source_presence

    db = lib.reader()
    per_source = files_db.files_per_source(db)
    sizes = vq.bytes_per_source(db)
    out = []
    for s in sources_db.list_sources(db):
        presence = source_presence(db, s)
        out.append({
            "id": s.id, "name": s.name, "path": s.path.decode("utf-8", "replace"), "online": presence.online,
            "reason": presence.reason, "files": per_source.get(s.id, 0),
            "size": human_bytes(sizes.get(s.id, 0)), "fs_type": s.fs_type or "",
            "fs_uuid": s.fs_uuid or "", "last_scan": present.when(s.last_scan_at),
            "last_seen": present.when(s.last_seen_at),
        })  # fmt: skip
    return out


def jobs(lib: Library) -> list[dict[str, Any]]:
    """Recent jobs, newest first; a running job whose process is gone shows as 'interrupted'."""
    from gallerfs.indexer.lock import lock_holder

    holder = lock_holder(lib.paths.run_dir)
    out = []
    for job in jobs_db.list_jobs(lib.reader(), limit=JOBS_SHOWN):
        state = "interrupted" if jobs_db.is_orphaned(job, holder) else job.state
        out.append({
            "id": job.id, "kind": job.kind, "state": state, "total": job.total, "done": job.done,
            "failed": job.failed, "created": present.when(job.created_at), "started": present.when(job.started_at),
            "finished": present.when(job.finished_at) if job.finished_at else "",
            "error": job.last_error or "",
        })  # fmt: skip
    return out


