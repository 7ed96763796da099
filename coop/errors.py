"""The exceptions coop raises.

They live apart from the kernel so that the kernel module stays compilable and users can
import them without pulling in the scheduler.
"""

from __future__ import annotations

from typing import Any


class Cancelled(BaseException):
    """Thrown into a task at its ``yield`` when another task cancels it.

    It derives from :class:`BaseException`, like :class:`KeyboardInterrupt`, so that a bare
    ``except Exception:`` in user code cannot swallow a cancellation by accident::

        def worker():
            try:
                yield coop.sleep(60)
            finally:
                print("cleaned up")   # runs when the worker is cancelled
    """


class Interrupted(Exception):
    """Raised in a task at its ``yield`` by :func:`coop.interrupt`; ``cause`` is what the
    interrupter passed. Not a cancellation: the task may handle it and go on.

    >>> def machine(log):
    ...     while True:
    ...         try:
    ...             yield coop.sleep(10)
    ...             log.append("part made")
    ...         except coop.Interrupted as err:
    ...             log.append(f"repair after {err.cause}")
    ...             yield coop.sleep(2)
    >>> def main():
    ...     log = []
    ...     task = yield coop.spawn(machine(log), daemon=True)
    ...     yield coop.sleep(5)
    ...     coop.interrupt(task, cause="a breakdown")
    ...     yield coop.sleep(25)                # parts at t=17 and t=27
    ...     return log
    >>> coop.run(main(), clock=coop.VirtualClock())
    ['repair after a breakdown', 'part made', 'part made']
    """

    def __init__(self, cause: Any = None) -> None:
        super().__init__(cause)
        self.cause = cause

    def __str__(self) -> str:
        return f"interrupted: {self.cause!r}" if self.cause is not None else "interrupted"


class Preempted(Interrupted):
    """Raised in the holder of a :class:`coop.PreemptiveResource` that a task with a better
    priority took from it: ``by`` is that task, ``usage_since`` the time the holder got it.
    The unit is gone already: the holder's ``with`` block gives nothing back.

    >>> crane = coop.PreemptiveResource(name="crane")
    >>> def routine():
    ...     try:
    ...         with (yield crane.acquire(priority=5)):
    ...             yield coop.sleep(60)
    ...     except coop.Preempted as err:
    ...         return f"{err} at {coop.current_time():g}"
    >>> def urgent():
    ...     with (yield crane.acquire(priority=1)):
    ...         yield coop.sleep(5)
    >>> def main():
    ...     task = yield coop.spawn(routine())
    ...     yield coop.sleep(2)
    ...     yield coop.spawn(urgent(), name="urgent")
    ...     return (yield coop.join(task))
    >>> coop.run(main(), clock=coop.VirtualClock())
    "preempted by 'urgent' (held since 0) at 2"
    """

    def __init__(self, by: Any, usage_since: float) -> None:
        super().__init__(by)
        self.by = by
        self.usage_since = usage_since

    def __str__(self) -> str:
        name = getattr(self.by, "name", self.by)
        return f"preempted by {name!r} (held since {self.usage_since:g})"


class Timeout(Exception):
    """Raised by :func:`coop.timeout` and by waits given a ``timeout=`` when time runs out.

    >>> def main():
    ...     try:
    ...         yield coop.timeout(1, coop.sleep(10))
    ...     except coop.Timeout as err:
    ...         return f"gave up: {err}"
    >>> coop.run(main(), clock=coop.VirtualClock())
    'gave up: timed out after 1 s'
    """


class Deadlock(RuntimeError):
    """Raised by :func:`coop.run` when tasks wait and nothing can ever wake them.

    ``str(err)`` names each stuck task and what it waits for; ``err.waits`` holds the same as
    ``(task, description)`` pairs for programs that want to inspect it.

    >>> def child(parent):
    ...     yield coop.join(parent)          # waits for main, which waits for it
    >>> def main():
    ...     me = yield coop.current_task()
    ...     yield coop.join((yield coop.spawn(child(me), name="child")))
    >>> try:
    ...     coop.run(main())
    ... except coop.Deadlock as err:
    ...     print(err)
    deadlock: 2 task(s) wait and a wait-for cycle:
      main waits for join(child)
      child waits for join(main)
    where they wait (innermost last):
      main (task 1):
        File "<doctest coop.errors.Deadlock[1]>", line 3, in main
          yield coop.join((yield coop.spawn(child(me), name="child")))
      child (task 2):
        File "<doctest coop.errors.Deadlock[0]>", line 2, in child
          yield coop.join(parent)          # waits for main, which waits for it
    """

    def __init__(self, message: str, waits: list[tuple[Any, str]] | None = None) -> None:
        super().__init__(message)
        self.waits: list[tuple[Any, str]] = list(waits or [])


class WorkerCrashed(RuntimeError):
    """A worker process died (``os._exit``, a segfault, the OOM killer) while running a call.

    The waiting task gets this instead of hanging; the pool is replaced, so later offloads work.

    >>> import os
    >>> def main():
    ...     try:
    ...         yield coop.to_process(os._exit, 1)     # the worker dies mid-call
    ...     except coop.WorkerCrashed:
    ...         return "the task was told; the scheduler went on"
    >>> coop.run(main())
    'the task was told; the scheduler went on'
    """


class DebugWarning(RuntimeWarning):
    """What debug mode (``coop.run(main, debug=True)``) warns with: an effect never yielded, a
    step that blocked the scheduler, a cancellation caught and ignored, a failure nobody
    waits for. It points at the file and line to look at; ``python -W error::coop.DebugWarning``
    makes each one an error.

    >>> import warnings
    >>> def main():
    ...     coop.sleep(5)                    # the yield is missing
    ...     yield
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     coop.run(main(), debug=True)
    >>> caught[0].category is coop.DebugWarning
    True
    """


class CoopUsageError(RuntimeError):
    """coop was used in a way it cannot honour (for example ``coop.run`` inside a running task).

    The message says what was wrong and what to do instead.

    >>> def main():
    ...     coop.run(other())                # a scheduler inside a running task
    ...     yield
    >>> def other():
    ...     yield
    >>> try:
    ...     coop.run(main())
    ... except coop.CoopUsageError as err:
    ...     print(str(err).split(";")[0])
    coop.run() was called from inside a running task
    """
