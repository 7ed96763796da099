"""Waiting: the Parkable protocol the kernel sees a wait through, and WaitQueue, the ready-made
FIFO one that every primitive is built on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from ._task import Task, Throw


class _Suspended:
    """Returned by an effect that has parked (or re-queued) its task: do not resume it now."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SUSPENDED"


# Final: compiled, a Final module global is a C static; any other is a dict lookup per read.
SUSPENDED: Final[Any] = _Suspended()


# Stands for a None wake value that comes with a revoke callback (see Scheduler.wake).
_HANDED_NONE: Final[Any] = object()


class _Forever:
    """What ``sleep(inf)`` parks on: no timer; only a cancellation (or a deadlock) ends it."""

    __slots__ = ()

    def unpark(self, task: Task[Any]) -> None:
        pass

    def describe(self) -> str:
        return "a sleep that never ends (sleep(inf))"

    def holders(self) -> list[Task[Any]]:
        return []


_FOREVER: Final[Any] = _Forever()


class Parkable(Protocol):
    """What a waiting task can be parked on, as the kernel sees it."""

    def unpark(self, task: Task[Any]) -> None:
        """Forget the task: it is being cancelled or timed out."""

    def describe(self) -> str:
        """What the task waits for, in words, for deadlock reports and task dumps."""

    def holders(self) -> list[Task[Any]]:
        """The tasks that must act before this wait can end (for wait-for cycle detection)."""


class WaitQueue:
    """Tasks parked until someone wakes them, in FIFO order.

    The one waiting mechanism every primitive is built on: ``park`` a task (with an optional
    tag, such as the item a producer wants to put), then ``wake_one`` / ``wake_all`` with a value
    or ``throw_one`` / ``throw_all`` with an exception. A parked task that is cancelled or timed
    out is removed cleanly by the kernel through ``unpark``.

    A new kind of wait is an :class:`coop.Effect` that parks the task on a WaitQueue:

    >>> class Gate:
    ...     def __init__(self):
    ...         self.queue = coop.WaitQueue("the gate")
    ...     def wait(self):
    ...         gate = self
    ...         class Wait(coop.Effect):
    ...             def _coop_apply(self, scheduler, task):
    ...                 return gate.queue.park(task)
    ...         return Wait()
    ...     def open(self, value):
    ...         self.queue.wake_all(value)
    >>> gate = Gate()
    >>> def waiter():
    ...     return (yield gate.wait())
    >>> def main():
    ...     task = yield coop.spawn(waiter())
    ...     yield                            # let it park
    ...     gate.open("opened")
    ...     return (yield coop.join(task))
    >>> coop.run(main())
    'opened'
    """

    __slots__ = ("_holders", "_on_interrupt", "_waiters", "_what")

    def __init__(self, what: str | Callable[[], str] = "a wait queue",
                 holders: Callable[[], Iterable[Task[Any]]] | None = None,
                 on_interrupt: Callable[[Task[Any], BaseException], bool] | None = None,
                 ) -> None:
        # A dict is an ordered set: FIFO order and O(1) removal of a cancelled waiter.
        self._waiters: dict[Task[Any], Any] = {}
        self._what = what
        self._holders = holders
        # A hook rather than subclassing: the compiled kernel's classes cannot be subclassed
        # by interpreted code without slowing every call on them.
        self._on_interrupt = on_interrupt

    def park(self, task: Task[Any], tag: Any = None) -> Any:
        """Park ``task`` at the back of the queue; returns SUSPENDED for an effect to return."""
        task._parked_on = self
        self._waiters[task] = tag
        if self._holders is not None:
            # A wait on something owned is a possible edge of a wait-for cycle; the idle
            # deadlock check looks for cycles from these waits only (_check_deadlock).
            task._scheduler.note_owned_wait(task)
        return SUSPENDED

    def __len__(self) -> int:
        return len(self._waiters)

    def __bool__(self) -> bool:
        return bool(self._waiters)

    def waiters(self) -> list[Task[Any]]:
        """The parked tasks, first to be woken first."""
        return list(self._waiters)

    def items(self) -> list[tuple[Task[Any], Any]]:
        """The parked tasks with their tags, first to be woken first."""
        return list(self._waiters.items())

    def __contains__(self, task: object) -> bool:
        return task in self._waiters

    def tag(self, task: Task[Any], default: Any = None) -> Any:
        """The tag ``task`` was parked with (``default`` if it is not parked here)."""
        return self._waiters.get(task, default)

    def remove(self, task: Task[Any]) -> Any:
        """Take ``task`` out of the queue without waking it; returns its tag (None if it was
        not there). The caller then wakes it, or parks it elsewhere."""
        return self._waiters.pop(task, None)

    def first(self) -> tuple[Task[Any], Any] | None:
        """The first waiter and its tag, without waking it."""
        for task, tag in self._waiters.items():
            return task, tag
        return None

    def pop(self) -> tuple[Task[Any], Any] | None:
        """Remove and return the first waiter and its tag (the caller then wakes it)."""
        for task, tag in self._waiters.items():
            del self._waiters[task]
            return task, tag
        return None

    def wake_one(self, value: Any = None,
                 revoke: Callable[[Any], None] | None = None) -> Task[Any] | None:
        """Wake the first waiter with ``value``. ``revoke(value)`` is called if that task is
        cancelled before it gets to run, so a resource handed over is never lost."""
        popped = self.pop()
        if popped is None:
            return None
        task = popped[0]
        task._scheduler.wake(task, value, revoke)
        return task

    def wake_all(self, value: Any = None) -> int:
        """Wake every waiter with ``value``; returns how many there were."""
        waiters = self._waiters
        self._waiters = {}
        for task in waiters:
            task._scheduler.wake(task, value)
        return len(waiters)

    def throw_one(self, exc: BaseException) -> Task[Any] | None:
        """Wake the first waiter by raising ``exc`` at its ``yield``."""
        popped = self.pop()
        if popped is None:
            return None
        task = popped[0]
        task._scheduler.wake(task, Throw(exc))
        return task

    def throw_all(self, exc: BaseException) -> int:
        """Wake every waiter by raising ``exc`` at its ``yield``."""
        waiters = self._waiters
        self._waiters = {}
        for task in waiters:
            task._scheduler.wake(task, Throw(exc))
        return len(waiters)

    def interrupt(self, task: Task[Any], exc: BaseException) -> bool:
        """Offer the ``on_interrupt`` hook a cancellation or timeout of a parked ``task``.

        True means the hook took it over (it will wake the task itself); False lets the
        kernel unpark the task and raise ``exc`` in it at once.
        """
        hook = self._on_interrupt
        return hook is not None and hook(task, exc)

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        """Remove ``task`` without waking it (the kernel calls this on cancel or timeout)."""
        self._waiters.pop(task, None)

    def describe(self) -> str:
        """What the waiters wait for, in words (used in deadlock reports)."""
        what = self._what
        return what if isinstance(what, str) else what()

    def holders(self) -> list[Task[Any]]:
        """The tasks that must act before the waiters can go on (for cycle detection)."""
        return [] if self._holders is None else list(self._holders())

    def __repr__(self) -> str:
        return f"<WaitQueue {self.describe()} waiters={len(self._waiters)}>"
