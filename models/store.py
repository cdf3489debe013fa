"""Installed CLIP models of a library: ``<library>/models/<name>/``.

Each installed model is a folder holding ``image.onnx``, ``text.onnx`` and
``model.json`` (its manifest entry: dimension, sha256 of each file, where it
came from). ``<library>/models/current`` names the model in use. A folder
appears only once all its files are verified (it is assembled in a staging
folder and renamed into place), so a killed install never leaves a half model
that looks usable.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gallerfs.errors import EXIT_NO_MODEL, GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.models import download
from gallerfs.models.manifest import ModelSpec, parse_model

log = logging.getLogger(__name__)

NO_MODEL_MESSAGE = (
    "no CLIP model is installed: run 'gallerfs models install' "
    "(or 'gallerfs models import DIR' on an offline machine)"
)
CURRENT = "current"
MODEL_JSON = "model.json"


class NoModelError(GallerfsError):
    exit_code = EXIT_NO_MODEL


@dataclass(frozen=True)
class InstalledModel:
    spec: ModelSpec
    folder: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def image_path(self) -> Path:
        return self.folder / self.spec.file("image").local_name

    @property
    def text_path(self) -> Path:
        return self.folder / self.spec.file("text").local_name

    @property
    def identity(self) -> str:
        """Names the embedding space: vectors from models with another identity are not comparable."""
        return f"{self.name}:{self.spec.file('image').sha256[:16]}:{self.spec.file('text').sha256[:16]}"


def models_dir(paths: LibraryPaths) -> Path:
    return paths.root / "models"


def _read(folder: Path) -> InstalledModel | None:
    try:
        data = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
        model = InstalledModel(parse_model(folder.name, data, str(folder / MODEL_JSON)), folder)
    except (OSError, ValueError, GallerfsError) as exc:
        log.debug("%s is not an installed model: %s", folder, exc)
        return None
    return model


def installed_models(paths: LibraryPaths) -> list[InstalledModel]:
    root = models_dir(paths)
    if not root.is_dir():
        return []
    found = (_read(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith("."))
    return [m for m in found if m is not None]


def current_model(paths: LibraryPaths) -> InstalledModel | None:
    """The model in use, or None. Cheap: reads two small files, hashes nothing."""
    root = models_dir(paths)
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not name or "/" in name or name.startswith("."):
        return None
    model = _read(root / name)
    if model is None or not (model.image_path.is_file() and model.text_path.is_file()):
        return None
    return model


def is_model_installed(paths: LibraryPaths) -> bool:
    return current_model(paths) is not None


def require_model(paths: LibraryPaths) -> InstalledModel:
    model = current_model(paths)
    if model is None:
        raise NoModelError(NO_MODEL_MESSAGE)
    return model


def verify(model: InstalledModel) -> list[str]:
    """Problems with an installed model's files (empty when every checksum matches)."""
    problems = []
    for spec in model.spec.files:
        path = model.folder / spec.local_name
        if not path.is_file():
            problems.append(f"{spec.local_name} is missing")
            continue
        try:
            download.check_file(path, spec)
        except GallerfsError as exc:
            problems.append(str(exc).replace(spec.name, spec.local_name, 1))
    return problems


def _staging(paths: LibraryPaths, spec: ModelSpec) -> Path:
    folder = models_dir(paths) / f".staging-{spec.name}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _place(paths: LibraryPaths, spec: ModelSpec, staging: Path, origin: str) -> InstalledModel:
    """Write model.json, swap the staging folder into place, make it current."""
    data = spec.to_json() | {"installed_at": time.time(), "installed_from": origin}
    (staging / MODEL_JSON).write_text(json.dumps(data, indent=2), encoding="utf-8")
    for leftover in staging.glob("*.part"):
        leftover.unlink()
    final = models_dir(paths) / spec.name
    if final.exists():
        old = final.with_name(f".old-{spec.name}-{os.getpid()}")
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
    set_current(paths, spec.name)
    return InstalledModel(spec, final)


def set_current(paths: LibraryPaths, name: str) -> None:
    root = models_dir(paths)
    tmp = root / f".{CURRENT}.tmp"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, root / CURRENT)


def install(
    paths: LibraryPaths,
    spec: ModelSpec,
    mirror: str | None = None,
    progress: Callable[[str], download.Progress | None] | None = None,
) -> InstalledModel:
    """Download both towers, verify each, and place the model (resumes an interrupted install)."""
    staging = _staging(paths, spec)
    for fspec in spec.files:
        dest = staging / fspec.local_name
        if dest.exists():
            try:
                download.check_file(dest, fspec)
                continue
            except GallerfsError:
                dest.unlink()
        url = f"{mirror.rstrip('/')}/{fspec.name}" if mirror else fspec.url
        if not url:
            raise GallerfsError(f"{spec.name}: no URL for {fspec.name}; use 'gallerfs models import DIR'")
        log.info("downloading %s from %s", fspec.name, url)
        download.fetch(fspec, url, dest, progress(fspec.name) if progress else None)
    return _place(paths, spec, staging, mirror or "manifest URLs")


def import_dir(paths: LibraryPaths, spec: ModelSpec, source: Path) -> InstalledModel:
    """Copy both towers from a folder (published names or image.onnx/text.onnx), verifying each."""
    source = Path(source).expanduser()
    if not source.is_dir():
        raise GallerfsError(f"{source} is not a folder")
    found = {}
    for fspec in spec.files:
        candidates = [source / fspec.name, source / fspec.local_name]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise GallerfsError(f"{source} has no {fspec.name} (the {fspec.role} tower of {spec.name})")
        download.check_file(path, fspec)
        found[fspec] = path
    staging = _staging(paths, spec)
    for fspec, path in found.items():
        tmp = staging / (fspec.local_name + ".part")
        shutil.copyfile(path, tmp)
        os.replace(tmp, staging / fspec.local_name)
    # The copy is re-checked so a file changed mid-copy is not installed.
    for fspec in spec.files:
        download.check_file(staging / fspec.local_name, fspec)
    return _place(paths, spec, staging, str(source.absolute()))
