"""Handing an original to the desktop: open it in the default application, or show it in the file
manager. Paths come from the library (by id), never from a request; programs are started detached,
with their output discarded, and a missing program is a one-line error."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from urllib.parse import quote

from gallerfs.viewer.errors import ViewerError

log = logging.getLogger(__name__)

FILE_MANAGER_CALL = (
    "--session", "--dest", "org.freedesktop.FileManager1", "--object-path", "/org/freedesktop/FileManager1",
    "--method", "org.freedesktop.FileManager1.ShowItems",
)  # fmt: skip
DBUS_TIMEOUT_S = 5


def file_uri(path: bytes) -> str:
    return "file://" + quote(path, safe="/")


def _start(argv: list[str]) -> None:
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)  # fmt: skip


def _xdg_open() -> str:
    opener = shutil.which("xdg-open")
    if opener is None:
        raise ViewerError(501, "xdg-open is not installed (Debian/Ubuntu: apt install xdg-utils)")
    return opener


def open_in_default_app(path: bytes) -> None:
    _start([_xdg_open(), os.fsdecode(path)])


def reveal_in_folder(path: bytes) -> str:
    """Select the file in the file manager (freedesktop FileManager1.ShowItems over D-Bus); without one that
    answers, open its folder. Returns which of the two happened."""
    gdbus = shutil.which("gdbus")
    if gdbus is not None:
        try:
            done = subprocess.run([gdbus, "call", *FILE_MANAGER_CALL, f"['{file_uri(path)}']", ""],
                                  capture_output=True, timeout=DBUS_TIMEOUT_S)  # fmt: skip
            if done.returncode == 0:
                return "shown in the file manager"
            log.info("FileManager1.ShowItems failed: %s", done.stderr.decode(errors="replace").strip())
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.info("FileManager1.ShowItems failed: %s", exc)
    _start([_xdg_open(), os.fsdecode(os.path.dirname(path) or b"/")])
    return "folder opened"
