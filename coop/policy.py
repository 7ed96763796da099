"""Scheduling policies: which ready task runs next.

The default (no policy) is FIFO round-robin, served by the kernel's fast loop. A policy
replaces that choice, so a test can run one program under many interleavings.
"""

from __future__ import annotations

import random
from typing import Protocol


class Policy(Protocol):
    """Picks the index (0 = front, oldest) of the ready task to run next.

    This is the scheduler's choice point: with a policy, every decision about what runs next
    is a call to ``pick``. A policy may also define ``pick_handin(count) -> int``: then the
    calls other threads handed in (offloaded results, an actor's ``send`` from a thread) are
    applied one at a time in the order it picks from the batch present when a poll begins,
    rather than in the order the threads happened to hand them in. A policy that records its
    answers and gives them back replays a run (see :mod:`coop.lowlevel`).

    A policy that needs to know *which* tasks it chooses among (per-task priorities, as
    :func:`coop.testing.explore`'s strategies keep) defines ``pick_task(ready) -> int``
    instead: ``ready`` is the ready queue itself, oldest first, to read and not to change;
    ``pick`` is then not called. With ``picks_alone = False`` it is not asked either when only
    one task is ready (there is nothing to choose, and asking is a call into Python per step);
    ``Scheduler.steps`` still counts every step.

    A policy with ``ordered_handins = True`` makes runs with offloaded calls repeatable: at
    each poll the scheduler first waits until every call in flight (``to_thread``,
    ``to_process``, ``pmap``, cluster calls) has handed its result back, and makes the tasks
    they woke ready in task order. A result then lands in the same round of every run, however
    long the call took. Sends from threads of the program's own are applied when they come.
    A policy with ``closed_world = True`` says that no thread alive before the run began can
    hand anything to it, so that such threads do not hold off a :class:`coop.Deadlock`.
    """

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
        #: With a seed, the results of offloaded calls are ordered (the kernel waits for every
        #: call in flight at each poll), so the seed replays runs that offload, byte for byte.
        self.ordered_handins = seed is not None

    def pick(self, ready_count: int) -> int:
        """A uniformly random index among the ``ready_count`` ready tasks."""
        return self._random.randrange(ready_count)

    def __repr__(self) -> str:
        return f"RandomPolicy(seed={self.seed!r})"
