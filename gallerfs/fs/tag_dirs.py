"""``by-tag/<tag>/``: the photos the tags job found something in (``gallerfs.db.tags``).

``by-tag/`` lists every tag carried by at least one photo ("cat", "tabby cat", "lighthouse"); each
folder lists those photos as regular files, named as elsewhere in the mount (deterministic suffixes for
equal names), in name order. Read-only: tags come from the model, not from the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable

from gallerfs.db import tags as tags_db
from gallerfs.db import tree as q
from gallerfs.fs.nodes import DirNode, Entry, TreeContext, file_entries, fs_name


def _tags(ctx: TreeContext) -> list[str]:
    return ctx.memo.get("tag_names", lambda: tags_db.tag_names(ctx.db))


class ByTagRoot(DirNode):
    key = ("top", b"by-tag")

    def list(self, ctx: TreeContext) -> list[Entry]:
        return [Entry(fs_name(tag), TagDir(tag)) for tag in _tags(ctx)]


@dataclass(frozen=True)
class TagDir(DirNode):
    tag: str

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("tag", self.tag)

    def list(self, ctx: TreeContext) -> list[Entry]:
        rows = q.file_rows(ctx.db, tags_db.files_with_tag(ctx.db, self.tag))
        return file_entries(sorted(rows.values(), key=lambda r: (r.name, r.id)))
