"""Semaphore and BoundedSemaphore: units handed out FIFO; any task may give one back, so a
wait for a unit is no wait-for edge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..lowlevel import Effect, Scheduler, Task, WaitQueue
from ._common import (
    Acquired,
    AcquireEffect,
    PrimitiveState,
    check_count,
    check_timeout,
    get_ident,
    holder_names,
    name_label,
    not_a_context_manager,
    park,
)


@dataclass(frozen=True)
class SemaphoreStatistics:
    """What :meth:`Semaphore.statistics` reports."""

    name: str
    #: Units left to hand out.
    value: int
    #: The tasks holding units, oldest first (a task holding two appears once).
    holders: tuple[Task[Any], ...]
    #: How many tasks wait for a unit.
    waiting: int


class SemaphoreState(PrimitiveState):
    """A semaphore's units, who holds them, and its waiters."""

    __slots__ = ("acquire", "bounded", "guard", "holders", "initial", "value", "waiters")

    def __init__(self, kind: str, family: str, label: str | int, value: int,
                 bounded: bool, release: Callable[[], None]) -> None:
        super().__init__(kind, family, label)
        self.value = value
        self.initial = value
        self.bounded = bounded
        # How many units each task holds; a release by a task holding none is counted
        # against the oldest holder.
        self.holders: dict[Task[Any], int] = {}
        # No holders for the wait-for graph: a semaphore has no owner (any task, or a thread
        # through call_soon_threadsafe, may release it), so an acquirer is no sure edge.
        self.waiters = WaitQueue(self.describe_wait)
        self.guard = Acquired(release)
        self.acquire = SemaphoreAcquire(self, None)

    def drop(self, task: Task[Any]) -> None:
        """``task`` holds one unit fewer."""
        count = self.holders.pop(task, 0)
        if count > 1:
            self.holders[task] = count - 1

    def give_back(self) -> None:
        """A unit is free: to the first waiter if any, else to the count."""
        popped = self.waiters.pop()
        if popped is None:
            self.value += 1
            return
        task = popped[0]
        self.holders[task] = self.holders.get(task, 0) + 1
        task.scheduler.wake(task, self.guard, lambda _guard: self.revoked(task))

    def revoked(self, task: Task[Any]) -> None:
        # Woken with a unit, cancelled before it ran: the unit goes on to the next waiter.
        self.drop(task)
        self.give_back()

    def describe_wait(self) -> str:
        held = list(self.holders)
        # "acquired by", not "held by": any task may release a unit, not only these.
        by = f", acquired by {holder_names(held)}" if held else ""
        return f"{self.name} ({self.value} of {self.initial} left{by})"


class SemaphoreAcquire(AcquireEffect):
    __slots__ = ("state", "timeout")

    def __init__(self, state: SemaphoreState, timeout: float | None) -> None:
        self.state = state
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        state = self.state
        if state.scheduler is not scheduler:
            state.bind(scheduler)
        if state.value > 0:
            state.value -= 1
            holders = state.holders
            holders[task] = holders.get(task, 0) + 1
            return state.guard
        return park(state.waiters, scheduler, task, self.timeout, state.describe_wait)

    def _kind(self) -> str:
        return "Semaphore"

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        state = self.state
        if holder in state.holders:
            state.drop(holder)
            state.holders[to] = state.holders.get(to, 0) + 1

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        state = self.state
        if state.bounded and not state.waiters and state.value >= state.initial:
            return  # its unit is back already (any task may release a semaphore)
        state.drop(holder)
        state.give_back()

    def __repr__(self) -> str:
        return f"{self.state.name}.acquire()"


class Semaphore:
    """A counter of ``value`` units: acquiring takes one (waiting, FIFO, while none is left),
    releasing gives one back, straight to the first waiter if there is one.

    Use it like a :class:`Lock` (``with (yield sem.acquire()):``, ``async with sem:``). Unlike
    a lock, any task may release a unit, even one it did not acquire; such a release is
    counted against the oldest holder in :meth:`statistics`.

    >>> pool = coop.Semaphore(2, name="connections")
    >>> active, peak = [0], [0]
    >>> def client():
    ...     with (yield pool.acquire()):
    ...         active[0] += 1
    ...         peak[0] = max(peak[0], active[0])
    ...         yield coop.sleep(1)
    ...         active[0] -= 1
    >>> def main():
    ...     for _ in range(5):
    ...         yield coop.spawn(client())
    >>> coop.run(main(), clock=coop.VirtualClock())
    >>> peak[0]
    2
    """

    __slots__ = ("__weakref__", "_state")

    _bounded = False

    def __init__(self, value: int = 1, *, name: str | None = None) -> None:
        kind = type(self).__name__
        value = check_count(value, f"{kind}(value)", 0)
        self._state = SemaphoreState(kind, kind, name_label(kind, name), value,
                                     self._bounded, self.release)

    @property
    def name(self) -> str:
        """The name used in reports: ``Semaphore#N`` or the ``name=`` given."""
        return self._state.name

    @property
    def value(self) -> int:
        """Units left to hand out now."""
        return self._state.value

    def acquire(self, timeout: float | None = None) -> Effect[Acquired]:
        """Effect: take a unit, waiting (FIFO) while none is left.

        Resumes with a context manager that gives the unit back on exit. With ``timeout``,
        raises :class:`coop.Timeout` if no unit came in time.
        """
        state = self._state
        if timeout is None:
            return state.acquire
        return SemaphoreAcquire(state, check_timeout(timeout, f"{state.name}.acquire"))

    def release(self) -> None:
        """Give a unit back: to the first waiter if any, else to the count.

        A :class:`BoundedSemaphore` raises ValueError when released more often than acquired.
        """
        state = self._state
        thread = state.thread
        if thread and thread != get_ident():
            state.check_thread("release()")
        if state.bounded and not state.waiters and state.value >= state.initial:
            raise ValueError(f"{state.name} released more times than it was acquired "
                             f"(it holds {state.initial} units)")
        holders = state.holders
        if holders:
            # The releaser's own unit if it holds one, else the oldest holder's.
            scheduler = state.scheduler
            releaser = None if scheduler is None else scheduler.current_task()
            if releaser is None or releaser not in holders:
                releaser = next(iter(holders))
            state.drop(releaser)
        state.give_back()

    def locked(self) -> bool:
        """True when no unit is left (an acquire would wait)."""
        return self._state.value == 0

    def statistics(self) -> SemaphoreStatistics:
        """The semaphore's name, units left, holders and number of waiters."""
        state = self._state
        return SemaphoreStatistics(state.name, state.value, tuple(state.holders),
                                   len(state.waiters))

    def __enter__(self) -> None:
        raise not_a_context_manager(type(self).__name__)

    def __exit__(self, *exc_info: object) -> None:
        raise not_a_context_manager(type(self).__name__)

    async def __aenter__(self) -> None:
        await self._state.acquire

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = self._state
        return f"<{state.name} value={state.value}, {len(state.waiters)} waiting>"


class BoundedSemaphore(Semaphore):
    """A :class:`Semaphore` that refuses to be released more often than it was acquired:
    such a release raises ValueError instead of silently raising the count.

    >>> sem = coop.BoundedSemaphore(1)
    >>> def main():
    ...     yield sem.acquire()
    ...     sem.release()
    ...     try:
    ...         sem.release()
    ...     except ValueError as err:
    ...         return "refused"
    >>> coop.run(main())
    'refused'
    """

    __slots__ = ()

    _bounded = True
