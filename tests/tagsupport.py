"""The packaged tags and text models, built once per test session and linked into test libraries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gallerfs.models import packaged
from gallerfs.paths import LibraryPaths


def lib_paths(root: Path) -> LibraryPaths:
    return LibraryPaths(root=root, config_file=root / "config.toml")


def build_models(root: Path) -> Path:
    """Both packaged models installed into the library folder ``root`` (a few seconds of export)."""
    for name in packaged.NAMES:
        packaged.install(lib_paths(root), name)
    return root


def install_into(built: Path, library: Path, *names: str) -> None:
    """Hard-link the built models into a library (as 'gallerfs models install' would place them)."""
    for name in names or packaged.NAMES:
        shutil.copytree(built / "models" / name, library / "models" / name, copy_function=os.link)
