"""The map's background, from the ``map_tiles`` setting.

- empty (the default): Natural Earth countries and coastlines (npm ``world-atlas``, public domain),
  drawn by Leaflet from the vendored TopoJSON; no tile server is contacted;
- a path to a local ``.pmtiles`` archive (a Protomaps vector basemap): served by the viewer at
  ``/map/tiles.pmtiles`` with HTTP Range requests and drawn by protomaps-leaflet;
- an ``http(s)://`` URL template with ``{z}``, ``{x}`` and ``{y}``: raster tiles fetched from that
  server by the browser. This is the one way the viewer goes online, and only because the user asked;
  the Content-Security-Policy then allows images from that origin and no other.

A setting that cannot be used (a missing file, a template without ``{z}``) falls back to the outline
and the map page says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NATURAL_EARTH = "Natural Earth"
OSM = "© OpenStreetMap contributors"
_ORIGIN = re.compile(r"^(https?://[A-Za-z0-9.-]+(?::\d{1,5})?)/[^\s\"'<>]*$")


@dataclass(frozen=True)
class Basemap:
    kind: str  # outline, pmtiles or online
    path: Path | None = None  # pmtiles
    url: str = ""  # online: the template
    origin: str = ""  # online: scheme://host[:port]
    problem: str = ""  # why the setting was not used

    @property
    def attribution(self) -> str:
        return NATURAL_EARTH if self.kind == "outline" else f"{OSM} · {NATURAL_EARTH}"


def basemap(setting: str) -> Basemap:
    value = setting.strip()
    if not value:
        return Basemap("outline")
    if "://" in value:
        m = _ORIGIN.match(value)
        if not m or not all(part in value for part in ("{z}", "{x}", "{y}")):
            return Basemap("outline", problem=f"map_tiles {value[:80]!r} is not an http(s) URL template with "
                           "{z}, {x} and {y}")  # fmt: skip
        return Basemap("online", url=value, origin=m[1])
    path = Path(value).expanduser()
    if path.suffix.lower() != ".pmtiles":
        return Basemap("outline", problem=f"map_tiles {value[:80]!r} is not a .pmtiles file")
    if not path.is_file():
        return Basemap("outline", problem=f"map_tiles: {value[:80]} does not exist")
    return Basemap("pmtiles", path=path)
