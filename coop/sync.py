"""Synchronization primitives: Lock, Semaphore, Event, Condition, Queue, Barrier.

Every primitive is built on the kernel's one waiting mechanism, :class:`coop.WaitQueue`: a task
that must wait is parked on the primitive's queue and woken, first in first out, with a value
or an exception. None of them touches the run loop.

A blocking operation is an effect, yielded from the task::

    def worker(lock, queue):
        with (yield lock.acquire()):      # acquire yields; the with block releases on any exit
            item = yield queue.get()      # completes at once when an item is there
        yield queue.put(item)

In an ``async def`` task the same operations are awaited, and ``async with lock:`` acquires and
releases. ``yield from lock.acquire()`` gives a type checker the result type.

Rules every primitive keeps:

* Waiters are served in FIFO order, and a release hands the resource straight to the first
  waiter: nobody can barge in between.
* A task woken with a resource (a lock, a semaphore unit, a queue item) that is cancelled
  before it gets to run keeps nothing: the resource goes to the next waiter.
* Every blocking operation takes ``timeout=`` (seconds) and raises :class:`coop.Timeout` when
  it runs out; ``timeout=0`` tries once without waiting. They also work inside
  :func:`coop.timeout`.
* ``statistics()`` returns a small frozen dataclass (who holds it, how many wait) and the
  primitive's name (``Lock#2``, or the ``name=`` given) appears in :class:`coop.Deadlock`
  reports: ``philosopher-3 waits for Lock#2 held by philosopher-2``.

* A primitive belongs to one scheduler, the first whose task uses it. A task of another
  scheduler that uses it, or another OS thread calling ``release()``, ``set()``,
  ``put_nowait()`` and the like, gets :class:`coop.CoopUsageError` (that would wake tasks
  behind their scheduler's back). Once its scheduler has no task left the primitive is free
  again, so one module-level lock serves successive ``coop.run`` calls. From another thread,
  go through ``scheduler.call_soon_threadsafe(event.set)`` or an actor's thread-safe
  ``send``.
* A Lock has an owner, so a task waiting for it is a wait-for edge to its holder in
  :class:`coop.Deadlock` cycle detection; a Semaphore (any task may release it), an Event, a
  Condition's notify, a Queue and a Barrier have none, and make no edge.
* Inside :func:`coop.race` and :func:`coop.gather`, an acquire that wins hands its lock or
  unit to the task waiting there, which releases it as usual; one that was not needed (a
  race loser, a gather that failed) gives it back, as does a ``get`` its item.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import queue as _stdlib_queue
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .effects import Effect, _check_seconds
from .errors import Cancelled, CoopUsageError, Timeout
from .kernel import SUSPENDED, WaitQueue
from .task import Task, Throw

if TYPE_CHECKING:
    from .kernel import Scheduler, TimerHandle

__all__ = [
    "Lock",
    "Semaphore",
    "BoundedSemaphore",
    "Event",
    "Condition",
    "Queue",
    "LifoQueue",
    "PriorityQueue",
    "Barrier",
    "QueueEmpty",
    "QueueFull",
]

T = TypeVar("T")


# ------------------------------------------------------------------------ helpers

_counters: dict[str, itertools.count[int]] = {}


def _make_name(kind: str, name: str | None) -> str:
    if name is None:
        counter = _counters.setdefault(kind, itertools.count(1))
        return f"{kind}#{next(counter)}"
    if not isinstance(name, str):
        raise TypeError(f"{kind}(name=...) takes a str, got {name!r}")
    return name


def _is_running(task: Task[Any]) -> bool:
    """Whether ``task``'s own code is executing right now (the caller is that task).

    One OS thread runs one task at a time, so the task whose generator is running is the
    one calling us: this tells a holder's ``release()`` from anybody else's without the
    kernel having to track a current task.
    """
    coro = task._coro
    try:
        return bool(coro.gi_running)
    except AttributeError:
        return bool(getattr(coro, "cr_running", True))


def _check_timeout(timeout: float | None, what: str) -> float | None:
    return None if timeout is None else _check_seconds(timeout, what)


def _check_count(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def _park(queue: WaitQueue, kernel: Scheduler, task: Task[Any], timeout: float | None,
          describe: Callable[[], str], tag: Any = None) -> Any:
    """Park ``task`` on ``queue``, with a deadline if ``timeout`` is given."""
    if timeout is not None:
        if timeout == 0:
            raise Timeout(f"timed out at once (timeout=0) waiting for {describe()}")

        def expired() -> BaseException:
            return Timeout(f"timed out after {timeout:g} s waiting for {describe()}")

        kernel.set_deadline(task, kernel.clock.now() + timeout, expired)
    return queue.park(task, tag)


def _holder_names(holders: list[Task[Any]]) -> str:
    return ", ".join(h.name + (" (ended without releasing)" if h.done() else "")
                     for h in holders)


_get_ident = threading.get_ident


def _bind(primitive: Any, kernel: Scheduler) -> None:
    """``primitive`` is used by a task of ``kernel``: make it that scheduler's, or refuse.

    Effects call this only when ``primitive._sched is not kernel`` (one identity test on the
    hot path). A primitive serves the tasks of one scheduler: its waiters are parked there and
    woken there, and a second scheduler in another thread would wake them without the first
    ever noticing (a hang). It passes to another scheduler only once the first is done with
    it (no task left), which is how one module-level primitive serves successive runs.
    """
    old = primitive._sched
    if old is not None and old is not kernel and old._tasks and not old._closed:
        raise _foreign_error(primitive, "a task of another scheduler")
    primitive._sched = kernel
    primitive._thread = _get_ident()


def _check_thread(primitive: Any, what: str) -> None:
    """Called when a method runs in a thread other than its scheduler's (the slow path)."""
    old = primitive._sched
    if old is not None and old._tasks and not old._closed:
        raise _foreign_error(primitive, f"{what} from another thread")
    primitive._sched = None  # that scheduler is done with it: free for the next one
    primitive._thread = 0


def _foreign_error(primitive: Any, how: str) -> CoopUsageError:
    kind = type(primitive).__name__
    ident = primitive._thread
    thread = next((t.name for t in threading.enumerate() if t.ident == ident), str(ident))
    return CoopUsageError(
        f"{primitive.name} belongs to the scheduler running in thread {thread} (the first "
        f"to use it), and was used by {how}; a coop.{kind} "
        f"serves the tasks of one scheduler. To signal across schedulers or threads, send to "
        f"an actor (its send() is thread-safe) or hand a call to the owning scheduler with "
        f"scheduler.call_soon_threadsafe(fn, *args)"
    )


class Acquired:
    """What ``yield lock.acquire()`` (or a semaphore's) resumes the task with: a context
    manager that releases on exit, so ``with (yield lock.acquire()):`` releases on every path
    out of the block (return, exception, cancellation).

    >>> lock = coop.Lock()
    >>> def main():
    ...     held = yield lock.acquire()
    ...     with held:
    ...         inside = lock.locked()
    ...     return inside, lock.locked()
    >>> coop.run(main())
    (True, False)
    """

    __slots__ = ("_release",)

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._release()

    def __repr__(self) -> str:
        return f"<Acquired {self._release}>"


class _LockHeld(Acquired):
    # Lock.release() spelled out: the `with` exit is the hot path of every critical section.
    __slots__ = ("_lock",)

    def __init__(self, lock: Lock) -> None:
        super().__init__(lock.release)
        self._lock = lock

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        lock = self._lock
        owner = lock._owner
        try:
            running = owner._coro.gi_running  # type: ignore[union-attr]
        except AttributeError:  # no owner, or an async def task
            running = owner is not None and _is_running(owner)
        if not running:
            raise lock._release_error()
        waiting = lock._waiters._waiters
        if not waiting:
            lock._owner = None
            return
        task = next(iter(waiting))
        if waiting[task] is not None:
            lock._handoff()  # a condition's waiter: it has its own way of taking the lock
            return
        del waiting[task]
        lock._owner = task
        task._scheduler.wake(task, self, lock._revoker)


def _not_a_context_manager(kind: str) -> CoopUsageError:
    return CoopUsageError(
        f"a coop.{kind} cannot be used as `with {kind.lower()}:` because acquiring it must "
        f"yield: write `with (yield {kind.lower()}.acquire()):` in a generator task, or "
        f"`async with {kind.lower()}:` in an async def task"
    )


def _missing_yield(kind: str) -> CoopUsageError:
    name = kind.lower()
    return CoopUsageError(
        f"`with {name}.acquire():` is missing its yield: {name}.acquire() is an effect, and "
        f"a task waits for an effect by yielding it. Write `with (yield {name}.acquire()):` "
        f"in a generator task (`with (yield from {name}.acquire()):` for a typed result), or "
        f"`async with {name}:` in an async def task"
    )


class _AcquireEffect(Effect[Acquired]):
    """An effect that hands its task a resource: a lock, a semaphore unit.

    It refuses the context-manager protocol with the right spelling (the forgotten ``yield``
    is the usual mistake), and it tells :mod:`coop.structured` how its result passes from
    the child task that acquired it to the task waiting in ``race``/``gather``
    (``_coop_hand_over``) and how to give it back when nobody will use it
    (``_coop_give_back``).
    """

    __slots__ = ()

    def _kind(self) -> str:
        raise NotImplementedError

    def __enter__(self) -> None:
        raise _missing_yield(self._kind())

    def __exit__(self, *exc_info: object) -> None:
        raise _missing_yield(self._kind())

    def __aenter__(self) -> None:
        raise _missing_yield(self._kind())

    def __aexit__(self, *exc_info: object) -> None:
        raise _missing_yield(self._kind())

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        raise NotImplementedError

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------- statistics


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


@dataclass(frozen=True)
class EventStatistics:
    """What :meth:`Event.statistics` reports."""

    name: str
    is_set: bool
    #: How many tasks wait for the event.
    waiting: int


@dataclass(frozen=True)
class ConditionStatistics:
    """What :meth:`Condition.statistics` reports."""

    name: str
    #: The statistics of the condition's lock (its holder, tasks waiting to re-acquire it).
    lock: LockStatistics
    #: How many tasks wait for a notify.
    waiting: int


@dataclass(frozen=True)
class QueueStatistics:
    """What :meth:`Queue.statistics` reports."""

    name: str
    qsize: int
    #: 0 for an unbounded queue.
    maxsize: int
    #: Tasks blocked in ``get``.
    getters_waiting: int
    #: Tasks blocked in ``put``.
    putters_waiting: int
    #: Items put and not yet marked with ``task_done()``.
    unfinished_tasks: int


@dataclass(frozen=True)
class BarrierStatistics:
    """What :meth:`Barrier.statistics` reports."""

    name: str
    parties: int
    #: Tasks waiting at the barrier now.
    waiting: int
    #: How many times the barrier has released (the current generation's number).
    generation: int


# ---------------------------------------------------------------------------- Lock


def _lock_waiters(lock: Lock) -> WaitQueue:
    """The lock's wait queue. A task re-acquiring the lock after a condition wait has to
    leave ``wait()`` holding the lock even when it is cancelled or times out, so its
    interruption is noted and delivered once the lock is its own."""

    def on_interrupt(task: Task[Any], exc: BaseException) -> bool:
        waiter = queue._waiters.get(task)
        if waiter is None:
            return False  # a plain acquire just gives up waiting
        waiter.interrupted(exc)
        return True

    queue = WaitQueue(lock._describe_wait, lock._holder_list, on_interrupt)
    return queue


class _LockAcquire(_AcquireEffect):
    __slots__ = ("lock", "timeout")

    def __init__(self, lock: Lock, timeout: float | None) -> None:
        self.lock = lock
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        lock = self.lock
        if lock._sched is not kernel:
            _bind(lock, kernel)
        owner = lock._owner
        if owner is None:
            lock._owner = task
            return lock._guard
        if owner is task:
            raise CoopUsageError(
                f"task {task.name!r} already holds {lock.name} and tried to acquire it again; "
                f"coop.Lock is not reentrant (that wait could never end)"
            )
        if self.timeout is None:
            # WaitQueue.park spelled out (as structured.py parks on its groups): this runs
            # on every contended acquire.
            waiters = lock._waiters
            task._parked_on = waiters
            waiters._waiters[task] = None
            kernel.note_owned_wait(task)  # a possible edge of a wait-for cycle
            return SUSPENDED
        return _park(lock._waiters, kernel, task, self.timeout, lock._describe_wait)

    def _kind(self) -> str:
        return "Lock"

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        lock = self.lock
        if lock._owner is holder:
            lock._owner = to

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        lock = self.lock
        if lock._owner is holder:
            lock._handoff()

    def __repr__(self) -> str:
        return f"{self.lock.name}.acquire()"


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

    __slots__ = ("__weakref__", "_acquire", "_guard", "_name", "_owner", "_revoker",
                 "_sched", "_thread", "_waiters")

    def __init__(self, *, name: str | None = None) -> None:
        self._name = _make_name("Lock", name)
        self._owner: Task[Any] | None = None
        # The scheduler the lock serves (the first to use it), and the id of its thread.
        self._sched: Scheduler | None = None
        self._thread = 0
        self._waiters = _lock_waiters(self)
        self._guard = _LockHeld(self)
        self._acquire = _LockAcquire(self, None)
        # Bound once: the hand-off passes it on every contended release.
        self._revoker = self._revoked

    @property
    def name(self) -> str:
        """The name used in reports: ``Lock#N`` (numbered per class) or the ``name=`` given."""
        return self._name

    def acquire(self, timeout: float | None = None) -> Effect[Acquired]:
        """Effect: wait until the lock is free and take it.

        Resumes with an :class:`~coop.sync.Acquired` context manager that releases the lock
        on exit, hence ``with (yield lock.acquire()):``. With ``timeout`` (seconds), raises
        :class:`coop.Timeout` if the lock is not had by then.
        """
        if timeout is None:
            return self._acquire
        return _LockAcquire(self, _check_timeout(timeout, f"{self._name}.acquire"))

    def release(self) -> None:
        """Release the lock; the first waiter (if any) gets it at once.

        Raises :class:`coop.CoopUsageError` if the lock is not held, or if the caller is not
        the task holding it.
        """
        owner = self._owner
        if owner is None or not _is_running(owner):
            raise self._release_error()
        if self._waiters._waiters:
            self._handoff()
        else:
            self._owner = None

    def locked(self) -> bool:
        """True while some task holds the lock."""
        return self._owner is not None

    def statistics(self) -> LockStatistics:
        """The lock's name, holder and number of waiters, for debugging."""
        return LockStatistics(self._name, self._owner is not None, self._owner,
                              len(self._waiters))

    def _release_error(self) -> CoopUsageError:
        owner = self._owner
        if owner is None:
            return CoopUsageError(f"release of {self._name}, which is not locked")
        return CoopUsageError(
            f"{self._name} is held by {owner.name!r}; only the task holding a lock may "
            f"release it (release() was called from another task or from outside the "
            f"scheduler)"
        )

    def _handoff(self) -> None:
        """The holder is done with the lock: give it to the first waiter that takes it."""
        # The wait queue's dict is read directly (as WaitQueue.pop would): this runs on every
        # contended release.
        waiting = self._waiters._waiters
        while waiting:
            task = next(iter(waiting))
            waiter = waiting.pop(task)
            self._owner = task
            if waiter is None:
                task._scheduler.wake(task, self._guard, self._revoker)
                return
            if waiter.granted():
                return
            # A wait_for whose predicate is still false went back to its condition.
        self._owner = None

    def _revoked(self, guard: Any) -> None:
        # The task woken with the lock was cancelled before it ran: it never had the lock.
        self._handoff()

    def _describe_wait(self) -> str:
        owner = self._owner
        if owner is None:
            return self._name
        return f"{self._name} held by {_holder_names([owner])}"

    def _holder_list(self) -> list[Task[Any]]:
        owner = self._owner
        return [] if owner is None else [owner]

    def __enter__(self) -> None:
        raise _not_a_context_manager("Lock")

    def __exit__(self, *exc_info: object) -> None:
        raise _not_a_context_manager("Lock")

    async def __aenter__(self) -> None:
        await self._acquire

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = f"held by {self._owner.name}" if self._owner is not None else "unlocked"
        return f"<{self._name} {state}, {len(self._waiters)} waiting>"


# ----------------------------------------------------------------------- Semaphore


class _SemaphoreAcquire(_AcquireEffect):
    __slots__ = ("semaphore", "timeout")

    def __init__(self, semaphore: Semaphore, timeout: float | None) -> None:
        self.semaphore = semaphore
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        sem = self.semaphore
        if sem._sched is not kernel:
            _bind(sem, kernel)
        if sem._value > 0:
            sem._value -= 1
            holders = sem._holders
            holders[task] = holders.get(task, 0) + 1
            return sem._guard
        return _park(sem._waiters, kernel, task, self.timeout, sem._describe_wait)

    def _kind(self) -> str:
        return "Semaphore"

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        sem = self.semaphore
        if holder in sem._holders:
            sem._drop(holder)
            sem._holders[to] = sem._holders.get(to, 0) + 1

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        sem = self.semaphore
        if sem._bounded and not sem._waiters and sem._value >= sem._initial:
            return  # its unit is back already (any task may release a semaphore)
        sem._drop(holder)
        sem._give_back()

    def __repr__(self) -> str:
        return f"{self.semaphore.name}.acquire()"


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

    __slots__ = ("__weakref__", "_acquire", "_guard", "_holders", "_initial", "_name",
                 "_sched", "_thread", "_value", "_waiters")

    _bounded = False

    def __init__(self, value: int = 1, *, name: str | None = None) -> None:
        kind = type(self).__name__
        self._value = _check_count(value, f"{kind}(value)", 0)
        self._initial = self._value
        self._name = _make_name(kind, name)
        self._holders: dict[Task[Any], int] = {}
        self._sched: Scheduler | None = None
        self._thread = 0
        # No holders for the wait-for graph: a semaphore has no owner (any task, or a thread
        # through call_soon_threadsafe, may release it), so an acquirer is no sure edge.
        self._waiters = WaitQueue(self._describe_wait)
        self._guard = Acquired(self.release)
        self._acquire = _SemaphoreAcquire(self, None)

    @property
    def name(self) -> str:
        """The name used in reports: ``Semaphore#N`` or the ``name=`` given."""
        return self._name

    @property
    def value(self) -> int:
        """Units left to hand out now."""
        return self._value

    def acquire(self, timeout: float | None = None) -> Effect[Acquired]:
        """Effect: take a unit, waiting (FIFO) while none is left.

        Resumes with a context manager that gives the unit back on exit. With ``timeout``,
        raises :class:`coop.Timeout` if no unit came in time.
        """
        if timeout is None:
            return self._acquire
        return _SemaphoreAcquire(self, _check_timeout(timeout, f"{self._name}.acquire"))

    def release(self) -> None:
        """Give a unit back: to the first waiter if any, else to the count.

        A :class:`BoundedSemaphore` raises ValueError when released more often than acquired.
        """
        thread = self._thread
        if thread and thread != _get_ident():
            _check_thread(self, "release()")
        waiters = self._waiters
        if self._bounded and not waiters and self._value >= self._initial:
            raise ValueError(f"{self._name} released more times than it was acquired "
                             f"(it holds {self._initial} units)")
        holders = self._holders
        if holders:
            releaser = next((t for t in holders if _is_running(t)), None)
            self._drop(next(iter(holders)) if releaser is None else releaser)
        self._give_back()

    def locked(self) -> bool:
        """True when no unit is left (an acquire would wait)."""
        return self._value == 0

    def statistics(self) -> SemaphoreStatistics:
        """The semaphore's name, units left, holders and number of waiters."""
        return SemaphoreStatistics(self._name, self._value, tuple(self._holders),
                                   len(self._waiters))

    def _drop(self, task: Task[Any]) -> None:
        count = self._holders.pop(task, 0)
        if count > 1:
            self._holders[task] = count - 1

    def _give_back(self) -> None:
        popped = self._waiters.pop()
        if popped is None:
            self._value += 1
            return
        task = popped[0]
        self._holders[task] = self._holders.get(task, 0) + 1
        task._scheduler.wake(task, self._guard, lambda _guard: self._revoked(task))

    def _revoked(self, task: Task[Any]) -> None:
        # Woken with a unit, cancelled before it ran: the unit goes on to the next waiter.
        self._drop(task)
        self._give_back()

    def _describe_wait(self) -> str:
        held = list(self._holders)
        # "acquired by", not "held by": any task may release a unit, not only these.
        by = f", acquired by {_holder_names(held)}" if held else ""
        return f"{self._name} ({self._value} of {self._initial} left{by})"

    def __enter__(self) -> None:
        raise _not_a_context_manager(type(self).__name__)

    def __exit__(self, *exc_info: object) -> None:
        raise _not_a_context_manager(type(self).__name__)

    async def __aenter__(self) -> None:
        await self._acquire

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{self._name} value={self._value}, {len(self._waiters)} waiting>"


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


# --------------------------------------------------------------------------- Event


class _EventWait(Effect[bool]):
    __slots__ = ("event", "timeout")

    def __init__(self, event: Event, timeout: float | None) -> None:
        self.event = event
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        event = self.event
        if event._sched is not kernel:
            _bind(event, kernel)
        if event._flag:
            return True
        return _park(event._waiters, kernel, task, self.timeout, event._describe_wait)

    def __repr__(self) -> str:
        return f"{self.event.name}.wait()"


class Event:
    """A flag tasks can wait for: :meth:`wait` returns at once while it is set, otherwise when
    some task calls :meth:`set`, which wakes every waiter (in the order they came).

    >>> ready = coop.Event()
    >>> def waiter(name):
    ...     yield ready.wait()
    ...     print(name, "saw the event")
    >>> def main():
    ...     for name in ("a", "b"):
    ...         yield coop.spawn(waiter(name))
    ...     yield coop.sleep(1)
    ...     ready.set()
    >>> coop.run(main(), clock=coop.VirtualClock())
    a saw the event
    b saw the event
    """

    __slots__ = ("__weakref__", "_flag", "_name", "_sched", "_thread", "_wait", "_waiters")

    def __init__(self, *, name: str | None = None) -> None:
        self._name = _make_name("Event", name)
        self._flag = False
        self._sched: Scheduler | None = None
        self._thread = 0
        self._waiters = WaitQueue(self._describe_wait)
        self._wait = _EventWait(self, None)

    @property
    def name(self) -> str:
        """The name used in reports: ``Event#N`` or the ``name=`` given."""
        return self._name

    def is_set(self) -> bool:
        """True while the event is set."""
        return self._flag

    def set(self) -> None:
        """Set the event and wake every task waiting for it (a no-op if already set)."""
        thread = self._thread
        if thread and thread != _get_ident():
            _check_thread(self, "set()")
        if not self._flag:
            self._flag = True
            self._waiters.wake_all(True)

    def clear(self) -> None:
        """Unset the event: later waits block again until the next :meth:`set`."""
        self._flag = False

    def wait(self, timeout: float | None = None) -> Effect[bool]:
        """Effect: wait until the event is set; resumes with True.

        With ``timeout``, raises :class:`coop.Timeout` if it is not set in time.
        """
        if timeout is None:
            return self._wait
        return _EventWait(self, _check_timeout(timeout, f"{self._name}.wait"))

    def statistics(self) -> EventStatistics:
        """The event's name, whether it is set, and the number of waiters."""
        return EventStatistics(self._name, self._flag, len(self._waiters))

    def _describe_wait(self) -> str:
        return f"{self._name} to be set"

    def __repr__(self) -> str:
        state = "set" if self._flag else "unset"
        return f"<{self._name} {state}, {len(self._waiters)} waiting>"


# ----------------------------------------------------------------------- Condition


class _CondWaiter:
    """One task inside ``Condition.wait()``: parked on the condition, then on the lock."""

    __slots__ = ("condition", "pending", "predicate", "task", "timed_out", "timer")

    def __init__(self, condition: Condition, task: Task[Any],
                 predicate: Callable[[], Any] | None) -> None:
        self.condition = condition
        self.task = task
        self.predicate = predicate
        # An interruption (cancellation, an outer timeout) to raise once the lock is back.
        self.pending: BaseException | None = None
        self.timed_out = False
        self.timer: TimerHandle | None = None

    def granted(self) -> bool:
        """The lock has just been handed to this task: wake it, or (a ``wait_for`` whose
        predicate is still false) send it back to wait on the condition and return False."""
        task = self.task
        value: Any
        if self.pending is not None:
            value = Throw(self.pending)
        elif self.predicate is not None:
            try:
                result = self.predicate()
            except Exception as exc:
                value = Throw(exc)
            else:
                if result:
                    value = result
                elif self.timed_out:
                    value = Throw(self._timeout_error())
                else:
                    self.condition._waiters.park(task, self)
                    return False
        elif self.timed_out:
            value = Throw(self._timeout_error())
        else:
            value = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        # No revoke: whatever happens next, wait() must leave with the lock held, and the
        # task's own `with` block gives it back.
        task._scheduler.wake(task, value)
        return True

    def reacquire(self) -> None:
        """Leave the condition's queue for the lock (or take it at once if it is free)."""
        lock = self.condition._lock
        if lock._owner is None:
            lock._owner = self.task
            if not self.granted():
                lock._owner = None
        else:
            lock._waiters.park(self.task, self)

    def interrupted(self, exc: BaseException) -> None:
        # A cancellation outranks a timeout noted earlier: it must not be caught as one.
        if self.pending is None or isinstance(exc, Cancelled):
            self.pending = exc
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def time_up(self) -> None:
        self.timer = None
        waiting = self.task._parked_on is self.condition._waiters
        # A plain wait already notified has succeeded, however long the lock then takes.
        if waiting or self.predicate is not None:
            self.timed_out = True
        if waiting:
            self.condition._waiters.unpark(self.task)
            self.reacquire()

    def _timeout_error(self) -> Timeout:
        return Timeout(f"timed out waiting for a notify on {self.condition.name}")


def _condition_waiters(describe: Callable[[], str]) -> WaitQueue:
    def on_interrupt(task: Task[Any], exc: BaseException) -> bool:
        waiter: _CondWaiter | None = queue._waiters.pop(task, None)
        if waiter is None:
            return False
        waiter.interrupted(exc)
        waiter.reacquire()
        return True

    queue = WaitQueue(describe, on_interrupt=on_interrupt)
    return queue


class _CondWait(Effect[Any]):
    __slots__ = ("condition", "predicate", "timeout")

    def __init__(self, condition: Condition, predicate: Callable[[], Any] | None,
                 timeout: float | None) -> None:
        self.condition = condition
        self.predicate = predicate
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        cond = self.condition
        lock = cond._lock
        if lock._sched is not kernel:
            _bind(lock, kernel)
        if lock._owner is not task:
            raise CoopUsageError(
                f"task {task.name!r} called {cond.name}.wait() without holding {lock.name}; "
                f"wait inside `with (yield cond.acquire()):`"
            )
        predicate = self.predicate
        if predicate is not None:
            result = predicate()
            if result:
                return result
        timeout = self.timeout
        if timeout == 0:
            raise Timeout(f"timed out at once (timeout=0) waiting on {cond.name}")
        waiter = _CondWaiter(cond, task, predicate)
        if timeout is not None:
            waiter.timer = kernel.call_at(kernel.clock.now() + timeout, waiter.time_up)
        cond._waiters.park(task, waiter)
        lock._handoff()
        return SUSPENDED

    def __repr__(self) -> str:
        return f"{self.condition.name}.wait()"


class Condition:
    """Tasks wait, holding a :class:`Lock`, until another task notifies them.

    :meth:`wait` releases the lock while it waits and re-acquires it before it returns, also
    when it raises (cancellation, timeout): code after the ``wait`` and every ``with`` exit
    run with the lock held. Notified tasks re-acquire the lock in the order they waited.
    ``lock`` may be shared with other conditions; by default each condition has its own.

    >>> cond = coop.Condition()
    >>> items = []
    >>> def consumer():
    ...     with (yield cond.acquire()):
    ...         yield cond.wait_for(lambda: items)
    ...         return items.pop()
    >>> def main():
    ...     task = yield coop.spawn(consumer())
    ...     yield coop.sleep(1)
    ...     with (yield cond.acquire()):
    ...         items.append("parcel")
    ...         cond.notify()
    ...     return (yield coop.join(task))
    >>> coop.run(main(), clock=coop.VirtualClock())
    'parcel'
    """

    __slots__ = ("__weakref__", "_lock", "_name", "_waiters")

    def __init__(self, lock: Lock | None = None, *, name: str | None = None) -> None:
        self._name = _make_name("Condition", name)
        if lock is None:
            lock = Lock(name=f"{self._name}.lock")
        elif not isinstance(lock, Lock):
            raise TypeError(f"Condition(lock) takes a coop.Lock, got {lock!r}")
        self._lock = lock
        self._waiters = _condition_waiters(self._describe_wait)

    @property
    def name(self) -> str:
        """The name used in reports: ``Condition#N`` or the ``name=`` given."""
        return self._name

    @property
    def lock(self) -> Lock:
        """The lock the condition works with."""
        return self._lock

    def acquire(self, timeout: float | None = None) -> Effect[Acquired]:
        """Effect: acquire the condition's lock (see :meth:`Lock.acquire`)."""
        return self._lock.acquire(timeout)

    def release(self) -> None:
        """Release the condition's lock (see :meth:`Lock.release`)."""
        self._lock.release()

    def locked(self) -> bool:
        """True while some task holds the condition's lock."""
        return self._lock.locked()

    def wait(self, timeout: float | None = None) -> Effect[bool]:
        """Effect: release the lock, wait for a notify, re-acquire the lock; resumes with True.

        The caller must hold the lock. With ``timeout``, raises :class:`coop.Timeout` (with
        the lock re-acquired) if no notify came in time.
        """
        return _CondWait(self, None, _check_timeout(timeout, f"{self._name}.wait"))

    def wait_for(self, predicate: Callable[[], T],
                 timeout: float | None = None) -> Effect[T]:
        """Effect: wait until ``predicate()`` is true; resumes with its (true) result.

        The predicate is checked with the lock held: at once, then each time this task is
        notified and has the lock back. With ``timeout``, raises :class:`coop.Timeout` if it
        is still false when time runs out.
        """
        if not callable(predicate):
            raise TypeError(f"{self._name}.wait_for takes a callable, got {predicate!r}")
        return _CondWait(self, predicate, _check_timeout(timeout, f"{self._name}.wait_for"))

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiting tasks (the longest-waiting first); the caller must hold
        the lock, and they run once they get it back."""
        _check_count(n, f"{self._name}.notify(n)", 0)
        self._require_lock("notify")
        lock = self._lock
        waiters = self._waiters
        for _ in range(n):
            popped = waiters.pop()
            if popped is None:
                break
            task, waiter = popped
            if waiter.predicate is None and waiter.timer is not None:
                waiter.timer.cancel()  # a notified plain wait can no longer time out
                waiter.timer = None
            lock._waiters.park(task, waiter)

    def notify_all(self) -> None:
        """Wake every waiting task; the caller must hold the lock."""
        self.notify(len(self._waiters))

    def statistics(self) -> ConditionStatistics:
        """The condition's name, its lock's statistics and the number of waiters."""
        return ConditionStatistics(self._name, self._lock.statistics(), len(self._waiters))

    def _require_lock(self, what: str) -> None:
        owner = self._lock._owner
        if owner is None or not _is_running(owner):
            raise CoopUsageError(f"{self._name}.{what}() needs the caller to hold "
                                 f"{self._lock.name}")

    def _describe_wait(self) -> str:
        return f"a notify on {self._name}"

    def __enter__(self) -> None:
        raise _not_a_context_manager("Condition")

    def __exit__(self, *exc_info: object) -> None:
        raise _not_a_context_manager("Condition")

    async def __aenter__(self) -> None:
        await self._lock._acquire

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    def __repr__(self) -> str:
        return f"<{self._name} on {self._lock.name}, {len(self._waiters)} waiting>"


# --------------------------------------------------------------------------- Queue


class QueueEmpty(_stdlib_queue.Empty):
    """Raised by :meth:`Queue.get_nowait` on an empty queue.

    It derives from :class:`queue.Empty`, so either name catches it.

    >>> try:
    ...     coop.Queue(name="inbox").get_nowait()
    ... except coop.QueueEmpty as err:
    ...     print("empty:", err)
    empty: inbox is empty
    """


class QueueFull(_stdlib_queue.Full):
    """Raised by :meth:`Queue.put_nowait` on a full queue.

    It derives from :class:`queue.Full`, so either name catches it.

    >>> q = coop.Queue(1)
    >>> q.put_nowait("a")
    >>> try:
    ...     q.put_nowait("b")
    ... except coop.QueueFull:
    ...     print("full")
    full
    """


_NOTHING: Any = object()


class _Get(Effect[T]):
    __slots__ = ("queue", "timeout")

    def __init__(self, queue: Queue[T], timeout: float | None) -> None:
        self.queue = queue
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        q = self.queue
        if q._sched is not kernel:
            _bind(q, kernel)
        if q._buf:
            item = q._take_one()
            if q._putters._waiters or q._overflow:
                q._admit()
            return item
        if q._overflow or q._putters._waiters:
            return q._take_from_outside()
        if self.timeout is None:
            getters = q._getters  # WaitQueue.park spelled out: the consumer's hot path
            task._parked_on = getters
            getters._waiters[task] = None
            return SUSPENDED
        return _park(q._getters, kernel, task, self.timeout, q._describe_get)

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        pass  # an item has no owner

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        # Taken for a race that another contender won: served next, as if never taken.
        self.queue._revoked(value)

    def __enter__(self) -> None:
        raise CoopUsageError(f"{self.queue.name}.get() is an effect, not a context manager: "
                             f"write `item = yield queue.get()`")

    def __exit__(self, *exc_info: object) -> None:
        raise CoopUsageError(f"{self.queue.name}.get() is not a context manager")

    def __repr__(self) -> str:
        return f"{self.queue.name}.get()"


class _Put(Effect[None]):
    __slots__ = ("item", "queue", "timeout")

    def __init__(self, queue: Queue[Any], item: Any, timeout: float | None) -> None:
        self.queue = queue
        self.item = item
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        q = self.queue
        if q._sched is not kernel:
            _bind(q, kernel)
        item = self.item
        getters = q._getters._waiters
        if getters:
            q._unfinished += 1
            # Straight to the first waiting getter (Queue._hand spelled out: the hot path).
            getter = next(iter(getters))
            del getters[getter]
            getter._scheduler.wake(getter, item, None if item is None else q._revoker)
            return None
        if len(q._buf) < q._capacity:
            q._unfinished += 1
            q._put_one(item)
            return None
        if self.timeout is None:
            putters = q._putters  # WaitQueue.park spelled out: the producer's hot path
            task._parked_on = putters
            putters._waiters[task] = item
            return SUSPENDED
        return _park(q._putters, kernel, task, self.timeout, q._describe_put, item)

    def __repr__(self) -> str:
        return f"{self.queue.name}.put({self.item!r})"


class _QueueJoin(Effect[None]):
    __slots__ = ("queue",)

    def __init__(self, queue: Queue[Any]) -> None:
        self.queue = queue

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        q = self.queue
        if q._sched is not kernel:
            _bind(q, kernel)
        if q._unfinished == 0:
            return None
        return q._all_done.park(task)

    def __repr__(self) -> str:
        return f"{self.queue.name}.join()"


class Queue(Generic[T]):
    """A FIFO queue between tasks, bounded by ``maxsize`` (0 or less: unbounded).

    ``yield q.put(item)`` waits while the queue is full, ``item = yield q.get()`` while it is
    empty; both complete at once, without a trip through the ready queue, when they can.
    Blocked getters and putters are served FIFO; an item put while tasks wait in ``get`` goes
    straight to the first of them. ``put_nowait``/``get_nowait`` never wait and raise
    :class:`coop.QueueFull` / :class:`coop.QueueEmpty`. ``task_done()`` and ``join()`` work as
    in :class:`asyncio.Queue`.

    A getter handed an item and cancelled before it runs gives the item back to the head of
    the queue (or to the next getter): no item is lost or delivered twice. (Not so for a
    ``None`` item, which the kernel cannot take back; send another sentinel if it matters.)
    A putter cancelled while it waits has put nothing; once woken, its item is in. In the rare
    case that a given-back item finds the queue full again, the youngest item waits outside,
    ahead of any blocked putter, so the queue never holds more than ``maxsize``.

    >>> q = coop.Queue(maxsize=2)
    >>> def producer():
    ...     for n in range(5):
    ...         yield q.put(n)
    ...     yield q.put("stop")
    >>> def consumer():
    ...     got = []
    ...     while (item := (yield q.get())) != "stop":
    ...         got.append(item)
    ...     return got
    >>> def main():
    ...     yield coop.spawn(producer())
    ...     return (yield coop.join((yield coop.spawn(consumer()))))
    >>> coop.run(main())
    [0, 1, 2, 3, 4]
    """

    __slots__ = ("__weakref__", "_all_done", "_buf", "_capacity", "_get", "_getters",
                 "_maxsize", "_name", "_overflow", "_put_one", "_putters", "_revoker",
                 "_sched", "_take_one", "_thread", "_unfinished")

    def __init__(self, maxsize: int = 0, *, name: str | None = None) -> None:
        kind = type(self).__name__
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError(f"{kind}(maxsize) must be an int, got {maxsize!r}")
        self._maxsize = max(maxsize, 0)
        self._capacity = maxsize if maxsize > 0 else sys.maxsize
        self._name = _make_name(kind, name)
        self._sched: Scheduler | None = None
        self._thread = 0
        self._buf: deque[T] | list[T] = deque()
        # The buffer's discipline as bound methods, one call on the hot path.
        self._put_one: Callable[[T], None] = self._buf.append
        self._take_one: Callable[[], T] = self._buf.popleft
        self._setup_buffer()
        # Items pushed out of a full queue by an item given back from a cancelled getter:
        # they go in before any blocked putter's.
        self._overflow: deque[T] = deque()
        self._getters = WaitQueue(self._describe_get)
        self._putters = WaitQueue(self._describe_put)
        self._all_done = WaitQueue(self._describe_join)
        self._unfinished = 0
        self._get: _Get[T] = _Get(self, None)
        self._revoker = self._revoked

    def _setup_buffer(self) -> None:
        """Set ``_buf``, ``_put_one`` and ``_take_one``: LifoQueue and PriorityQueue differ."""

    def _give_back(self, item: T) -> T | None:
        """Return an item given back by a cancelled getter to where it is served next; if
        the queue is then over its bound, return the item that must wait outside."""
        buf = self._buf
        assert isinstance(buf, deque)
        buf.appendleft(item)
        return buf.pop() if len(buf) > self._capacity else None

    # ------------------------------------------------------------------ public

    @property
    def name(self) -> str:
        """The name used in reports: ``Queue#N`` or the ``name=`` given."""
        return self._name

    @property
    def maxsize(self) -> int:
        """The bound on the number of items; 0 means unbounded."""
        return self._maxsize

    def qsize(self) -> int:
        """The number of items in the queue."""
        return len(self._buf)

    def empty(self) -> bool:
        """True if the queue holds no item."""
        return not self._buf

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items (never, for an unbounded queue)."""
        return len(self._buf) >= self._capacity

    def put(self, item: T, timeout: float | None = None) -> Effect[None]:
        """Effect: put ``item``, waiting while the queue is full.

        With ``timeout``, raises :class:`coop.Timeout` (and the item is not put) if no room
        came in time.
        """
        if timeout is None:
            return _Put(self, item, None)
        return _Put(self, item, _check_timeout(timeout, f"{self._name}.put"))

    def get(self, timeout: float | None = None) -> Effect[T]:
        """Effect: take the next item, waiting while the queue is empty; resumes with it.

        With ``timeout``, raises :class:`coop.Timeout` if no item came in time.
        """
        if timeout is None:
            return self._get
        return _Get(self, _check_timeout(timeout, f"{self._name}.get"))

    def put_nowait(self, item: T) -> None:
        """Put ``item`` without waiting; raises :class:`coop.QueueFull` if there is no room."""
        thread = self._thread
        if thread and thread != _get_ident():
            _check_thread(self, "put_nowait()")
        if self._getters._waiters:
            self._unfinished += 1
            self._hand(item)
        elif len(self._buf) < self._capacity:
            self._unfinished += 1
            self._put_one(item)
        else:
            raise QueueFull(f"{self._name} is full ({self._maxsize} items)")

    def get_nowait(self) -> T:
        """Take the next item without waiting; raises :class:`coop.QueueEmpty` if there is
        none."""
        thread = self._thread
        if thread and thread != _get_ident():
            _check_thread(self, "get_nowait()")
        if self._buf:
            item = self._take_one()
            if self._putters._waiters or self._overflow:
                self._admit()
            return item
        item = self._take_from_outside()
        if item is _NOTHING:
            raise QueueEmpty(f"{self._name} is empty")
        return item

    def task_done(self) -> None:
        """Mark one item taken from the queue as processed (for :meth:`join`).

        Raises ValueError if called more times than items were put.
        """
        thread = self._thread
        if thread and thread != _get_ident():
            _check_thread(self, "task_done()")
        if self._unfinished <= 0:
            raise ValueError(f"{self._name}.task_done() called more times than items were put")
        self._unfinished -= 1
        if self._unfinished == 0:
            self._all_done.wake_all(None)

    def join(self) -> Effect[None]:
        """Effect: wait until every item put has been marked with :meth:`task_done`."""
        return _QueueJoin(self)

    def statistics(self) -> QueueStatistics:
        """The queue's name, size, bound, waiting getters and putters, unfinished items."""
        return QueueStatistics(self._name, len(self._buf), self._maxsize, len(self._getters),
                               len(self._putters), self._unfinished)

    # ---------------------------------------------------------------- internals

    def _hand(self, item: T) -> None:
        """Give ``item`` to the first waiting getter (the buffer is empty when any waits)."""
        getters = self._getters._waiters
        task = next(iter(getters))
        del getters[task]
        # A None wake value cannot carry a revoke: the kernel resumes a task woken with None
        # without clearing it, so it could fire later, after the item was used.
        task._scheduler.wake(task, item, None if item is None else self._revoker)

    def _admit(self) -> None:
        """Let items waiting outside in, oldest first, while there is room."""
        buf = self._buf
        overflow = self._overflow
        putters = self._putters._waiters
        while len(buf) < self._capacity:
            if overflow:
                self._put_one(overflow.popleft())
            elif putters:
                task = next(iter(putters))
                item = putters.pop(task)
                self._unfinished += 1
                self._put_one(item)
                task._scheduler.wake(task)
            else:
                return

    def _take_from_outside(self) -> Any:
        """With the buffer empty, the oldest item waiting outside it, or _NOTHING."""
        if self._overflow:
            return self._overflow.popleft()
        putters = self._putters._waiters
        if not putters:
            return _NOTHING
        task = next(iter(putters))
        item = putters.pop(task)
        self._unfinished += 1
        task._scheduler.wake(task)
        return item

    def _revoked(self, item: T) -> None:
        # The getter handed this item was cancelled before it ran: it never had the item.
        if self._getters._waiters:
            self._hand(item)
            return
        outside = self._give_back(item)
        if outside is not None:
            self._overflow.appendleft(outside)

    def _describe_get(self) -> str:
        return f"an item from {self._name} (empty)"

    def _describe_put(self) -> str:
        return f"room in {self._name} (full, {len(self._buf)}/{self._maxsize})"

    def _describe_join(self) -> str:
        return f"{self._name} to be done ({self._unfinished} unfinished item(s))"

    def __repr__(self) -> str:
        bound = f"/{self._maxsize}" if self._maxsize else ""
        return (f"<{self._name} {len(self._buf)}{bound} items, {len(self._getters)} getters, "
                f"{len(self._putters)} putters waiting>")


class LifoQueue(Queue[T]):
    """A :class:`Queue` that hands out the most recently put item first (a stack).

    >>> q = coop.LifoQueue()
    >>> for n in (1, 2, 3):
    ...     q.put_nowait(n)
    >>> [q.get_nowait() for _ in range(3)]
    [3, 2, 1]
    """

    __slots__ = ()

    def _setup_buffer(self) -> None:
        self._take_one = self._buf.pop

    def _give_back(self, item: T) -> T | None:
        # The given-back item is older than every item in the queue: it goes to the bottom.
        buf = self._buf
        if len(buf) >= self._capacity:
            return item
        assert isinstance(buf, deque)
        buf.appendleft(item)
        return None


class PriorityQueue(Queue[T]):
    """A :class:`Queue` that hands out the smallest item first (``heapq`` order), such as
    ``(priority, data)`` tuples.

    >>> q = coop.PriorityQueue()
    >>> for job in [(2, "write"), (0, "urgent"), (1, "read")]:
    ...     q.put_nowait(job)
    >>> [q.get_nowait()[1] for _ in range(3)]
    ['urgent', 'read', 'write']
    """

    __slots__ = ()

    def _setup_buffer(self) -> None:
        heap: list[Any] = []
        self._buf = heap
        self._put_one = functools.partial(heapq.heappush, heap)
        self._take_one = functools.partial(heapq.heappop, heap)

    def _give_back(self, item: T) -> T | None:
        if len(self._buf) >= self._capacity:
            return item
        self._put_one(item)
        return None


# ------------------------------------------------------------------------- Barrier


class _BarrierWait(Effect[int]):
    __slots__ = ("barrier", "timeout")

    def __init__(self, barrier: Barrier, timeout: float | None) -> None:
        self.barrier = barrier
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        barrier = self.barrier
        if barrier._sched is not kernel:
            _bind(barrier, kernel)
        waiters = barrier._waiters
        if len(waiters) + 1 < barrier._parties:
            return _park(waiters, kernel, task, self.timeout, barrier._describe_wait)
        index = 0
        while (popped := waiters.pop()) is not None:
            waiter = popped[0]
            waiter._scheduler.wake(waiter, index)
            index += 1
        barrier._generation += 1
        return index

    def __repr__(self) -> str:
        return f"{self.barrier.name}.wait()"


class Barrier:
    """Holds tasks until ``parties`` of them wait, then releases the whole group at once.

    ``index = yield barrier.wait()`` resumes each task of a group with its arrival position,
    0 to ``parties - 1`` (the last to arrive, which releases the others, gets
    ``parties - 1`` and goes on without a pause). The barrier then serves the next group.
    A waiter that is cancelled or times out leaves, and does not count toward the group.

    >>> barrier = coop.Barrier(3)
    >>> def runner(name, delay):
    ...     yield coop.sleep(delay)
    ...     yield barrier.wait()
    ...     print(name, "starts at", (yield coop.now()))
    >>> def main():
    ...     for name, delay in [("a", 1), ("b", 3), ("c", 2)]:
    ...         yield coop.spawn(runner(name, delay))
    >>> coop.run(main(), clock=coop.VirtualClock())
    b starts at 3.0
    a starts at 3.0
    c starts at 3.0
    """

    __slots__ = ("__weakref__", "_generation", "_name", "_parties", "_sched", "_thread",
                 "_waiters")

    def __init__(self, parties: int, *, name: str | None = None) -> None:
        self._parties = _check_count(parties, "Barrier(parties)", 1)
        self._name = _make_name("Barrier", name)
        self._sched: Scheduler | None = None
        self._thread = 0
        self._generation = 0
        self._waiters = WaitQueue(self._describe_wait)

    @property
    def name(self) -> str:
        """The name used in reports: ``Barrier#N`` or the ``name=`` given."""
        return self._name

    @property
    def parties(self) -> int:
        """How many tasks make up a group."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """How many tasks wait at the barrier now."""
        return len(self._waiters)

    def wait(self, timeout: float | None = None) -> Effect[int]:
        """Effect: wait until ``parties`` tasks wait; resumes with this task's arrival index.

        With ``timeout``, raises :class:`coop.Timeout` (and leaves the group) if the group is
        not complete in time.
        """
        return _BarrierWait(self, _check_timeout(timeout, f"{self._name}.wait"))

    def statistics(self) -> BarrierStatistics:
        """The barrier's name, group size, number of waiters and generation."""
        return BarrierStatistics(self._name, self._parties, len(self._waiters),
                                 self._generation)

    def _describe_wait(self) -> str:
        return f"{self._name} ({len(self._waiters)} of {self._parties} arrived)"

    def __repr__(self) -> str:
        return (f"<{self._name} {len(self._waiters)}/{self._parties} waiting, "
                f"generation {self._generation}>")
