"""PriorityResource and PreemptiveResource: SimPy's resources of ``capacity`` units, handed out
by priority (lower first, FIFO within one); the preemptive one takes a unit from a worse
holder. Only a holder gives its unit back, so a wait here is a wait-for edge to the holders."""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any

from .. import lowlevel
from ..errors import CoopUsageError, Preempted
from ..interrupts import interrupt_with
from ..lowlevel import Effect, Scheduler, Task
from ._common import (
    PrimitiveState,
    check_count,
    check_timeout,
    holder_names,
    missing_yield,
    name_label,
    park,
)


@dataclass(frozen=True)
class ResourceStatistics:
    """What :meth:`PriorityResource.statistics` reports."""

    name: str
    capacity: int
    #: Units in use.
    count: int
    #: The tasks holding units, in the order they got them (a task holding two: twice).
    holders: tuple[Task[Any], ...]
    #: The priorities of the waiting tasks, first to be served first.
    waiting: tuple[float, ...]


def check_priority(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number (an int or a float; lower is served "
                        f"first), got {value!r} ({type(value).__name__})")
    if math.isnan(value):
        raise ValueError(f"{what} must be a number, got NaN")
    return value


class Usage:
    """What ``yield res.acquire(...)`` resumes with: one unit of a :class:`PriorityResource`,
    and a context manager that gives it back on every way out of the ``with`` block.

    ``priority`` is the one asked with, ``usage_since`` the scheduler time the unit was had,
    ``task`` its holder. ``held`` turns False once it is given back or preempted; the
    ``with`` block of a preempted holder then gives nothing back.
    """

    __slots__ = ("_state", "held", "priority", "seq", "task", "usage_since")

    def __init__(self, state: ResourceState, task: Task[Any], priority: float, seq: int,
                 usage_since: float) -> None:
        self._state = state
        self.task = task
        self.priority = priority
        self.seq = seq  # when it was asked for: SimPy's request time, as an order
        self.usage_since = usage_since
        self.held = True

    def release(self) -> None:
        """Give the unit back (nothing if it was preempted or given back already). Only its
        holder may: :class:`coop.CoopUsageError` otherwise."""
        state = self._state
        if not self.held:
            return
        scheduler = state.scheduler
        current = None if scheduler is None else scheduler.current_task()
        if current is not self.task:
            raise CoopUsageError(
                f"a unit of {state.name} held by {self.task.name!r} was released by "
                f"{'code outside any task' if current is None else repr(current.name)}; "
                f"only its holder may give it back")
        state.give_back(self)

    def __enter__(self) -> Usage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        how = "held" if self.held else "given back"
        return (f"<Usage of {self._state.name} by {self.task.name}, priority "
                f"{self.priority:g}, since {self.usage_since:g}, {how}>")


class ResourceState(PrimitiveState):
    """The units in use, and the Parkable the waiters wait on, best first."""

    __slots__ = ("capacity", "counter", "heap", "revoker", "users", "waiting")

    def __init__(self, kind: str, family: str, label: str | int, capacity: int) -> None:
        super().__init__(kind, family, label)
        self.capacity = capacity
        # The units in use, in the order they were had.
        self.users: list[Usage] = []
        # The waiters: each task's (priority, seq); and a heap of them, whose entries for
        # tasks that left (cancelled, timed out) are dropped when they come to the top.
        self.waiting: dict[Task[Any], tuple[float, int]] = {}
        self.heap: list[tuple[float, int, Task[Any]]] = []
        self.counter = itertools.count()
        self.revoker = self.revoked

    def grant(self, task: Task[Any], priority: float, seq: int) -> Usage:
        assert self.scheduler is not None
        usage = Usage(self, task, priority, seq, self.scheduler.now())
        self.users.append(usage)
        return usage

    def best_waiting(self) -> tuple[float, int, Task[Any]] | None:
        heap, waiting = self.heap, self.waiting
        while heap:
            priority, seq, task = heap[0]
            if waiting.get(task) == (priority, seq):
                return heap[0]
            heapq.heappop(heap)
        return None

    def give_back(self, usage: Usage) -> None:
        usage.held = False
        self.users.remove(usage)
        self.hand_on()

    def hand_on(self) -> None:
        """Free units to the best waiters."""
        while len(self.users) < self.capacity and self.best_waiting() is not None:
            priority, seq, task = heapq.heappop(self.heap)
            del self.waiting[task]
            task.scheduler.wake(task, self.grant(task, priority, seq), self.revoker)

    def revoked(self, usage: Usage) -> None:
        # Woken with a unit, cancelled before it ran: it never had it (unless preempted since).
        if usage.held:
            self.give_back(usage)

    def preempt(self, task: Task[Any], priority: float) -> bool:
        """Take a unit from the worst holder for ``task``, if it is worse than ``priority``.

        As SimPy: only a request that would be first in line may preempt (one behind a better
        waiter that does not preempt waits), and the victim is the holder with the highest
        priority number, among equals the one that asked last. The victim is told with
        :class:`coop.Preempted` and loses the unit at once.
        """
        best = self.best_waiting()
        if best is not None and best[0] <= priority:
            return False
        others = [u for u in self.users if u.task is not task]
        if not others:
            return False
        victim = max(others, key=lambda u: (u.priority, u.seq))
        if victim.priority <= priority:
            return False
        victim.held = False
        self.users.remove(victim)
        interrupt_with(victim.task, Preempted(task, victim.usage_since))
        return True

    # Parkable
    def park(self, task: Task[Any], tag: Any = None) -> Any:
        self.waiting[task] = tag
        heapq.heappush(self.heap, (tag[0], tag[1], task))
        return lowlevel.park(task, self, owned=True)  # the holders are wait-for edges

    def unpark(self, task: Task[Any]) -> None:
        self.waiting.pop(task, None)

    def describe(self) -> str:
        users = self.users
        held = f", held by {holder_names([u.task for u in users])}" if users else ""
        return f"{self.name} ({len(users)} of {self.capacity} in use{held})"

    def holders(self) -> list[Task[Any]]:
        return list(dict.fromkeys(u.task for u in self.users))


class ResourceAcquire(Effect[Usage]):
    __slots__ = ("preempt", "priority", "state", "timeout", "usage")

    def __init__(self, state: ResourceState, priority: float, preempt: bool,
                 timeout: float | None) -> None:
        self.state = state
        self.priority = priority
        self.preempt = preempt
        self.timeout = timeout
        self.usage: Usage | None = None

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        state = self.state
        if state.scheduler is not scheduler:
            state.bind(scheduler)
        seq = next(state.counter)
        if len(state.users) < state.capacity:
            return state.grant(task, self.priority, seq)
        if self.preempt and state.preempt(task, self.priority):
            return state.grant(task, self.priority, seq)
        return park(state, scheduler, task, self.timeout, state.describe,
                    (self.priority, seq))

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        if value.held:
            value.task = to

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        if value.held:
            self.state.give_back(value)

    def __enter__(self) -> None:
        raise missing_yield(self.state.kind)

    def __exit__(self, *exc_info: object) -> None:
        raise missing_yield(self.state.kind)

    async def __aenter__(self) -> Usage:
        self.usage = await self
        return self.usage

    async def __aexit__(self, *exc_info: object) -> None:
        if self.usage is not None:
            self.usage.release()

    def __repr__(self) -> str:
        return f"{self.state.name}.acquire(priority={self.priority!r})"


class PriorityResource:
    """``capacity`` units handed out by priority: SimPy's ``PriorityResource``.

    ``with (yield res.acquire(priority=p)):`` waits for a unit; when one comes free it goes
    to the waiter with the lowest ``priority`` number, first come first served among equals.
    The block gives the unit back on every way out (return, exception, cancellation). In an
    ``async def`` task: ``async with res.acquire(priority=p):``, or ``async with res:`` for
    priority 0. The acquire resumes with a :class:`~coop.sync.Usage` (``as use``:
    ``use.usage_since``...). Only the task holding a unit gives it back, so a task waiting
    here waits for the holders: a wait-for cycle through a resource is a
    :class:`coop.Deadlock` that names them.

    >>> doctor = coop.PriorityResource(capacity=1, name="doctor")
    >>> def patient(log, name, priority):
    ...     with (yield doctor.acquire(priority=priority)):
    ...         log.append(f"t={coop.current_time():g} {name}")
    ...         yield coop.sleep(10)
    >>> def main():
    ...     log = []
    ...     for name, priority in [("cold", 3), ("sprain", 2), ("cut", 2), ("fracture", 1)]:
    ...         yield coop.spawn(patient(log, name, priority))
    ...     yield coop.sleep(100)
    ...     return log
    >>> coop.run(main(), clock=coop.VirtualClock())
    ['t=0 cold', 't=10 fracture', 't=20 sprain', 't=30 cut']
    """

    __slots__ = ("__weakref__", "_state")

    def __init__(self, capacity: int = 1, *, name: str | None = None) -> None:
        kind = type(self).__name__
        capacity = check_count(capacity, f"{kind}(capacity)", 1)
        self._state = ResourceState(kind, kind, name_label(kind, name), capacity)

    @property
    def name(self) -> str:
        """The name used in reports: ``PriorityResource#N`` or the ``name=`` given."""
        return self._state.name

    @property
    def capacity(self) -> int:
        """How many units there are."""
        return self._state.capacity

    @property
    def count(self) -> int:
        """How many units are in use now."""
        return len(self._state.users)

    def acquire(self, priority: float = 0, *, timeout: float | None = None
                ) -> ResourceAcquire:
        """Effect: wait for a unit, served by ``priority`` (lower first, FIFO among equals);
        resumes with a :class:`~coop.sync.Usage` that gives it back on exit.

        With ``timeout``, raises :class:`coop.Timeout` if no unit came in time.
        """
        state = self._state
        return ResourceAcquire(state, check_priority(priority, f"{state.name}.acquire(priority)"),
                               False, check_timeout(timeout, f"{state.name}.acquire"))

    def statistics(self) -> ResourceStatistics:
        """The name, capacity, units in use, holders and waiting priorities."""
        state = self._state
        waiting = sorted(state.waiting.values())
        return ResourceStatistics(state.name, state.capacity, len(state.users),
                                  tuple(u.task for u in state.users),
                                  tuple(priority for priority, _ in waiting))

    def __enter__(self) -> None:
        raise missing_yield(type(self).__name__)

    def __exit__(self, *exc_info: object) -> None:
        raise missing_yield(type(self).__name__)

    async def __aenter__(self) -> Usage:
        return await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        # The unit this task had last: nested blocks give theirs back innermost first.
        state = self._state
        scheduler = state.scheduler
        current = None if scheduler is None else scheduler.current_task()
        for usage in reversed(state.users):
            if usage.task is current:
                usage.release()
                return

    def __repr__(self) -> str:
        state = self._state
        return (f"<{state.name} {len(state.users)}/{state.capacity} in use, "
                f"{len(state.waiting)} waiting>")


class PreemptiveResource(PriorityResource):
    """A :class:`PriorityResource` whose better-priority requests take a unit from a worse
    holder: SimPy's ``PreemptiveResource``.

    ``acquire(priority=p, preempt=True)``: if no unit is free, nobody waits ahead of it, and
    the worst holder (highest priority number; among equals, the one that asked last) has a
    worse priority than ``p``, that holder loses its unit at once and gets
    :class:`coop.Preempted` raised at its ``yield`` (``err.by`` is the preempting task,
    ``err.usage_since`` when the holder got the unit); its ``with`` block then gives nothing
    back. ``preempt=False`` waits as in a PriorityResource. A task never preempts itself.

    >>> machine = coop.PreemptiveResource(name="machine")
    >>> def job(log, name, priority, hours):
    ...     while hours > 0:
    ...         with (yield machine.acquire(priority=priority)):
    ...             start = coop.current_time()
    ...             try:
    ...                 yield coop.sleep(hours)
    ...                 hours = 0
    ...             except coop.Preempted as err:
    ...                 hours -= coop.current_time() - start
    ...                 log.append(f"t={coop.current_time():g} {name} preempted by "
    ...                            f"{err.by.name}, {hours:g} h left")
    ...     log.append(f"t={coop.current_time():g} {name} done")
    >>> def main():
    ...     log = []
    ...     yield coop.spawn(job(log, "routine", 2, 5))
    ...     yield coop.sleep(1)
    ...     yield coop.spawn(job(log, "rush", 1, 2), name="rush")
    ...     yield coop.sleep(100)
    ...     return log
    >>> coop.run(main(), clock=coop.VirtualClock())
    ['t=1 routine preempted by rush, 4 h left', 't=3 rush done', 't=7 routine done']
    """

    __slots__ = ()

    def acquire(self, priority: float = 0, *, preempt: bool = True,
                timeout: float | None = None) -> ResourceAcquire:
        """Effect: as :meth:`PriorityResource.acquire`; with ``preempt`` (the default, as in
        SimPy), take the unit of a worse holder if no unit is free."""
        state = self._state
        if not isinstance(preempt, bool):
            raise TypeError(f"{state.name}.acquire(preempt) must be True or False, got "
                            f"{preempt!r}")
        return ResourceAcquire(state, check_priority(priority, f"{state.name}.acquire(priority)"),
                               preempt, check_timeout(timeout, f"{state.name}.acquire"))
