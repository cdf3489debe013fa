"""User settings: a TOML file parsed once into a frozen object that is passed down.

Every key is declared here with its type, default and a one-line description;
``gallerfs config list`` prints them and the man page documents them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gallerfs.errors import GallerfsError


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@dataclass(frozen=True)
class Key:
    name: str
    type: type
    default: Callable[[], Any]
    help: str
    choices: tuple[str, ...] = ()


KEYS: tuple[Key, ...] = (
    Key("journal_dir", str, lambda: "", "folder of the markdown journal (empty: <library>/journal)"),
    Key("thumbnail_grid_px", int, lambda: 256, "long side of grid thumbnails, in pixels"),
    Key("thumbnail_preview_px", int, lambda: 1280, "long side of preview images, in pixels"),
    Key("thumbnail_quality", int, lambda: 85, "JPEG quality of cached thumbnails (1-95)"),
    Key("workers", int, _default_workers, "processes that run phase 2 (metadata, thumbnails, hashes)"),
    Key("batch_size", int, lambda: 64, "files committed to the library per transaction"),
    Key("file_timeout_s", float, lambda: 120.0, "seconds phase 2 may spend on one file before its worker is killed (0: no limit)"),
    Key("file_attempts", int, lambda: 3, "runs of a file that hangs or crashes its worker before it is quarantined"),
    Key("max_image_pixels", int, lambda: 250_000_000, "images larger than this are refused as decompression bombs"),
    Key("embed_device", str, lambda: "cpu", "where the CLIP model runs", ("cpu", "cuda")),
    Key("embed_batch_size", int, lambda: 16, "images per CLIP inference batch"),
    Key("search_limit", int, lambda: 50, "results listed per search (mount and CLI)"),
    Key("search_history", int, lambda: 100, "search/ queries remembered (least recently listed forgotten first)"),
    Key("search_relative_cutoff", float, lambda: 0.80, "drop results scoring below this fraction of the best score"),
    Key("near_duplicate_distance", int, lambda: 8, "max perceptual-hash Hamming distance of near duplicates (0-64)"),
    Key("near_duplicate_min_similarity", float, lambda: 0.90, "min CLIP cosine similarity of near duplicates, where embedded"),
    Key("near_duplicate_max_group", int, lambda: 50, "largest near-duplicate group; longer chains are split"),
    Key("watch_debounce_s", float, lambda: 0.5, "seconds the watcher waits for a file to settle"),
    Key("face_distance", float, lambda: 0.5, "faces closer than this (dlib descriptor distance) are one person"),
    Key("map_tiles", str, lambda: "", "viewer map background: empty for the built-in Natural Earth outline, a local "
        ".pmtiles file, or (going online) a tile URL template https://.../{z}/{x}/{y}.png"),
    Key("places_min_population", int, lambda: 5000, "places smaller than this lose to a larger town nearby as a photo's city"),
)
KEYS_BY_NAME = {k.name: k for k in KEYS}


@dataclass(frozen=True)
class Settings:
    journal_dir: str = ""
    thumbnail_grid_px: int = 256
    thumbnail_preview_px: int = 1280
    thumbnail_quality: int = 85
    workers: int = field(default_factory=_default_workers)
    batch_size: int = 64
    file_timeout_s: float = 120.0
    file_attempts: int = 3
    max_image_pixels: int = 250_000_000
    embed_device: str = "cpu"
    embed_batch_size: int = 16
    search_limit: int = 50
    search_history: int = 100
    search_relative_cutoff: float = 0.80
    near_duplicate_distance: int = 8
    near_duplicate_min_similarity: float = 0.90
    near_duplicate_max_group: int = 50
    watch_debounce_s: float = 0.5
    face_distance: float = 0.5
    map_tiles: str = ""
    places_min_population: int = 5000

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_value(key: str, raw: str) -> Any:
    """Convert a command-line string into the key's type, or fail with one line."""
    spec = key_spec(key)
    try:
        value = spec.type(raw)
    except ValueError:
        raise GallerfsError(f"{key} must be {spec.type.__name__}, not {raw!r}") from None
    if spec.choices and value not in spec.choices:
        raise GallerfsError(f"{key} must be one of {', '.join(spec.choices)}, not {raw!r}")
    if spec.type in (int, float) and value < 0:
        raise GallerfsError(f"{key} must not be negative")
    if key == "journal_dir" and value:
        value = str(Path(value).expanduser().absolute())
    if key == "map_tiles" and value and "://" not in value:
        value = str(Path(value).expanduser().absolute())
    return value


def key_spec(name: str) -> Key:
    try:
        return KEYS_BY_NAME[name]
    except KeyError:
        raise GallerfsError(f"unknown setting {name!r} (see 'gallerfs config list')") from None


def load(path: Path) -> Settings:
    """Read settings; a missing file means defaults. Unknown keys are an error."""
    import tomllib  # the TOML modules load when settings are first read, not at every start-up

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GallerfsError(f"{path}: not valid TOML: {exc}") from None
    values = {}
    for name, value in data.items():
        spec = key_spec(name)
        if spec.type is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, spec.type) or isinstance(value, bool):
            raise GallerfsError(f"{path}: {name} must be {spec.type.__name__}")
        values[name] = value
    return Settings(**values)


def save_value(path: Path, key: str, value: Any) -> None:
    """Set one key, keeping the others; written atomically."""
    import tomllib

    import tomli_w

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def journal_dir(settings: Settings, library_root: Path) -> Path:
    return Path(settings.journal_dir) if settings.journal_dir else library_root / "journal"
