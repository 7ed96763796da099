"""``coop.interrupt``: raise :class:`coop.Interrupted` in another task at its ``yield``.

SimPy's ``Process.interrupt``: a machine that breaks down, a customer called away. The task
is told wherever it waits (a sleep, a lock's line, a queue, a join, a gather, an offloaded
call: whatever it waited for is let go, as for a cancellation) and may handle the interruption
and go on. It is not a cancellation: ``run()``'s final cancellation still ends a task that
handles interrupts.

Interruptions are delivered one at a time and in order: a second one sent before the task has
seen the first follows at its next ``yield`` that gives up its turn. A cancellation wins over
interruptions: once a task is being cancelled, interrupting it does nothing.
"""

from __future__ import annotations

import weakref
from collections import deque
from typing import Any

from .errors import CoopUsageError, Interrupted
from .lowlevel import Task, current_scheduler, is_cancelling, throw_in

__all__ = ["interrupt"]

# Per task, interruptions that wait for an earlier one to be seen. Weak: a task that ends
# with some still queued takes them with it.
_queued: weakref.WeakKeyDictionary[Task[Any], deque[Interrupted]] = weakref.WeakKeyDictionary()


def interrupt(task: Task[Any], cause: Any = None) -> bool:
    """Raise :class:`coop.Interrupted` (``err.cause`` is ``cause``) in ``task`` at its ``yield``.

    A plain call, from a task or a callback of the scheduler that runs ``task``. Returns True
    when the interruption is on its way, False when the task has ended or is being cancelled
    (then nothing happens, as SimPy users check ``is_alive`` first). A task cannot interrupt
    itself: it raises instead.

    >>> def customer(log):
    ...     try:
    ...         yield coop.sleep(10)               # waits to be served
    ...     except coop.Interrupted as err:
    ...         log.append(f"left at {coop.current_time():g}: {err.cause}")
    >>> def main():
    ...     log = []
    ...     task = yield coop.spawn(customer(log))
    ...     yield coop.sleep(3)
    ...     coop.interrupt(task, "phone call")
    ...     yield coop.join(task)
    ...     return log
    >>> coop.run(main(), clock=coop.VirtualClock())
    ['left at 3: phone call']
    """
    return interrupt_with(task, Interrupted(cause))


def interrupt_with(task: Task[Any], exc: Interrupted) -> bool:
    """:func:`interrupt` with an exception of one's own (a subclass such as
    :class:`coop.Preempted` that carries more)."""
    if not isinstance(task, Task):
        raise TypeError(f"coop.interrupt expects a Task (from coop.spawn), got {task!r}")
    if not isinstance(exc, Interrupted):
        raise TypeError(f"coop.interrupt raises a coop.Interrupted, got {exc!r}")
    scheduler = current_scheduler()
    if task.scheduler is not scheduler:
        raise CoopUsageError(f"cannot interrupt {task!r}: it belongs to another scheduler; "
                             f"interrupt it from a task of its own scheduler")
    if task.done() or is_cancelling(task):
        return False
    if task is scheduler.current_task():
        raise CoopUsageError(f"task {task.name!r} tried to interrupt itself; raise "
                             f"coop.Interrupted(cause) instead")
    queue = _queued.get(task)
    if queue:  # earlier ones are still waiting their turn: keep the order
        queue.append(exc)
        return True
    if throw_in(task, exc):
        return True
    # An earlier interruption is on its way and not seen yet: this one follows it.
    _queued[task] = deque([exc])
    _deliver_at_next_poll(task)
    return True


def _deliver_queued(task: Task[Any]) -> None:
    """At a poll (after the round in which the task saw the previous one): the next one."""
    queue = _queued.get(task)
    if queue is None:
        return
    if task.done() or is_cancelling(task):
        del _queued[task]
        return
    if throw_in(task, queue[0]):
        queue.popleft()
    if queue:
        _deliver_at_next_poll(task)
    else:
        del _queued[task]


def _deliver_at_next_poll(task: Task[Any]) -> None:
    # A hand-in, not a timer: a poll runs only the hand-ins there when it began (a timer due
    # now would fire again in the same poll, before the task had a turn to see the last one).
    task.scheduler.call_soon_threadsafe(_deliver_queued, task)
