"""Rendered pieces of pages kept per process, under a key made of everything they show.

A list's row (a worklist task) is rendered again only when something it shows changed:
the key holds every value the piece is made from (and the language and the site's
address), so a change is a new key and shows at once, and two officers share a piece only
when it shows them the same thing (what an officer may see is decided before, by the use
case that chose the rows). What differs per request or session (the CSRF field, the
address to come back to) is left as a slot and put in on each request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from markupsafe import Markup

# Markup that no escaped text can contain (a "<" in a title is written "&lt;").
CSRF_SLOT = Markup("<aduan-csrf-slot>")
NEXT_SLOT = Markup("<aduan-next-slot>")


class Kept:
    """A bounded, thread-safe map of rendered strings, the least recently used dropped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._found: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self.rendered = 0  # how many were rendered (tests: a change is rendered again)

    def get(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
                return found
        found = render()
        with self._lock:
            self.rendered += 1
            self._found[key] = found
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._found.clear()
