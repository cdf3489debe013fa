"""Extended attributes of library files (``user.gallerfs.*``), served with ``--xattrs``.

Off by default: ``ls -l`` asks two attribute names per file and the kernel
never caches "no such attribute", which makes listings ~10x slower (see
MEASURED.md). Without ``--xattrs`` the mount answers ENOSYS once and the
kernel stops asking; the same metadata is in ``.gallerfs/files/<id>.json``.
The handlers are the providers' (``virtual``: these attributes of library
files; ``passthrough``: the real journal files' own).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from gallerfs.db import tree as q
from gallerfs.lru import LRU

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

PREFIX = "user.gallerfs."
PREFIX_BYTES = PREFIX.encode()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.7g}"
    return str(value)


def xattr_values(details: dict[str, Any]) -> dict[bytes, bytes]:
    """The attributes of one file from ``tree.file_details``."""
    meta = details.get("metadata", {})
    out: dict[str, str] = {
        "id": str(details["id"]),
        "source": str(details["source"]),
        "source_path": details["source_path"],
        "kind": details["kind"],
        "online": "1" if details["online"] else "0",
    }
    if meta.get("taken_at"):
        out["date_taken"] = meta["taken_at"] + (meta.get("utc_offset") or "")
    camera = " ".join(str(meta[k]) for k in ("make", "model") if meta.get(k))
    if camera:
        out["camera"] = camera
    if meta.get("latitude") is not None and meta.get("longitude") is not None:
        out["gps"] = f"{meta['latitude']:.6f},{meta['longitude']:.6f}"
        if meta.get("altitude") is not None:
            out["gps"] += f",{meta['altitude']:.1f}"
    for key in ("lens", "width", "height", "orientation", "duration", "iso", "f_number", "exposure_time",
                "focal_length", "mime"):
        if meta.get(key) is not None:
            out[key] = _fmt(meta[key])
    if details.get("content_hash"):
        out["sha256"] = details["content_hash"]
    if details.get("albums"):
        out["albums"] = json.dumps(details["albums"], ensure_ascii=False)
    out["favourite"] = "1" if details.get("favourite") else "0"
    place = details.get("place")
    if place:  # user.gallerfs.place: 'Arezzo, Tuscany, Italy'; also .country, .region, .city
        out["place"] = ", ".join(place[k] for k in ("city", "region", "country") if place.get(k))
        out.update({k: place[k] for k in ("country", "region", "city") if place.get(k)})
    return {(PREFIX + k).encode(): v.encode("utf-8", "surrogateescape") for k, v in out.items()}


class XattrSource:
    """Per-file attribute dicts, cached for the current library generation."""

    def __init__(self, size: int = 4096) -> None:
        self._cache: LRU[tuple[int, int], dict[bytes, bytes]] = LRU(size)

    def cached(self, file_id: int, generation: int) -> dict[bytes, bytes] | None:
        return self._cache.peek((file_id, generation))

    def values(self, db: Database, file_id: int, generation: int) -> dict[bytes, bytes]:
        def compute() -> dict[bytes, bytes]:
            details = q.file_details(db, file_id)
            return xattr_values(details) if details else {}

        return self._cache.get_or_compute((file_id, generation), compute)
