"""coop.lowlevel: the kernel's public contract, for writing new primitives, tools and backends.

Everything a new kind of wait needs is here, and nothing else reaches into the kernel:

* the running context: :func:`current_task`, :func:`current_scheduler`;
* waiting: :func:`park` a task on a :class:`Parkable` (a :class:`WaitQueue` is the ready-made
  one) and return :data:`SUSPENDED` from an effect; wake it with :func:`reschedule` (a value)
  or :func:`reschedule_throw` (an exception); :func:`set_deadline` for a timeout;
* time and other threads: :func:`call_at`, :func:`call_soon_threadsafe`,
  :func:`begin_external` / :func:`end_external` around work in flight elsewhere,
  :func:`begin_outside_wait` / :func:`end_outside_wait` around waits that the outside world
  ends (a signal, a descriptor);
* tasks: :func:`spawn_system_task`, :func:`add_done_callback`, ``Task.outcome``;
* descriptors: ``yield wait_readable(fd)`` / ``yield wait_writable(fd)``;
* looking inside: :func:`add_instrument` / :func:`remove_instrument` (hooks named in
  :data:`INSTRUMENT_HOOKS`), the policy's choice point (:class:`coop.policy.Policy`), and a
  task's suspended stack and parent (:func:`task_stack`, :func:`task_parent`; the whole tree
  is ``Scheduler.dump()``, :func:`coop.dump_tasks`).

A gate that tasks wait at until it opens, written on this contract alone:

>>> from coop import lowlevel
>>> class Gate:
...     def __init__(self):
...         self.waiting = lowlevel.WaitQueue("the gate to open")
...     def wait(self):
...         gate = self
...         class Wait(coop.Effect):
...             def _coop_apply(self, scheduler, task):
...                 return lowlevel.park(task, gate.waiting)
...         return Wait()
...     def open(self, value):
...         while (popped := self.waiting.pop()) is not None:
...             lowlevel.reschedule(popped[0], value)
>>> gate = Gate()
>>> def main():
...     task = yield coop.spawn(waiter())
...     yield                                  # let it park
...     gate.open("opened")
...     return (yield coop.join(task))
>>> def waiter():
...     me = lowlevel.current_task()
...     return me.name, (yield gate.wait())
>>> coop.run(main())
('waiter-2', 'opened')
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from ._core._checks import check_runnable
from ._core._deadlock import ignore_thread
from ._core._effects import Effect, check_int, check_seconds
from ._core._instruments import INSTRUMENT_HOOKS
from ._core._run import Scheduler, running_scheduler
from ._core._stacks import Frame, TaskDump, TaskTree, parent_of, stack_of
from ._core._task import Runnable, Task, TaskState, Throw
from ._core._task_effects import Cancel, Join
from ._core._timers import TimerHandle
from ._core._waitqueue import SUSPENDED, Parkable, WaitQueue
from .errors import CoopUsageError

__all__ = [
    "INSTRUMENT_HOOKS",
    "SUSPENDED",
    "Cancel",
    "Effect",
    "Frame",
    "Join",
    "Parkable",
    "Runnable",
    "Scheduler",
    "Task",
    "TaskDump",
    "TaskState",
    "TaskTree",
    "Throw",
    "TimerHandle",
    "WaitQueue",
    "add_done_callback",
    "add_instrument",
    "begin_external",
    "begin_outside_wait",
    "call_at",
    "call_soon_threadsafe",
    "check_int",
    "check_runnable",
    "check_seconds",
    "current_scheduler",
    "current_task",
    "end_external",
    "end_outside_wait",
    "fresh_serials",
    "ignore_thread",
    "is_cancelling",
    "note_owned_wait",
    "park",
    "remove_done_callback",
    "remove_instrument",
    "reschedule",
    "reschedule_throw",
    "running_scheduler",
    "serial",
    "set_deadline",
    "spawn_system_task",
    "task_parent",
    "task_stack",
    "throw_in",
    "wait_readable",
    "wait_writable",
]

T = TypeVar("T")


def current_scheduler() -> Scheduler:
    """The scheduler running in this OS thread; :class:`coop.CoopUsageError` outside one."""
    scheduler = running_scheduler()
    if scheduler is None:
        raise CoopUsageError("no coop scheduler is running in this thread: call this from a "
                             "task, or from code that coop.run() runs")
    return scheduler


def current_task() -> Task[Any]:
    """The task whose step is running (its code, or an effect it yielded being applied).

    A plain call: one attribute read, no frame walk. :class:`coop.CoopUsageError` outside a
    task (in a hand-in or timer callback the scheduler runs, or outside ``run()``).
    """
    task = current_scheduler().current_task()
    if task is None:
        raise CoopUsageError("no task is running: this is a callback the scheduler runs "
                             "between tasks (a hand-in, a timer); pass the task in instead")
    return task


_serials: dict[str, itertools.count[int]] = {}


def serial(kind: str) -> int:
    """The next number of ``kind`` (1, 2, ...): what primitives' default names are made of
    (``Lock#3``). Numbered per process, or per run inside :func:`fresh_serials`."""
    counter = _serials.get(kind)
    if counter is None:
        counter = _serials[kind] = itertools.count(1)
    return next(counter)


class fresh_serials:  # lower case: it is used as a function, `with fresh_serials():`
    """Number from 1 again inside the block: exploration runs each schedule inside one, so
    that a replayed run names its primitives (and prints their names) as the original did.

    A class, not a generator-based context manager: exploration enters one per run, and the
    generator's machinery was a tenth of a small run's set-up."""

    __slots__ = ("saved",)

    def __enter__(self) -> None:
        global _serials
        self.saved, _serials = _serials, {}

    def __exit__(self, *exc_info: object) -> None:
        global _serials
        _serials = self.saved


def note_owned_wait(task: Task[Any]) -> None:
    """Tell deadlock detection that ``task`` has just parked on something of one's own whose
    ``holders()`` may name tasks (an owner, a joined task). :func:`park` on a
    :class:`WaitQueue` made with ``holders=`` does it; a wait-for cycle is looked for only
    from these waits until no other thread is alive."""
    task.scheduler.note_owned_wait(task)


def park(task: Task[Any], on: Any, tag: Any = None, *, owned: bool = False) -> Any:
    """Park ``task`` on ``on`` (a :class:`WaitQueue`, or any :class:`Parkable`); returns
    :data:`SUSPENDED`, which the effect returns from ``_coop_apply``.

    The task costs nothing until :func:`reschedule` wakes it. If it is cancelled or times out
    first, the kernel calls ``on.unpark(task)`` (after offering ``on.interrupt(task, exc)``,
    if defined, the chance to take the interruption over). ``on.holders()`` names the tasks
    that must act before the wait can end, for wait-for cycles; a WaitQueue uses ``tag``.
    Pass ``owned=True`` when they may name any (an owner, a joined task): cycles are looked
    for from such waits (a WaitQueue made with ``holders=`` knows it itself).
    """
    if on.__class__ is WaitQueue:
        return on.park(task, tag)
    return task.scheduler.park(task, on, owned)


def reschedule(task: Task[Any], value: Any = None, *,
               revoke: Callable[[Any], None] | None = None) -> None:
    """Make a parked ``task`` ready; it resumes with ``value``.

    ``revoke(value)`` is called if the task is cancelled before it gets to run: a resource
    handed over with the value is then given back, so a cancelled task keeps nothing.
    """
    task.scheduler.wake(task, value, revoke)


def reschedule_throw(task: Task[Any], exc: BaseException) -> None:
    """Make a parked ``task`` ready; ``exc`` is raised at its ``yield``."""
    task.scheduler.wake(task, Throw(exc))


def throw_in(task: Task[Any], exc: BaseException) -> bool:
    """Raise ``exc`` in ``task`` at its current ``yield``, whether it is parked (it is unparked:
    its wait's ``unpark`` runs) or ready (a resource it was woken with goes back).

    Not a cancellation: the task may handle ``exc`` and go on. Returns False, doing nothing, if
    the task has ended or an exception is already on its way to it (a cancellation is never
    overwritten). :class:`coop.CoopUsageError` for the task that is running: raise instead.
    """
    return task.scheduler.throw_in(task, exc)


def is_cancelling(task: Task[Any]) -> bool:
    """Whether ``task`` has been cancelled and has not ended yet (it may be cleaning up)."""
    return task.scheduler.is_cancelling(task)


def set_deadline(task: Task[Any], deadline: float,
                 exc_factory: Callable[[], BaseException]) -> TimerHandle:
    """While ``task`` stays parked, raise ``exc_factory()`` in it at ``deadline`` (scheduler
    clock; ``inf`` is none). The timer is disarmed as soon as the task is woken otherwise."""
    return task.scheduler.set_deadline(task, deadline, exc_factory)


def call_at(deadline: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
    """Run ``fn(*args)`` in the scheduler thread once its clock reaches ``deadline``."""
    return current_scheduler().call_at(deadline, fn, *args)


def call_soon_threadsafe(fn: Callable[..., Any], *args: Any,
                         scheduler: Scheduler | None = None) -> None:
    """Run ``fn(*args)`` in the scheduler's thread soon; safe from any thread. From another
    thread, pass the ``scheduler`` (there is no current one there)."""
    (scheduler or current_scheduler()).call_soon_threadsafe(fn, *args)


def begin_external(call: object = None) -> None:
    """A call of the running scheduler's is now in flight elsewhere (a thread, a process, a
    cluster): until :func:`end_external`, waiting tasks are not a deadlock and a virtual
    clock does not jump. ``call`` is what instruments see."""
    current_scheduler().begin_external(call)


def end_external(call: object = None) -> None:
    """The call noted by :func:`begin_external` has handed its result back."""
    current_scheduler().end_external(call)


def begin_outside_wait() -> None:
    """A task waits for something the outside world ends and that takes no virtual time (a
    signal, a descriptor): it is not a deadlock, and a virtual clock may still jump."""
    current_scheduler().begin_outside_wait()


def end_outside_wait() -> None:
    """The wait noted by :func:`begin_outside_wait` has ended."""
    current_scheduler().end_outside_wait()


def spawn_system_task(coro: Runnable[T], *, name: str | None = None,
                      daemon: bool = True) -> Task[T]:
    """Start ``coro`` as a task of the running scheduler, from plain code (a callback, a
    primitive's method); a daemon by default, so it does not keep ``run()`` going."""
    check_runnable(coro)
    return current_scheduler().spawn(coro, name, daemon)


def add_done_callback(task: Task[Any], fn: Callable[[Task[Any]], None], *,
                      observes: bool = False) -> None:
    """Call ``fn(task)`` in the scheduler thread once ``task`` ends (at once if it has).

    ``observes=True`` takes charge of the outcome: a failure ``fn`` sees is not also logged
    as one nobody joined. A callback that raises is logged and disturbs nothing.
    """
    task.scheduler.add_done_callback(task, fn, observes)


def remove_done_callback(task: Task[Any], fn: Callable[[Task[Any]], None]) -> None:
    """Forget a callback added with :func:`add_done_callback` (no error if absent)."""
    task.scheduler.remove_done_callback(task, fn)


def add_instrument(instrument: object, scheduler: Scheduler | None = None) -> None:
    """Call ``instrument``'s hooks on the running (or given) scheduler from now on.

    An instrument is any object defining some of :data:`INSTRUMENT_HOOKS`; only those it
    defines are called, and one that raises is removed with the error logged. With none
    installed the kernel's hot paths pay one test of a field.

    >>> from coop import lowlevel
    >>> class Steps:
    ...     def __init__(self):
    ...         self.log = []
    ...     def before_step(self, task):
    ...         self.log.append(task.name)
    >>> steps = Steps()
    >>> def child():
    ...     yield
    >>> def main():
    ...     lowlevel.add_instrument(steps)
    ...     yield coop.join((yield coop.spawn(child(), name="child")))
    >>> coop.run(main())
    >>> steps.log                 # main's rest of the step after adding it counts as one
    ['main', 'child', 'child', 'main']
    """
    (scheduler or current_scheduler()).add_instrument(instrument)


def remove_instrument(instrument: object, scheduler: Scheduler | None = None) -> None:
    """Stop calling ``instrument``; ValueError if it was not added."""
    (scheduler or current_scheduler()).remove_instrument(instrument)


def task_stack(task: Task[Any]) -> tuple[Frame, ...]:
    """Where ``task`` is suspended: its generator (or coroutine) and those it delegates to
    (``yield from``, ``await``), outermost first, the line it is parked at last, as a
    traceback. coop's own frames at the innermost end are left out; empty once it has ended.

    >>> def helper():
    ...     yield coop.sleep(1)
    >>> def main():
    ...     yield from helper()
    >>> def look():
    ...     task = yield coop.spawn(main())
    ...     yield                                # let it park
    ...     return [frame.function for frame in coop.lowlevel.task_stack(task)]
    >>> coop.run(look(), clock=coop.VirtualClock())
    ['main', 'helper']
    """
    return stack_of(task)


def task_parent(task: Task[Any]) -> Task[Any] | None:
    """The task that spawned ``task``, if known: in debug mode every spawn is recorded;
    otherwise it is worked out from what watches the task (a gather, race or timeout: the
    task waiting in it; a TaskGroup: its owner), and a plain ``coop.spawn`` has none."""
    return parent_of(task)


class _WaitIO(Effect[None]):
    __slots__ = ("fd", "readable")

    def __init__(self, fd: Any, readable: bool) -> None:
        if isinstance(fd, bool) or not (isinstance(fd, int) or callable(getattr(fd, "fileno",
                                                                                 None))):
            raise TypeError(f"wait_{'readable' if readable else 'writable'} takes a file "
                            f"descriptor (an int) or an object with fileno(), got {fd!r}")
        self.fd = fd
        self.readable = readable

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return scheduler.wait_io(task, self.fd, self.readable)

    def __repr__(self) -> str:
        return f"coop.lowlevel.wait_{'readable' if self.readable else 'writable'}({self.fd!r})"


def wait_readable(fd: Any) -> Effect[None]:
    """``yield wait_readable(fd)``: wait until ``fd`` (an int or an object with ``fileno()``)
    has data to read (or is at end of file).

    The descriptor is watched only while a task waits (unregistered when it wakes, is
    cancelled or times out). One task at a time may wait on a descriptor in one direction; a
    second gets :class:`coop.CoopUsageError`. A task waiting here is not a deadlock, and a
    virtual clock still jumps to the next timer, after a look at the descriptors.

    >>> import os
    >>> def main():
    ...     read_end, write_end = os.pipe()
    ...     os.write(write_end, b"ping")
    ...     yield coop.lowlevel.wait_readable(read_end)
    ...     data = os.read(read_end, 4)
    ...     os.close(read_end); os.close(write_end)
    ...     return data
    >>> coop.run(main())
    b'ping'
    """
    return _WaitIO(fd, True)


def wait_writable(fd: Any) -> Effect[None]:
    """``yield wait_writable(fd)``: wait until ``fd`` can take data without blocking; as
    :func:`wait_readable` otherwise."""
    return _WaitIO(fd, False)
