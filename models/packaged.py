"""Models that arrive inside Python packages: ``tags`` (EfficientNet-Lite0) and ``text`` (all-MiniLM-L6-v2).

``gallerfs models install tags`` (or ``text``) builds the model once from the installed package's
weights: it exports an ONNX graph with torch (needed at install time only), writes it with what the run
time needs next to it (the tag names, the tokenizer) into ``<library>/models/<name>/``, and records each
file's size and sha256 in ``model.json`` for ``gallerfs models verify``. Nothing is downloaded. As for
CLIP, the folder is assembled in ``.staging-<name>/`` and renamed into place, so a killed install never
leaves a half model that looks usable. At run time only onnxruntime (and ``tokenizers``) are needed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.models.download import sha256_file

log = logging.getLogger(__name__)

MODEL_JSON = "model.json"
KIND = "packaged"


@dataclass(frozen=True)
class PackagedSpec:
    name: str
    description: str
    extra: str  # pip install 'gallerfs[<extra>]'
    licence: str
    files: tuple[str, ...]  # written by the builder, in this order
    builder: Callable[[Path], str]  # writes the files into a folder, returns where they came from


def _build_tags(folder: Path) -> str:
    from gallerfs.models import export_tags, tag_labels

    (folder / "labels.json").write_text(json.dumps(tag_labels.build(), indent=0), encoding="utf-8")
    export_tags.export(folder / "model.onnx")
    return export_tags.source()


def _build_text(folder: Path) -> str:
    from gallerfs.models import export_text

    export_text.export(folder / "model.onnx", folder / "tokenizer.json")
    return export_text.source()


SPECS: dict[str, PackagedSpec] = {
    "tags": PackagedSpec("tags", "EfficientNet-Lite0 ImageNet-1k classifier: what is in each photo (tags)",
                         "tags", "Apache-2.0 (weights), MIT (class names)", ("labels.json", "model.onnx"),
                         _build_tags),  # fmt: skip
    "text": PackagedSpec("text", "all-MiniLM-L6-v2 sentence embeddings: queries matched to tags by meaning",
                         "text", "Apache-2.0", ("model.onnx", "tokenizer.json"), _build_text),  # fmt: skip
}
NAMES = tuple(SPECS)


@dataclass(frozen=True)
class Installed:
    spec: PackagedSpec
    folder: Path
    info: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def identity(self) -> str:
        """Names the model's outputs: results from a model with another identity are redone."""
        return f"{self.name}:{self.info['files']['model.onnx']['sha256'][:16]}"

    def path(self, file: str) -> Path:
        return self.folder / file

    @property
    def size(self) -> int:
        return sum(int(f["size"]) for f in self.info["files"].values())


def not_installed_message(name: str) -> str:
    return f"the {name} model is not installed: run 'gallerfs models install {name}'"


def folder_of(paths: LibraryPaths, name: str) -> Path:
    return paths.root / "models" / name


def installed(paths: LibraryPaths, name: str) -> Installed | None:
    """The installed model, or None. Cheap: reads model.json and checks its files exist; hashes nothing."""
    spec = SPECS[name]
    folder = folder_of(paths, name)
    try:
        info = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("kind") != KIND or not isinstance(info.get("files"), dict):
        return None
    if set(info["files"]) != set(spec.files) or not all((folder / f).is_file() for f in spec.files):
        return None
    return Installed(spec, folder, info)


def _missing_packages(exc: ImportError, spec: PackagedSpec) -> GallerfsError:
    return GallerfsError(
        f"the {spec.name} model is built from Python packages that are not installed ({exc.name or exc}): "
        f"pip install 'gallerfs[{spec.extra}]'"
    )


def install(paths: LibraryPaths, name: str) -> Installed:
    """Build the model from its package, record the sha256 of each file, place it atomically."""
    try:
        spec = SPECS[name]
    except KeyError:
        raise GallerfsError(f"unknown packaged model {name!r} (known: {', '.join(NAMES)})") from None
    root = paths.root / "models"
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        origin = spec.builder(staging)
    except ImportError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _missing_packages(exc, spec) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = {f: {"size": (staging / f).stat().st_size, "sha256": sha256_file(staging / f)} for f in spec.files}
    info = {"kind": KIND, "name": name, "description": spec.description, "licence": spec.licence,
            "installed_from": origin, "installed_at": time.time(), "files": files}  # fmt: skip
    (staging / MODEL_JSON).write_text(json.dumps(info, indent=2), encoding="utf-8")
    final = folder_of(paths, name)
    if final.exists():
        old = final.with_name(f".old-{name}-{os.getpid()}")
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
    log.info("installed the %s model from %s", name, origin)
    return Installed(spec, final, info)


def verify(model: Installed) -> list[str]:
    """Problems with an installed model's files (empty when every checksum matches)."""
    problems = []
    for file, want in model.info["files"].items():
        path = model.folder / file
        if not path.is_file():
            problems.append(f"{file} is missing")
            continue
        size = path.stat().st_size
        if size != int(want["size"]):
            problems.append(f"{file} is {size} bytes, expected {want['size']}")
        elif sha256_file(path) != want["sha256"]:
            problems.append(f"{file} has sha256 {sha256_file(path)[:16]}…, expected {want['sha256'][:16]}…")
    return problems
