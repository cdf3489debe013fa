"""``by-place/<country>/<region>/<city>/``: geotagged files by the place ``gallerfs index`` gave them.

The whole index is built once per library generation (one query over ``places``), like
``by-date/``. A region or city GeoNames does not know is shown as ``(unknown region)`` /
``(unknown city)``. With nothing placed, ``by-place/`` holds only ``README.txt`` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable

from gallerfs.db import places as places_db
from gallerfs.db.tree import FileRow
from gallerfs.fs.nodes import DirNode, Entry, TextFile, TreeContext, file_entries, fs_name
from gallerfs.places import UNKNOWN_CITY, UNKNOWN_REGION

README = b"README.txt"
README_TEXT = (
    b"No photo or video of the library has a place yet.\n\n"
    b"by-place/<country>/<region>/<city>/ lists the files whose GPS position 'gallerfs index'\n"
    b"has placed (offline: country borders from Natural Earth, place names from GeoNames).\n"
    b"Files without a GPS position, or far out at sea, are not listed here. If your photos\n"
    b"carry GPS positions, run 'gallerfs index' and look again; 'gallerfs places' shows\n"
    b"how many are placed.\n"
)

PlaceIndex = dict[bytes, dict[bytes, dict[bytes, list[FileRow]]]]


def _index(ctx: TreeContext) -> PlaceIndex:
    def build() -> PlaceIndex:
        index: PlaceIndex = {}
        for country, region, city, row in places_db.placed_files(ctx.db):
            (index.setdefault(fs_name(country), {}).setdefault(fs_name(region or UNKNOWN_REGION), {})
             .setdefault(fs_name(city or UNKNOWN_CITY), []).append(row))  # fmt: skip
        return index

    return ctx.memo.get("by_place", build)


class ByPlaceRoot(DirNode):
    key = ("top", b"by-place")

    def __init__(self) -> None:
        self.readme = TextFile(("by-place-readme",), lambda ctx: README_TEXT, len(README_TEXT))

    def list(self, ctx: TreeContext) -> list[Entry]:
        index = _index(ctx)
        if not index:
            return [Entry(README, self.readme)]
        return [Entry(name, CountryDir(name)) for name in sorted(index)]


@dataclass(frozen=True)
class CountryDir(DirNode):
    country: bytes

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("place", self.country)

    def list(self, ctx: TreeContext) -> list[Entry]:
        regions = _index(ctx).get(self.country, {})
        return [Entry(name, RegionDir(self.country, name)) for name in sorted(regions)]


@dataclass(frozen=True)
class RegionDir(DirNode):
    country: bytes
    region: bytes

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("place", self.country, self.region)

    def list(self, ctx: TreeContext) -> list[Entry]:
        cities = _index(ctx).get(self.country, {}).get(self.region, {})
        return [Entry(name, CityDir(self.country, self.region, name)) for name in sorted(cities)]


@dataclass(frozen=True)
class CityDir(DirNode):
    country: bytes
    region: bytes
    city: bytes

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("place", self.country, self.region, self.city)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return file_entries(_index(ctx).get(self.country, {}).get(self.region, {}).get(self.city, []))
