"""engine/recent.Recent: the bounded map behind the process's kept values."""

from __future__ import annotations

import threading

import pytest

from engine.recent import Recent


def test_least_recently_used_goes_first_and_get_does_not_touch():
    kept: Recent[str, int] = Recent(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # read only: "a" is still the oldest
    kept.put("c", 3)
    assert "a" not in kept and kept.get("b") == 2 and kept.get("c") == 3
    kept.touch("b")  # now "c" is the oldest
    kept.put("d", 4)
    assert "c" not in kept and len(kept) == 2
    kept.put("b", 5)  # putting again replaces and renews
    kept.put("e", 6)
    assert kept.get("b") == 5 and "d" not in kept


def test_kept_makes_once_and_renews():
    kept: Recent[str, list[int]] = Recent(2)
    made = []

    def make():
        made.append(1)
        return [len(made)]

    first = kept.kept("x", make)
    assert kept.kept("x", make) is first and len(made) == 1
    kept.put("y", [0])
    kept.kept("x", make)  # renewed: "y" is the oldest now
    kept.put("z", [0])
    assert "x" in kept and "y" not in kept


def test_discard_only_takes_out_the_value_that_was_read():
    kept: Recent[str, object] = Recent(4)
    old, new = object(), object()
    kept.put("k", old)
    kept.put("k", new)  # another thread's newer value
    kept.discard("k", old)
    assert kept.get("k") is new
    kept.discard("k", new)
    assert "k" not in kept
    assert kept.pop("k") is None
    kept.put("k", old)
    assert kept.pop("k") is old and len(kept) == 0


def test_size_must_be_positive():
    with pytest.raises(ValueError, match="at least one entry"):
        Recent(0)


def test_threads_never_see_more_than_its_size():
    kept: Recent[int, int] = Recent(50)
    seen = []

    def work(start):
        for i in range(start, start + 2000):
            kept.put(i % 120, i)
            kept.kept((i * 7) % 130, lambda: 0)
            seen.append(len(kept))

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(seen) <= 50 and len(kept) == 50
