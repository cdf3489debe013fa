"""A small library with the test CLIP model installed and indexed (so every photo has a vector and a
point on the clusters map): red, green and blue photos, which the model keeps apart."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_gallerfs

COLOURS = ("red", "green", "blue")
PER_COLOUR = 6


def build_clip_library(root: Path) -> Path:
    from tests import clipmodel

    library = root / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    photos = root / "Photos"
    photos.mkdir()
    for c, colour in enumerate(COLOURS):
        for i in range(PER_COLOUR):
            clipmodel.colour_photo(photos / f"{colour}{i}.jpg", colour, c * 100 + i, size=(320, 240))
    folder = root / "model-files"
    manifest = clipmodel.write_model_dir(folder)
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))
    run_gallerfs(library, "index")
    return library
