"""Resolving one duplicate set: choose its keeper, trash the other copies through the safe path.

The terminal review (``gallerfs duplicates review``) and the viewer's review page both act through
these functions, so a keeper choice and a "trash the others" mean the same in each. Every copy goes
through ``remove.trash_copy`` with the set as shown (keeper first), never with ``full_resolution``:
the last verified copy, and a near set's only full-resolution picture, are refused there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from gallerfs.errors import GallerfsError
from gallerfs.indexer.duplicates.remove import TrashOutcome
from gallerfs.indexer.duplicates.sets import DuplicateSet

log = logging.getLogger(__name__)

TrashFn = Callable[[int, DuplicateSet], TrashOutcome]  # (file id, the set as shown); raises when refused
KeepFn = Callable[[int, list[int]], None]  # (keeper id, every member's id)


@dataclass(frozen=True)
class Resolution:
    remaining: DuplicateSet  # the keeper first, then the copies that were refused
    trashed: tuple[tuple[DupFile, TrashOutcome], ...]
    refused: tuple[tuple[DupFile, str], ...]  # (copy, the one-line reason)


def library_actions(db: Database, settings: Settings) -> tuple[TrashFn, KeepFn]:
    """The real trash and keep, on a writable connection to the library."""
    from gallerfs.indexer.duplicates.remove import trash_copy

    def trash(file_id: int, dup_set: DuplicateSet) -> TrashOutcome:
        return trash_copy(db, settings, file_id, dup_set)

    def keep(file_id: int, members: list[int]) -> None:
        dupdb.set_keeper(db, file_id, members)

    return trash, keep


def member(dup_set: DuplicateSet, file_id: int) -> DupFile:
    for m in dup_set.members:
        if m.id == file_id:
            return m
    raise GallerfsError(f"file {file_id} is not in this duplicate set")


def with_keeper(dup_set: DuplicateSet, keeper_id: int) -> DuplicateSet:
    """The set with keeper_id first (the others keep their order), marked as the user's choice."""
    member(dup_set, keeper_id)
    members = sorted(dup_set.members, key=lambda m: m.id != keeper_id)
    return replace(dup_set, members=tuple(members), keeper_chosen=True)


def choose_keeper(dup_set: DuplicateSet, keeper_id: int, keep: KeepFn) -> DuplicateSet:
    """Record keeper_id as the set's keeper (``duplicates keep``) and return the reordered set."""
    ordered = with_keeper(dup_set, keeper_id)
    keep(keeper_id, [m.id for m in dup_set.members])
    return ordered


def trash_others(dup_set: DuplicateSet, keeper_id: int, trash: TrashFn, keep: KeepFn) -> Resolution:
    """Keep keeper_id and move every other copy to the trash; a refused copy stays, with its reason."""
    s = choose_keeper(dup_set, keeper_id, keep)
    remaining = [s.keeper]
    trashed: list[tuple[DupFile, TrashOutcome]] = []
    refused: list[tuple[DupFile, str]] = []
    for m in s.members[1:]:
        try:
            trashed.append((m, trash(m.id, s)))
        except (GallerfsError, OSError) as exc:
            log.info("kept %s: %s", m.path, exc)
            remaining.append(m)
            refused.append((m, str(exc)))
    return Resolution(replace(s, members=tuple(remaining)), tuple(trashed), tuple(refused))
