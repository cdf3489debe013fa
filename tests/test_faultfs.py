"""The fault-injecting filesystem the reliability tests stand on: faults turn on and off while mounted."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from tests.faultfs import FaultFS


def test_faults_follow_the_rules_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "x.jpg").write_bytes(b"x" * 100_000)
    (src / "b.jpg").write_bytes(b"b")
    with FaultFS(src, tmp_path / "mnt") as ffs:
        mnt = ffs.path
        assert sorted(os.listdir(mnt)) == ["a", "b.jpg"]
        ffs.set([{"path": "a/x.jpg", "ops": ["lookup", "getattr"], "fault": "EIO"}])
        with pytest.raises(OSError) as exc:
            os.stat(mnt / "a" / "x.jpg")
        assert exc.value.errno == errno.EIO
        assert os.listdir(mnt / "a") == ["x.jpg"]  # still listed: only its stat fails
        ffs.set([{"path": "a", "ops": ["opendir"], "fault": "EACCES"}])
        with pytest.raises(PermissionError):
            os.listdir(mnt / "a")
        ffs.set([{"path": "a/x.jpg", "ops": ["read"], "fault": "hang"}])
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append((mnt / "a" / "x.jpg").read_bytes()), daemon=True)
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive() and not got  # hung...
        assert (mnt / "b.jpg").read_bytes() == b"b"  # ...while other paths answer
        ffs.set([])
        reader.join(5)
        assert got == [b"x" * 100_000]
        ffs.set([{"path": "a/x.jpg", "ops": ["read"], "fault": "hang"}])
        threading.Thread(target=lambda: (mnt / "a" / "x.jpg").read_bytes(), daemon=True).start()
        time.sleep(0.3)
    assert not os.path.ismount(tmp_path / "mnt")  # unmounted although a read was hung
