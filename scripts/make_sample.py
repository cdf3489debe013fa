"""Write a small sample photo folder: JPEGs with EXIF dates, cameras and GPS, over a few days.

Used by scripts/demo when no folder is given and the test corpus is not beside the project.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (210, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 210), "yellow": (230, 210, 40)}
PLACES = [(48.8584, 2.2945), (51.5007, -0.1246), (40.6892, -74.0445), (-33.8568, 151.2153)]


def make(folder: Path, count: int = 24) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    for i in range(count):
        colour = names[i % len(names)]
        im = Image.new("RGB", (1200, 800), COLOURS[colour])
        ImageDraw.Draw(im).ellipse((300 + i * 10, 200, 700 + i * 10, 600), fill=(255, 255, 255))
        exif = Image.Exif()
        exif[0x010F] = "gallerfs"
        exif[0x0110] = "Sample Camera"
        ifd = exif.get_ifd(0x8769)
        day = 10 + i // 6
        ifd[0x9003] = f"2024:07:{day:02d} {8 + i % 10:02d}:{i * 7 % 60:02d}:00"
        lat, lon = PLACES[i % len(PLACES)]
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        gps[2] = tuple(float(x) for x in _dms(abs(lat)))
        gps[4] = tuple(float(x) for x in _dms(abs(lon)))
        im.save(folder / f"IMG_{i:04d}_{colour}.jpg", "JPEG", quality=88, exif=exif)


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60, 4)
    return d, m, s


if __name__ == "__main__":
    make(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 24)
