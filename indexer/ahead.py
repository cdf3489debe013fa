"""Running an iterator on a thread of its own, a few items ahead of the code that consumes it.

Phase 1 uses it to overlap the walk's system calls with the database's writes: the thread only
reads the disk, and every write stays on the caller's thread, in its own short transactions, so the
write lock is never held while the disk is waited on.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")

_END = object()
_POLL_S = 0.1  # how often a producer whose queue is full checks that its consumer still wants items


def run_ahead(items: Iterator[T], depth: int = 4, name: str = "gallerfs-ahead") -> Iterator[T]:
    """The items of `items`, produced by a daemon thread at most `depth` items ahead of the caller.

    An exception raised by `items` is raised here, in the caller's thread, where the item would have
    come. When the caller stops early (an exception, a break, closing this generator) the thread stops
    at its next item; one stuck in a system call (a hung disk) is left behind rather than waited for.
    """
    out: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def hand_over(item: object, exc: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                out.put((item, exc), timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
        except BaseException as exc:  # handed to the caller, which raises it
            hand_over(None, exc)
            return
        hand_over(_END)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = out.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
