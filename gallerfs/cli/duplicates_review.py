"""``gallerfs duplicates review``: a keyboard-driven terminal review of duplicate sets.

Plain ANSI escapes and a terminal in cbreak mode, so it works over SSH and in
any terminal emulator without curses. The shortcuts are always on screen.
Nothing is trashed without pressing ``t`` and then ``y`` for that set.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import sys
import termios
import tty
from typing import TYPE_CHECKING

from gallerfs.cli.context import printable
from gallerfs.config import Settings
from gallerfs.db.connection import Database
from gallerfs.indexer.duplicates.review import KeepFn, TrashFn, choose_keeper, library_actions, trash_others, with_keeper
from gallerfs.units import human_bytes

if TYPE_CHECKING:
    from gallerfs.indexer.duplicates.sets import DuplicateSet

log = logging.getLogger(__name__)

KEYS = {
    b"\x1b[C": "next", b"n": "next", b" ": "next", b"s": "skip",
    b"\x1b[D": "prev", b"p": "prev",
    b"\x1b[B": "down", b"j": "down", b"\x1b[A": "up", b"k": "up",
    b"\r": "keep", b"\n": "keep", b"K": "keep",
    b"t": "trash", b"y": "yes", b"q": "quit", b"\x03": "quit", b"\x04": "quit",
}  # fmt: skip
HELP = ("[n/→/space] next  [p/←] prev  [s] skip  [j/k/↑/↓ or 1-9] choose keeper\n"
        "[enter] keep it  [t] trash the others (then y)  [q] quit")  # fmt: skip


class Review:
    """The review's state and key handling, independent of the terminal."""

    def __init__(
        self,
        sets: list[DuplicateSet],
        trash: TrashFn,
        keep: KeepFn,
    ) -> None:
        self.sets = list(sets)
        self.index = 0
        self.choice = 0  # the copy chosen as keeper in the current set (0 = suggested)
        self.confirming = False
        self.message = ""
        self.trash = trash
        self.keep = keep
        self.trashed_bytes = 0
        self.color = False  # reverse video on the chosen copy (terminals only)

    @property
    def current(self) -> DuplicateSet | None:
        return self.sets[self.index] if self.sets else None

    @property
    def _set(self) -> DuplicateSet:
        """The current set, where there are sets."""
        return self.sets[self.index]

    def _move(self, step: int) -> None:
        if self.sets:
            self.index = max(0, min(len(self.sets) - 1, self.index + step))
        self.choice = 0
        self.confirming = False

    def handle(self, key: bytes) -> bool:
        """Apply one key; False when the review ends."""
        action = KEYS.get(key)
        if key.isdigit() and key != b"0":
            action = "pick"
        self.message = ""
        if action == "quit":
            return False
        if not self.sets:
            return action != "quit"
        s = self._set
        if self.confirming and action != "yes":
            self.confirming = False
            self.message = "not trashed"
            if action is None:
                return True
        if action in ("next", "skip"):
            if self.index == len(self.sets) - 1:
                self.message = "that was the last set (q to quit)"
            self._move(1)
        elif action == "prev":
            self._move(-1)
        elif action == "down":
            self.choice = min(len(s.members) - 1, self.choice + 1)
        elif action == "up":
            self.choice = max(0, self.choice - 1)
        elif action == "pick":
            n = int(key) - 1
            if n < len(s.members):
                self.choice = n
        elif action == "keep":
            keeper = s.members[self.choice]
            self.sets[self.index] = choose_keeper(s, keeper.id, self.keep)
            self.choice = 0
            self.message = f"keeper: {printable(keeper.path)}"
        elif action == "trash":
            self.confirming = True
            keeper = s.members[self.choice]
            self.message = (f"trash {len(s.members) - 1} copies, keeping {printable(keeper.path)}? "
                            "press y to confirm, any other key to cancel")  # fmt: skip
        elif action == "yes" and self.confirming:
            self._trash_others()
        return True

    def _reorder(self, keeper_id: int) -> None:
        self.sets[self.index] = with_keeper(self._set, keeper_id)
        self.choice = 0

    def _trash_others(self) -> None:
        self.confirming = False
        s = self._set
        done = trash_others(s, s.members[self.choice].id, self.trash, self.keep)
        self.choice = 0
        self.sets[self.index] = done.remaining
        self.trashed_bytes += sum(m.size for m, _ in done.trashed)
        trashed = {m.id for m, _ in done.trashed}
        reasons = {m.id: why for m, why in done.refused}
        notes = [f"trashed {printable(m.path)}" if m.id in trashed else f"kept {printable(m.path)}: {reasons[m.id]}"
                 for m in with_keeper(s, done.remaining.keeper.id).members[1:]]  # fmt: skip
        self.message = "; ".join(notes)

    def render(self, width: int = 100) -> str:
        if not self.sets:
            return "no duplicate sets\n\n" + HELP + "\n"
        s = self._set
        lines = [
            f"set {self.index + 1}/{len(self.sets)}  {s.kind} {'copies' if s.kind == 'exact' else 'duplicates'}, "
            f"{len(s.members)} files, {human_bytes(s.reclaimable)} reclaimable"
            + (
                "  (keeper chosen by you)"
                if s.keeper_chosen
                else "  (* suggested keeper)"
            ),
            "",
        ]
        for i, m in enumerate(s.members):
            cursor = ">" if i == self.choice else " "
            star = "*" if i == 0 else " "
            where = m.source_name + ("" if m.online else ", OFFLINE")
            dims = f"{m.width}x{m.height}" if m.width and m.height else "?x?"
            date = (m.taken_at or "").replace("T", " ")[:19] or "no date"
            line = f"{cursor}{star}{i + 1} {printable(m.path)}"
            lines.append(
                f"\x1b[7m{line}\x1b[0m" if i == self.choice and self.color else line
            )
            lines.append(
                f"     [{where}]  {human_bytes(m.size)}  {dims}  {date}  {m.format or ''}"
            )
        lines += ["", HELP]
        if self.message:
            lines += ["", self.message]
        if self.trashed_bytes:
            lines.append(f"trashed so far: {human_bytes(self.trashed_bytes)}")
        return "\n".join(lines) + "\n"  # long paths wrap: never cut a path short


def review(
    db: Database, settings: Settings, *, exact: bool = True, near: bool = True
) -> int:
    from gallerfs.indexer.duplicates.sets import find_sets

    sets = find_sets(db, settings, exact=exact, near=near)
    trash, keep = library_actions(db, settings)
    state = Review(sets, trash=trash, keep=keep)
    state.color = True
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    out = sys.stdout
    try:
        tty.setcbreak(fd)
        while True:
            width = shutil.get_terminal_size((100, 30)).columns
            out.write("\x1b[H\x1b[2J" + state.render(width).replace("\n", "\r\n"))
            out.flush()
            key = os.read(fd, 16)
            if (
                key == b"\x1b"
            ):  # an arrow key split across reads (slow SSH links): wait briefly for the rest
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    key += os.read(fd, 16)
            if not key or not state.handle(key):
                break
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        out.write("\r\n")
        out.flush()
    if state.trashed_bytes:
        print(f"moved {human_bytes(state.trashed_bytes)} to the trash")
    return 0
