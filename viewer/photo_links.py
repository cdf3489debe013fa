"""The photo page's links to other photos: the journal entries that mention it (with the other photos
each mentions) and its duplicates — exact copies by content hash, and near ones the duplicate finder's
pixel check has judged the same picture (verdicts that ``gallerfs duplicates`` remembered)."""

from __future__ import annotations

from typing import Any

from gallerfs.db import duplicates as dup_db
from gallerfs.db import journal as journal_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.viewer import present

OTHERS_SHOWN = 50  # per entry and per kind of duplicate: a page, not a report


def describe(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    """Each file as a link target: id, name and where it is (source name / relative path)."""
    found = dup_db.files_by_ids(db, ids[:OTHERS_SHOWN])
    out = []
    for i in ids[:OTHERS_SHOWN]:
        f = found.get(i)
        if f is None:
            continue
        relpath = present.shown(f.relpath.decode("utf-8", "surrogateescape"))
        out.append({"id": f.id, "name": relpath.rsplit("/", 1)[-1], "where": f"{f.source_name}/{relpath}",
                    "online": f.online})  # fmt: skip
    return out


def journal_entries(db: Database, file_id: int) -> list[dict[str, Any]]:
    """The entries mentioning the file, in date order, each with the other photos it mentions."""
    out = []
    for entry in journal_db.entries_mentioning(db, file_id):
        others = [i for i in journal_db.entry_mentions(db, entry.id) if i != file_id]
        out.append({
            "name": entry.name, "period": entry.period or "",
            "relpath": present.shown(entry.relpath.decode("utf-8", "surrogateescape")),
            "others": describe(db, others), "more": max(0, len(others) - OTHERS_SHOWN),
        })  # fmt: skip
    return out


def duplicates(db: Database, file_id: int) -> dict[str, list[dict[str, Any]]]:
    from gallerfs.indexer.duplicates.look import RULE

    exact = vq.exact_copies(db, file_id)
    near = [i for i in vq.near_copies(db, file_id, RULE) if i not in set(exact)]
    return {"exact": describe(db, exact), "near": describe(db, near)}
