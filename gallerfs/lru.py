"""A small thread-safe least-recently-used cache: the one kept by the mount, the viewer and search.

``get_or_compute`` runs the computation outside the lock (a query or a model call may take a while
and must not hold up other threads); when two threads compute the same key at once, the first
value stored wins and both get it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        """The value for key (now the most recently used), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def peek(self, key: K) -> V | None:
        """The value for key without counting it as a use."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> V:
        """Store value unless another thread stored one first; returns the value kept."""
        with self._lock:
            kept = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return kept

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return self.put(key, compute())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
