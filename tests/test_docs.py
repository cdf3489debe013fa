"""The manual and --help stay in step with the command line."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

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
