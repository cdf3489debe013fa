"""Shared fixtures: the corpus, temporary libraries, and running the real CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest_plugins = ["tests.browser_fixtures"]  # the browser and browser_page fixtures

PROJECT = Path(__file__).resolve().parent.parent
CORPORA = PROJECT.parent / "shared" / "corpora"
EXIF_CORPUS = CORPORA / "exif"

# The analysis jobs (OCR, faces, tags: seconds a photo on these machines) run only in the tests
# that are about them, which set GALLERFS_ANALYSIS themselves.
os.environ.setdefault("GALLERFS_ANALYSIS", "")


def gallerfs_env(library: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GALLERFS_LIBRARY"] = str(library)
    env.pop("GALLERFS_CONFIG", None)
    env["PYTHONPATH"] = str(PROJECT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_gallerfs(library: Path, *args: str, check: bool = True, timeout: float = 300,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the real command line in a subprocess, as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "gallerfs", *args],
        env=gallerfs_env(library), capture_output=True, text=True, timeout=timeout, input=input,
        errors="surrogateescape",
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"gallerfs {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """An empty library directory (GALLERFS_LIBRARY) with two workers and small batches."""
    lib = tmp_path / "library"
    lib.mkdir()
    (lib / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    return lib


@pytest.fixture
def cli(library: Path):
    def call(*args: str, **kw):
        return run_gallerfs(library, *args, **kw)

    return call


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert EXIF_CORPUS.is_dir(), f"test corpus missing at {EXIF_CORPUS}"
    return EXIF_CORPUS


@contextlib.contextmanager
def loop_drive_at(image: Path, mnt: Path, size: str = "24M") -> Iterator[tuple[Path, Callable[[], None], Callable[[], None]]]:
    """An ext4 filesystem in a file, loop-mounted at mnt: a removable drive that tests can unplug
    (umount) and plug back. Unmounted whatever happens."""
    mnt.mkdir(parents=True, exist_ok=True)
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)

    def plug() -> None:
        subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)

    def unplug() -> None:
        subprocess.run(["umount", str(mnt)], check=True)

    plug()
    try:
        yield mnt, plug, unplug
    finally:
        if subprocess.run(["mountpoint", "-q", str(mnt)], check=False).returncode == 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def loop_drive(tmp_path: Path):
    with loop_drive_at(tmp_path / "drive.img", tmp_path / "drive") as drive:
        yield drive
