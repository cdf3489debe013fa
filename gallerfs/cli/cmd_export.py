"""gallerfs export / import: the whole library as portable JSON (docs/export-format.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any, TextIO

from gallerfs import __version__
from gallerfs.cli.context import Context, to_jsonable
from gallerfs.db import ocr as ocr_db
from gallerfs.db import portable
from gallerfs.db import tags as tags_db
from gallerfs.db.migrations import current_version
from gallerfs.errors import GallerfsError

FORMAT = "gallerfs-library"
FORMAT_VERSION = 1
PATH_FIELDS_SOURCE = ("path", "mount_point")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write the whole library as JSON",
                       description="Write sources, files, metadata, hashes, albums and favourites as one JSON "
                       "document (format in docs/export-format.md). '-' writes to standard output.")  # fmt: skip
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=run_export)

    p = sub.add_parser("import", help="restore an exported library into an empty one")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=run_import)


def _write(out: TextIO, db: Any) -> dict[str, int]:
    counts = {"sources": 0, "files": 0}
    header = {"format": FORMAT, "version": FORMAT_VERSION, "gallerfs": __version__,
              "schema_version": current_version(db), "exported_at": dt.datetime.now(dt.timezone.utc).isoformat()}  # fmt: skip
    out.write("{\n")
    for key, value in header.items():
        out.write(f"  {json.dumps(key)}: {json.dumps(value)},\n")
    out.write('  "sources": [')
    for i, s in enumerate(portable.iter_sources(db)):
        out.write(("," if i else "") + "\n    " + json.dumps(to_jsonable(s)))
        counts["sources"] += 1
    out.write('\n  ],\n  "files": [')
    for i, f in enumerate(portable.iter_files(db)):
        out.write(("," if i else "") + "\n    " + json.dumps(to_jsonable(f)))
        counts["files"] += 1
    out.write("\n  ],\n")
    out.write('  "ocr": [')
    for i, r in enumerate(ocr_db.iter_export(db)):
        out.write(("," if i else "") + "\n    " + json.dumps(r))
    out.write("\n  ],\n")
    out.write(f'  "analysis_off": {json.dumps(ocr_db.analysis_off(db))},\n')
    out.write(f'  "albums": {json.dumps(portable.albums(db))},\n')
    out.write(f'  "people": {json.dumps(portable.people(db))},\n')
    out.write(f'  "favourites": {json.dumps(portable.favourites(db))},\n')
    out.write(f'  "tagged": {json.dumps(tags_db.tagged_export_rows(db))},\n')
    out.write(f'  "tags": {json.dumps(tags_db.export_rows(db))}\n')
    out.write("}\n")
    return counts


def run_export(ctx: Context) -> int:
    db = ctx.open_reader()
    if ctx.args.file == "-":
        _write(sys.stdout, db)
        return 0
    target = os.path.abspath(ctx.args.file)
    tmp = target + ".tmp"
    try:
        with open(tmp, "w", encoding="ascii") as out:
            counts = _write(out, db)
        os.replace(tmp, target)
    except OSError as exc:
        raise GallerfsError(f"cannot write {ctx.args.file}: {exc.strerror}") from None
    print(f"exported {counts['sources']} sources and {counts['files']} files to {ctx.args.file}", file=sys.stderr)
    return 0


def _to_bytes(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def run_import(ctx: Context) -> int:
    try:
        with open(ctx.args.file, encoding="ascii") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise GallerfsError(f"cannot read {ctx.args.file}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GallerfsError(f"{ctx.args.file} is not a gallerfs export: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GallerfsError(f"{ctx.args.file} is not a gallerfs export")
    if data.get("version", 0) > FORMAT_VERSION:
        raise GallerfsError(f"{ctx.args.file} was written by a newer gallerfs (format {data['version']})")
    for s in data["sources"]:
        for key in PATH_FIELDS_SOURCE:
            s[key] = _to_bytes(s.get(key))
    for f in data["files"]:
        f["relpath"] = _to_bytes(f["relpath"])
    db = ctx.open_db()
    if not portable.is_empty(db):
        raise GallerfsError(f"the library at {ctx.paths.root} is not empty; import into a new one (--library DIR)")
    counts = portable.restore(db, data)
    with db.transaction():
        tags_db.restore(db, data.get("tagged", []), data.get("tags", []))
        ocr_db.restore(db, data.get("ocr", []), data.get("analysis_off", []))
    print(f"imported {counts['sources']} sources, {counts['files']} files, {counts['albums']} albums, "
          f"{counts['favourites']} favourites; run 'gallerfs index' to check which sources are online and "
          "rebuild their thumbnails")  # fmt: skip
    return 0
