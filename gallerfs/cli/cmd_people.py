"""gallerfs people: the persons the faces job found, and naming, merging and splitting them."""

from __future__ import annotations

import argparse
from typing import Any

from gallerfs.cli.context import Context, add_json_flag, printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "people", help="list, name, merge and split the people found in photos",
        description="The persons that 'gallerfs index' grouped the faces in photos into (with the faces extra: "
        "pip install 'gallerfs[faces]'), the most photographed first. PERSON is a name, 'person N' or N, the "
        "id 'gallerfs people' shows; FACE is a face id from 'gallerfs people show'. Names, merges, splits and "
        "removals are kept when photos are indexed or clustered again.",
    )  # fmt: skip
    add_json_flag(p)
    p.set_defaults(func=run_list)
    psub = p.add_subparsers(dest="people_command", metavar="ACTION")
    q = psub.add_parser("list", help="persons, the most photographed first, with photo and face counts")
    add_json_flag(q)
    q.set_defaults(func=run_list)
    q = psub.add_parser("show", help="the faces of a person: face id, box and photo")
    q.add_argument("person", metavar="PERSON")
    add_json_flag(q)
    q.set_defaults(func=run_show)
    q = psub.add_parser("name", help="name a person (their photos appear under MOUNT/people/NAME/)")
    q.add_argument("person", metavar="PERSON")
    q.add_argument("new_name", metavar="NAME")
    q.set_defaults(func=run_name)
    q = psub.add_parser("unname", help="forget a person's name")
    q.add_argument("person", metavar="PERSON")
    q.set_defaults(func=run_unname)
    q = psub.add_parser("merge", help="merge persons into the first one (the same person, twice)")
    q.add_argument("person", metavar="PERSON")
    q.add_argument("others", nargs="+", metavar="PERSON")
    q.set_defaults(func=run_merge)
    q = psub.add_parser("split", help="move faces into a new person (optionally named)")
    q.add_argument("faces", nargs="+", type=int, metavar="FACE")
    q.add_argument("--name", metavar="NAME", help="the new person's name")
    q.set_defaults(func=run_split)
    q = psub.add_parser("remove-face", help="'not this person': the faces leave their person for good")
    q.add_argument("faces", nargs="+", type=int, metavar="FACE")
    q.set_defaults(func=run_remove_face)
    q = psub.add_parser("recluster", help="group the faces again from scratch, keeping every decision above")
    q.set_defaults(func=run_recluster)


def run_list(ctx: Context) -> int:
    from gallerfs.db import faces as faces_db

    db = ctx.open_reader()
    persons = [p.as_dict() for p in faces_db.list_persons(db)]

    def text(rows: list[dict[str, Any]]) -> str:
        if rows:
            return "\n".join(f"{r['id']}\t{r['label']}\t{r['photos']} photos\t{r['faces']} faces" for r in rows)
        if faces_db.counts(db)["scanned"]:
            return "no faces found in the photos looked at so far"
        return "no people yet: 'gallerfs index' finds them with the faces extra (pip install 'gallerfs[faces]')"

    ctx.emit(persons, text)
    return 0


def run_show(ctx: Context) -> int:
    from gallerfs.db import faces as faces_db
    from gallerfs.db import tree

    db = ctx.open_reader()
    person = faces_db.find_person(db, ctx.args.person)
    faces = []
    for face in faces_db.faces_of_person(db, person.id):
        details = tree.file_details(db, face.file_id) or {}
        faces.append({**face.as_dict(), "path": details.get("source_path")})
    out = {**person.as_dict(), "face_list": faces}

    def text(d: dict[str, Any]) -> str:
        lines = [f"{d['label']}: {d['photos']} photos, {d['faces']} faces"]
        lines += [f"face {f['id']}\t{f['w']}x{f['h']}+{f['x']}+{f['y']}\t{printable(f['path'] or '?')}"
                  for f in d["face_list"]]  # fmt: skip
        return "\n".join(lines)

    ctx.emit(out, text)
    return 0


def run_name(ctx: Context) -> int:
    from gallerfs import people

    person = people.rename(ctx.open_db(), ctx.args.person, ctx.args.new_name)
    print(f"person {person.id} is now {person.label!r} ({person.photos} photos)")
    return 0


def run_unname(ctx: Context) -> int:
    from gallerfs import people

    person = people.rename(ctx.open_db(), ctx.args.person, None)
    print(f"{person.label} has no name now")
    return 0


def run_merge(ctx: Context) -> int:
    from gallerfs import people

    person = people.merge(ctx.open_db(), ctx.args.person, ctx.args.others)
    print(f"merged into {person.label}: {person.photos} photos, {person.faces} faces")
    return 0


def run_split(ctx: Context) -> int:
    from gallerfs import people

    person = people.split(ctx.open_db(), ctx.args.faces, ctx.args.name)
    print(f"split {person.faces} faces into {person.label}")
    return 0


def run_remove_face(ctx: Context) -> int:
    from gallerfs import people

    report = people.remove_faces(ctx.open_db(), ctx.args.faces, ctx.settings.face_distance)
    print(f"removed {len(ctx.args.faces)} faces from their person; {report.joined} joined another, "
          f"{report.new_persons} new persons")  # fmt: skip
    return 0


def run_recluster(ctx: Context) -> int:
    from gallerfs import people

    report = people.recluster(ctx.open_db(), ctx.settings.face_distance)
    print(f"clustered again: {report.joined} faces joined a person, {report.new_persons} new persons")
    return 0
