"""gallerfs album / favourite: albums and favourites from the command line (same data as the mount's)."""

from __future__ import annotations

import argparse

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.cli.file_arg import resolve_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("album", help="list, create, fill and delete albums",
                       description="Albums hold library files without copying them (also: mkdir/cp/rm in "
                       "MOUNT/by-album/). FILE is a library id, a path of an original, or a file in a gallerfs mount.")  # fmt: skip
    asub = p.add_subparsers(dest="album_command", metavar="ACTION", required=True)
    q = asub.add_parser("list", help="albums and their sizes")
    add_json_flag(q)
    q.set_defaults(func=run_list)
    q = asub.add_parser("show", help="the files of an album")
    q.add_argument("name")
    add_json_flag(q)
    q.set_defaults(func=run_show)
    q = asub.add_parser("create", help="create an empty album")
    q.add_argument("name")
    q.set_defaults(func=run_create)
    for action, helptext in (("add", "add files to an album"), ("remove", "remove files from an album (not from disk)")):
        q = asub.add_parser(action, help=helptext)
        q.add_argument("name")
        q.add_argument("files", nargs="+", metavar="FILE")
        q.set_defaults(func=run_add if action == "add" else run_remove)
    q = asub.add_parser("rename", help="rename an album")
    q.add_argument("name")
    q.add_argument("new_name")
    q.set_defaults(func=run_rename)
    q = asub.add_parser("delete", help="delete an album (its files stay in the library)")
    q.add_argument("name")
    q.set_defaults(func=run_delete)

    p = sub.add_parser("favourite", help="mark or unmark favourites, or list them")
    p.add_argument("files", nargs="*", metavar="FILE", help="files to mark (none: list favourites)")
    p.add_argument("--remove", action="store_true", help="unmark the files instead")
    add_json_flag(p)
    p.set_defaults(func=run_favourite)


def run_list(ctx: Context) -> int:
    from gallerfs.db import albums

    rows = [{"name": a.name, "files": a.count, "created_at": a.created_at} for a in albums.list_albums(ctx.open_reader())]
    ctx.emit(rows, lambda rs: "\n".join(f"{r['name']}\t{r['files']} files" for r in rs) or "no albums yet")
    return 0


def run_show(ctx: Context) -> int:
    from gallerfs.db import albums
    from gallerfs.db import tree

    db = ctx.open_reader()
    rows = [tree.file_details(db, i) for i in albums.album_file_ids(db, ctx.args.name)]
    out = [{"id": r["id"], "path": r["source_path"]} for r in rows if r]
    ctx.emit(out, lambda rs: "\n".join(f"{r['id']}\t{printable(r['path'])}" for r in rs))
    return 0


def run_create(ctx: Context) -> int:
    from gallerfs.db import albums

    albums.create_album(ctx.open_db(), ctx.args.name)
    print(f"created album {ctx.args.name!r}")
    return 0


def run_add(ctx: Context) -> int:
    from gallerfs.db import albums

    db = ctx.open_db()
    n = albums.add_to_album(db, ctx.args.name, [resolve_file(db, f) for f in ctx.args.files])
    print(f"added {n} files to {ctx.args.name!r}")
    return 0


def run_remove(ctx: Context) -> int:
    from gallerfs.db import albums

    db = ctx.open_db()
    n = albums.remove_from_album(db, ctx.args.name, [resolve_file(db, f) for f in ctx.args.files])
    print(f"removed {n} files from {ctx.args.name!r}")
    return 0


def run_rename(ctx: Context) -> int:
    from gallerfs.db import albums

    albums.rename_album(ctx.open_db(), ctx.args.name, ctx.args.new_name)
    return 0


def run_delete(ctx: Context) -> int:
    from gallerfs.db import albums

    albums.delete_album(ctx.open_db(), ctx.args.name)
    print(f"deleted album {ctx.args.name!r}; its files are still in the library")
    return 0


def run_favourite(ctx: Context) -> int:
    from gallerfs.db import albums
    from gallerfs.db import tree

    db = ctx.open_db()
    ids = [resolve_file(db, f) for f in ctx.args.files]
    if ids:
        n = (albums.remove_favourites if ctx.args.remove else albums.add_favourites)(db, ids)
        print(f"{'unmarked' if ctx.args.remove else 'marked'} {n} files")
        return 0
    rows = [tree.file_details(db, i) for i in albums.favourite_ids(db)]
    out = [{"id": r["id"], "path": r["source_path"]} for r in rows if r]
    ctx.emit(out, lambda rs: "\n".join(f"{r['id']}\t{printable(r['path'])}" for r in rs))
    return 0
