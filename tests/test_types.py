"""The type checker runs in the suite: mypy, strict over the folders named in STRICT, with its default
checks over those in CHECKED.

To check by hand from a worktree whose gallerfs/ has the indexer, viewer and models links:
``mypy --strict gallerfs/db`` and ``mypy gallerfs/cli``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.test_lint import PACKAGE_FOLDERS

# The folders mypy checks with --strict (what they import is read for its types, its errors not reported).
# Add a folder here once it is strict-clean; pyproject.toml's [tool.mypy] holds the rest of the settings.
STRICT = ("gallerfs/db", "gallerfs/fs")
# Folders mypy checks with its defaults (annotated functions only): clean, on their way to STRICT.
CHECKED = ("gallerfs/cli",)


def _import_tree(root: Path) -> Path:
    """A tree of links where each folder sits under its import name (pyproject's package-dir: indexer/ is
    gallerfs.indexer, ...), so that mypy finds every module without the package being installed."""
    package = root / "gallerfs"
    package.mkdir(parents=True)
    nested = {name.split(".", 1)[1] for name in PACKAGE_FOLDERS.values() if "." in name}
    for child in (PROJECT / "gallerfs").iterdir():
        if child.name not in nested and child.name != "__pycache__":
            (package / child.name).symlink_to(child.resolve())
    for folder, name in PACKAGE_FOLDERS.items():
        if "." in name:
            (package / name.split(".", 1)[1]).symlink_to(PROJECT / folder)
    return root


def _mypy() -> list[str]:
    found = shutil.which("mypy") or str(Path(sys.executable).with_name("mypy"))
    if not os.path.exists(found):
        pytest.fail("mypy is not installed (pip install -e '.[test]')")
    return [found]


@pytest.fixture(scope="module")
def run_mypy(tmp_path_factory: pytest.TempPathFactory):
    """mypy in one tree of links, with one cache for both runs (reading numpy's stubs is most of the time)."""
    work = tmp_path_factory.mktemp("mypy")
    tree = _import_tree(work / "tree")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_mypy(), "--config-file", str(PROJECT / "pyproject.toml"), "--cache-dir", str(work / "cache"),
             "--no-error-summary", *args],
            cwd=tree, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    return run


def test_mypy_strict_finds_nothing(run_mypy) -> None:
    proc = run_mypy("--strict", *STRICT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing_in_the_checked_folders(run_mypy) -> None:
    proc = run_mypy(*CHECKED)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_checked_folders_exist() -> None:
    assert not set(STRICT) & set(CHECKED)
    for folder in STRICT + CHECKED:
        assert (PROJECT / folder / "__init__.py").is_file(), folder
