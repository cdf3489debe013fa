"""Shell completion: the generated bash and zsh scripts offer commands, options, sources and albums."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gallerfs.cli import COMMAND_MODULES
from gallerfs.cli.complete import DIRS, FILES, candidates
from tests.conftest import gallerfs_env, run_gallerfs


@pytest.fixture
def names_library(tmp_path: Path, library: Path) -> Path:
    """A library with two sources (one with a space in its name) and two albums."""
    for name in ("My Trip", "usb"):
        (tmp_path / "photos" / name).mkdir(parents=True)
        run_gallerfs(library, "add", str(tmp_path / "photos" / name))
    run_gallerfs(library, "album", "create", "Summer 2024")
    run_gallerfs(library, "album", "create", "Zoo")
    return library


@pytest.fixture
def shell_env(tmp_path: Path, names_library: Path) -> dict[str, str]:
    """An environment whose PATH has a 'gallerfs' that runs this worktree's code."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "gallerfs"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m gallerfs "$@"\n')
    wrapper.chmod(0o755)
    env = gallerfs_env(names_library)
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env


def _script(shell: str, env: dict[str, str]) -> str:
    proc = subprocess.run(["gallerfs", "completion", shell], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _bash_complete(env: dict[str, str], tmp_path: Path, *words: str) -> list[str]:
    """COMPREPLY after completing the last of *words*, as bash's programmable completion would."""
    script = tmp_path / "gallerfs.bash"
    script.write_text(_script("bash", env))
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    probe = (
        f"source {script}; complete -p gallerfs >/dev/null || exit 9; "
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _gallerfs; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    proc = subprocess.run(["bash", "--norc", "-c", probe], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_bash_completes_commands_options_sources_and_albums(shell_env, tmp_path: Path):
    assert set(_bash_complete(shell_env, tmp_path, "gallerfs", "")) == set(COMMAND_MODULES)
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "sea") == ["search"]
    assert "--xattrs" in _bash_complete(shell_env, tmp_path, "gallerfs", "mount", "--")
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "search", "red", "--ki") == ["--kind"]
    kinds = _bash_complete(shell_env, tmp_path, "gallerfs", "search", "red", "--kind", "")
    assert {"image", "video", "raw"} <= set(kinds)
    # Sources: positional (index, rescan, remove) and --source, also written --source=NAME.
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "index", "") == ["My\\ Trip", "usb"]
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "index", "usb", "M") == ["My\\ Trip"]
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "search", "x", "--source", "u") == ["usb"]
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "search", "x", "--source", "=", "") == ["My\\ Trip", "usb"]
    # Albums: escaped so that the inserted word is one argument.
    actions = _bash_complete(shell_env, tmp_path, "gallerfs", "album", "")
    assert {"list", "show", "create", "add", "remove", "rename", "delete"} <= set(actions) and "--help" not in actions
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "album", "show", "") == ["Summer\\ 2024", "Zoo"]
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "album", "add", "Su") == ["Summer\\ 2024"]
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "album", "add", '"Su') == ["Summer 2024"]  # in quotes
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "album", "create", "") == []  # a new name
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "search", "x", "--album", "Z") == ["Zoo"]
    # Paths are left to bash itself.
    (tmp_path / "mnt").mkdir()
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "mount", "mn") == ["mnt"]
    assert _bash_complete(shell_env, tmp_path, "gallerfs", "completion", "") == ["bash", "zsh"]


def test_bash_completion_reads_the_library_named_on_the_line(shell_env, tmp_path: Path):
    other = tmp_path / "other"
    run_gallerfs(other, "album", "create", "Elsewhere")
    words = ("gallerfs", "--library", str(other), "album", "show", "")
    assert _bash_complete(shell_env, tmp_path, *words) == ["Elsewhere"]
    words = ("gallerfs", "--library", "=", str(other), "album", "show", "")
    assert _bash_complete(shell_env, tmp_path, *words) == ["Elsewhere"]
    run_gallerfs(other, "album", "create", "Sta*")
    (tmp_path / "Stanley").touch()  # what 'Sta*' would match as a glob in the completion's folder
    words = ("gallerfs", "--library", str(other), "album", "show", "St")
    assert _bash_complete(shell_env, tmp_path, *words) == ["Sta\\*"]
    assert _bash_complete(shell_env, tmp_path, *words[:-1], "'St") == ["Sta*"]
    env = dict(shell_env, GALLERFS_LIBRARY=str(tmp_path / "missing"))
    assert _bash_complete(env, tmp_path, "gallerfs", "album", "show", "") == []  # no library: no names, no error


def test_the_engine_knows_values_by_meaning(names_library: Path, monkeypatch):
    monkeypatch.setenv("GALLERFS_LIBRARY", str(names_library))
    assert candidates(["mount"], "") == DIRS
    assert candidates(["add"], "") == DIRS
    assert candidates(["export"], "") == FILES
    assert candidates(["similar"], "") == FILES
    assert candidates(["--library"], "") == DIRS
    assert "journal_dir" in candidates(["config", "set"], "")
    assert candidates(["config", "set", "journal_dir"], "") == []  # a VALUE: nothing to offer
    assert "today" in candidates(["journal", "new"], "")
    assert candidates(["album", "rename"], "") == ["Summer 2024", "Zoo"]
    assert candidates(["album", "rename", "Zoo"], "") == []  # the new name
    assert candidates(["bogus"], "") == []
    assert {"--help", "--full-resolution", "--json"} <= set(candidates(["duplicates", "trash"], "--"))


def test_the_hidden_call_back_is_quick_to_load_and_never_fails(names_library: Path):
    env = gallerfs_env(names_library)
    probe = ("import sys; from gallerfs.cli import main; rc = main(['__complete', 'bash', '3', 'gallerfs', 'album', "
             "'show', '']); print(sorted(m for m in sys.modules if m.startswith(('trio', 'pyfuse3', 'numpy', "
             "'PIL', 'gallerfs.cli.cmd_'))), rc)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "['gallerfs.cli.cmd_album'] 0"
    bad = run_gallerfs(names_library, "__complete", "bash", "x", check=False)
    assert bad.returncode == 2 and bad.stdout == ""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (scripts/setup installs it)")
def test_zsh_script_calls_back_and_hands_candidates_to_compadd(shell_env, tmp_path: Path):
    script = tmp_path / "_gallerfs"
    script.write_text(_script("zsh", shell_env))
    # Outside a completion widget, compadd/_files/compset/compdef are stand-ins that print what they get.
    probe = f"""
compdef() {{ print -r -- "compdef $*" }}
compadd() {{ print -rl -- "compadd" "$@" }}
_files() {{ print -r -- "_files $*" }}
compset() {{ print -r -- "compset $*"; PREFIX=${{PREFIX#*=}} }}
source {script}
words=(gallerfs album show ""); CURRENT=4; PREFIX=""; _gallerfs
words=(gallerfs mount ""); CURRENT=3; _gallerfs
words=(gallerfs search x --source=); CURRENT=4; PREFIX=--source=; _gallerfs
"""
    proc = subprocess.run(["zsh", "-f", "-c", probe], env=shell_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "compdef _gallerfs gallerfs",
        "compadd", "--", "Summer 2024", "Zoo",
        "_files -/",
        "compset -P *=", "compadd", "--", "My Trip", "usb",
    ]  # fmt: skip



def test_global_options_match_the_parser():
    from gallerfs.cli import build_parser
    from gallerfs.cli.complete import GLOBAL_OPTIONS

    top = build_parser([])
    options = {s for a in top._actions for s in a.option_strings}
    assert options == set(GLOBAL_OPTIONS)
