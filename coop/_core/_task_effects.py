"""Effects aimed at another task: ``join`` (wait for its outcome) and ``cancel`` (end it).

Kept apart from :mod:`coop.effects`, which is compiled with the kernel: a compiled function
checks a ``Task`` parameter on entry with mypyc's own message, and these two are where users
most often pass the wrong thing; here the message says what to pass and where it comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import Cancelled, CoopUsageError
from ._effects import Effect
from ._task import _DONE, _PENDING, Task

if TYPE_CHECKING:
    from ._run import Scheduler

T = TypeVar("T")


class Join(Effect[T]):
    __slots__ = ("task",)

    def __init__(self, task: Task[T]) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"coop.join expects a Task (from coop.spawn), got {task!r}")
        self.task = task

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        target = self.task
        if target._scheduler is not scheduler:
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
        return scheduler.joiners_of(target).park(task, False)

    def __repr__(self) -> str:
        return f"coop.join({self.task.name})"


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

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        target = self.task
        if target._scheduler is not scheduler:
            raise CoopUsageError(f"cannot cancel {target!r}: it belongs to another scheduler")
        if target is task:
            raise Cancelled("the task cancelled itself")
        if not scheduler.cancel(target) or not self.wait:
            return None
        # Its outcome is deliberately not raised here: the canceller asked for the end.
        target._observed = True
        return scheduler.joiners_of(target).park(task, True)

    def __repr__(self) -> str:
        return f"coop.cancel({self.task.name}{'' if self.wait else ', wait=False'})"


def cancel(task: Task[Any], *, wait: bool = True) -> Cancel:
    """Throw :class:`coop.Cancelled` into ``task`` at its ``yield``; its ``finally`` blocks run.

    By default the canceller resumes once the task has ended, so its cleanup is done; with
    ``wait=False`` it resumes at once. Cancelling a finished task does nothing. If the cleanup
    raises (an exception other than Cancelled), ``yield coop.cancel(task)`` raises it; with
    ``wait=False`` it is logged as a failure nobody joined.

    A task may clean up with yields inside its ``except Cancelled:`` or ``finally:`` block. One
    that catches the cancellation and goes on is cancelled again at its next yield; after the
    third time it is closed and an error naming it and its line is logged, so that a cancel
    (and ``run()``) always ends.

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
