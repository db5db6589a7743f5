"""A bounded map for what a process keeps between requests: the least recently used out.

The engine and the host keep many small memories of this kind (warm workflows, decisions'
answers, the read cache's entries, the count keepers' tallies, the board's fixed parts, the
display copies of photos). Each is one `Recent`: its size is fixed when made, every method
takes the map's own lock, so threads of one process may share it, and a value is handed out as
it was put (callers keep only values they never change).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most `size` entries; putting or touching one makes it the most recently used, and
    past `size` the least recently used go first. Reading with `get` touches nothing: a caller
    that must first check what it found calls `touch` when the entry is still good."""

    __slots__ = ("_entries", "_lock", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a Recent map keeps at least one entry, not {size}")
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The value under `key`, or None; its place in the order is unchanged."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep `value` under `key` as the most recently used; drop the least used past
        `size`."""
        with self._lock:
            self._put(key, value)

    def touch(self, key: K) -> None:
        """Make the entry under `key`, if there still is one, the most recently used."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)

    def kept(self, key: K, make: Callable[[], V]) -> V:
        """The value under `key` (now the most recently used), or `make()`'s, kept there. `make`
        runs under the lock: it must be quick and must not use this map."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                found = make()
                self._put(key, found)
            else:
                self._entries.move_to_end(key)
            return found

    def pop(self, key: K) -> V | None:
        """Take the entry under `key` out, and return its value (None if there was none)."""
        with self._lock:
            return self._entries.pop(key, None)

    def discard(self, key: K, value: V) -> None:
        """Take the entry under `key` out only if it still holds this very `value` (another
        thread may have put a newer one since it was read)."""
        with self._lock:
            if self._entries.get(key) is value:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _put(self, key: K, value: V) -> None:
        entries = self._entries
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self.size:
            entries.popitem(last=False)
