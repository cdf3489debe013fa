"""gallerfs unit: a systemd user unit that mounts the library at login and unmounts it at logout.

The unit runs ``gallerfs mount -f --force MOUNTPOINT`` with absolute paths
(this gallerfs, this library and its settings file), as ``Type=notify``: the
mount tells systemd once it is up (``gallerfs.sdnotify``). ``ExecStop`` is
``fusermount3 -u``; if the mount is busy, systemd's SIGTERM makes gallerfs
unmount lazily, so a logout never leaves a stale mount behind. ``--force``
clears the stale mount a crash left, so ``Restart=on-failure`` can mount again.

The unit is named after the mount point, escaped as ``systemd-escape --path``
does, so one library can have several mount points and several libraries
can each have their own: ``gallerfs-mount-home-me-Photos.gfs.service``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gallerfs import __version__
from gallerfs.cli.context import Context
from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths

UNIT_PREFIX = "gallerfs-mount-"
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.")


def escape_path(path: str) -> str:
    """A path as ``systemd-escape --path`` writes it: ``/home/me/My Photos`` -> ``home-me-My\\x20Photos``."""
    parts = [p for p in os.path.normpath(path).split("/") if p]
    if not parts:
        return "-"
    out = []
    for i, ch in enumerate("/".join(parts).encode("utf-8", "surrogateescape")):
        c = chr(ch)
        if c == "/":
            out.append("-")
        elif c in _PLAIN and not (i == 0 and c == "."):
            out.append(c)
        else:
            out.append(f"\\x{ch:02x}")
    return "".join(out)


def unit_name(mountpoint: str) -> str:
    return f"{UNIT_PREFIX}{escape_path(os.path.abspath(mountpoint))}.service"


def unit_dir() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "systemd" / "user"


def quote_arg(arg: str) -> str:
    """One argument of an Exec*= line: quoted when needed; '%' and '$' kept literal (systemd.service(5))."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in " \t\n\"'\\;"):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def quote_env(name: str, value: str) -> str:
    """An Environment= assignment, quoted as a whole (specifiers '%' kept literal)."""
    value = value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}={value}"'


def gallerfs_command() -> list[str]:
    """How to run this very gallerfs: the script beside this Python (a venv, pipx), else ``python -m gallerfs``."""
    python = os.path.abspath(sys.executable)
    beside = os.path.join(os.path.dirname(python), "gallerfs")
    if os.access(beside, os.X_OK):
        return [beside]
    return [python, "-m", "gallerfs"]


def render_unit(paths: LibraryPaths, mountpoint: str, mount_options: list[str], command: list[str],
                fusermount: str, mkdir: str = "/bin/mkdir") -> str:  # fmt: skip
    """The text of the unit for mounting *paths*' library at *mountpoint*."""
    mountpoint = os.path.abspath(mountpoint)
    root, config = str(paths.root), str(paths.config_file)
    start = [*command, "--library", root, "mount", "-f", "--force", *mount_options, mountpoint]
    line = " ".join(quote_arg(a) for a in start)
    description = mountpoint.replace("%", "%%").replace("\n", " ")
    return f"""\
# Written by 'gallerfs unit' (gallerfs {__version__}); 'gallerfs unit --remove' removes it.
[Unit]
Description=gallerfs photo library mounted at {description}
Documentation=man:gallerfs(1) man:gallerfs-mount(5)
# A mount that keeps failing (a folder that is gone, a newer library) stops being retried.
StartLimitIntervalSec=120
StartLimitBurst=3

[Service]
Type=notify
NotifyAccess=main
Environment={quote_env("GALLERFS_CONFIG", config)}
ExecStartPre=-{quote_arg(mkdir)} -p {quote_arg(mountpoint)}
ExecStart={line}
ExecStop={quote_arg(fusermount)} -u {quote_arg(mountpoint)}
Restart=on-failure
RestartSec=5
TimeoutStopSec=30

[Install]
WantedBy=default.target
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "unit", help="write a systemd user unit that mounts the library at login",
        description="Write ~/.config/systemd/user/gallerfs-mount-ESCAPED.service, which mounts this library "
        "at MOUNTPOINT when you log in and unmounts it cleanly when you log out; then run "
        "'systemctl --user enable --now UNIT' (or give --enable).",
    )  # fmt: skip
    p.add_argument("mountpoint", metavar="MOUNTPOINT")
    p.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    p.add_argument("--enable", action="store_true", help="also enable and start it (systemctl --user)")
    p.add_argument("--remove", action="store_true", help="stop, disable and delete the unit instead")
    p.add_argument("--allow-other", action="store_true", help="mount with --allow-other")
    p.add_argument("--xattrs", action="store_true", help="mount with --xattrs")
    p.set_defaults(func=run)


def _systemctl(*args: str) -> None:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        raise GallerfsError("systemctl is not installed: run the unit's commands yourself")
    proc = subprocess.run([systemctl, "--user", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise GallerfsError(f"systemctl --user {' '.join(args)} failed: {proc.stderr.strip() or proc.returncode}")


def run(ctx: Context) -> int:
    a = ctx.args
    name = unit_name(a.mountpoint)
    path = unit_dir() / name
    if a.remove:
        if not path.exists():
            raise GallerfsError(f"{path}: no such unit")
        if shutil.which("systemctl") is not None:
            subprocess.run(["systemctl", "--user", "disable", "--now", name], capture_output=True)
        path.unlink()
        print(f"removed {path}")
        return 0
    if not ctx.paths.db.exists():
        raise GallerfsError(f"no library at {ctx.paths.root} (run 'gallerfs add FOLDER' first)")
    from gallerfs.db import sources as sources_db
    from gallerfs.mountguard import check_mountpoint

    # The mount's own refusal (exit 6), now rather than in a unit that fails at every login.
    check_mountpoint(a.mountpoint, [(s.name, s.path) for s in sources_db.list_sources(ctx.open_reader())])
    options = [o for o, on in (("--allow-other", a.allow_other), ("--xattrs", a.xattrs)) if on]
    fusermount = shutil.which("fusermount3") or "/usr/bin/fusermount3"
    mkdir = shutil.which("mkdir") or "/bin/mkdir"
    text = render_unit(ctx.paths, a.mountpoint, options, gallerfs_command(), fusermount, mkdir)
    if a.print:
        print(text, end="")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    print(f"wrote {path}")
    if a.enable:
        _systemctl("daemon-reload")
        _systemctl("enable", "--now", name)
        print(f"enabled and started {name}")
    else:
        print(f"start it now and at every login with: systemctl --user daemon-reload && "
              f"systemctl --user enable --now '{name}'")  # fmt: skip
    return 0
