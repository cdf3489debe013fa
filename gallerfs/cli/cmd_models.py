"""``gallerfs models install | import DIR | list | verify`` — the CLIP model, installed once.

The model is the only thing gallerfs ever downloads, and only here. ``install tags`` and ``install text``
build the packaged models (``gallerfs.models.packaged``) from installed Python packages, offline.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from gallerfs.cli.context import Context, add_json_flag
from gallerfs.errors import GallerfsError

if TYPE_CHECKING:
    from gallerfs.models import store
    from gallerfs.models.download import Progress

# The model store and manifest (urllib, hashing, JSON schemas) load only when a models command runs.

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="install, import, list and verify the models used by search and tags")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("install", help="download the CLIP model from its public hub and verify its checksums; "
                       "'tags' and 'text' are built offline from installed packages")  # fmt: skip
    p.add_argument("name", nargs="?", help="model to install: a CLIP model (default: the manifest's default), "
                   "'tags' (photo tags) or 'text' (query-to-tag matching)")  # fmt: skip
    p.add_argument("--manifest", type=Path, metavar="FILE", help="another model manifest (JSON, same format)")
    p.add_argument("--mirror", metavar="URL", help="fetch the files from URL/<file name> instead of the manifest URLs")
    add_json_flag(p)
    p.set_defaults(func=run_install)

    p = sub.add_parser("import", help="install the model from files on disk (offline machines)")
    p.add_argument("dir", type=Path, metavar="DIR", help="folder holding the model's ONNX files")
    p.add_argument("name", nargs="?", help="model the files belong to (default: the manifest's default)")
    p.add_argument("--manifest", type=Path, metavar="FILE", help="another model manifest (JSON, same format)")
    add_json_flag(p)
    p.set_defaults(func=run_import)

    p = sub.add_parser("list", help="CLIP models known to the manifest and installed, and which analysis extras "
                       "(ocr, faces, tags, text) are installed")  # fmt: skip
    p.add_argument("--manifest", type=Path, metavar="FILE", help="another model manifest (JSON, same format)")
    add_json_flag(p)
    p.set_defaults(func=run_list)

    p = sub.add_parser("verify", help="check the installed models' files against their sha256")
    p.add_argument("name", nargs="?", help="only this model (the CLIP model in use, 'tags' or 'text')")
    add_json_flag(p)
    p.set_defaults(func=run_verify)


def _progress_bars(enabled: bool) -> Callable[[str], Progress | None]:
    def make(name: str) -> Progress | None:
        if not enabled:
            return None
        from tqdm import tqdm

        bar: dict[str, Any] = {}

        def update(done: int, total: int | None) -> None:
            if "bar" not in bar:
                bar["bar"] = tqdm(total=total, initial=0, unit="B", unit_scale=True, desc=name, file=sys.stderr)
            b = bar["bar"]
            b.update(done - b.n)
            if total is not None and done >= total:
                b.close()

        return update

    return make


def _summary(model: store.InstalledModel) -> dict[str, Any]:
    return {"name": model.name, "dim": model.dim, "folder": str(model.folder)}


def run_install(ctx: Context) -> int:
    from gallerfs.models import manifest as manifest_mod
    from gallerfs.models import packaged, store

    if ctx.args.name in packaged.NAMES:
        ctx.paths.ensure()
        built = packaged.install(ctx.paths, ctx.args.name)
        ctx.emit({"name": built.name, "size": built.size, "folder": str(built.folder)},
                 lambda d: f"installed {d['name']} ({d['size'] / 1e6:.1f} MB) in {d['folder']}")  # fmt: skip
        return 0
    spec = manifest_mod.load(ctx.args.manifest).get(ctx.args.name)
    ctx.paths.ensure()
    show = sys.stderr.isatty() and not ctx.json and not ctx.args.quiet
    model = store.install(ctx.paths, spec, ctx.args.mirror, _progress_bars(show))
    ctx.emit(_summary(model), lambda d: f"installed {d['name']} ({d['dim']}-d) in {d['folder']}")
    return 0


def run_import(ctx: Context) -> int:
    from gallerfs.models import manifest as manifest_mod
    from gallerfs.models import store

    spec = manifest_mod.load(ctx.args.manifest).get(ctx.args.name)
    ctx.paths.ensure()
    model = store.import_dir(ctx.paths, spec, ctx.args.dir)
    ctx.emit(_summary(model), lambda d: f"imported {d['name']} ({d['dim']}-d) into {d['folder']}")
    return 0


def run_list(ctx: Context) -> int:
    from gallerfs.models import manifest as manifest_mod
    from gallerfs.models import packaged, store

    manifest = manifest_mod.load(ctx.args.manifest)
    current = store.current_model(ctx.paths)
    installed = {m.name: m for m in store.installed_models(ctx.paths)}
    rows = []
    for name in sorted(set(manifest.models) | set(installed)):
        spec = installed[name].spec if name in installed else manifest.models[name]
        rows.append(
            {
                "kind": "clip",
                "name": name,
                "dim": spec.dim,
                "installed": name in installed,
                "current": current is not None and current.name == name,
                "default": name == manifest.default,
                "size": sum(f.size or 0 for f in spec.files),
                "description": spec.description,
            }
        )
    # ocr, faces, tags, text: the extra importable and, for tags and text, their exported files present
    # (packaged.installed also checks their model.json, which 'models install' writes last).
    from gallerfs.models import extras

    for name in extras.EXTRAS:
        row = extras.status(name, store.models_dir(ctx.paths))
        if name in packaged.NAMES and row["installed"] and packaged.installed(ctx.paths, name) is None:
            row.update(installed=False, todo=extras.EXTRAS[name].setup)
        rows.append(row)

    def text(rows: list[dict[str, Any]]) -> str:
        lines = ["clip (search by description):"]
        for r in rows:
            if r["kind"] != "clip":
                continue
            state = "in use" if r["current"] else ("installed" if r["installed"] else "not installed")
            dim = f"{r['dim']:>5}-d" if r["dim"] else " " * 7
            lines.append(f"{'*' if r['current'] else ' '} {r['name']:<20} {dim}  {r['size'] / 1e6:7.1f} MB  {state}")
        if current is None:
            lines.append(store.NO_MODEL_MESSAGE)
        for r in rows:
            if r["kind"] != "clip":
                state = "installed" if r["installed"] else "not installed"
                todo = f"; install with: {r['todo']}" if r["todo"] else ""
                lines.append(f"{r['name']:<6} {state:<14} {r['description']}{todo}")
        return "\n".join(lines)

    ctx.emit(rows, text)
    return 0


def run_verify(ctx: Context) -> int:
    """Every installed model (or the one named): CLIP against its manifest, packaged ones against model.json."""
    from gallerfs.models import packaged, store

    name = ctx.args.name
    checks: list[tuple[str, list[str], str]] = []  # name, problems, how to repair
    for pname in packaged.NAMES:
        built = packaged.installed(ctx.paths, pname)
        if name == pname and built is None:
            raise GallerfsError(packaged.not_installed_message(pname))
        if built is not None and name in (None, pname):
            checks.append((pname, packaged.verify(built), f"gallerfs models install {pname}"))
    if name not in packaged.NAMES:
        clip = store.current_model(ctx.paths)
        if clip is None and (name is not None or not checks):
            store.require_model(ctx.paths)  # the one-line 'no CLIP model' error
        if clip is not None and name not in (None, clip.name):
            raise GallerfsError(f"{name} is not the CLIP model in use ({clip.name})")
        if clip is not None:
            checks.insert(0, (clip.name, store.verify(clip), "gallerfs models install' (or import"))
    results = [{"name": n, "ok": not p, "problems": p} for n, p, _ in checks]

    def text(rows: list[dict[str, Any]]) -> str:
        return "\n".join(f"{r['name']}: all checksums match" if r["ok"] else "\n".join(f"{r['name']}: {p}" for p in r["problems"])
                         for r in rows)  # fmt: skip

    ctx.emit(results[0] if name is not None else results, text if name is None else lambda d: text([d]))
    for n, problems, repair in checks:
        if problems:
            raise GallerfsError(f"{n} is damaged: run '{repair}' again")
    return 0
