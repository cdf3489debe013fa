"""gallerfs unit: the systemd user unit is rendered, verified, and its commands really mount and unmount."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gallerfs.cli.cmd_unit import escape_path, quote_arg, unit_name
from gallerfs.sdnotify import notify
from tests.conftest import PROJECT, gallerfs_env, run_gallerfs
from tests.mountutil import force_unmount, wait_until


@pytest.fixture
def unit_env(tmp_path: Path, library: Path) -> dict[str, str]:
    (tmp_path / "photos").mkdir()
    run_gallerfs(library, "add", str(tmp_path / "photos"))
    env = gallerfs_env(library)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env


def _gallerfs(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "gallerfs", *args], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _directives(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_unit_is_written_with_absolute_paths(tmp_path: Path, library: Path, unit_env):
    mnt = tmp_path / "Photos.gfs"
    out = _gallerfs(unit_env, "unit", str(mnt)).stdout
    path = tmp_path / "config" / "systemd" / "user" / unit_name(str(mnt))
    assert f"wrote {path}" in out and "systemctl --user enable --now" in out
    d = _directives(path.read_text())
    assert d["Type"] == "notify" and d["Restart"] == "on-failure" and d["WantedBy"] == "default.target"
    start = shlex.split(d["ExecStart"])
    assert os.path.isabs(start[0]) and os.access(start[0], os.X_OK)
    assert start[start.index("--library") + 1] == str(library)
    assert start[-4:] == ["mount", "-f", "--force", str(mnt)]
    assert d["ExecStop"] == f"{shutil.which('fusermount3')} -u {mnt}"
    assert d["Environment"] == f'"GALLERFS_CONFIG={library / "config.toml"}"'
    assert _gallerfs(unit_env, "unit", "--print", "--xattrs", str(mnt)).stdout.count("--xattrs") == 1
    assert "removed" in _gallerfs(unit_env, "unit", "--remove", str(mnt)).stdout
    assert not path.exists()
    assert _gallerfs(unit_env, "unit", "--remove", str(mnt), check=False).returncode == 1


def test_unit_without_a_library_is_refused(tmp_path: Path):
    env = gallerfs_env(tmp_path / "nothing")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    proc = _gallerfs(env, "unit", str(tmp_path / "mnt"), check=False)
    assert proc.returncode == 1 and "no library" in proc.stderr
    assert not (tmp_path / "config").exists()


def test_unit_for_a_mount_point_inside_a_source_is_refused(tmp_path: Path, unit_env):
    proc = _gallerfs(unit_env, "unit", str(tmp_path / "photos" / "mnt"), check=False)
    assert proc.returncode == 6 and "is inside source" in proc.stderr, proc.stderr
    assert not (tmp_path / "config").exists()


@pytest.mark.parametrize("path", ["/home/me/Photos.gfs", "/tmp/my 100% $photos", "/mnt/.hidden/a-b", "/srv//x/"])
def test_names_and_quoting_follow_systemd(path: str):
    escaped = escape_path(path)
    if shutil.which("systemd-escape"):
        proc = subprocess.run(["systemd-escape", "--path", path], capture_output=True, text=True, check=True)
        assert escaped == proc.stdout.strip()
    assert "/" not in escaped
    assert unit_name(path) == f"gallerfs-mount-{escaped}.service"
    assert quote_arg("/tmp/my 100% $photos") == '"/tmp/my 100%% $$photos"'
    assert quote_arg("/plain/path") == "/plain/path"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path, unit_env):
    mnt = tmp_path / "my photos %d"
    text = _gallerfs(unit_env, "unit", "--print", "--allow-other", str(mnt)).stdout
    unit = tmp_path / unit_name(str(mnt))
    unit.write_text(text)
    # Documentation= names man pages: verify looks them up, so put them where man finds them.
    manroot = tmp_path / "share" / "man"
    for page in (PROJECT / "man").glob("*.[1-9]"):
        (manroot / f"man{page.suffix[1:]}").mkdir(parents=True, exist_ok=True)
        (manroot / f"man{page.suffix[1:]}" / page.name).symlink_to(page)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(unit_env, MANPATH=str(manroot), XDG_RUNTIME_DIR=str(runtime))
    proc = subprocess.run(["systemd-analyze", "--user", "verify", str(unit)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    broken = tmp_path / "gallerfs-broken.service"
    broken.write_text(text.replace("ExecStop=/", "ExecStop="))
    proc = subprocess.run(["systemd-analyze", "--user", "verify", str(broken)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert proc.returncode != 0  # the check can fail


def test_notify_sends_to_the_service_manager(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False  # not under systemd: nothing to do
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        assert notify("READY=1", "STATUS=x") is True
        assert sock.recv(4096) == b"READY=1\nSTATUS=x"
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert notify("READY=1") is False


def _unescape(arg: str) -> str:
    return arg.replace("%%", "%").replace("$$", "$")


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_the_units_commands_mount_notify_and_unmount(tmp_path: Path, unit_env, busy: bool):
    """What systemd does: ExecStartPre, ExecStart with $NOTIFY_SOCKET, READY=1, ExecStop, then SIGTERM
    to what is left. A mount that is busy at logout is unmounted all the same (lazily) and leaves
    no stale mount behind."""
    mnt = tmp_path / "not yet" / "Photos.gfs"
    d = _directives(_gallerfs(unit_env, "unit", "--print", str(mnt)).stdout)
    pre = [_unescape(a) for a in shlex.split(d["ExecStartPre"].lstrip("-"))]
    subprocess.run(pre, check=True)
    assert mnt.is_dir()
    address = str(tmp_path / "notify")
    holder = None
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(60)
        env = dict(unit_env, NOTIFY_SOCKET=address)
        log = open(tmp_path / "mount.log", "wb")
        proc = subprocess.Popen([_unescape(a) for a in shlex.split(d["ExecStart"])], env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            message = sock.recv(4096).decode()
            assert message.splitlines()[0] == "READY=1", message
            assert os.path.ismount(mnt), "READY=1 came before the mount was up"
            assert "sources" in os.listdir(mnt)
            if busy:  # a shell left in the mount at logout
                holder = subprocess.Popen(["sleep", "60"], cwd=mnt / "sources")
            stop = subprocess.run([_unescape(a) for a in shlex.split(d["ExecStop"])], capture_output=True, text=True)
            if busy:
                assert stop.returncode != 0 and "busy" in stop.stderr, stop.stderr
                proc.terminate()  # systemd's SIGTERM to the processes left after ExecStop
                assert sock.recv(4096) == b"STOPPING=1"
            else:
                assert stop.returncode == 0, stop.stderr
            assert proc.wait(timeout=30) == 0
            assert not os.path.ismount(mnt)
        finally:
            if holder is not None:
                holder.kill()
                holder.wait()
            if proc.poll() is None:
                force_unmount(mnt)
                proc.terminate()
                proc.wait(timeout=10)
            force_unmount(mnt)
            log.close()
    assert wait_until(lambda: not os.path.ismount(mnt), 5)
    assert os.listdir(mnt) == []  # the empty mount point again, not a stale mount
    text = (tmp_path / "mount.log").read_text(errors="replace")
    assert "Traceback" not in text and "ERROR" not in text, text
