"""The code base stays free of errors a linter finds (undefined names, unused imports, bug patterns)."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import PROJECT

# The owner's top-level folders and the import names they install as (pyproject's package-dir).
PACKAGE_FOLDERS = {"gallerfs": "gallerfs", "indexer": "gallerfs.indexer", "models": "gallerfs.models",
                   "viewer": "gallerfs.viewer"}  # fmt: skip


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or str(PROJECT / ".venv" / "bin" / "ruff")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "gallerfs", "indexer", "models", "viewer",
                           "tests", "bench"], cwd=PROJECT, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_module_imports():
    """Every module imports (catches modules no test happens to import)."""
    modules = []
    for folder, package in PACKAGE_FOLDERS.items():
        for path in sorted((PROJECT / folder).rglob("*.py")):
            if path.name != "__main__.py":
                parts = path.relative_to(PROJECT / folder).with_suffix("").parts
                modules.append(".".join((package, *parts)).removesuffix(".__init__"))
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    proc = subprocess.run([sys.executable, "-c", code, *modules], cwd=PROJECT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
