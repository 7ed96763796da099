"""Effects: the things a task yields to say what it wants next.

``value = yield effect`` in a generator, ``value = await effect`` in an ``async def`` task, and
``value = yield from effect`` where a type checker should see the result type. An effect is a
small request object; the kernel hands it itself and the task (``_coop_apply``), and the effect
either returns the value to resume the task with at once, raises to throw an error into the
task, or parks the task and returns ``SUSPENDED``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from gc import get_referents as _referents
from types import GeneratorType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import Cancelled, CoopUsageError
from .kernel import SUSPENDED, check_runnable
from .task import _DONE, _PENDING, Runnable, Task

if TYPE_CHECKING:
    from .kernel import Scheduler

T = TypeVar("T")


class Effect(Generic[T]):
    """Base class of everything a task may yield. Subclass it to add a new kind of wait.

    >>> class Twice(coop.Effect[int]):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def _coop_apply(self, kernel, task):
    ...         return 2 * self.n          # complete at once with this value
    >>> def main():
    ...     return (yield Twice(21))
    >>> coop.run(main())
    42
    """

    __slots__ = ()

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        raise NotImplementedError

    def __await__(self) -> Generator[Effect[T], Any, T]:
        return (yield self)  # type: ignore[no-any-return]

    __iter__ = __await__


def _check_seconds(seconds: float, what: str) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} takes a number of seconds, got {seconds!r} "
                        f"({type(seconds).__name__})")
    if math.isnan(seconds):
        raise ValueError(f"{what}: seconds is NaN; pass a number >= 0")
    if seconds < 0:
        raise ValueError(f"{what}: seconds must be >= 0, got {seconds}; "
                         f"use 0 (or a bare `yield`) to just give up the turn")
    return float(seconds)


class Sleep(Effect[None]):
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        # Most sleeps are a plain non-negative float: skip the checks' calls (NaN fails >= 0).
        if seconds.__class__ is float and seconds >= 0:
            self.seconds = seconds
        else:
            self.seconds = _check_seconds(seconds, "coop.sleep")

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        if self.seconds == 0:
            kernel._ready.append(task)
            return SUSPENDED
        return kernel.sleep_until(task, kernel.clock.now() + self.seconds)

    def __repr__(self) -> str:
        return f"coop.sleep({self.seconds})"


def sleep(seconds: float) -> Sleep:
    """Suspend the task for ``seconds``; ``sleep(0)`` gives up the turn like a bare ``yield``.

    >>> def main():
    ...     yield coop.sleep(2.5)
    ...     return (yield coop.now())
    >>> coop.run(main(), clock=coop.VirtualClock())
    2.5
    """
    return Sleep(seconds)


class Now(Effect[float]):
    __slots__ = ()

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        return kernel.clock.now()


def now() -> Now:
    """The scheduler clock's time in seconds (virtual time under a VirtualClock).

    >>> def main():
    ...     return (yield coop.now())
    >>> coop.run(main(), clock=coop.VirtualClock(start=10))
    10.0
    """
    return Now()


class Spawn(Effect[Task[T]]):
    __slots__ = ("coro", "daemon", "name")

    def __init__(self, coro: Runnable[T], name: str | None, daemon: bool) -> None:
        # Checked here so that a mistake surfaces at the spawn call, the earliest point; the
        # common case (a fresh generator) is tested inline because spawn is a hot path.
        if (coro.__class__ is not GeneratorType or coro.gi_suspended or coro.gi_running
                or len(_referents(coro)) <= 3):  # 3: a finished generator (see check_runnable)
            check_runnable(coro)
        self.coro = coro
        self.name = name
        self.daemon = daemon

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        return kernel._spawn(self.coro, self.name, self.daemon)


def spawn(coro: Runnable[T], name: str | None = None, *, daemon: bool = False) -> Spawn[T]:
    """Start ``coro`` (a generator or coroutine) as a new task; resumes at once with its Task.

    The child goes to the back of the ready queue. ``coop.run`` waits for every task spawned
    without ``daemon=True``; daemon tasks still running when the program ends are cancelled,
    and a daemon task that fails is not reported.

    >>> def child(n):
    ...     yield
    ...     return n * n
    >>> def main():
    ...     task = yield coop.spawn(child(7), name="square")
    ...     return (yield coop.join(task))
    >>> coop.run(main())
    49
    """
    return Spawn(coro, name, daemon)


class Join(Effect[T]):
    __slots__ = ("task",)

    def __init__(self, task: Task[T]) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"coop.join expects a Task (from coop.spawn), got {task!r}")
        self.task = task

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        target = self.task
        if target._scheduler is not kernel:
            raise CoopUsageError(
                f"cannot join {target!r}: it belongs to another scheduler; a task can only "
                f"join tasks spawned on its own scheduler"
            )
        if target is task:
            raise CoopUsageError(f"task {task.name!r} tried to join itself, which would never end")
        if target._outcome != _PENDING:
            target._observed = True
            if target._outcome == _DONE:
                return target._result
            raise target._result
        return kernel.joiners_of(target).park(task, False)


def join(task: Task[T]) -> Join[T]:
    """Wait for ``task`` to end: returns its result or re-raises its exception, traceback intact.

    >>> def fails():
    ...     yield
    ...     raise KeyError("boom")
    >>> def main():
    ...     task = yield coop.spawn(fails())
    ...     try:
    ...         yield coop.join(task)
    ...     except KeyError as err:
    ...         return f"caught {err}"
    >>> coop.run(main())
    "caught 'boom'"
    """
    return Join(task)


class Cancel(Effect[None]):
    __slots__ = ("task", "wait")

    def __init__(self, task: Task[Any], wait: bool) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"coop.cancel expects a Task (from coop.spawn), got {task!r}")
        self.task = task
        self.wait = wait

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        target = self.task
        if target._scheduler is not kernel:
            raise CoopUsageError(f"cannot cancel {target!r}: it belongs to another scheduler")
        if target is task:
            raise Cancelled("the task cancelled itself")
        if not kernel.cancel(target) or not self.wait:
            return None
        # Its outcome is deliberately not raised here: the canceller asked for the end.
        target._observed = True
        return kernel.joiners_of(target).park(task, True)


def cancel(task: Task[Any], *, wait: bool = True) -> Cancel:
    """Throw :class:`coop.Cancelled` into ``task`` at its ``yield``; its ``finally`` blocks run.

    By default the canceller resumes once the task has ended, so its cleanup is done; with
    ``wait=False`` it resumes at once. Cancelling a finished task does nothing.

    >>> def worker(log):
    ...     try:
    ...         yield coop.sleep(100)
    ...     finally:
    ...         log.append("cleaned up")
    >>> def main():
    ...     log = []
    ...     task = yield coop.spawn(worker(log))
    ...     yield                            # let it start
    ...     yield coop.cancel(task)
    ...     return log, task.cancelled()
    >>> coop.run(main(), clock=coop.VirtualClock())
    (['cleaned up'], True)
    """
    return Cancel(task, wait)


class CurrentTask(Effect[Task[Any]]):
    __slots__ = ()

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        return task


def current_task() -> CurrentTask:
    """The Task running this code.

    >>> def main():
    ...     me = yield coop.current_task()
    ...     return me.name
    >>> coop.run(main())
    'main'
    """
    return CurrentTask()
