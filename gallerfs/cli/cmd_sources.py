"""gallerfs add / remove / sources: the folders gallerfs indexes."""

from __future__ import annotations

import argparse
import datetime as dt

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.errors import GallerfsError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add", help="add folders as sources", description="Add folders to the library. "
                       "Nothing is copied or moved; run 'gallerfs index' afterwards.")  # fmt: skip
    p.add_argument("folders", nargs="+", metavar="FOLDER")
    p.add_argument("--name", help="name of the source (default: the folder's name); only with one FOLDER")
    add_json_flag(p)
    p.set_defaults(func=run_add)

    p = sub.add_parser("remove", help="forget a source and its index entries (files on disk are untouched)")
    p.add_argument("source", metavar="SOURCE", help="source name or folder")
    p.set_defaults(func=run_remove)

    p = sub.add_parser("sources", help="list sources, online or offline",
                       description="List sources; checks whether each is plugged in now.")  # fmt: skip
    add_json_flag(p)
    p.set_defaults(func=run_sources)
    actions = p.add_subparsers(dest="sources_command", metavar="ACTION")
    q = actions.add_parser("set", help="turn analysis jobs (OCR, faces, tags) on or off for a source",
                           description="Turn the analysis jobs on or off for one source; all are on by default. "
                           "Off: 'gallerfs index' no longer analyses the source's photos (what was found "
                           "already stays searchable). Without a switch, shows the current settings.")  # fmt: skip
    q.add_argument("source", metavar="SOURCE", help="source name or folder")
    for kind in sources_db.ANALYSIS_KINDS:
        q.add_argument(f"--{kind}", action=argparse.BooleanOptionalAction, default=None,
                       help=f"run the {kind} job on this source (--no-{kind}: skip it)")  # fmt: skip
    add_json_flag(q)
    q.set_defaults(func=run_set)


def run_add(ctx: Context) -> int:
    from gallerfs.addsource import add_checked, check_folder
    from gallerfs.mountguard import gallerfs_mounts

    args = ctx.args
    if args.name and len(args.folders) > 1:
        raise GallerfsError("--name can only be used with a single FOLDER")
    mounts = gallerfs_mounts()
    checked = [check_folder(folder, mounts) for folder in args.folders]
    db = ctx.open_db()
    added = []
    for path in checked:
        source = add_checked(db, path, args.name)
        added.append({"name": source.name, "path": source.path, "fs_type": source.fs_type,
                      "fs_uuid": source.fs_uuid, "mount_point": source.mount_point})  # fmt: skip
    ctx.emit(added, lambda rows: "\n".join(
        f"added source {r['name']!r}: {printable(r['path'])}" for r in rows) +
        "\nrun 'gallerfs index' to index it")  # fmt: skip
    return 0


def run_remove(ctx: Context) -> int:
    db = ctx.open_db()
    source = sources_db.find_source(db, ctx.args.source)
    count = sources_db.remove_source(db, source.id)
    print(f"removed source {source.name!r} and {count} index entries; no file on disk was touched")
    return 0


def run_set(ctx: Context) -> int:
    db = ctx.open_db()
    source = sources_db.find_source(db, ctx.args.source)
    for kind in sources_db.ANALYSIS_KINDS:
        wanted = getattr(ctx.args, kind)
        if wanted is not None:
            sources_db.set_analysis(db, source.id, kind, wanted)
    settings = sources_db.analysis_settings(db, source.id)
    ctx.emit({"name": source.name, "analysis": settings}, lambda d: f"{d['name']}: " + ", ".join(
        f"{kind} {'on' if on else 'off'}" for kind, on in d["analysis"].items()))  # fmt: skip
    return 0


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "never"


def run_sources(ctx: Context) -> int:
    from gallerfs.indexer.scanner import refresh_presence

    db = ctx.open_db()
    counts = files_db.files_per_source(db)
    rows = []
    for source in sources_db.list_sources(db):
        source = refresh_presence(db, source)
        rows.append({
            "name": source.name, "path": source.path, "online": source.online,
            "offline_reason": source.offline_reason, "files": counts.get(source.id, 0),
            "fs_type": source.fs_type, "fs_uuid": source.fs_uuid, "mount_point": source.mount_point,
            "last_scan_at": source.last_scan_at, "last_seen_at": source.last_seen_at,
            "analysis": sources_db.analysis_settings(db, source.id),
        })  # fmt: skip

    def text(rows: list[dict]) -> str:
        if not rows:
            return "no sources yet: add one with 'gallerfs add FOLDER'"
        lines = []
        for r in rows:
            state = "online " if r["online"] else "OFFLINE"
            lines.append(f"{r['name']:<16} {state} {r['files']:>8} files  {printable(r['path'])}  "
                         f"(scanned {_when(r['last_scan_at'])})")  # fmt: skip
            if not r["online"]:
                lines.append(f"{'':<16} {r['offline_reason']}")
            off = [kind for kind, on in r["analysis"].items() if not on]
            if off:
                lines.append(f"{'':<16} analysis off: {', '.join(off)}")
        return "\n".join(lines)

    ctx.emit(rows, text)
    return 0
