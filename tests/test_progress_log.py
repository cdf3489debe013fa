"""Warnings logged while a progress bar is drawn get lines of their own; the bar is redrawn below them."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.conftest import EXIF_CORPUS, gallerfs_env, run_gallerfs

JPG = EXIF_CORPUS / "exif-samples" / "jpg"
WARNING = "gallerfs: WARNING: "


def _run_on_a_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run with stdin, stdout and stderr on a pseudo-terminal (so tqdm draws its bars); (status, output)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))  # rows, columns
    proc = subprocess.Popen(argv, env=env, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)


def _terminal_lines(output: str) -> list[str]:
    """What stays on screen: each line as the last carriage return left it."""
    return [line.rsplit("\r", 1)[-1] for line in output.replace("\r\n", "\n").split("\n")]


def test_warnings_during_index_do_not_break_the_bar(tmp_path: Path, library: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, name in enumerate(sorted(os.listdir(JPG))[:12]):
        shutil.copyfile(JPG / name, photos / f"good{i:02}.jpg")
    for i in range(4):  # not pictures at all: phase 2 records a failure and logs a warning for each
        (photos / f"broken{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG " * (i + 1))
    run_gallerfs(library, "add", str(photos))
    env = gallerfs_env(library)
    env["TERM"] = "xterm"
    status, output = _run_on_a_terminal([sys.executable, "-m", "gallerfs", "index"], env)
    assert status == 0, output
    assert "%|" in output, f"no progress bar was drawn:\n{output!r}"
    lines = _terminal_lines(output)
    warned = [line for line in lines if WARNING in line]
    assert len([w for w in warned if "broken" in w]) == 4, output
    # Each warning starts its own line: no bar text in front of it.
    assert all(line.startswith(WARNING) for line in warned), [w for w in warned if not w.startswith(WARNING)]
    # And no bar fragment is left glued to the end of a warning either.
    assert not any(re.search(r"\d+%\|", line) for line in warned), warned
