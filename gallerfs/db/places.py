"""Place names of files (table ``places``, filled by the ``places`` indexer stage).

A row is current while its coordinates equal the metadata's and its ``geocoder`` is the version in
use; anything else (new GPS, edited GPS, another rule or data version) is work for the stage. Rows
of files that lost their GPS position are deleted by the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from gallerfs.db.connection import Database
from gallerfs.db.tree import FileRow

_TODO = (
    "FROM metadata m LEFT JOIN places p ON p.file_id = m.file_id "
    "WHERE m.latitude IS NOT NULL AND m.longitude IS NOT NULL "
    "AND (p.file_id IS NULL OR p.latitude != m.latitude OR p.longitude != m.longitude OR p.geocoder != ?)"
)


@dataclass(frozen=True)
class PlaceRow:
    country: str | None
    region: str | None
    city: str | None
    country_code: str | None = None


def count_todo(db: Database, geocoder: str) -> int:
    return int(db.value(f"SELECT count(*) {_TODO}", (geocoder,)))


def todo_batch(db: Database, geocoder: str, after_id: int, limit: int) -> list[tuple[int, float, float]]:
    """(file id, latitude, longitude) of files whose place is missing or stale, by id."""
    return [(r[0], r[1], r[2]) for r in db.tuples(
        f"SELECT m.file_id, m.latitude, m.longitude {_TODO} AND m.file_id > ? ORDER BY m.file_id LIMIT ?",
        (geocoder, after_id, limit),
    )]  # fmt: skip


def store(db: Database, geocoder: str, rows: Sequence[tuple[int, float, float, PlaceRow | None]]) -> None:
    """Record computed places; call inside a write transaction."""
    db.executemany(
        "INSERT INTO places (file_id, latitude, longitude, country_code, country, region, city, geocoder) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file_id) DO UPDATE SET latitude = excluded.latitude, "
        "longitude = excluded.longitude, country_code = excluded.country_code, country = excluded.country, "
        "region = excluded.region, city = excluded.city, geocoder = excluded.geocoder",
        [(fid, lat, lon, p.country_code if p else None, p.country if p else None, p.region if p else None,
          p.city if p else None, geocoder) for fid, lat, lon, p in rows],
    )  # fmt: skip


def forget_without_gps(db: Database) -> int:
    """Delete the places of files whose metadata no longer has a position; returns how many."""
    db.execute(
        "DELETE FROM places WHERE file_id NOT IN "
        "(SELECT file_id FROM metadata WHERE latitude IS NOT NULL AND longitude IS NOT NULL)"
    )
    return db.changes()


def counts(db: Database) -> list[dict[str, Any]]:
    """Files per (country, region, city), by name."""
    return db.rows(
        "SELECT country, region, city, count(*) AS files FROM places WHERE country IS NOT NULL "
        "GROUP BY country, region, city ORDER BY country, region, city"
    )


def names(db: Database) -> list[tuple[str, str, str | None, str | None]]:
    """Every distinct (kind, name, country, region) of the library's places, for the query parser:
    kind is 'country', 'region' or 'city'."""
    out: list[tuple[str, str, str | None, str | None]] = []
    for country, region, city in db.tuples(
        "SELECT DISTINCT country, region, city FROM places WHERE country IS NOT NULL"
    ):
        out.append(("country", country, None, None))
        if region:
            out.append(("region", region, country, None))
        if city:
            out.append(("city", city, country, region))
    return sorted(set(out), key=lambda t: (t[0], t[1], t[2] or "", t[3] or ""))


def summary(db: Database) -> dict[str, int]:
    r = db.tuples(
        "SELECT (SELECT count(*) FROM metadata WHERE latitude IS NOT NULL AND longitude IS NOT NULL), "
        "(SELECT count(*) FROM places WHERE country IS NOT NULL), (SELECT count(*) FROM places WHERE country IS NULL)"
    )[0]
    return {"with_gps": int(r[0]), "placed": int(r[1]), "no_place": int(r[2])}


def place_sql(file_id: str) -> str:
    """The place filter as SQL over ``file_id`` (one parameter, used three times: see ``place_params``)."""
    return (f"{file_id} IN (SELECT file_id FROM places WHERE country = ? UNION "
            "SELECT file_id FROM places WHERE region = ? UNION SELECT file_id FROM places WHERE city = ?)")


def place_params(place: str) -> list[str]:
    return [place, place, place]


def placed_files(db: Database) -> list[tuple[str, str | None, str | None, FileRow]]:
    """(country, region, city, file) of every placed file, for the mount's by-place/."""
    return [(r[0], r[1], r[2], FileRow(r[3], r[4], bytes(r[5]), r[6], r[7], r[8])) for r in db.tuples(
        "SELECT p.country, p.region, p.city, f.id, f.source_id, f.name, f.size, f.mtime_ns, f.ctime_ns "
        "FROM places p JOIN files f ON f.id = p.file_id WHERE p.country IS NOT NULL"
    )]  # fmt: skip
