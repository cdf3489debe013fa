"""One import namespace: every folder of the owner's layout installs under ``gallerfs.``, and nothing else."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest import PROJECT
from tests.test_lint import PACKAGE_FOLDERS


def _setuptools() -> dict:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_package_dir_maps_each_top_level_folder_under_gallerfs():
    assert _setuptools()["package-dir"] == {package: folder for folder, package in PACKAGE_FOLDERS.items()}


def test_packages_list_names_every_folder_with_an_init():
    on_disk = set()
    for folder, package in PACKAGE_FOLDERS.items():
        for init in (PROJECT / folder).rglob("__init__.py"):
            on_disk.add(".".join((package, *init.parent.relative_to(PROJECT / folder).parts)))
    assert set(_setuptools()["packages"]) == on_disk


def test_only_gallerfs_is_installed_as_a_top_level_name(tmp_path):
    """Outside the checkout (isolated mode: no PYTHONPATH, no cwd), the old names are gone, the new ones work."""
    code = ("import importlib.util as u\n"
            "print(sorted(n for n in ('indexer', 'models', 'viewer') if u.find_spec(n)))\n"
            "import gallerfs.indexer.run, gallerfs.viewer.server, gallerfs.models.manifest\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
