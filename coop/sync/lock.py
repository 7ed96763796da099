"""Lock: one holder at a time, waiters served FIFO; a wait for it is a wait-for edge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from ..errors import CoopUsageError
from ..lowlevel import Effect, Scheduler, Task
from ._common import (
    Acquired,
    AcquireEffect,
    PrimitiveState,
    check_timeout,
    holder_names,
    name_label,
    not_a_context_manager,
    park,
)


@dataclass(frozen=True)
class LockStatistics:
    """What :meth:`Lock.statistics` reports."""

    #: The lock's name (``Lock#2`` or the ``name=`` given).
    name: str
    #: Whether some task holds it.
    locked: bool
    #: The task holding it, or None.
    holder: Task[Any] | None
    #: How many tasks wait to acquire it.
    waiting: int


class Reacquirer(Protocol):
    """A task waiting for the lock with a way of its own to take it: a condition's waiter
    re-acquiring the lock after its wait (the tag it is parked with; a plain acquire has
    None)."""

    def granted(self) -> bool:
        """The lock has just been handed over: wake the task and return True, or return
        False to let it go to the next waiter."""

    def interrupted(self, exc: BaseException) -> None:
        """The task was cancelled or timed out while waiting: it must still leave with the
        lock, so the interruption is noted and delivered once the lock is its own."""


class LockState(PrimitiveState):
    """A Lock's state, and the Parkable its waiters are parked on.

    Its ``holders()`` name the owner, so a task waiting here is a wait-for edge to it.
    """

    __slots__ = ("acquire", "guard", "owner", "revoker", "waiting")

    def __init__(self, kind: str, label: str | int, release: Callable[[], None]) -> None:
        # PrimitiveState's fields, set here: see its __init__.
        self.kind = kind
        self.family = "Lock"
        self.label = label
        self.scheduler: Scheduler | None = None
        self.thread = 0
        self.owner: Task[Any] | None = None
        # The waiters in order, each with its Reacquirer or None: a dict, so that the hot
        # paths test and take with dict operations, and a cancelled waiter leaves in O(1).
        self.waiting: dict[Task[Any], Reacquirer | None] = {}
        self.guard = LockHeld(self, release)
        self.acquire = LockAcquire(self, None)
        # Bound once: the hand-off passes it on every contended release.
        self.revoker = self.revoked

    def park(self, task: Task[Any], tag: Reacquirer | None = None) -> Any:
        """Park ``task`` at the back of the line; returns SUSPENDED."""
        self.waiting[task] = tag
        return task.scheduler.park(task, self, True)  # owned: the holder is a wait-for edge

    def hand_off(self) -> None:
        """The holder is done with the lock: give it to the first waiter that takes it."""
        waiting = self.waiting
        while waiting:
            task = next(iter(waiting))
            waiter = waiting.pop(task)
            self.owner = task
            if waiter is None:
                task.scheduler.wake(task, self.guard, self.revoker)
                return
            if waiter.granted():
                return
            # A wait_for whose predicate is still false went back to its condition.
        self.owner = None

    def revoked(self, guard: Any) -> None:
        # The task woken with the lock was cancelled before it ran: it never had the lock.
        self.hand_off()

    def release_error(self) -> CoopUsageError:
        owner = self.owner
        if owner is None:
            return CoopUsageError(f"release of {self.name}, which is not locked")
        return CoopUsageError(
            f"{self.name} is held by {owner.name!r}; only the task holding a lock may "
            f"release it (release() was called from another task or from outside the "
            f"scheduler)"
        )

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        self.waiting.pop(task, None)

    def interrupt(self, task: Task[Any], exc: BaseException) -> bool:
        waiter = self.waiting.get(task)
        if waiter is None:
            return False  # a plain acquire just gives up waiting
        waiter.interrupted(exc)
        return True

    def describe(self) -> str:
        owner = self.owner
        if owner is None:
            return self.name
        return f"{self.name} held by {holder_names([owner])}"

    def holders(self) -> list[Task[Any]]:
        owner = self.owner
        return [] if owner is None else [owner]

    def __repr__(self) -> str:
        return f"<state of {self.describe()}, {len(self.waiting)} waiting>"


class LockHeld(Acquired):
    """What an acquire of a Lock resumes with; its exit is Lock.release() spelled out, since
    it is the hot path of every critical section."""

    __slots__ = ("state",)

    def __init__(self, state: LockState, release: Callable[[], None]) -> None:
        super().__init__(release)
        self.state = state

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        state = self.state
        owner = state.owner
        scheduler = state.scheduler
        if owner is None or scheduler is None or scheduler.current_task() is not owner:
            raise state.release_error()
        waiting = state.waiting
        if not waiting:
            state.owner = None
            return
        task = next(iter(waiting))
        if waiting[task] is not None:
            state.hand_off()  # a condition's waiter: it has its own way of taking the lock
            return
        del waiting[task]
        state.owner = task
        task.scheduler.wake(task, self, state.revoker)


class LockAcquire(AcquireEffect):
    __slots__ = ("state", "timeout")

    def __init__(self, state: LockState, timeout: float | None) -> None:
        self.state = state
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        state = self.state
        if state.scheduler is not scheduler:
            state.bind(scheduler)
        owner = state.owner
        if owner is None:
            state.owner = task
            return state.guard
        if owner is task:
            raise CoopUsageError(
                f"task {task.name!r} already holds {state.name} and tried to acquire it "
                f"again; coop.Lock is not reentrant (that wait could never end)"
            )
        if self.timeout is None:
            # LockState.park spelled out: this runs on every contended acquire.
            state.waiting[task] = None
            return scheduler.park(task, state, True)  # owned: the holder is a wait-for edge
        return park(state, scheduler, task, self.timeout, state.describe)

    def _kind(self) -> str:
        return "Lock"

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        state = self.state
        if state.owner is holder:
            state.owner = to

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        state = self.state
        if state.owner is holder:
            state.hand_off()

    def __repr__(self) -> str:
        return f"{self.state.name}.acquire()"


class Lock:
    """A mutual-exclusion lock for tasks: one holder at a time, waiters served FIFO.

    Acquire in a generator with ``with (yield lock.acquire()):``, which releases on every
    way out of the block; or with ``yield lock.acquire()`` and a matching
    :meth:`release` (in a ``finally``); in an ``async def`` task with ``async with lock:``.
    A release hands the lock straight to the first waiter. Only the holder may release it,
    and the lock is not reentrant: both mistakes raise :class:`coop.CoopUsageError`.

    >>> lock = coop.Lock(name="counter-lock")
    >>> counter = [0]
    >>> def add(n):
    ...     for _ in range(n):
    ...         with (yield lock.acquire()):
    ...             value = counter[0]
    ...             yield                       # another task runs, but cannot get in
    ...             counter[0] = value + 1
    >>> def main():
    ...     tasks = []
    ...     for _ in range(3):
    ...         tasks.append((yield coop.spawn(add(100))))
    ...     for task in tasks:
    ...         yield coop.join(task)
    ...     return counter[0]
    >>> coop.run(main())
    300
    """

    __slots__ = ("__weakref__", "_state")

    def __init__(self, *, name: str | None = None) -> None:
        self._state = LockState(type(self).__name__, name_label("Lock", name), self.release)

    @property
    def name(self) -> str:
        """The name used in reports: ``Lock#N`` (numbered per class) or the ``name=`` given."""
        return self._state.name

    def acquire(self, timeout: float | None = None) -> Effect[Acquired]:
        """Effect: wait until the lock is free and take it.

        Resumes with an :class:`~coop.sync.Acquired` context manager that releases the lock
        on exit, hence ``with (yield lock.acquire()):``. With ``timeout`` (seconds), raises
        :class:`coop.Timeout` if the lock is not had by then.
        """
        state = self._state
        if timeout is None:
            return state.acquire
        return LockAcquire(state, check_timeout(timeout, f"{state.name}.acquire"))

    def release(self) -> None:
        """Release the lock; the first waiter (if any) gets it at once.

        Raises :class:`coop.CoopUsageError` if the lock is not held, or if the caller is not
        the task holding it.
        """
        state = self._state
        owner = state.owner
        scheduler = state.scheduler
        if owner is None or scheduler is None or scheduler.current_task() is not owner:
            raise state.release_error()
        if state.waiting:
            state.hand_off()
        else:
            state.owner = None

    def locked(self) -> bool:
        """True while some task holds the lock."""
        return self._state.owner is not None

    def statistics(self) -> LockStatistics:
        """The lock's name, holder and number of waiters, for debugging."""
        state = self._state
        return LockStatistics(state.name, state.owner is not None, state.owner,
                              len(state.waiting))

    def __enter__(self) -> None:
        raise not_a_context_manager("Lock")

    def __exit__(self, *exc_info: object) -> None:
        raise not_a_context_manager("Lock")

    async def __aenter__(self) -> None:
        await self._state.acquire

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = self._state
        held = f"held by {state.owner.name}" if state.owner is not None else "unlocked"
        return f"<{state.name} {held}, {len(state.waiting)} waiting>"


def lock_state(lock: Lock) -> LockState:
    """The state of ``lock``, for a Condition: it parks its notified waiters in the lock's
    line and hands the lock on when it waits. A Lock shows its state to nobody; the effect
    its ``acquire()`` returns carries it."""
    return cast(LockAcquire, lock.acquire()).state
