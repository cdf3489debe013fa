"""The manual and --help stay in step with the command line."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from gallerfs import config
from gallerfs.cli import build_parser
from tests.conftest import PROJECT

MAN = PROJECT / "man" / "gallerfs.1"


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_man_page_renders_without_warnings():
    proc = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = subprocess.run(["man", "--warnings", "-l", str(MAN)], capture_output=True, text=True,
                          env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "gallerfs" in proc.stdout


def test_man_page_documents_every_subcommand():
    text = MAN.read_text()
    documented = set(re.findall(r'^\.SS "([a-z-]+)', text, flags=re.M))
    missing = set(_subcommands()) - documented
    assert not missing, f"subcommands missing from man/gallerfs.1: {sorted(missing)}"
    extra = documented - set(_subcommands())
    assert not extra, f"man/gallerfs.1 documents commands that do not exist: {sorted(extra)}"


def test_man_page_documents_every_setting():
    text = MAN.read_text().replace("\\", "")
    missing = [k.name for k in config.KEYS if k.name not in text]
    assert not missing, missing


def test_every_subcommand_has_help():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in action.choices.items():
        text = sub.format_help()
        assert text.startswith(f"usage: gallerfs {name}"), name
        assert action._name_parser_map[name].description or any(
            c.dest == name and c.help for c in action._choices_actions
        ), f"{name} has no help text"
    proc = subprocess.run([sys.executable, "-m", "gallerfs", "--help"], capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0 and all(name in proc.stdout for name in action.choices)


MOUNT_PAGE = PROJECT / "man" / "gallerfs-mount.5"
PAGES = sorted((PROJECT / "man").glob("*.[1-9]"))


def test_mount_page_renders_without_warnings():
    proc = subprocess.run(["groff", "-man", "-ww", "-z", str(MOUNT_PAGE)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = subprocess.run(["man", "--warnings", "-l", str(MOUNT_PAGE)], capture_output=True, text=True,
                          env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "by-album/ALBUM/" in proc.stdout.replace("\u2010", "-")


def test_the_mount_tree_is_documented_everywhere():
    """Every top-level folder of the mount is in gallerfs-mount(5), in gallerfs(1)'s mount section
    and in 'mount --help'; and nothing else is described there as one."""
    from gallerfs.fs.toplevel import TOP_LEVEL

    names = {name.decode() for name, _ in TOP_LEVEL}
    page = MOUNT_PAGE.read_text().replace("\\-", "-")
    tree = page.split(".SH THE TREE", 1)[1].split(".SH ", 1)[0]
    described = {m.split("/")[0] for m in re.findall(r'^\.I[R]? "?([.a-z-]+/)', tree, flags=re.M)}
    assert described == names
    mount = MAN.read_text().replace("\\-", "-").split('.SS "mount', 1)[1].split('.SS "umount', 1)[0]
    assert all(f"\\fI{n}/" in mount for n in names), [n for n in names if f"\\fI{n}/" not in mount]
    proc = subprocess.run([sys.executable, "-m", "gallerfs", "mount", "--help"], capture_output=True, text=True,
                          cwd=PROJECT)  # fmt: skip
    listed = {line.split()[0].split("/")[0] for line in proc.stdout.split("the tree", 1)[1].splitlines()[1:]
              if line.startswith("  ") and not line.startswith("   ")}  # fmt: skip
    assert listed == names


def test_every_page_is_a_data_file_of_the_wheel():
    import tomllib

    data_files = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = {(folder, Path(f).name) for folder, files in data_files.items() for f in files}
    assert shipped == {(f"share/man/man{p.suffix[1:]}", p.name) for p in PAGES}


def test_man_finds_the_pages_of_a_venv(tmp_path: Path):
    """After scripts/setup (which runs scripts/install-man .venv), 'man gallerfs' works with the venv's bin on PATH."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "gallerfs").write_text("#!/bin/sh\n")
    (venv / "bin" / "gallerfs").chmod(0o755)
    subprocess.run(["bash", str(PROJECT / "scripts" / "install-man"), str(venv)], check=True)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8", "MANWIDTH": "80", "HOME": str(tmp_path)}
    for section, name in (("1", "gallerfs"), ("5", "gallerfs-mount")):
        proc = subprocess.run(["man", "-w", section, name], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert Path(proc.stdout.strip()).resolve() == (PROJECT / "man" / f"{name}.{section}").resolve()
    proc = subprocess.run(["man", "gallerfs"], env=dict(env, MANPAGER="cat", PAGER="cat"), capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0 and "gallerfs - a local-first photo" in proc.stdout.replace("\u2010", "-")
    # Without the venv on PATH, man does not know the page: the test above found it through the venv.
    proc = subprocess.run(["man", "-w", "gallerfs"], env=dict(env, PATH="/usr/bin:/bin"), capture_output=True)
    assert proc.returncode != 0 or b"/venv/" not in proc.stdout
