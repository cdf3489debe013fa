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


def add_vectors(db_path: Path, file_ids: list[int], dim: int = 16, groups: int = 3, seed: int = 1) -> dict[int, int]:
    """Store a synthetic unit vector for each file (through the library's own write function): file i
    belongs to group i % groups, whose vectors lie close together. Returns file id -> group."""
    import numpy as np

    from gallerfs.db import embeddings as embeddings_db
    from gallerfs.db.connection import Database
    from gallerfs.db.embeddings import EmbedTask

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim))
    with Database(db_path) as db:
        embeddings_db.ensure_space(db, "synthetic", dim)
        rows = {r[0]: r[1:] for r in db.tuples("SELECT id, source_id, relpath, size, mtime_ns FROM files")}
        done = []
        for fid in file_ids:
            source_id, relpath, size, mtime_ns = rows[fid]
            vector = centres[fid % groups] + 0.05 * rng.normal(size=dim)
            task = EmbedTask(fid, source_id, bytes(relpath), b"/", size, mtime_ns)
            done.append((task, (vector / np.linalg.norm(vector)).astype(np.float32)))
        with db.transaction():
            embeddings_db.store(db, done, [])
    return {fid: fid % groups for fid in file_ids}
