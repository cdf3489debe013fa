"""The sha256 manifest of the CLIP models gallerfs knows how to install.

``models/manifest.json`` names, for each model, its two ONNX files (image and
text tower) with the URL they are fetched from, their size and sha256. Another
manifest with the same shape can be passed to ``gallerfs models install
--manifest FILE`` (a mirror, another CLIP export).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from gallerfs.errors import GallerfsError

log = logging.getLogger(__name__)

ROLES = ("image", "text")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class FileSpec:
    role: str  # image or text
    name: str  # file name as published (and as looked for by 'models import')
    url: str
    sha256: str
    size: int | None

    @property
    def local_name(self) -> str:
        """Name inside an installed model's folder."""
        return f"{self.role}.onnx"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    dim: int
    image_size: int
    context_length: int
    licence: str
    source: str
    files: tuple[FileSpec, ...]

    def file(self, role: str) -> FileSpec:
        return next(f for f in self.files if f.role == role)

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "dim": self.dim,
            "image_size": self.image_size,
            "context_length": self.context_length,
            "licence": self.licence,
            "source": self.source,
            "files": {f.role: {"name": f.name, "url": f.url, "sha256": f.sha256, "size": f.size} for f in self.files},
        }


@dataclass(frozen=True)
class Manifest:
    path: Path
    default: str
    models: dict[str, ModelSpec]

    def get(self, name: str | None) -> ModelSpec:
        chosen = name or self.default
        try:
            return self.models[chosen]
        except KeyError:
            raise GallerfsError(
                f"unknown model {chosen!r} (known: {', '.join(sorted(self.models))})"
            ) from None


def default_path() -> Path:
    return Path(str(resources.files("gallerfs.models").joinpath("manifest.json")))


def parse_model(name: str, data: dict[str, Any], where: str) -> ModelSpec:
    def bad(what: str) -> GallerfsError:
        return GallerfsError(f"{where}: model {name!r}: {what}")

    if not _NAME.match(name):
        raise bad("name must be letters, digits, '.', '_' or '-'")
    if not isinstance(data, dict):
        raise bad("must be an object")
    files_data = data.get("files")
    if not isinstance(files_data, dict) or set(files_data) != set(ROLES):
        raise bad("'files' must name exactly an 'image' and a 'text' file")
    files = []
    for role in ROLES:
        f = files_data[role]
        if not isinstance(f, dict):
            raise bad(f"files.{role} must be an object")
        sha = str(f.get("sha256", "")).lower()
        if not _SHA256.match(sha):
            raise bad(f"files.{role}.sha256 must be 64 hex digits")
        fname = str(f.get("name", ""))
        if not fname or "/" in fname or fname in (".", ".."):
            raise bad(f"files.{role}.name must be a plain file name")
        size = f.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise bad(f"files.{role}.size must be a byte count")
        files.append(FileSpec(role, fname, str(f.get("url", "")), sha, size))
    try:
        dim = int(data["dim"])
    except (KeyError, TypeError, ValueError):
        raise bad("'dim' (embedding dimension) is required") from None
    if not 1 <= dim <= 8192:
        raise bad("'dim' must be between 1 and 8192")
    return ModelSpec(
        name=name,
        description=str(data.get("description", "")),
        dim=dim,
        image_size=int(data.get("image_size", 224)),
        context_length=int(data.get("context_length", 77)),
        licence=str(data.get("licence", "")),
        source=str(data.get("source", "")),
        files=tuple(files),
    )


def load(path: Path | None = None) -> Manifest:
    path = Path(path) if path else default_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GallerfsError(f"no model manifest at {path}") from None
    except OSError as exc:  # a folder, a path through a file, no permission, a failing disk
        raise GallerfsError(f"cannot read the model manifest {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GallerfsError(f"{path}: not a valid model manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != 1 or not isinstance(data.get("models"), dict):
        raise GallerfsError(f"{path}: not a model manifest (expected format 1 with 'models')")
    models = {name: parse_model(name, spec, str(path)) for name, spec in data["models"].items()}
    default = str(data.get("default") or next(iter(models), ""))
    if default not in models:
        raise GallerfsError(f"{path}: default model {default!r} is not listed")
    return Manifest(path=path, default=default, models=models)
