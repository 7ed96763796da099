"""The kernel: ready queue, run loop, timers, parking, thread-safe hand-in, deadlock detection.

Everything else in coop (effects, locks, queues, actors, pools) is built from the handful of
mechanisms here: make a task ready with a value or an exception (`wake`), park it on a
`WaitQueue` or a timer, call a function at a deadline (`call_at`), and accept work from other OS
threads (`call_soon_threadsafe`). The kernel knows nothing of actors, locks or pools.

The hot loop is written for CPython's interpreter (and to stay compilable with mypyc): a bare
``yield`` is tested for before any dispatch, the ready deque is run in counted rounds, and the
round's end is the one place that looks at timers, hand-ins and signals.
"""

from __future__ import annotations

import functools
import gc
import heapq
import itertools
import logging
import math
import os
import selectors
import signal
import socket
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from types import CoroutineType, GeneratorType
from typing import Any, Protocol

from . import _native
from .clock import RealClock
from .errors import Cancelled, CoopUsageError, Deadlock
from .policy import Policy
from .task import _CANCELLED, _DONE, _FAILED, _PENDING, Runnable, Task, Throw

log = logging.getLogger("coop")

#: Width of a timer bucket, in clock seconds. Timers due beyond the current bucket wait unsorted
#: in one list per bucket; a bucket is sorted into the near heap only when its time comes, so a
#: timer is ordered among the few due in the same millisecond, not in a heap of all of them
#: (heap operations over 100,000 scattered entries cost microseconds each in cache misses).
_BUCKET = 0.001

#: An infinite deadline means none: no timer is made for it (inf // _BUCKET is NaN).
_INF = math.inf
#: The longest the selector is asked to block at once; a far finite deadline waits in steps
#: (select() refuses timeouts beyond a platform limit with OverflowError).
_MAX_BLOCK = 86400.0
#: The most hand-ins from other threads one poll runs before the tasks get their turns again.
_HANDINS_PER_POLL = 1024
#: A task that catches coop.Cancelled and goes on is cancelled again; after this many times
#: it is closed, so that neither cancel() nor run() can wait for it forever.
_IGNORED_CANCELS = 3


class _NeverReturned:
    """Stands in for _resume.Returned in the pure-Python kernel, where nothing returns one."""


# The compiled kernel resumes tasks through a C helper that reports a task's normal end without
# raising StopIteration (see _resume.c: in compiled code an exception costs a microsecond);
# the pure-Python kernel calls coro.send, where catching the StopIteration is cheap. It also
# hides pending tasks from the cyclic GC while run() runs (_resume.c says why).
_helpers = _native.c_helpers()
_RESUME: Callable[[Any, Any], Any] | None = None if _helpers is None else _helpers.resume
_RETURNED: type[Any] = _NeverReturned if _helpers is None else _helpers.Returned
# untrack(*objs) / track(*objs)
_UNTRACK: Callable[..., bool] | None = None if _helpers is None else _helpers.untrack
_TRACK: Callable[..., None] | None = None if _helpers is None else _helpers.track


class _Suspended:
    """Returned by an effect that has parked (or re-queued) its task: do not resume it now."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SUSPENDED"


SUSPENDED: Any = _Suspended()

# Stands for a None wake value that comes with a revoke callback (see Scheduler.wake).
_HANDED_NONE: Any = object()


class _Forever:
    """What ``sleep(inf)`` parks on: no timer; only a cancellation (or a deadlock) ends it."""

    __slots__ = ()

    def unpark(self, task: Task[Any]) -> None:
        pass

    def describe(self) -> str:
        return "a sleep that never ends (sleep(inf))"

    def holders(self) -> list[Task[Any]]:
        return []


_FOREVER: Any = _Forever()


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
    ...             def _coop_apply(self, kernel, task):
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


class TimerHandle:
    """A callback due at a deadline; ``cancel()`` stops it from running."""

    __slots__ = ("args", "cancelled", "deadline", "fn")

    def __init__(self, deadline: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.deadline = deadline
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


# Threads that can never hand work to a scheduler (idle pool workers of coop's own): their being
# alive must not suppress deadlock detection. Names starting with "coop-" are counted here too.
# Held weakly, as the Thread objects: an ident is reused by a later thread once one has ended,
# and a program's own thread must not be taken for one of coop's (seen: a false Deadlock).
_internal_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def ignore_thread(thread: threading.Thread) -> None:
    """Tell deadlock detection that ``thread`` never hands work to a scheduler."""
    _internal_threads.add(thread)


_running = threading.local()


def running_scheduler() -> Scheduler | None:
    """The scheduler running in this OS thread, or None outside ``run()``."""
    return getattr(_running, "scheduler", None)


def check_runnable(obj: Any) -> None:
    """Raise a TypeError that says what to do if ``obj`` cannot be run as a task."""
    cls = obj.__class__
    # Fast path for the common case: a fresh generator or coroutine (checked by hand: the
    # inspect helpers cost more than the rest of a spawn put together).
    # Not `gi_frame is None`: reading gi_frame makes a frame object (~160 B) that stays with
    # the generator for its whole life. A finished generator's frame is cleared, and the GC
    # then sees only its code, name and qualname (3 referents); a fresh one also its frame's.
    if cls is GeneratorType and not (obj.gi_suspended or obj.gi_running
                                     or len(gc.get_referents(obj)) <= 3):
        return
    if cls is CoroutineType and not (obj.cr_suspended or obj.cr_running
                                     or len(gc.get_referents(obj)) <= 3
                                     or _is_asyncio_coroutine(obj)):
        return
    import inspect

    if inspect.isgeneratorfunction(obj) or inspect.iscoroutinefunction(obj):
        name = _function_name(obj)
        kind = "generator" if inspect.isgeneratorfunction(obj) else "coroutine"
        raise TypeError(
            f"{name} is a {kind} function, not a {kind}: call it to get one, "
            f"as in coop.spawn({name}(...))"
        )
    if _is_asyncio_coroutine(obj):
        raise TypeError(_asyncio_message(obj))
    if inspect.isgenerator(obj):
        state = inspect.getgeneratorstate(obj)
        if state != inspect.GEN_CREATED:
            raise ValueError(
                f"generator {obj.__name__} is already "
                f"{'finished' if state == 'GEN_CLOSED' else 'started'}: "
                f"a task must start from a fresh generator; call the generator function again"
            )
        return
    if inspect.iscoroutine(obj):
        cstate = inspect.getcoroutinestate(obj)
        if cstate != inspect.CORO_CREATED:
            raise ValueError(
                f"coroutine {obj.__name__} is already "
                f"{'finished' if cstate == 'CORO_CLOSED' else 'started'}: "
                f"a task must start from a fresh coroutine; call the async function again"
            )
        return
    if callable(getattr(obj, "send", None)) and callable(getattr(obj, "throw", None)):
        return  # a generator-like object (say, Cython's): trust it
    raise TypeError(
        f"cannot run {obj!r} ({type(obj).__name__}) as a task: a task is a generator "
        f"(call a function that contains `yield`) or a coroutine (call an `async def` function)"
    )


def _function_name(fn: Any) -> str:
    """The name to show for a function, looking through functools.partial."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return str(getattr(fn, "__name__", None) or repr(fn))


#: asyncio's source directory, once asyncio has been imported (see _is_asyncio_coroutine).
_asyncio_dir: list[str] = []


def _is_asyncio_coroutine(obj: Any) -> bool:
    """True for a coroutine of asyncio's own (asyncio.sleep(1), ...), which needs its loop."""
    code = getattr(obj, "cr_code", None)
    if code is None:
        return False
    if not _asyncio_dir:  # computed once: this runs on every spawn of a coroutine
        asyncio = sys.modules.get("asyncio")
        if asyncio is None:
            return False  # not imported: nothing can be one of its coroutines
        _asyncio_dir.append(os.path.dirname(str(asyncio.__file__)) + os.sep)
    return str(code.co_filename).startswith(_asyncio_dir[0])


#: Added to the error of a task that awaited asyncio's own machinery.
ASYNCIO_HINT = (
    "coop does not run asyncio coroutines, tasks or futures: they need asyncio's event loop. "
    "Use coop's own effects instead (coop.sleep, coop.Queue, coop.Event, coop.timeout...), "
    "or run asyncio code in a thread: `yield coop.to_thread(asyncio.run, coroutine_fn())`"
)


def _asyncio_message(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
    return f"{name}() is an asyncio coroutine, not a coop task: {ASYNCIO_HINT}"


class Scheduler:
    """Runs tasks cooperatively in one OS thread.

    >>> def hello(name):
    ...     yield coop.sleep(1)
    ...     print("hello", name)
    >>> sched = coop.Scheduler(clock=coop.VirtualClock())
    >>> task = sched.spawn(hello("world"))
    >>> sched.run()
    hello world
    >>> task.done()
    True

    Most programs call :func:`coop.run` instead, which also waits for the main task's result.
    """

    def __init__(self, *, clock: Any = None, policy: Policy | None = None,
                 deadlock_warning: object = 10.0) -> None:
        # deadlock_warning: seconds or None, typed object so that coop's own message reports a
        # wrong value (compiled, a `float | None` parameter is checked by mypyc on entry).
        self.clock: Any = clock if clock is not None else RealClock()
        self._deadlock_warning = _check_warning(deadlock_warning)
        # What reads the time on hot paths: time.monotonic itself for a RealClock (whose now()
        # is just that), sparing a Python-level call per sleep and per round.
        self._clock_now: Callable[[], float] = (
            time.monotonic if self.clock.__class__ is RealClock else self.clock.now)
        self.policy = policy
        self._ready: deque[Task[Any]] = deque()
        # Timers are (deadline, seq, target) entries, target a TimerHandle or a sleeping task's
        # id. Those whose bucket (deadline // _BUCKET)
        # is <= _near_key are in the heap _timers; later ones in _buckets[bucket], plain lists,
        # whose keys are in the heap _bucket_keys.
        # An entry is compared by identity (a sleeping task's _parked_on is its entry), so it is
        # typed Any: mypyc would unbox a precise tuple type and box a new object on each use.
        self._timers: list[Any] = []
        self._buckets: dict[float, list[Any]] = {}
        self._bucket_keys: list[float] = []
        self._near_key = float("-inf")
        # Timers whose wait ended early stay in place until reached; once they outnumber the
        # live ones (many timeouts that were not needed), the storage is rebuilt without them.
        self._dead_timers = 0
        self._compact_at = 1024
        self._seq = itertools.count()
        self._tasks: dict[Any, Task[Any]] = {}
        self._ids = itertools.count(1)
        self._nondaemon = 0
        self._main: Task[Any] | None = None
        # Calls in flight on other threads or processes that will hand a result back.
        self._external = 0
        self._inbox: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._in_select = False
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._unobserved: dict[Task[Any], None] = {}
        # Per task: (callback, whether it observes the outcome: a failure it sees is not
        # reported as one nobody joined).
        self._done_callbacks: dict[Task[Any], list[tuple[Callable[[Task[Any]], None], bool]]] = {}
        # The task resumed last (the running one while a step runs): see current_task().
        self._running: Task[Any] | None = None
        # Instruments (see add_instrument): None while there are none, so that each hook site
        # costs one test of this field; with any, the loop runs the instrumented path.
        self._instruments: _Instruments | None = None
        # Descriptors tasks wait on (wait_io): fd -> its waits by direction.
        self._io: dict[int, _IOWaits] = {}
        self._interrupts = 0
        self._sigint_pending = False
        self._interrupted = False
        self._closers: list[Callable[[], None]] = []
        #: Per-scheduler state of optional subsystems (offload pools, ...), by name.
        self.services: dict[str, Any] = {}
        self._closed = False
        # While run() runs (and the C helpers exist), pending tasks are hidden from the GC.
        self._untracking = False
        # Tasks that parked on an owned wait since the last deadlock check (_check_deadlock).
        self._owned_waits: dict[Task[Any], None] = {}
        # Tasks being cancelled, with how often each caught the cancellation and went on; and
        # of those, the ones yielding inside their handler (cleaning up), with the exception.
        self._cancelling: dict[Task[Any], int] = {}
        self._cleaning_up: dict[Task[Any], BaseException] = {}
        # A SystemExit or KeyboardInterrupt raised by a task: the run stops and run() raises it.
        self._stop: BaseException | None = None
        # Waits that something outside the scheduler ends and that take no virtual time (a
        # signal): they are not a deadlock, and unlike external calls they let the clock jump.
        self._outside_waits = 0
        # When the idle check first found tasks stuck that only a foreign thread could wake
        # (time.monotonic), and whether that quiet spell has been warned about.
        self._stuck_since: float | None = None
        self._warned = False

    # ----------------------------------------------------------------- tasks

    def spawn(self, coro: Runnable[Any], name: str | None = None,
              daemon: bool = False) -> Task[Any]:
        """Make ``coro`` a task at the back of the ready queue and return its :class:`Task`."""
        check_runnable(coro)
        return self._spawn(coro, name, daemon)

    def _spawn(self, coro: Any, name: str | None, daemon: bool) -> Task[Any]:
        if self._closed:
            raise CoopUsageError("this scheduler has been closed; make a new one")
        task: Task[Any] = Task(coro, self, next(self._ids), name, daemon)
        if self._untracking:
            # Hidden from the GC, a pending task's generator is untracked: untrack() says
            # whether coro still was tracked, so a second spawn of it costs nothing extra.
            if not _UNTRACK(coro, task):  # type: ignore[misc]
                _TRACK(task)  # type: ignore[misc]
                raise _spawned_twice(coro)
        elif coro.__class__ is GeneratorType or coro.__class__ is CoroutineType:
            # A generator's one writable field marks it spawned: no table of pending
            # generators, which cost the pure kernel a fifth of a spawn and 50 bytes a task.
            # Only until it starts: check_runnable refuses a started one.
            name = coro.__name__
            if name.__class__ is _SpawnedName:
                raise _spawned_twice(coro)
            try:
                coro.__name__ = _SPAWNED_NAMES[name]
            except KeyError:
                coro.__name__ = _SPAWNED_NAMES[name] = _SpawnedName(name)
        self._tasks[task._id] = task
        if not daemon:
            self._nondaemon += 1
        self._ready.append(task)
        if self._instruments is not None:
            self._instruments.call(self, "task_spawned", task)
        return task

    def add_done_callback(self, task: Task[Any], fn: Callable[[Task[Any]], None],
                          observes: bool = False) -> None:
        """Call ``fn(task)`` in the scheduler thread as soon as ``task`` ends (at once if it has).

        Links, monitors, supervisors and gather are built on this. With ``observes``, the
        callback takes charge of the outcome: a failure it sees is not also reported as one
        nobody joined. A callback that raises is logged and does not disturb the scheduler.
        """
        if task._outcome != _PENDING:
            if observes:
                task._observed = True
            self._run_callback(fn, task)
        else:
            self._done_callbacks.setdefault(task, []).append((fn, observes))

    def remove_done_callback(self, task: Task[Any], fn: Callable[[Task[Any]], None]) -> None:
        """Forget a callback added with :meth:`add_done_callback` (no error if absent)."""
        callbacks = self._done_callbacks.get(task)
        if callbacks:
            callbacks[:] = [entry for entry in callbacks if entry[0] != fn]

    @staticmethod
    def _run_callback(fn: Callable[[Task[Any]], None], task: Task[Any]) -> None:
        try:
            fn(task)
        except Exception:
            log.exception("coop: a done-callback of task %r failed", task.name)

    def tasks(self) -> list[Task[Any]]:
        """The tasks that have not finished yet, oldest first."""
        return list(self._tasks.values())

    def now(self) -> float:
        """The scheduler clock's time."""
        return float(self._clock_now())

    # ----------------------------------------------------- waking and parking

    def wake(self, task: Task[Any], value: Any = None,
             revoke: Callable[[Any], None] | None = None) -> None:
        """Make a parked task ready; it will be resumed with ``value`` (a :class:`Throw` raises).

        ``revoke(value)`` is called if the task is cancelled before it runs.
        """
        task._parked_on = None
        timer = task._timer
        if timer is not None:
            timer.cancelled = True
            task._timer = None
            self._timer_died()
        if revoke is not None and value is None:
            value = _HANDED_NONE  # keeps the resume off the fast path, which skips _revoke
        task._value = value
        task._revoke = revoke
        self._ready.append(task)
        if self._instruments is not None:
            self._instruments.call(self, "task_woken", task, value)

    def park(self, task: Task[Any], on: Any) -> Any:
        """Park ``task`` on ``on``, a Parkable of one's own; returns SUSPENDED (a WaitQueue
        parks with its own ``park``). The wait is noted for wait-for cycle detection."""
        task._parked_on = on
        self.note_owned_wait(task)
        return SUSPENDED

    def sleep_until(self, task: Task[Any], deadline: float) -> Any:
        """Park ``task`` until the clock reaches ``deadline``; returns SUSPENDED."""
        # The entry names the task by id, not by reference: a tuple of numbers only is dropped
        # from the cyclic GC's tracking at its first collection, so 100,000 sleeping tasks do not
        # add 100,000 long-lived objects for every full collection to traverse (a third fewer;
        # measured: GC was a quarter of the CPU of 100,000 sleeps).
        if deadline >= _INF:
            task._parked_on = _FOREVER
            return SUSPENDED
        entry: Any = (deadline, next(self._seq), task._id)
        task._parked_on = entry
        self._add_timer(entry)
        return SUSPENDED

    def _sleeper(self, entry: Any) -> Task[Any] | None:
        """The task still asleep on this timer entry, or None if the entry is dead."""
        task = self._tasks.get(entry[2])
        return task if task is not None and task._parked_on is entry else None

    def _add_timer(self, entry: Any) -> None:
        key = entry[0] // _BUCKET
        if key <= self._near_key:
            heapq.heappush(self._timers, entry)
            return
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [entry]
            heapq.heappush(self._bucket_keys, key)
        else:
            bucket.append(entry)

    def _open_bucket(self) -> None:
        """Move the earliest bucket into the near heap."""
        key = heapq.heappop(self._bucket_keys)
        near = self._timers
        was_empty = not near
        near.extend(self._buckets.pop(key))
        if was_empty:
            near.sort()  # the usual case; a sorted list is a heap
        else:
            heapq.heapify(near)
        self._near_key = key

    def _next_deadline(self) -> float | None:
        """The earliest live timer's deadline, or None.

        Timers whose wait already ended (a timeout that was not needed, a cancelled sleep) are
        dropped on the way, so that they cannot make a virtual clock jump or hide a deadlock.
        """
        timers = self._timers
        while True:
            if not timers:
                if not self._bucket_keys:
                    return None
                self._open_bucket()
            entry = timers[0]
            deadline: float = entry[0]
            target = entry[2]
            if target.__class__ is TimerHandle:
                if not target.cancelled:
                    return deadline
            elif self._sleeper(entry) is not None:
                return deadline
            heapq.heappop(timers)

    def _timers_due(self, now: float) -> bool:
        timers = self._timers
        if timers and timers[0][0] <= now:
            return True
        keys = self._bucket_keys
        return bool(keys) and keys[0] <= now // _BUCKET

    def call_at(self, deadline: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``fn(*args)`` in the scheduler thread once the clock reaches ``deadline``."""
        if deadline != deadline:
            raise ValueError("call_at: the deadline is NaN; pass a time from the scheduler clock")
        handle = TimerHandle(deadline, fn, args)
        if deadline < _INF:  # an infinite deadline never comes: the handle is all there is
            self._add_timer((deadline, next(self._seq), handle))
        return handle

    def set_deadline(self, task: Task[Any], deadline: float,
                     exc_factory: Callable[[], BaseException]) -> TimerHandle:
        """While ``task`` stays parked, throw ``exc_factory()`` into it at ``deadline``.

        The timer is disarmed as soon as the task is woken for any other reason. A task has one
        deadline at a time; an earlier one already set is kept (it would fire first anyway).
        """
        current = task._timer
        if current is not None and not current.cancelled and current.deadline <= deadline:
            return current  # type: ignore[no-any-return]
        if deadline >= _INF:  # no deadline at all (NaN is refused where seconds are taken)
            return TimerHandle(deadline, self._deadline_passed, ())
        if current is not None and not current.cancelled:
            current.cancelled = True
            self._timer_died()
        handle = TimerHandle(deadline, self._deadline_passed, ())
        handle.args = (task, exc_factory, handle)
        self._add_timer((deadline, next(self._seq), handle))
        task._timer = handle
        return handle

    def _deadline_passed(self, task: Task[Any], exc_factory: Callable[[], BaseException],
                         handle: TimerHandle) -> None:
        if task._timer is not handle:
            return  # a later wait of the same task: this deadline is not its own
        task._timer = None
        if task._parked_on is not None and task._outcome == _PENDING:
            self.interrupt(task, exc_factory())

    def interrupt(self, task: Task[Any], exc: BaseException) -> None:
        """Raise ``exc`` in a parked task at its ``yield`` (cancellation, timeouts).

        What the task is parked on may take the interruption over (a gather first cancels its
        children and wakes the task once their cleanup is done); otherwise the task is
        unparked and woken with the exception at once.
        """
        parked = task._parked_on
        take_over = getattr(parked, "interrupt", None)
        if take_over is not None and take_over(task, exc):
            return
        self._unpark(task)
        self.wake(task, Throw(exc))

    def _unpark(self, task: Task[Any]) -> None:
        parked = task._parked_on
        task._parked_on = None
        if parked is not None:
            if parked.__class__ is tuple:  # a sleep: its timer entry is dead now
                self._timer_died()
            else:
                parked.unpark(task)

    def _timer_died(self) -> None:
        self._dead_timers += 1
        if self._dead_timers >= self._compact_at:
            self._compact_timers()

    def _compact_timers(self) -> None:
        """Rebuild the timer heap and buckets with only the live entries, in the same order."""
        def live(entry: Any) -> bool:
            target = entry[2]
            if target.__class__ is TimerHandle:
                return not target.cancelled
            return self._sleeper(entry) is not None

        near = [entry for entry in self._timers if live(entry)]
        heapq.heapify(near)
        self._timers[:] = near  # the run loop holds this list: keep its identity
        kept = 0
        for key in list(self._buckets):
            bucket = [entry for entry in self._buckets[key] if live(entry)]
            if bucket:
                self._buckets[key] = bucket
                kept += len(bucket)
            else:
                del self._buckets[key]
        self._bucket_keys[:] = sorted(self._buckets)  # a sorted list is a heap
        self._dead_timers = 0
        self._compact_at = max(1024, len(near) + kept)

    def cancel(self, task: Task[Any], exc: BaseException | None = None) -> bool:
        """Throw ``exc`` (a new :class:`coop.Cancelled` by default) into ``task`` at its yield.

        A parked task is unparked first; a task woken with a resource it has not used yet gives
        it back. Returns False if the task had already finished.
        """
        if task._outcome != _PENDING:
            return False
        if exc is None:
            exc = Cancelled()
        if isinstance(exc, Cancelled) and task not in self._cancelling:
            self._cancelling[task] = 0  # watched until it ends (_cancel_ignored)
        if task._parked_on is not None:
            self.interrupt(task, exc)
        else:
            revoke = task._revoke
            if revoke is not None:
                task._revoke = None
                value = task._value
                revoke(None if value is _HANDED_NONE else value)
            task._value = Throw(exc)
        return True

    # --------------------------------------------------- other OS threads

    def call_soon_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the scheduler's thread soon; safe to call from any thread.

        Wakes the scheduler if it is blocked waiting, so no CPU is spent polling.
        """
        self._inbox.append((fn, args))
        if self._in_select:
            try:
                self._wake_w.send(b"\0")
            except OSError:  # the buffer is full of wake-ups already, or we are closing
                pass

    def begin_external(self, call: object = None) -> None:
        """Note that a call is in flight elsewhere and will hand a result back.

        While any is, waiting tasks are not a deadlock and a virtual clock does not jump.
        ``call`` (any object that stands for it) is what instruments see.
        """
        self._external += 1
        if self._instruments is not None:
            self._instruments.call(self, "external_begin", call)

    def end_external(self, call: object = None) -> None:
        """Note that an external call has handed its result back (call in the scheduler thread)."""
        self._external -= 1
        if self._instruments is not None:
            self._instruments.call(self, "external_end", call)

    # ------------------------------------------------------ looking inside

    def current_task(self) -> Task[Any] | None:
        """The task whose step is running (its code, or an effect it yielded being applied),
        or None (in a hand-in, a timer callback, or outside run())."""
        task = self._running
        return task if task is not None and task._outcome == _PENDING else None

    def add_instrument(self, instrument: object) -> None:
        """Call ``instrument``'s hooks (any of :data:`INSTRUMENT_HOOKS` it defines) from now
        on. Only the hooks it defines are called; one that raises is removed, with the error
        logged. With no instrument the hot paths pay one test of a field."""
        if self._instruments is None:
            self._instruments = _Instruments()
            # The FIFO loop looks for instruments after a poll only: make sure one comes.
            self._inbox.append((_nothing, ()))
        self._instruments.add(instrument)

    def remove_instrument(self, instrument: object) -> None:
        """Stop calling ``instrument`` (a ValueError if it was not added)."""
        if self._instruments is None or not self._instruments.remove(instrument):
            raise ValueError(f"{instrument!r} is not an instrument of this scheduler")
        if not self._instruments.instruments:
            self._instruments = None

    def add_closer(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` when this scheduler's run ends (pools shut down this way)."""
        self._closers.append(fn)

    # ------------------------------------------------------------- running

    def run(self) -> None:
        """Run until every task has finished.

        Raises :class:`coop.Deadlock` if tasks wait and nothing can wake them, and
        KeyboardInterrupt after a Ctrl-C has cancelled every task.
        """
        self._run(None)

    def run_main(self, coro: Runnable[Any], name: str | None = "main") -> Any:
        """Run ``coro`` as the main task, as :func:`coop.run` does, and return its result."""
        check_runnable(coro)
        main = self._spawn(coro, name, False)
        self._main = main
        self._run(main)
        return main.result()

    def _run(self, main: Task[Any] | None) -> None:
        if running_scheduler() is not None:
            raise CoopUsageError(
                "coop.run() was called from inside a running task; a task must not start a "
                "second scheduler. Use `yield coop.spawn(gen)` or `yield from gen` instead"
            )
        _running.scheduler = self
        installed = self._install_sigint()
        self._hide_tasks_from_gc(True)
        try:
            try:
                self._loop(main is not None)
                if main is not None and self._tasks:
                    # Daemon tasks still running when the program is done get cancelled, and
                    # their cleanup runs before run() returns.
                    for task in list(self._tasks.values()):
                        self.cancel(task)
                    self._loop(False)
            except BaseException:
                self._close_all_tasks()
                raise
            if self._stop is not None:
                stop, self._stop = self._stop, None
                raise stop
            if self._interrupted:
                raise KeyboardInterrupt
        finally:
            self._running = None
            self._hide_tasks_from_gc(False)
            if installed is not None:
                signal.signal(signal.SIGINT, installed)
            _running.scheduler = None
            self._report_unobserved()
            self._close_services()

    def _hide_tasks_from_gc(self, hide: bool) -> None:
        # Tasks and their generators, and only while run() runs: then the scheduler (on the
        # stack) holds every pending task and so its generator, so the GC can find nothing
        # there (what a suspended generator's frame refers to is alive through it). Outside
        # run(), a scheduler dropped with tasks pending must stay collectable, cycles included.
        change = _UNTRACK if hide else _TRACK
        if change is None:
            return
        self._untracking = hide
        for task in self._tasks.values():
            change(task._coro, task)

    def _instrumented(self) -> bool:
        # A method, not the test inline: mypy would narrow the field to None for the rest of
        # _loop, and the compiled loop then refused to read an instrument added meanwhile.
        return self._instruments is not None

    def _loop(self, until_main_done: bool) -> None:
        if self.policy is not None or self._instrumented():
            self._loop_with_policy(until_main_done)
            return
        ready = self._ready
        popleft = ready.popleft
        append = ready.append
        timers = self._timers
        bucket_keys = self._bucket_keys
        inbox = self._inbox
        clock_now = self._clock_now
        resume = _RESUME
        returned = _RETURNED
        while True:
            for _ in range(len(ready)):
                task = popleft()
                self._running = task
                value = task._value
                try:
                    if value is None:
                        effect = (task._coro.send(None) if resume is None
                                  else resume(task._coro, None))
                    else:
                        task._value = None
                        task._revoke = None
                        if value.__class__ is Throw:
                            effect = task._coro.throw(value.exc)
                            if self._cancelling and task in self._cancelling:
                                effect = self._after_cancellation(task, effect, value.exc)
                                if effect is SUSPENDED:
                                    continue
                        else:
                            if value is _HANDED_NONE:
                                value = None
                            effect = (task._coro.send(value) if resume is None
                                      else resume(task._coro, value))
                except BaseException as exc:
                    self._finish(task, exc)
                    # The program is over once the last non-daemon task ends: the daemons
                    # still in this round get no further step (as under a policy).
                    if until_main_done and self._nondaemon == 0:
                        return
                    continue
                if effect is None:
                    append(task)
                    continue
                if effect.__class__ is returned:
                    self._finish(task, effect)
                    if until_main_done and self._nondaemon == 0:
                        return
                    continue
                # Applied inline (as _continue does): an effect that parks its task is
                # the common case, and a method call per effect is measurable.
                try:
                    value = effect._coop_apply(self, task)
                except BaseException as exc:
                    value = _refused(task, effect, exc)
                if value is not SUSPENDED:
                    self._continue(task, value)
                    if until_main_done and self._nondaemon == 0:
                        return
            if (self._nondaemon if until_main_done else len(self._tasks)) == 0:
                return
            if not ready:
                self._poll(True)
            elif inbox or self._sigint_pending or self._cleaning_up or self._io or (
                    (timers or bucket_keys) and self._timers_due(clock_now())):
                self._poll(False)
            else:
                continue  # nothing was polled: no instrument can have been added
            # Looked at only after a poll (add_instrument hands in a no-op to make one), so a
            # round without one pays nothing for instruments.
            if self._instrumented():
                self._loop_with_policy(until_main_done)
                return

    def _loop_with_policy(self, until_main_done: bool) -> None:
        pick = None if self.policy is None else self.policy.pick
        ready = self._ready
        # In rounds, as the FIFO loop runs, polling at the same points: so FifoPolicy gives
        # exactly the default loop's trace, and any policy sees the same points of choice.
        while (self._nondaemon if until_main_done else len(self._tasks)) != 0:
            if not ready:
                self._poll(True)
                continue
            for _ in range(len(ready)):
                index = 0 if pick is None else pick(len(ready))
                if index:
                    task = ready[index]
                    del ready[index]
                else:
                    task = ready.popleft()
                self._step(task)
                if until_main_done and self._nondaemon == 0:
                    return
            if ready and (self._inbox or self._sigint_pending or self._cleaning_up or self._io
                          or self._timers_due(self._clock_now())):
                self._poll(False)

    def _step(self, task: Task[Any]) -> None:
        """Resume one task with its pending value: the policy loop's path (the FIFO loop
        inlines the same)."""
        self._running = task
        value = task._value
        if value is not None:
            task._value = None
            task._revoke = None
            if value is _HANDED_NONE:
                value = None
        self._continue(task, value)

    def _continue(self, task: Task[Any], value: Any) -> None:
        """Resume a task whose effect completed at once, for as long as its effects do."""
        coro = task._coro
        resume = _RESUME
        instruments = self._instruments
        while True:
            if instruments is not None:
                instruments.call(self, "before_step", task)
            try:
                if value.__class__ is Throw:
                    effect = coro.throw(value.exc)
                    if self._cancelling and task in self._cancelling:
                        effect = self._after_cancellation(task, effect, value.exc)
                        if effect is SUSPENDED:
                            return
                else:
                    effect = coro.send(value) if resume is None else resume(coro, value)
            except BaseException as exc:
                if instruments is not None:
                    instruments.call(self, "after_step", task, None)
                self._finish(task, exc)
                return
            if instruments is not None:
                instruments.call(self, "after_step", task,
                                 None if effect.__class__ is _RETURNED else effect)
            if effect is None:
                self._ready.append(task)
                return
            if effect.__class__ is _RETURNED:
                self._finish(task, effect)
                return
            try:
                value = effect._coop_apply(self, task)
            except BaseException as exc:
                value = _refused(task, effect, exc)
            if value is SUSPENDED:
                if instruments is not None and task._parked_on is not None:
                    instruments.call(self, "task_parked", task, task._parked_on)
                return

    def _finish(self, task: Task[Any], exc: BaseException) -> None:
        """Record how a task ended and hand the outcome to whoever joins it."""
        stops_the_run = False
        if isinstance(exc, StopIteration):  # a return (PEP 479 turns a raised one into an error)
            task._outcome = _DONE
            task._result = exc.value
        elif isinstance(exc, Cancelled):
            task._outcome = _CANCELLED
            task._result = exc
        else:
            if isinstance(exc, KeyboardInterrupt) and self._interrupts >= 2:
                raise exc  # the second Ctrl-C: stop at once
            task._outcome = _FAILED
            task._result = exc
            if exc.__class__ is RuntimeError and str(exc) == "no running event loop":
                exc.add_note(ASYNCIO_HINT)  # the task awaited something of asyncio's
            stops_the_run = isinstance(exc, (SystemExit, KeyboardInterrupt))
        del self._tasks[task._id]
        if self._untracking:
            _TRACK(task, task._coro)  # type: ignore[misc]
        if self._instruments is not None:
            self._instruments.call(self, "task_exited", task)
        if self._cancelling:
            self._cancelling.pop(task, None)
            self._cleaning_up.pop(task, None)
        if not task.daemon:
            self._nondaemon -= 1
        if self._done_callbacks:
            callbacks = self._done_callbacks.pop(task, None)
            if callbacks:
                for fn, observes in callbacks:
                    if observes:
                        task._observed = True
                    self._run_callback(fn, task)
        joiners = task._joiners
        if joiners:
            task._observed = True
            task._joiners = None
            self._wake_joiners(task, joiners)
        elif task._outcome == _FAILED and not task.daemon and task is not self._main:
            self._unobserved[task] = None
        if stops_the_run and self._stop is None:
            # As in a program without coop: sys.exit() or a KeyboardInterrupt anywhere ends
            # the program. Every other task is cancelled (its cleanup runs), then run()
            # raises it.
            task._observed = True
            self._unobserved.pop(task, None)
            self._stop = exc
            for other in list(self._tasks.values()):
                self.cancel(other)
        elif task is self._main and task._outcome != _DONE:
            # The program failed: nobody will wait for the other tasks, so stop them (their
            # cleanup runs) rather than leave run() waiting on work whose purpose is gone.
            for other in list(self._tasks.values()):
                self.cancel(other)

    def _after_cancellation(self, task: Task[Any], effect: Any, exc: BaseException) -> Any:
        """A task yielded ``effect`` right after coop.Cancelled was thrown into it.

        Yielding inside the handler is cleanup and is let be (looked at again each round until
        the task ends: _recheck_cleanups). Yielding after it means the task caught the
        cancellation and went on: it is cancelled again instead of ``effect`` being applied,
        and closed once it has gone on _IGNORED_CANCELS times. Returns the effect to apply,
        or SUSPENDED when the task has been dealt with here.
        """
        if not isinstance(exc, Cancelled):
            return effect
        count = self._cancelling.get(task, 0)
        handling = _handling(task._coro, exc)
        if not handling:
            count += 1
            self._cancelling[task] = count
        if count >= _IGNORED_CANCELS:
            self._close_ignoring(task, count)  # it is running now: safe to close
            return SUSPENDED
        if handling:
            self._cleaning_up[task] = exc
            return effect
        self._cleaning_up.pop(task, None)
        task._value = Throw(_cancelled_again())
        self._ready.append(task)
        return SUSPENDED

    def _close_ignoring(self, task: Task[Any], count: int) -> None:
        log.error("coop: task %r caught coop.Cancelled and went on %d times (last at %s); it "
                  "has been closed. Let Cancelled propagate: clean up in `finally:`, or "
                  "re-raise it at the end of the `except` block", task.name, count,
                  _where(task._coro))
        try:
            task._coro.close()
        except BaseException:  # it yielded in `finally` again: there is no more to be done
            pass
        self._finish(task, Cancelled(f"closed after it ignored {count} cancellations"))

    def _recheck_cleanups(self) -> None:
        """Cancel again a task that was cleaning up and has left its handler and gone on."""
        for task, exc in list(self._cleaning_up.items()):
            if task._outcome == _PENDING and _handling(task._coro, exc):
                continue
            del self._cleaning_up[task]
            if task._outcome == _PENDING:
                self._cancelling[task] = self._cancelling.get(task, 0) + 1
                self.cancel(task, _cancelled_again())

    def _wake_joiners(self, task: Task[Any], joiners: WaitQueue) -> None:
        for waiter, quiet in joiners._waiters.items():
            if task._outcome == _DONE:
                self.wake(waiter, None if quiet else task._result)
            elif quiet and task._outcome == _CANCELLED:
                self.wake(waiter)  # a canceller: the cancellation is what it asked for
            else:
                # A cleanup that failed while the task was being cancelled reaches its
                # canceller (`yield coop.cancel(t)`) rather than vanishing.
                self.wake(waiter, Throw(task._result))
        joiners._waiters = {}

    def joiners_of(self, task: Task[Any]) -> WaitQueue:
        """The queue of tasks waiting for ``task`` to end (made on first use)."""
        queue = task._joiners
        if queue is None:
            queue = task._joiners = WaitQueue(lambda: f"join({task.name})", lambda: [task])
        return queue

    # ------------------------------------------------ timers, hand-ins, idling

    def _poll(self, block: bool) -> None:
        """Fire due timers, run hand-ins from other threads, react to Ctrl-C.

        With ``block`` and nothing ready, wait in the selector until the next timer or a
        hand-in, or jump a virtual clock, or raise Deadlock if nothing can ever happen.
        """
        self._running = None  # what runs from here on (hand-ins, timers) runs in no task
        timers = self._timers
        clock = self.clock
        timeout: float | None = 0.0
        jump_to: float | None = None
        if block and not self._inbox and not self._sigint_pending:
            deadline = self._next_deadline()  # dead timers dropped
            if deadline is not None:
                if clock.virtual:
                    if self._external:
                        timeout = None  # offloaded calls take no virtual time: wait for them
                    else:
                        # Jump, unless a descriptor is ready now (looked at first, below):
                        # I/O takes no virtual time either, but it must not be overtaken.
                        jump_to = deadline
                else:
                    timeout = min(max(0.0, deadline - self._clock_now()), _MAX_BLOCK)
            elif self._external:
                timeout = None
            else:
                timeout = self._check_deadlock()  # or raises Deadlock
        if timeout != 0.0 or self._io:
            instruments = self._instruments
            if instruments is not None and block:
                instruments.call(self, "before_idle", timeout)
            self._in_select = True
            try:
                if self._inbox:
                    timeout = 0.0
                events = self._selector.select(timeout)
            finally:
                self._in_select = False
            if instruments is not None and block:
                instruments.call(self, "after_idle")
            for key, mask in events:
                if key.data is None:
                    self._drain_wakeups()
                else:
                    self._io_ready(key.fd, key.data, mask)
                    jump_to = None
        if jump_to is not None:
            clock.advance_to(jump_to)
        inbox = self._inbox
        # Only what was there when the poll began, and at most a batch of it: threads that
        # hand in without pause (an actor's send in a loop) must not keep the tasks from
        # their turns, however far ahead of the scheduler they get.
        handed_in = min(len(inbox), _HANDINS_PER_POLL)
        pick = None if self.policy is None else getattr(self.policy, "pick_handin", None)
        if pick is None:
            for _ in range(handed_in):
                fn, args = inbox.popleft()
                self._run_handin(fn, args)
        elif handed_in:
            # The choice point for what other threads hand in: the order they are applied in
            # is the policy's (recorded and replayed by exploration), not the threads' timing.
            batch = [inbox.popleft() for _ in range(handed_in)]
            while batch:
                fn, args = batch.pop(pick(len(batch)) if len(batch) > 1 else 0)
                self._run_handin(fn, args)
        if self._stuck_since is not None and (handed_in or self._ready):
            self._stuck_since = None  # something happened: a new quiet spell starts later
            self._warned = False
        keys = self._bucket_keys
        if timers or keys:
            now = self._clock_now()
            now_key = now // _BUCKET
            while True:
                while timers and timers[0][0] <= now:
                    entry = heapq.heappop(timers)
                    target = entry[2]
                    if target.__class__ is TimerHandle:
                        if not target.cancelled:
                            target.fn(*target.args)
                    else:
                        sleeper = self._sleeper(entry)
                        if sleeper is not None:
                            self.wake(sleeper)
                if not (keys and keys[0] <= now_key):
                    break
                self._open_bucket()  # one at a time, in order: each is sorted on its own
            if now_key > self._near_key:
                self._near_key = now_key
        if self._cleaning_up:
            self._recheck_cleanups()
        if self._sigint_pending:
            self._sigint_pending = False
            self._cancel_everything()

    @staticmethod
    def _run_handin(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("coop: a call handed in from another thread failed: %r", fn)

    # ------------------------------------------------------------- I/O

    def wait_io(self, task: Task[Any], fd: Any, readable: bool) -> Any:
        """Park ``task`` until ``fd`` (a descriptor or an object with ``fileno()``) is
        readable (or writable); returns SUSPENDED. One task per descriptor and direction."""
        number = fd if isinstance(fd, int) else fd.fileno()
        waits = self._io.get(number)
        if waits is None:
            waits = _IOWaits(number)
        current = waits.get(readable)
        if current is not None:
            raise CoopUsageError(
                f"task {current.task.name!r} already waits for file descriptor {number} to be "
                f"{'readable' if readable else 'writable'}; one task at a time may wait on a "
                f"descriptor in one direction (hand the data on with a coop.Queue instead)")
        wait = _IOWait(self, task, waits, readable)
        waits.set(readable, wait)
        try:
            self._register_io(waits)
        except BaseException:
            waits.set(readable, None)
            raise
        task._parked_on = wait
        self._outside_waits += 1  # a descriptor may become ready whatever the tasks do
        return SUSPENDED

    def _register_io(self, waits: _IOWaits) -> None:
        events = ((selectors.EVENT_READ if waits.reader is not None else 0)
                  | (selectors.EVENT_WRITE if waits.writer is not None else 0))
        fd = waits.fd
        registered = fd in self._io
        if not events:
            if registered:
                del self._io[fd]
                self._selector.unregister(fd)
        elif registered:
            self._selector.modify(fd, events, waits)
        else:
            self._selector.register(fd, events, waits)
            self._io[fd] = waits

    def _io_ready(self, fd: int, waits: Any, mask: int) -> None:
        for wait, event in ((waits.reader, selectors.EVENT_READ),
                            (waits.writer, selectors.EVENT_WRITE)):
            if wait is not None and mask & event:
                wait.release()
                self.wake(wait.task)

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _check_deadlock(self) -> float | None:
        """Nothing is ready, no timer is set, nothing is in flight: can the waiters be woken?

        Raises Deadlock if they cannot: a wait-for cycle (whatever else may happen), or
        nothing left that could wake anyone. Otherwise returns how long the loop may block
        before it looks again: None (until a hand-in), 0 (one is waiting), or the time left
        before the quiet-spell warning. Nothing here is proportional to the number of tasks
        unless it raises: cycles are looked for only from the waits made since the last look.
        """
        if not self._tasks:
            return None
        owned, self._owned_waits = self._owned_waits, {}
        cycle = _find_cycle([t for t in owned if t._parked_on is not None])
        if cycle is not None:
            self._raise_deadlock(cycle)
        if self._outside_waits:
            return None  # a task waits for a signal: that is not being stuck
        threads = _threads_that_may_hand_in()
        if self._inbox:
            # Looked at after the threads: one may have handed its last call in and ended
            # since the caller found the inbox empty.
            return 0.0
        if not threads:
            # Stuck for sure: report a cycle if there is one anywhere, for the clearer report.
            self._raise_deadlock(_find_cycle(
                [t for t in self._tasks.values() if t._parked_on is not None]))
        _THREAD_WATCH.watch(threads, self._poke)  # looks again when they have all ended
        return self._quiet_spell(threads)

    def _quiet_spell(self, threads: list[threading.Thread]) -> float | None:
        """Warn once the waiters have been stuck for ``deadlock_warning`` seconds while only
        other threads keep it from being a deadlock; returns the time left until then."""
        if self._deadlock_warning is None or self._warned:
            return None
        now = time.monotonic()
        if self._stuck_since is None:
            self._stuck_since = now
        left = self._stuck_since + self._deadlock_warning - now
        if left > 0:
            return left
        self._warned = True
        waits = self._stuck_waits(None)
        names = ", ".join(repr(t.name) for t in threads)
        log.warning("coop: %d task(s) have waited %.3g s and only another thread can wake "
                    "them; it is a deadlock unless one does (it would be raised as "
                    "coop.Deadlock, but these threads are alive: %s):\n%s", len(waits),
                    time.monotonic() - self._stuck_since, names, _list_waits(waits))
        return None

    def note_owned_wait(self, task: Task[Any]) -> None:
        """Tell deadlock detection that ``task`` has just parked on something whose
        ``holders()`` may name tasks (a lock's owner, a joined task, an asked actor).

        WaitQueue.park does it for a queue made with ``holders=``; a Parkable of one's own
        with holders calls it after setting the task's wait. A cycle is looked for only from
        these waits, so a wait-for cycle among waits not noted is found only once no other
        thread is alive.
        """
        owned = self._owned_waits
        owned[task] = None
        if len(owned) > 2 * len(self._tasks) + 1024:
            # Checks do not run while timers are set: drop the waits that have ended since.
            self._owned_waits = {t: None for t in owned if t._parked_on is not None}

    def _stuck_waits(self, cycle: list[Task[Any]] | None) -> list[tuple[Task[Any], str]]:
        waiting = [t for t in self._tasks.values() if t._parked_on is not None]
        if cycle is not None:
            in_cycle = set(cycle)
            waiting = cycle + [t for t in waiting if t not in in_cycle]
        return [(t, self.describe_wait(t)) for t in waiting]

    def _raise_deadlock(self, cycle: list[Task[Any]] | None) -> None:
        waits = self._stuck_waits(cycle)
        if cycle is None:
            head = f"{len(waits)} task(s) wait and nothing can wake them"
        elif len(waits) == len(cycle):
            head = f"{len(waits)} task(s) wait and a wait-for cycle"
        else:
            head = (f"{len(waits)} task(s) wait: a wait-for cycle among the first "
                    f"{len(cycle)}, and {len(waits) - len(cycle)} more")
        raise Deadlock(f"deadlock: {head}:\n{_list_waits(waits)}", waits)

    def _poke(self) -> None:
        """Wake the loop from another thread, with nothing handed in (it looks again)."""
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full of wake-ups already, or closed: either way nothing is lost
            pass

    def begin_outside_wait(self) -> None:
        """Note that a task waits for something outside the scheduler that takes no virtual
        time (a signal): while any does, waiting tasks are not a deadlock."""
        self._outside_waits += 1

    def end_outside_wait(self) -> None:
        """The outside wait noted by :meth:`begin_outside_wait` has ended."""
        self._outside_waits -= 1

    def describe_wait(self, task: Task[Any]) -> str:
        """What a parked task waits for, in words."""
        parked = task._parked_on
        if parked is None:
            return "nothing (it is ready)"
        if parked.__class__ is tuple:
            return f"a timer (sleep until t={parked[0]:.6g})"
        return str(parked.describe())

    # ------------------------------------------------------------- Ctrl-C

    def _install_sigint(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None  # someone else owns Ctrl-C; leave it to them
        return signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # Runs between two bytecodes of whatever the main thread was doing, possibly kernel
        # bookkeeping: so the first Ctrl-C only raises a flag that the loop acts on at a safe
        # point. The second one is a request to stop now, wherever that lands.
        self._interrupts += 1
        if self._interrupts >= 2:
            raise KeyboardInterrupt
        self._sigint_pending = True
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _cancel_everything(self) -> None:
        self._interrupted = True
        order = list(self._tasks.values())
        if self._main is not None and self._main in order:
            order.remove(self._main)
            order.insert(0, self._main)
        for task in order:
            self.cancel(task, Cancelled("KeyboardInterrupt"))

    # ------------------------------------------------------------- cleanup

    def _close_all_tasks(self) -> None:
        """After an error that stops the loop, let every live task's ``finally`` blocks run."""
        for task in list(self._tasks.values()):
            try:
                task._coro.close()
            except BaseException:  # a task that yields in `finally` cannot be helped now
                pass
            task._outcome = _CANCELLED
            task._result = Cancelled("the scheduler stopped")
            self._tasks.pop(task._id, None)
            if self._untracking:  # run() failed: it shows its remaining tasks to the GC here
                _TRACK(task, task._coro)  # type: ignore[misc]
        self._ready.clear()
        self._cancelling.clear()
        self._cleaning_up.clear()
        self._owned_waits.clear()
        self._nondaemon = 0

    def _report_unobserved(self) -> None:
        for task in list(self._unobserved):
            if not task._observed:
                log.error("coop: task %r failed and nobody joined it", task.name,
                          exc_info=task._result)
        self._unobserved.clear()

    def _close_services(self) -> None:
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            try:
                close()
            except Exception:
                log.exception("coop: shutting down %r failed", close)

    def close(self) -> None:
        """Release the selector and wake-up sockets. The scheduler cannot run again after."""
        if self._closed:
            return
        self._closed = True
        self._close_all_tasks()
        self._close_services()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: What an instrument may define; each is called with the arguments shown.
INSTRUMENT_HOOKS = (
    "task_spawned",    # (task): made, at the back of the ready queue
    "before_step",     # (task): about to be resumed
    "after_step",      # (task, effect): it yielded effect (None: a bare yield, or it ended)
    "task_parked",     # (task, on): the effect parked it on `on` (a Parkable)
    "task_woken",      # (task, value): made ready again with value (a Throw raises)
    "task_exited",     # (task): it ended; task.state says how
    "before_idle",     # (timeout): nothing is ready; about to block at most timeout s
    "after_idle",      # (): back from blocking
    "external_begin",  # (call): a call went to another thread, process or cluster
    "external_end",    # (call): its result is back
)


class _Instruments:
    """The installed instruments, and for each hook the bound methods that implement it."""

    def __init__(self) -> None:
        self.instruments: list[object] = []
        self.hooks: dict[str, list[tuple[object, Callable[..., Any]]]] = {
            name: [] for name in INSTRUMENT_HOOKS}

    def add(self, instrument: object) -> None:
        found = [name for name in INSTRUMENT_HOOKS if callable(getattr(instrument, name, None))]
        if not found:
            raise TypeError(f"{instrument!r} defines none of the instrument hooks "
                            f"({', '.join(INSTRUMENT_HOOKS)})")
        self.instruments.append(instrument)
        for name in found:
            self.hooks[name].append((instrument, getattr(instrument, name)))

    def remove(self, instrument: object) -> bool:
        if instrument not in self.instruments:
            return False
        self.instruments.remove(instrument)
        for name in INSTRUMENT_HOOKS:
            self.hooks[name] = [e for e in self.hooks[name] if e[0] is not instrument]
        return True

    def call(self, scheduler: Scheduler, name: str, *args: Any) -> None:
        for instrument, hook in self.hooks[name]:
            try:
                hook(*args)
            except Exception:
                log.exception("coop: instrument %r failed in %s and has been removed",
                              instrument, name)
                self.remove(instrument)
                if not self.instruments:
                    scheduler._instruments = None


class _IOWaits:
    """The tasks waiting on one file descriptor: one reader and one writer at most."""

    __slots__ = ("fd", "reader", "writer")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reader: _IOWait | None = None
        self.writer: _IOWait | None = None

    def get(self, readable: bool) -> _IOWait | None:
        return self.reader if readable else self.writer

    def set(self, readable: bool, wait: _IOWait | None) -> None:
        if readable:
            self.reader = wait
        else:
            self.writer = wait


class _IOWait:
    """What a task waiting for a descriptor to be ready is parked on."""

    __slots__ = ("readable", "scheduler", "task", "waits")

    def __init__(self, scheduler: Scheduler, task: Task[Any], waits: _IOWaits,
                 readable: bool) -> None:
        self.scheduler = scheduler
        self.task = task
        self.waits = waits
        self.readable = readable

    def release(self) -> None:
        """Stop waiting: the descriptor is unregistered for this direction."""
        waits = self.waits
        if waits.get(self.readable) is not self:
            return
        waits.set(self.readable, None)
        self.scheduler._outside_waits -= 1
        try:
            self.scheduler._register_io(waits)
        except (OSError, ValueError, KeyError):  # closed meanwhile: nothing left to stop
            self.scheduler._io.pop(waits.fd, None)

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        self.release()  # cancelled or timed out

    def describe(self) -> str:
        return (f"file descriptor {self.waits.fd} to be "
                f"{'readable' if self.readable else 'writable'}")

    def holders(self) -> list[Task[Any]]:
        return []


def _find_cycle(starts: list[Task[Any]]) -> list[Task[Any]] | None:
    """A wait-for cycle reachable from ``starts``, in order, or None.

    An edge goes from a parked task to each parked task that holds what it waits for (a
    Lock's owner, a joined task, an asked actor): every edge, not just the first, since a wait
    may need several holders (readers of a read-write lock) and any one of them can close a
    cycle. Depth-first, each task visited once.
    """
    state: dict[Task[Any], int] = {}  # 1: on the current path, 2: explored, no cycle
    for start in starts:
        if start in state:
            continue
        path = [start]
        stack = [iter(_waits_on(start))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                state[path.pop()] = 2
            elif state.get(following) == 1:
                return path[path.index(following):]
            elif following not in state:
                state[following] = 1
                path.append(following)
                stack.append(iter(_waits_on(following)))
    return None


def _waits_on(task: Task[Any]) -> list[Task[Any]]:
    parked = task._parked_on
    if parked is None or parked.__class__ is tuple or task._outcome != _PENDING:
        return []
    return [h for h in parked.holders() if h._parked_on is not None and h._outcome == _PENDING]


def _threads_that_may_hand_in() -> list[threading.Thread]:
    """The other live threads of the program, but coop's own idle workers."""
    me = threading.get_ident()
    return [thread for thread in threading.enumerate()
            if thread.ident != me and thread not in _internal_threads
            and not thread.name.startswith("coop-") and thread.is_alive()]


class _ThreadWatch:
    """One thread for the whole process that waits for other threads to end, so that a
    scheduler stuck only because they were alive looks again then (without polling)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[threading.Thread, None] = {}
        self._pokes: dict[Callable[[], None], None] = {}
        # Not `_thread`: mypyc would name the C field `__thread`, a C keyword.
        self._watcher: threading.Thread | None = None

    def watch(self, threads: list[threading.Thread], poke: Callable[[], None]) -> None:
        """Call ``poke()`` once every one of ``threads`` has ended."""
        # A thread made outside the threading module cannot be joined (it is a dummy):
        # only the quiet-spell warning can tell about a deadlock it keeps from being raised.
        joinable = [t for t in threads if type(t).__name__ != "_DummyThread"]
        if not joinable:
            return
        with self._lock:
            if poke in self._pokes and all(t in self._watched for t in joinable):
                return
            self._pokes[poke] = None
            for thread in joinable:
                self._watched[thread] = None
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._run, name="coop-deadlock-watch",
                                                daemon=True)
                self._watcher.start()

    def _run(self) -> None:
        # Joins the watched threads one at a time: a deadlock needs them all gone anyway. It
        # ends once nothing is left to watch (a later watch() starts another).
        while True:
            with self._lock:
                alive = [t for t in self._watched if t.is_alive()]
                pokes: list[Callable[[], None]] = []
                if not alive:
                    self._watched.clear()
                    pokes, self._pokes = list(self._pokes), {}
                    self._watcher = None
            for poke in pokes:
                poke()
            if not alive:
                return
            alive[0].join()


_THREAD_WATCH = _ThreadWatch()


#: A deadlock report lists at most this many waits; the rest are counted (all are in .waits).
_REPORTED_WAITS = 20


def _list_waits(waits: list[tuple[Task[Any], str]]) -> str:
    # A deadlock among 100,000 tasks must not print 100,000 lines: the first few name the
    # problem, the count of each kind of wait among the rest says how big it is.
    shown = [f"  {task.name} waits for {what}" for task, what in waits[:_REPORTED_WAITS]]
    rest = waits[_REPORTED_WAITS:]
    if rest:
        kinds: dict[str, int] = {}
        for _, what in rest:
            kind = "a timer" if what.startswith("a timer") else what
            kinds[kind] = kinds.get(kind, 0) + 1
        common = sorted(kinds.items(), key=lambda item: -item[1])
        summary = ", ".join(f"{n} on {what}" for what, n in common[:3])
        if len(common) > 3:
            summary += f", {sum(n for _, n in common[3:])} on other things"
        shown.append(f"  ... and {len(rest)} more ({summary}); Deadlock.waits has them all")
    return "\n".join(shown)


def _refused(task: Task[Any], effect: Any, exc: BaseException) -> Throw:
    """What to throw into a task whose yielded value could not be applied."""
    if not hasattr(effect, "_coop_apply"):
        return Throw(TypeError(_bad_yield_message(task, effect)))
    return Throw(exc)  # the effect refused: the error is the task's own


def _bad_yield_message(task: Task[Any], obj: Any) -> str:
    import inspect

    shown = repr(obj)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if isinstance(obj, Task):
        hint = "to wait for a task, yield coop.join(task)"
    elif inspect.isgenerator(obj):
        hint = ("to run a generator inline use `yield from gen`; "
                "to run it as a separate task use `yield coop.spawn(gen)`")
    elif _is_asyncio_coroutine(obj) or type(obj).__module__.startswith("asyncio"):
        hint = ASYNCIO_HINT
    elif inspect.iscoroutine(obj):
        hint = "to run a coroutine as a task use `yield coop.spawn(coro)`"
    elif type(obj).__module__.startswith("concurrent"):
        hint = ("coop does not wait on concurrent.futures objects; offload the call itself "
                "with `yield coop.to_thread(fn, ...)` or `yield coop.to_process(fn, ...)`")
    else:
        hint = ("yield an effect such as coop.sleep(1) or coop.join(task), "
                "or a bare `yield` to give up the turn")
    return (f"task {task.name!r} yielded {shown} ({type(obj).__name__}), "
            f"which is not a coop effect: {hint}")


def _chain(coro: Any) -> list[Any]:
    """A task's generator and those it is delegating to (``yield from``, ``await``)."""
    chain: list[Any] = []
    while coro is not None and len(chain) < 1000:
        chain.append(coro)
        coro = getattr(coro, "gi_yieldfrom", None) or getattr(coro, "cr_await", None)
    return chain


def _handling(coro: Any, exc: BaseException) -> bool:
    """Whether a suspended task is inside the handler of ``exc`` (an except or finally block).

    While a generator handles an exception, the exception is among the objects it refers to
    (its saved exception state, or a local), and the GC's referents show them.
    """
    for gen in _chain(coro):
        for ref in gc.get_referents(gen):
            if ref is exc:
                return True
    return False


def _where(coro: Any) -> str:
    """The file and line where a suspended task's innermost frame is."""
    chain = _chain(coro)
    for gen in chain[::-1]:  # innermost first (mypyc cannot compile reversed() of Any here)
        frame = getattr(gen, "gi_frame", None) or getattr(gen, "cr_frame", None)
        if frame is not None:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return "an unknown line"


def _nothing() -> None:
    pass


def _cancelled_again() -> Cancelled:
    return Cancelled("cancelled again: the task caught coop.Cancelled and went on")


# A spawned generator's ``__name__``: equal to the name it had, and the mark that it is a
# task's (see Scheduler._spawn). Made with type(): mypyc cannot compile a subclass of str.
_SpawnedName: Any = type("_SpawnedName", (str,), {"__slots__": ()})


#: One marked copy per distinct name (there are as many as there are generator functions).
_SPAWNED_NAMES: dict[str, str] = {}


def _spawned_twice(coro: Any) -> ValueError:
    name = getattr(coro, "__qualname__", None) or getattr(coro, "__name__", "the generator")
    return ValueError(
        f"{name} was already spawned as a task: one generator can run as one task only "
        f"(two would share its frame); call {name}(...) again to get a second one"
    )


def _check_warning(seconds: object) -> float | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"deadlock_warning takes a number of seconds >= 0, or None to turn "
                         f"the warning off; got {seconds!r}")
    return float(seconds)
