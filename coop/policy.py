"""Scheduling policies: which ready task runs next.

The default (no policy) is FIFO round-robin, served by the kernel's fast loop. A policy
replaces that choice, so a test can run one program under many interleavings.
"""

from __future__ import annotations

import random
from typing import Protocol


class Policy(Protocol):
    """Picks the index (0 = front, oldest) of the ready task to run next."""

    def pick(self, ready_count: int) -> int: ...


class FifoPolicy:
    """Round-robin in arrival order: what coop does with no policy, spelled out (through the
    slower policy loop, so only useful to compare against other policies).

    >>> order = []
    >>> def worker(name):
    ...     order.append(name)
    ...     yield
    >>> def main():
    ...     for name in "abc":
    ...         yield coop.spawn(worker(name))
    >>> coop.run(main(), policy=coop.FifoPolicy())
    >>> order
    ['a', 'b', 'c']
    """

    def pick(self, ready_count: int) -> int:
        """Always the oldest ready task."""
        return 0


class RandomPolicy:
    """Runs a ready task picked by a PRNG seeded with ``seed``: the same seed replays the same
    interleaving exactly, another seed explores another one.

    >>> order = []
    >>> def worker(name):
    ...     for _ in range(2):
    ...         order.append(name)
    ...         yield
    >>> def main():
    ...     for name in "ab":
    ...         yield coop.spawn(worker(name))
    >>> coop.run(main(), policy=coop.RandomPolicy(seed=7))
    >>> first = list(order); order.clear()
    >>> coop.run(main(), policy=coop.RandomPolicy(seed=7))
    >>> order == first
    True
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._random = random.Random(seed)

    def pick(self, ready_count: int) -> int:
        """A uniformly random index among the ``ready_count`` ready tasks."""
        return self._random.randrange(ready_count)

    def __repr__(self) -> str:
        return f"RandomPolicy(seed={self.seed!r})"
