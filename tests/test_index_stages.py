"""The stages after phase 2 are wired as functions, and load what they need only when they run."""

from __future__ import annotations

import json
import subprocess
import sys

from gallerfs.indexer import run
from tests.conftest import PROJECT


def test_the_stages_run_in_order_with_what_index_passes(monkeypatch) -> None:
    calls = []

    def stage(name: str):
        def call(db, paths, settings, progress):
            calls.append((name, db, paths, settings, progress))
            return {"summary": name}

        return call

    monkeypatch.setattr(run, "LATER_STAGES", (("one", stage("one")), ("two", stage("two"))))
    progress = run.Progress(False)
    assert run.run_later_stages("db", "paths", "settings", progress) == {"one": {"summary": "one"},
                                                                          "two": {"summary": "two"}}  # fmt: skip
    assert calls == [("one", "db", "paths", "settings", progress), ("two", "db", "paths", "settings", progress)]


def test_importing_the_runner_loads_no_stage() -> None:
    code = ("import json, sys\nfrom gallerfs.indexer import run\n"
            "print(json.dumps([name for name, _ in run.LATER_STAGES] + sorted(sys.modules)))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out[:7] == ["embed", "project", "places", "tags", "ocr", "faces", "journal"]
    assert not [m for m in out[7:] if m in ("numpy", "onnxruntime", "dlib", "rapidocr") or m.startswith((
                "gallerfs.journal", "gallerfs.indexer.embed", "gallerfs.indexer.projection", "gallerfs.indexer.places",
                "gallerfs.places", "gallerfs.indexer.tags_job", "gallerfs.indexer.ocr", "gallerfs.indexer.faces",
                "gallerfs.models"))]  # fmt: skip
