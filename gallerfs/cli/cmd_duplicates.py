"""gallerfs duplicates: list exact and near-duplicate sets, review them, trash copies safely."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Any

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.cli.file_arg import resolve_file
from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from gallerfs.errors import GallerfsError, NoSuchFileError
from gallerfs.units import human_bytes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "duplicates",
        help="exact and near-duplicate sets; review them and trash copies",
        description="List duplicate sets: exact copies (same bytes), then near duplicates (resized, re-encoded, "
        "slightly cropped copies, confirmed on the pictures, never by a perceptual hash alone). Each set shows "
        "its suggested keeper (*), the space trashing the others frees and its folder under MOUNT/duplicates/. "
        "Copies go to the desktop trash, never the last verified copy of a set nor, unless named with "
        "'trash --full-resolution', a near set's only full-resolution copy.",
    )
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--exact", action="store_true", help="only exact copies")
    kind.add_argument("--near", action="store_true", help="only near duplicates")
    add_json_flag(p)
    p.set_defaults(func=run_list)
    dsub = p.add_subparsers(
        dest="duplicates_command", metavar="ACTION", title="actions"
    )

    r = dsub.add_parser(
        "review", help="step through the sets with the keyboard (terminal UI)"
    )
    rkind = r.add_mutually_exclusive_group()
    rkind.add_argument("--exact", action="store_true", help="only exact copies")
    rkind.add_argument("--near", action="store_true", help="only near duplicates")
    r.set_defaults(func=run_review)

    t = dsub.add_parser(
        "trash", help="move one copy to the desktop trash (refused for the last copy)"
    )
    t.add_argument(
        "target", metavar="PATH|ID", help="the original's path, its path in a gallerfs mount, or its library id"
    )
    t.add_argument(
        "--full-resolution", action="store_true",
        help="allow trashing a near set's only full-resolution copy (only smaller copies stay); "
        "refused without it, and always in the mount",
    )  # fmt: skip
    add_json_flag(t)
    t.set_defaults(func=run_trash)

    k = dsub.add_parser(
        "keep", help="make this copy the keeper of its set (overrides the suggestion)"
    )
    k.add_argument(
        "target", metavar="PATH|ID", help="the original's path, its path in a gallerfs mount, or its library id"
    )
    k.set_defaults(func=run_keep)

    h = dsub.add_parser("trashed", help="list the copies gallerfs moved to the trash")
    add_json_flag(h)
    h.set_defaults(func=run_trashed)

    u = dsub.add_parser(
        "restore", help="move trashed copies back where they were (default: the last one trashed)",
        description="Move copies that gallerfs trashed back to their original paths and into the library, "
        "with their ids and metadata. Refused, with one line, when the path is taken (nothing is replaced), "
        "the drive is offline, or the file is no longer in the trash.",
    )  # fmt: skip
    u.add_argument(
        "records", metavar="RECORD", nargs="*", type=int,
        help="trash record ids, as 'duplicates trashed' lists them (default: the last trashed copy)",
    )  # fmt: skip
    add_json_flag(u)
    u.set_defaults(func=run_restore)


def file_date(f: DupFile) -> str:
    if f.taken_at:
        return f.taken_at.replace("T", " ")[:19]
    return (
        dt.datetime.fromtimestamp(f.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")
        + " (file time)"
    )


def dimensions(f: DupFile) -> str:
    return f"{f.width}x{f.height}" if f.width and f.height else "?x?"


def member_json(f: DupFile, keeper: bool) -> dict[str, Any]:
    return {
        "id": f.id, "keeper": keeper, "source": f.source_name, "online": f.online, "path": f.path,
        "relpath": f.relpath, "size": f.size, "width": f.width, "height": f.height, "taken_at": f.taken_at,
        "format": f.format, "camera": " ".join(x for x in (f.make, f.model) if x) or None,
        "content_hash": f.content_hash,
    }  # fmt: skip


def set_json(number: int, s: Any, folder: bytes) -> dict[str, Any]:
    return {
        "number": number, "kind": s.kind, "key": s.key, "folder": os.fsdecode(folder), "copies": len(s.members), "reclaimable": s.reclaimable,
        "keeper_chosen": s.keeper_chosen, "distance": s.distance,
        "members": [member_json(m, i == 0) for i, m in enumerate(s.members)],
    }  # fmt: skip


def _settings_and_db(ctx: Context) -> Database:
    if not ctx.paths.db.exists():
        raise GallerfsError(
            f"no library at {ctx.paths.root} (run 'gallerfs add FOLDER' first)"
        )
    return ctx.open_db()


def run_list(ctx: Context) -> int:
    from gallerfs.indexer.duplicates.exact import HashStats
    from gallerfs.indexer.duplicates.sets import find_sets, folder_names

    db = _settings_and_db(ctx)
    stats = HashStats()
    want_exact, want_near = not ctx.args.near, not ctx.args.exact
    sets = find_sets(db, ctx.settings, exact=want_exact, near=want_near, stats=stats)
    folders = folder_names(sets)
    numbered = [set_json(i + 1, s, folders[s.key]) for i, s in enumerate(sets)]
    data: dict[str, Any] = {}
    if want_exact:
        data["exact"] = [s for s in numbered if s["kind"] == "exact"]
    if want_near:
        data["near"] = [s for s in numbered if s["kind"] == "near"]
    data["reclaimable"] = sum(s["reclaimable"] for s in numbered)
    data["hashing"] = {"candidates": stats.candidates, "heads_read": stats.heads_read,
                       "partial_hashed": stats.partial_hashed, "full_hashed": stats.full_hashed,
                       "bytes_read": stats.bytes_read, "unverified": len(stats.unverified)}  # fmt: skip
    ctx.emit(data, _list_text)
    return 0


def _list_text(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for kind, title in (("exact", "exact copies"), ("near", "near duplicates")):
        if kind not in data:
            continue
        sets = data[kind]
        total = sum(s["reclaimable"] for s in sets)
        lines.append(f"{title}: {len(sets)} sets, {human_bytes(total)} reclaimable")
        for s in sets:
            first = s["members"][0]
            name = os.path.basename(os.fsdecode(first["path"]))
            lines.append(f"#{s['number']:<4} {printable(name)}  {s['copies']} copies, "
                         f"{human_bytes(s['reclaimable'])} reclaimable  (duplicates/{printable(s['folder'])})")  # fmt: skip
            for m in s["members"]:
                mark = "*" if m["keeper"] else " "
                where = m["source"] + ("" if m["online"] else ", offline")
                dims = f"{m['width']}x{m['height']}" if m["width"] else "?x?"
                lines.append(f"   {mark} [{m['id']}] {printable(m['path'])}  ({where})  {human_bytes(m['size'])}  "
                             f"{dims}  {(m['taken_at'] or '').replace('T', ' ')[:19]}")  # fmt: skip
        lines.append("")
    if data["hashing"]["unverified"]:
        lines.append(
            f"{data['hashing']['unverified']} files on offline drives have no hash yet and were not compared"
        )
    lines.append("* = suggested keeper; 'gallerfs duplicates review' to step through, "
                 "'gallerfs duplicates trash ID' to trash a copy")  # fmt: skip
    return "\n".join(lines)


def resolve_target(db: Database, target: str) -> DupFile:
    """The library file a PATH|ID argument names (``file_arg.resolve_file``), with what duplicates show of it."""
    file_id = resolve_file(db, target)
    found = dupdb.file_info(db, file_id)
    if found is None:  # removed between the two reads
        raise NoSuchFileError(f"no file with id {file_id} in the library")
    return found


def run_trash(ctx: Context) -> int:
    from gallerfs.indexer.duplicates.remove import trash_copy

    db = _settings_and_db(ctx)
    item = resolve_target(db, ctx.args.target)
    outcome = trash_copy(db, ctx.settings, item.id, full_resolution=ctx.args.full_resolution)
    data = {"trashed": outcome.file.path, "id": outcome.file.id, "trash_path": outcome.trash_path,
            "trashinfo": outcome.trashinfo_path, "kept": outcome.kept.path, "set_kind": outcome.set_kind,
            "record": outcome.record_id}  # fmt: skip
    ctx.emit(data, lambda d: f"moved {printable(d['trashed'])} to the trash ({printable(d['trash_path'])}); "
             f"kept {printable(d['kept'])}")  # fmt: skip
    return 0


def run_keep(ctx: Context) -> int:
    from gallerfs.indexer.duplicates.sets import set_of

    db = _settings_and_db(ctx)
    item = resolve_target(db, ctx.args.target)
    dup_set = set_of(db, ctx.settings, item.id)
    if dup_set is None:
        raise GallerfsError(f"{printable(item.path)} has no duplicate in the library")
    dupdb.set_keeper(db, item.id, [m.id for m in dup_set.members])
    print(
        f"{printable(item.path)} is now the keeper of its set of {len(dup_set.members)}"
    )
    return 0


def run_trashed(ctx: Context) -> int:
    db = _settings_and_db(ctx)
    records = dupdb.trash_records(db)
    rows = [{"id": r.id, "file_id": r.file_id, "source": r.source_name, "original": r.original_path,
             "trash_path": r.trash_path, "trashinfo": r.trashinfo_path, "size": r.size, "set_kind": r.set_kind,
             "kept": r.kept_path, "trashed_at": r.trashed_at, "restored_at": r.restored_at}
            for r in records]  # fmt: skip
    ctx.emit(rows, lambda rs: "\n".join(
        f"[{r['id']}] {dt.datetime.fromtimestamp(r['trashed_at']):%Y-%m-%d %H:%M}  {printable(r['original'])} -> "
        f"{printable(r['trash_path'])}{'  (restored)' if r['restored_at'] else ''}" for r in rs)
        or "nothing trashed yet")  # fmt: skip
    return 0


def run_restore(ctx: Context) -> int:
    from gallerfs.indexer.duplicates.restore import last_trashed, restore_trashed

    db = _settings_and_db(ctx)
    wanted = list(ctx.args.records)
    if not wanted:
        last = last_trashed(db)
        if last is None:
            raise GallerfsError("nothing to restore: no copy trashed by gallerfs is still in the trash")
        wanted = [last.id]
    done, failed = [], []
    for record_id in wanted:
        try:
            outcome = restore_trashed(db, ctx.settings, record_id)
        except GallerfsError as exc:
            failed.append(exc)
            continue
        done.append({"record": record_id, "restored": outcome.path, "id": outcome.file_id,
                     "from": outcome.record.trash_path})  # fmt: skip
    if done or not failed:
        ctx.emit(done, lambda rows: "\n".join(
            f"restored {printable(r['restored'])} (id {r['id']}) from the trash" for r in rows))  # fmt: skip
    if failed:
        more = f" (and {len(failed) - 1} more refused)" if len(failed) > 1 else ""
        raise GallerfsError(f"{failed[0]}{more}")
    return 0


def run_review(ctx: Context) -> int:
    from gallerfs.cli.duplicates_review import review

    if not sys.stdin.isatty():
        raise GallerfsError(
            "'duplicates review' needs a terminal; use 'gallerfs duplicates --json' in scripts"
        )
    db = _settings_and_db(ctx)
    return review(db, ctx.settings, exact=not ctx.args.near, near=not ctx.args.exact)
