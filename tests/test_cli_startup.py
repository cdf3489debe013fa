"""The command line loads only what the command it runs needs, and says the same as the whole parser."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gallerfs.cli import COMMAND_MODULES, build_parser, chosen_commands, command_modules
from tests.conftest import gallerfs_env, run_gallerfs


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_command_table_matches_what_the_modules_register():
    registered = {}
    for module in command_modules():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"gallerfs.cli.{module}").register(sub)
        for name in sub.choices:
            registered[name] = module
    assert registered == COMMAND_MODULES


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["status"], ["status"]),
        (["status", "--json"], ["status"]),
        (["-vv", "--library", "/x", "sources"], ["sources"]),
        (["--library=/x", "-q", "search", "dog"], ["search"]),
        (["--lib", "status", "jobs"], ["jobs"]),  # an abbreviated --library takes 'status' as its value
        (["--library", "search"], None),  # no command after the option's value
        (["--version"], []),
        (["--version", "status"], ["status"]),
        ([], None),
        (["--help"], None),
        (["-h", "status"], None),
        (["bogus"], None),
        (["stat"], None),
        (["--ver"], None),  # ambiguous: --version or --verbose
        (["--bogus", "status"], None),
    ],
)
def test_the_pre_scan_finds_the_command_argparse_dispatches_on(argv, expected):
    assert chosen_commands(argv) == expected


def test_each_command_parses_and_helps_the_same_with_only_its_module():
    full = _subparsers(build_parser()).choices
    for name in COMMAND_MODULES:
        alone = _subparsers(build_parser([name])).choices
        assert alone[name].format_help() == full[name].format_help(), name
        assert set(alone) < set(full)


def test_a_stale_table_entry_falls_back_to_the_whole_parser(monkeypatch):
    monkeypatch.setitem(COMMAND_MODULES, "status", "cmd_watch")  # the wrong module
    choices = _subparsers(build_parser(["status"])).choices
    assert set(choices) == set(_subparsers(build_parser()).choices)


_PROBE = """
import contextlib, io, json, sys
from gallerfs.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "modules": sorted(sys.modules)}))
"""

# Modules only some commands need: none of them may load for the commands that users run to look around.
HEAVY = ("numpy", "PIL", "yaml", "trio", "pyfuse3", "onnxruntime", "tomllib", "platformdirs", "urllib.request",
         "gallerfs.journal", "gallerfs.search", "gallerfs.db.embeddings", "gallerfs.indexer.scanner", "gallerfs.indexer.hashing",
         "gallerfs.models.store")  # fmt: skip


# 'sources' records presence through indexer.scanner.refresh_presence; the scanner itself must stay light.
SCANNER_STACK = ("gallerfs.indexer.scanner",)


@pytest.mark.parametrize("argv", [["status"], ["sources"], ["jobs"], ["status", "--json"]])
def test_read_only_commands_do_not_import_what_they_do_not_use(library: Path, argv):
    run_gallerfs(library, "add", str(library))  # a source, so that 'sources' checks its presence
    env = gallerfs_env(library)
    env.pop("GALLERFS_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["rc"] == 0
    heavy = [h for h in HEAVY if not (argv[0] == "sources" and h in SCANNER_STACK)]
    loaded = [m for m in result["modules"] if m in heavy or any(m.startswith(h + ".") for h in heavy)]
    assert loaded == []
    other_commands = {f"gallerfs.cli.{m}" for m in command_modules()} - {f"gallerfs.cli.{COMMAND_MODULES[argv[0]]}"}
    assert other_commands.isdisjoint(result["modules"])


def test_version_and_help_still_work(library: Path):
    from gallerfs import __version__

    assert run_gallerfs(library, "--version").stdout == f"gallerfs {__version__}\n"
    top = run_gallerfs(library, "--help").stdout
    for name in COMMAND_MODULES:
        assert f"    {name} " in top or f"    {name}\n" in top, name
    bad = run_gallerfs(library, "bogus", check=False)
    assert bad.returncode == 2 and "invalid choice: 'bogus'" in bad.stderr and "'status'" in bad.stderr
