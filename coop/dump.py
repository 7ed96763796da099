"""Task dumps: what every pending task is doing, as a tree of who spawned whom.

:func:`coop.dump_tasks` (in a task, or a callback the scheduler runs) and
:meth:`coop.Scheduler.dump` return a :class:`TaskTree`; ``str()`` of it reads like
``python -m asyncio pstree``, with a traceback of each task's suspended stack (innermost
last) under its line:

>>> def worker(lock):
...     with (yield lock.acquire()):
...         yield coop.sleep(10)
>>> def main():
...     lock = coop.Lock(name="the-lock")
...     yield coop.gather(worker(lock), worker(lock))
>>> def look():
...     yield coop.spawn(main(), name="app")
...     yield coop.sleep(1)
...     tree = coop.dump_tasks()
...     return [(t.name, t.waiting_for, t.parent_name) for t in tree.walk()]
>>> for row in coop.run(look(), clock=coop.VirtualClock()):
...     print(row)
('main', None, None)
('app', 'gather of worker-3, worker-4', None)
('worker-3', 'a timer (sleep until t=10)', 'app')
('worker-4', 'the-lock held by worker-3', 'app')

``coop.run(main, dump_signal=signal.SIGUSR1)`` prints the same to stderr whenever the process
gets that signal, and the run goes on; a :class:`coop.Deadlock` report shows each stuck task's
stack too.

A task's parent is the task that spawned it, when known: in debug mode (``coop.run(...,
debug=True)``) every spawn is recorded; otherwise it is worked out when the dump is taken, from
what watches the task: the children of a gather, race or timeout are under the task waiting in
it, the members of a TaskGroup under its owner. A task spawned with plain ``coop.spawn`` is
then shown at the top level (recording every spawn would cost each spawn of every run).
"""

from __future__ import annotations

from .errors import CoopUsageError
from .lowlevel import Frame, TaskDump, TaskTree, running_scheduler

__all__ = ["Frame", "TaskDump", "TaskTree", "dump_tasks"]


def dump_tasks() -> TaskTree:
    """The running scheduler's pending tasks as a :class:`TaskTree`: each task's name, id,
    state, what it waits for, its parent and its suspended stack.

    Call it from a task, or a callback the scheduler runs; elsewhere (outside ``run()``,
    another thread) it raises :class:`coop.CoopUsageError`: use
    :meth:`coop.Scheduler.dump` on a scheduler at hand, in its own thread.

    >>> def sleeper():
    ...     yield coop.sleep(10)
    >>> def main():
    ...     yield coop.spawn(sleeper(), name="sleeper")
    ...     yield
    ...     return [(t.name, t.waiting_for) for t in coop.dump_tasks().walk()]
    >>> coop.run(main(), clock=coop.VirtualClock())
    [('main', None), ('sleeper', 'a timer (sleep until t=10)')]
    """
    scheduler = running_scheduler()
    if scheduler is None:
        raise CoopUsageError(
            "coop.dump_tasks() dumps the scheduler running in this thread, and none is: call "
            "it from a task or a callback coop runs, use scheduler.dump() on a scheduler "
            "between runs, or coop.run(main, dump_signal=signal.SIGUSR1) to get a dump "
            "from outside the process")
    tree: TaskTree = scheduler.dump()
    return tree
