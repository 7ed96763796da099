"""Barrier: holds tasks until a group of ``parties`` has arrived, then releases them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..lowlevel import Effect, Scheduler, Task, WaitQueue, reschedule
from ._common import PrimitiveState, check_count, check_timeout, name_label, park


@dataclass(frozen=True)
class BarrierStatistics:
    """What :meth:`Barrier.statistics` reports."""

    name: str
    parties: int
    #: Tasks waiting at the barrier now.
    waiting: int
    #: How many times the barrier has released (the current generation's number).
    generation: int


class BarrierState(PrimitiveState):
    """A barrier's group size, the tasks arrived so far, and its generation."""

    __slots__ = ("generation", "parties", "waiters")

    def __init__(self, kind: str, family: str, label: str | int, parties: int) -> None:
        super().__init__(kind, family, label)
        self.parties = parties
        self.generation = 0
        self.waiters = WaitQueue(self.describe_wait)

    def describe_wait(self) -> str:
        return f"{self.name} ({len(self.waiters)} of {self.parties} arrived)"


class BarrierWait(Effect[int]):
    __slots__ = ("state", "timeout")

    def __init__(self, state: BarrierState, timeout: float | None) -> None:
        self.state = state
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        state = self.state
        if state.scheduler is not scheduler:
            state.bind(scheduler)
        waiters = state.waiters
        if len(waiters) + 1 < state.parties:
            return park(waiters, scheduler, task, self.timeout, state.describe_wait)
        index = 0
        while (popped := waiters.pop()) is not None:
            reschedule(popped[0], index)
            index += 1
        state.generation += 1
        return index

    def __repr__(self) -> str:
        return f"{self.state.name}.wait()"


class Barrier:
    """Holds tasks until ``parties`` of them wait, then releases the whole group at once.

    ``index = yield barrier.wait()`` resumes each task of a group with its arrival position,
    0 to ``parties - 1`` (the last to arrive, which releases the others, gets
    ``parties - 1`` and goes on without a pause). The barrier then serves the next group.
    A waiter that is cancelled or times out leaves, and does not count toward the group.

    >>> barrier = coop.Barrier(3)
    >>> def runner(name, delay):
    ...     yield coop.sleep(delay)
    ...     yield barrier.wait()
    ...     print(name, "starts at", (yield coop.now()))
    >>> def main():
    ...     for name, delay in [("a", 1), ("b", 3), ("c", 2)]:
    ...         yield coop.spawn(runner(name, delay))
    >>> coop.run(main(), clock=coop.VirtualClock())
    b starts at 3.0
    a starts at 3.0
    c starts at 3.0
    """

    __slots__ = ("__weakref__", "_state")

    def __init__(self, parties: int, *, name: str | None = None) -> None:
        parties = check_count(parties, "Barrier(parties)", 1)
        self._state = BarrierState(type(self).__name__, "Barrier",
                                   name_label("Barrier", name), parties)

    @property
    def name(self) -> str:
        """The name used in reports: ``Barrier#N`` or the ``name=`` given."""
        return self._state.name

    @property
    def parties(self) -> int:
        """How many tasks make up a group."""
        return self._state.parties

    @property
    def n_waiting(self) -> int:
        """How many tasks wait at the barrier now."""
        return len(self._state.waiters)

    def wait(self, timeout: float | None = None) -> Effect[int]:
        """Effect: wait until ``parties`` tasks wait; resumes with this task's arrival index.

        With ``timeout``, raises :class:`coop.Timeout` (and leaves the group) if the group is
        not complete in time.
        """
        state = self._state
        return BarrierWait(state, check_timeout(timeout, f"{state.name}.wait"))

    def statistics(self) -> BarrierStatistics:
        """The barrier's name, group size, number of waiters and generation."""
        state = self._state
        return BarrierStatistics(state.name, state.parties, len(state.waiters),
                                 state.generation)

    def __repr__(self) -> str:
        state = self._state
        return (f"<{state.name} {len(state.waiters)}/{state.parties} waiting, "
                f"generation {state.generation}>")
