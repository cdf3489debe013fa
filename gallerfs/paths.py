"""Where a library lives on disk.

A library is a directory: the SQLite file, the thumbnail cache and its config.
By default it is the XDG data dir (``~/.local/share/gallerfs``) with the config
in the XDG config dir; ``--library PATH`` or ``GALLERFS_LIBRARY`` put the whole
library, config included, in one directory of the user's choice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP = "gallerfs"
DB_NAME = "library.sqlite3"


@dataclass(frozen=True)
class LibraryPaths:
    root: Path  # the library directory
    config_file: Path  # TOML settings

    @property
    def db(self) -> Path:
        return self.root / DB_NAME

    @property
    def thumbnails(self) -> Path:
        return self.root / "thumbnails"

    @property
    def run_dir(self) -> Path:
        """Pid and lock files of running gallerfs processes."""
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> None:
        for path in (self.root, self.thumbnails, self.run_dir, self.log_dir):
            path.mkdir(parents=True, exist_ok=True)


def resolve_library(explicit: str | os.PathLike[str] | None = None) -> LibraryPaths:
    """The library named on the command line, in the environment, or the default."""
    chosen = explicit or os.environ.get("GALLERFS_LIBRARY")
    if chosen:
        root = Path(chosen).expanduser().absolute()
        config = Path(os.environ.get("GALLERFS_CONFIG", root / "config.toml"))
        return LibraryPaths(root=root, config_file=config)
    import platformdirs  # only here: most runs name their library, and it costs a few ms at start-up

    root = Path(platformdirs.user_data_dir(APP))
    config_default = Path(platformdirs.user_config_dir(APP)) / "config.toml"
    return LibraryPaths(root=root, config_file=Path(os.environ.get("GALLERFS_CONFIG", config_default)))
