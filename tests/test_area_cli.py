"""The map-area filter on the command line: 'gallerfs search --area' keeps exactly the photos taken inside
the polygon (the same filter as the viewer's map selection), and a malformed area is one line, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests import clipmodel
from tests.conftest import run_gallerfs

MUNICH = "48.0_11.4_48.0_11.8_48.3_11.8_48.3_11.4"


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return float(d), float(m), round(((value - d) * 60 - m) * 60, 4)


def geotag(path: Path, lat: float, lon: float) -> None:
    img = Image.open(path)
    exif = img.getexif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    gps[2], gps[4] = _dms(abs(lat)), _dms(abs(lon))
    img.save(path, "JPEG", quality=92, exif=exif)


def test_search_area_keeps_exactly_the_photos_inside(tmp_path: Path, library: Path) -> None:
    photos = tmp_path / "Photos"
    photos.mkdir()
    places = {"munich1": (48.137, 11.575), "munich2": (48.2, 11.65), "paris": (48.857, 2.352), "nowhere": None}
    for i, (name, place) in enumerate(places.items()):
        clipmodel.colour_photo(photos / f"{name}.jpg", "red", i)
        if place:
            geotag(photos / f"{name}.jpg", *place)
    folder = tmp_path / "model-files"
    manifest = clipmodel.write_model_dir(folder)
    run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index")
    hits = json.loads(run_gallerfs(library, "search", "red", f"--area={MUNICH}", "--json").stdout)
    assert sorted(Path(h["relpath"]).name for h in hits) == ["munich1.jpg", "munich2.jpg"]
    everywhere = json.loads(run_gallerfs(library, "search", "red", "--json").stdout)
    assert len(everywhere) == 4
    for bad, message in (("1_2_3_4", "3 to 100 vertices"), ("91_0_0_1_1_1", "latitude 91.0 is outside")):
        proc = run_gallerfs(library, "search", "red", f"--area={bad}", check=False)
        assert proc.returncode == 1
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
