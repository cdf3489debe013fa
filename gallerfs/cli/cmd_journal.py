"""gallerfs journal new / open / list / show / export."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.db import journal as jdb
from gallerfs.errors import GallerfsError

# gallerfs.journal (YAML, the photo queries) loads inside the commands, so that the other gallerfs
# commands start without it.

PERIOD_HELP = "a day YYYY-MM-DD or an ISO week YYYY-Www (also: today, yesterday, week, last-week)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "journal", help="daily and weekly markdown entries beside their photos",
        description="Entries are YYYY-MM-DD.md and YYYY-Www.md files in the journal folder "
        "(setting journal_dir; the mount shows it as MOUNT/journal/).",
    )  # fmt: skip
    jsub = p.add_subparsers(dest="journal_command", metavar="ACTION", required=True)

    q = jsub.add_parser("new", help="create an entry from the template (never overwrites content)")
    q.add_argument("period", metavar="PERIOD", help=PERIOD_HELP)
    add_json_flag(q)
    q.set_defaults(func=run_new)

    q = jsub.add_parser("open", help="open an entry in $VISUAL/$EDITOR (else xdg-open), creating it if needed")
    q.add_argument("period", metavar="PERIOD", help=PERIOD_HELP)
    q.set_defaults(func=run_open)

    q = jsub.add_parser("list", help="entries of the journal folder with their linked photos")
    add_json_flag(q)
    q.set_defaults(func=run_list)

    q = jsub.add_parser("show", help="print an entry (with --json: front matter, body and linked photos)")
    q.add_argument("period", metavar="PERIOD", help=PERIOD_HELP)
    add_json_flag(q)
    q.set_defaults(func=run_show)

    q = jsub.add_parser("export", help="write an entry as an e-mail file with its photos inline (sends nothing)")
    q.add_argument("period", metavar="PERIOD", help=PERIOD_HELP)
    q.add_argument("--eml", metavar="FILE", required=True, help="the .eml file to write")
    q.add_argument("--to", metavar="ADDRESS", help="To: header")
    q.add_argument("--from", dest="from_addr", metavar="ADDRESS", help="From: header (default: $USER@localhost)")
    q.add_argument("--max-px", type=int, default=1024, metavar="N", help="long side of inline images (default 1024)")
    add_json_flag(q)
    q.set_defaults(func=run_export)


def _entry_path(ctx: Context, period_text: str) -> tuple[Any, Path]:
    from gallerfs.journal.entries import journal_folder
    from gallerfs.journal.periods import parse_period

    period = parse_period(period_text)
    return period, journal_folder(ctx.paths, ctx.settings) / period.filename


def run_new(ctx: Context) -> int:
    from gallerfs.journal.entries import new_entry
    from gallerfs.journal.periods import parse_period

    period = parse_period(ctx.args.period)
    db = ctx.open_db()
    created, entry = new_entry(ctx.paths, ctx.settings, db, period)
    data = {
        "path": str(created.path),
        "period": period.name,
        "created": created.created,
        "photos": list(created.photos),
        "mentions": entry.mentions if entry else 0,
    }

    def text(d: dict[str, Any]) -> str:
        if d["created"]:
            return f"{printable(d['path'])} ({_photos(len(d['photos']))})"
        return f"{printable(d['path'])} already has content; left as it is"

    ctx.emit(data, text)
    return 0


def _photos(n: int) -> str:
    return f"{n} photo" if n == 1 else f"{n} photos"


def editor_command() -> list[str] | None:
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if value:
            return shlex.split(value)
    opener = shutil.which("xdg-open")
    return [opener] if opener else None


def run_open(ctx: Context) -> int:
    import subprocess

    from gallerfs.journal.entries import create_entry, journal_folder, record_file
    from gallerfs.journal.periods import parse_period

    period = parse_period(ctx.args.period)
    db = ctx.open_db()
    created = create_entry(ctx.paths, ctx.settings, db, period)
    command = editor_command()
    if command is None:
        raise GallerfsError(f"no editor: set $VISUAL or $EDITOR (the entry is {created.path})")
    try:
        rc = subprocess.run([*command, str(created.path)]).returncode
    except OSError as exc:
        raise GallerfsError(f"cannot run {command[0]}: {exc.strerror}") from None
    record_file(db, journal_folder(ctx.paths, ctx.settings), created.path)
    return rc


def _entry_json(e: jdb.EntryRow, folder: Path) -> dict[str, Any]:
    return {
        "name": e.name,
        "path": str(folder / os.fsdecode(e.relpath)),
        "period": e.period,
        "start": e.period_start,
        "end": e.period_end,
        "size": e.size,
        "modified": dt.datetime.fromtimestamp(e.mtime_ns / 1e9).isoformat(timespec="seconds"),
        "photos_linked": e.mentions,
    }


def run_list(ctx: Context) -> int:
    from gallerfs.journal.entries import journal_folder, sync_journal

    db = ctx.open_db()
    sync_journal(ctx.paths, ctx.settings, db, fill_empty=False)
    folder = journal_folder(ctx.paths, ctx.settings)
    rows = [_entry_json(e, folder) for e in jdb.list_entries(db)]

    def text(rs: list[dict[str, Any]]) -> str:
        if not rs:
            return f"no entries in {printable(str(folder))}"
        lines = []
        for r in rs:
            name = printable(os.path.relpath(r["path"], folder))
            lines.append(f"{name:<24} {_photos(r['photos_linked']):>10} linked  {r['modified']}")
        return "\n".join(lines)

    ctx.emit(rows, text)
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def run_show(ctx: Context) -> int:
    from gallerfs.journal.entries import journal_folder, record_file
    from gallerfs.journal.periods import missing_entry
    from gallerfs.journal.template import split_front_matter

    period, path = _entry_path(ctx, ctx.args.period)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise missing_entry(period) from None
    except OSError as exc:
        raise GallerfsError(f"cannot read {path}: {exc.strerror}") from None
    text = raw.decode("utf-8", "replace")
    if not ctx.json:
        print(text, end="" if text.endswith("\n") else "\n")
        return 0
    db = ctx.open_db()
    entry = record_file(db, journal_folder(ctx.paths, ctx.settings), path)
    ids = jdb.entry_mentions(db, entry.id) if entry else []
    where = jdb.file_locations(db, ids)
    front, body = split_front_matter(text)
    ctx.emit({
        "path": str(path),
        "period": period.name,
        "front_matter": _plain(front),
        "body": body,
        "mentions": [
            {"file_id": i, "name": where[i].name, "path": where[i].path, "online": where[i].online}
            for i in ids if i in where
        ],
    })  # fmt: skip
    return 0


def run_export(ctx: Context) -> int:
    from gallerfs.journal.email_export import export_entry
    from gallerfs.journal.periods import parse_period

    if ctx.args.max_px < 16:
        raise GallerfsError("--max-px must be at least 16")
    period = parse_period(ctx.args.period)
    db = ctx.open_db()
    report = export_entry(
        ctx.paths, ctx.settings, db, period, Path(ctx.args.eml),
        from_addr=ctx.args.from_addr, to_addr=ctx.args.to, max_px=ctx.args.max_px,
    )  # fmt: skip
    data = {"path": str(report.path), "subject": report.subject, "images": report.images, "skipped": report.skipped}

    def text(d: dict[str, Any]) -> str:
        lines = [f"{printable(d['path'])}: {d['subject']!r} with {len(d['images'])} inline images"]
        lines += [f"  not embedded: {s.get('file_id', s.get('target'))}: {s['reason']}" for s in d["skipped"]]
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0
