"""``.gallerfs/``: read-only status files, and the metadata of any file as JSON.

- ``sources`` / ``sources.json``: each source, online or offline, file counts;
- ``jobs`` / ``jobs.json``: recent and running jobs with progress;
- ``stats.json``: library counts;
- ``files/<id>.json``: everything known about library file <id>;
- ``inodes/<inode>.json``: the same, by the inode number ``stat`` shows for a
  mount file (so ``cat .gallerfs/inodes/$(stat -c %i FILE).json`` works
  without extended attributes).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Hashable

from gallerfs.db import tree as q
from gallerfs.fs.nodes import DirNode, Entry, TextFile, TreeContext, file_id_of_inode

log = logging.getLogger(__name__)

README = b"""gallerfs status (read-only, regenerated on every open)
  sources       which sources are online or offline, as text (sources.json: JSON)
  jobs          indexing jobs and their progress (jobs.json: JSON)
  stats.json    library counts
  files/ID.json       everything the library knows about file ID
  inodes/INODE.json   the same, by the inode number 'stat -c %i FILE' shows
"""


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n").encode()


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def sources_text(ctx: TreeContext) -> bytes:
    lines = [f"{'NAME':20} {'STATE':8} {'FILES':>8}  PATH"]
    for s in q.source_status(ctx.db):
        state = "online" if s["online"] else "offline"
        lines.append(f"{s['name']:20} {state:8} {s['files']:>8}  {s['path']}")
        if not s["online"] and s.get("offline_reason"):
            lines.append(f"{'':20} ({s['offline_reason']}; last seen {_when(s.get('last_seen_at'))})")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def jobs_text(ctx: TreeContext) -> bytes:
    lines = [f"{'ID':>5} {'KIND':10} {'STATE':10} {'DONE':>8} {'TOTAL':>8} {'FAILED':>7}  STARTED"]
    for j in q.recent_jobs(ctx.db):
        lines.append(
            f"{j['id']:>5} {j['kind']:10} {j['state']:10} {j['done']:>8} {j['total']:>8} {j['failed']:>7}  "
            f"{_when(j['started_at'])}"
        )
    return ("\n".join(lines) + "\n").encode()


PRODUCERS: dict[bytes, Callable[[TreeContext], bytes]] = {
    b"README": lambda ctx: README,
    b"sources": sources_text,
    b"sources.json": lambda ctx: _json(q.source_status(ctx.db)),
    b"jobs": jobs_text,
    b"jobs.json": lambda ctx: _json(q.recent_jobs(ctx.db)),
    b"stats.json": lambda ctx: _json(q.library_stats(ctx.db)),
}


def _text(key: tuple[Hashable, ...], produce: Callable[[TreeContext], bytes], ctx: TreeContext) -> TextFile:
    return TextFile(key, produce, len(produce(ctx)))


class StatusDir(DirNode):
    key = ("top", b".gallerfs")

    def list(self, ctx: TreeContext) -> list[Entry]:
        out = [Entry(name, _text(("status", name), fn, ctx)) for name, fn in PRODUCERS.items()]
        out += [Entry(b"files", FileInfoDir(by_inode=False)), Entry(b"inodes", FileInfoDir(by_inode=True))]
        return sorted(out, key=lambda e: e.name)


class FileInfoDir(DirNode):
    """``<n>.json`` for any library file; resolved on lookup, not listed (the library may be huge)."""

    dynamic_lookup = True

    key: tuple[Hashable, ...]

    def __init__(self, by_inode: bool) -> None:
        self.by_inode = by_inode
        self.key = ("status", b"inodes" if by_inode else b"files")

    def list(self, ctx: TreeContext) -> list[Entry]:
        return []

    def lookup(self, ctx: TreeContext, name: bytes) -> Entry | None:
        if not name.endswith(b".json") or not name[:-5].isdigit():
            return None
        number = int(name[:-5])
        file_id = file_id_of_inode(number) if self.by_inode else number
        if not file_id or q.file_row(ctx.db, file_id) is None:
            return None

        def produce(c: TreeContext) -> bytes:
            return _json(q.file_details(c.db, file_id) or {"id": file_id, "deleted": True})

        return Entry(name, _text(("fileinfo", file_id), produce, ctx))
