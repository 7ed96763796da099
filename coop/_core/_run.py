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

import heapq
import importlib
import itertools
import logging
import math
import selectors
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from ..clock import RealClock
from ..errors import Cancelled, CoopUsageError, Timeout
from ..policy import Policy
from ._cancelling import _cancelled_again, _handling, _nothing, _where
from ._cext import _RESUME, _RETURNED, _TRACK, _UNTRACK
from ._checks import (
    _COROUTINE,
    _GENERATOR,
    _SPAWNED_NAMES,
    ASYNCIO_HINT,
    _check_until,
    _debug_requested,
    _refused,
    _spawned_twice,
    _SpawnedName,
    check_runnable,
)
from ._deadlock import DeadlockDetector, _list_waits
from ._instruments import _Instruments
from ._io import _IOWait, _IOWaits
from ._task import _CANCELLED, _DONE, _FAILED, _PENDING, Runnable, Task, Throw
from ._timers import BUCKET, TimerHandle, TimerWheel
from ._waitqueue import _FOREVER, _HANDED_NONE, SUSPENDED, WaitQueue

log = logging.getLogger("coop")

# The C functions under signal's: those convert each handler to and from an enum, which was a
# quarter of a short run's cost (exploration starts thousands of runs), and coop needs neither.
_signal: Any = importlib.import_module("_signal")

#: An infinite deadline means none: no timer is made for it (inf // BUCKET is NaN).
_INF: Final = math.inf
#: The longest the selector is asked to block at once; a far finite deadline waits in steps
#: (select() refuses timeouts beyond a platform limit with OverflowError).
_MAX_BLOCK: Final = 86400.0
#: The most hand-ins from other threads one poll runs before the tasks get their turns again.
_HANDINS_PER_POLL: Final = 1024
# Ordered hand-ins (a seeded policy): how long a poll waits for the calls in flight before it
# gives up on ordering them (a call that waits for the scheduler itself can never finish).
_ORDERED_WAIT: Final = 30.0
#: A task that catches coop.Cancelled and goes on is cancelled again; after this many times
#: it is closed, so that neither cancel() nor run() can wait for it forever.
_IGNORED_CANCELS: Final = 3


_running: Final = threading.local()


class _Running:
    """Which task's step runs. A holder of one slot rather than a field of the Scheduler: in
    the interpreter (the pure-Python kernel) the Scheduler's fields live in a dict, and the
    store every switch makes cost 100 instructions more there than in a slot."""

    __slots__ = ("task",)

    def __init__(self) -> None:
        self.task: Any = None




def _task_id(task: Task[Any]) -> int:
    return task._id  # type: ignore[no-any-return]


def running_scheduler() -> Scheduler | None:
    """The scheduler running in this OS thread, or None outside ``run()``."""
    return getattr(_running, "scheduler", None)


class Scheduler:
    """Runs tasks cooperatively in one OS thread.

    >>> def hello(name):
    ...     yield coop.sleep(1)
    ...     print("hello", name)
    >>> scheduler = coop.Scheduler(clock=coop.VirtualClock())
    >>> task = scheduler.spawn(hello("world"))
    >>> scheduler.run()
    hello world
    >>> task.done()
    True

    Most programs call :func:`coop.run` instead, which also waits for the main task's result.
    """

    def __init__(self, *, clock: Any = None, policy: Policy | None = None,
                 deadlock_warning: object = 10.0, debug: object = False,
                 dump_signal: object = None) -> None:
        # deadlock_warning: seconds or None, typed object so that coop's own message reports a
        # wrong value (compiled, a `float | None` parameter is checked by mypyc on entry).
        self.clock: Any = clock if clock is not None else RealClock()
        self._deadlock = DeadlockDetector(deadlock_warning)
        # What reads the time on hot paths: time.monotonic itself for a RealClock (whose now()
        # is just that), sparing a Python-level call per sleep and per round.
        self._clock_now: Callable[[], float] = (
            time.monotonic if self.clock.__class__ is RealClock else self.clock.now)
        self.policy = policy
        self._ready: deque[Task[Any]] = deque()
        self._tasks: dict[Any, Task[Any]] = {}
        self._wheel = TimerWheel(self._tasks)
        self._ids = itertools.count(1)
        self._nondaemon = 0
        self._main: Task[Any] | None = None
        # Calls in flight on other threads or processes that will hand a result back.
        self._external = 0
        self._inbox: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._in_select = False
        # Made on first need (a real wait, a descriptor): a run under a virtual clock never
        # blocks, and exploration starts thousands of runs, each paying ~25 us for these.
        self._selector: Any = None
        self._wake_r: Any = None
        self._wake_w: Any = None
        self._unobserved: dict[Task[Any], None] = {}
        # Per task: (callback, whether it observes the outcome: a failure it sees is not
        # reported as one nobody joined).
        self._done_callbacks: dict[Task[Any], list[tuple[Callable[[Task[Any]], None], bool]]] = {}
        # The task resumed last (the running one while a step runs): see current_task().
        self._current = _Running()
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
        # run(until=...): the end time was reached (the loops stop), and what Timeout says.
        self._halted = False
        self._reached: str | None = None
        # While run() runs (and the C helpers exist), pending tasks are hidden from the GC.
        self._untracking = False
        # Tasks being cancelled, with how often each caught the cancellation and went on; and
        # of those, the ones yielding inside their handler (cleaning up), with the exception.
        self._cancelling: dict[Task[Any], int] = {}
        self._cleaning_up: dict[Task[Any], BaseException] = {}
        # A SystemExit or KeyboardInterrupt raised by a task: the run stops and run() raises it.
        self._stop: BaseException | None = None
        # Waits that something outside the scheduler ends and that take no virtual time (a
        # signal): they are not a deadlock, and unlike external calls they let the clock jump.
        self._outside_waits = 0
        #: How many steps the policy loop has run (the loop a policy or an instrument selects;
        #: the plain FIFO loop does not count, to stay as cheap as it is).
        self.steps = 0
        # A seeded policy orders what other threads hand in: each poll first waits for every
        # call in flight, then makes the tasks they woke ready in task order (see _poll).
        self._ordered = bool(getattr(policy, "ordered_handins", False))
        # Debug mode's instrument (coop.run(debug=True)); None when off, as it nearly always is.
        self._debug: Any = None
        self._enable_debug(debug)
        # dump_signal=: prints a task dump when the signal comes (_stacks.DumpOnSignal).
        self._dump_on_signal: Any = None
        if dump_signal is not None:
            from ._stacks import DumpOnSignal  # not compiled: it reads frames
            self._dump_on_signal = DumpOnSignal(self, dump_signal)

    def _enable_debug(self, debug: object) -> None:
        slow_step = _debug_requested(debug)
        if slow_step is None:
            return
        from ._debug import DebugMode  # only in debug mode: it reads frames, it is not compiled
        self._debug = DebugMode(self, slow_step)
        self.add_instrument(self._debug)
        from ._stacks import SpawnTracker  # each task's parent, for dumps
        self.add_instrument(SpawnTracker(self))

    @property
    def debug(self) -> bool:
        """Whether debug mode is on (see :func:`coop.run`)."""
        return self._debug is not None

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
        elif coro.__class__ is _GENERATOR or coro.__class__ is _COROUTINE:
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

    @property
    def main_task(self) -> Task[Any] | None:
        """The task :meth:`run_main` runs (None before it is called, and under :meth:`run`)."""
        return self._main

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
            self._wheel.died()
        if revoke is not None and value is None:
            value = _HANDED_NONE  # keeps the resume off the fast path, which skips _revoke
        task._value = value
        task._revoke = revoke
        self._ready.append(task)
        if self._instruments is not None:
            self._instruments.call(self, "task_woken", task, value)

    def park(self, task: Task[Any], on: Any, owned: bool = False) -> Any:
        """Park ``task`` on ``on``, a Parkable of one's own; returns SUSPENDED (a WaitQueue
        parks with its own ``park``). ``owned``: ``on.holders()`` may name tasks (an owner,
        a joined task), so the wait is noted for wait-for cycle detection."""
        task._parked_on = on
        if owned:
            self._deadlock.note(task, len(self._tasks))
        return SUSPENDED

    def sleep_until(self, task: Task[Any], deadline: float) -> Any:
        """Park ``task`` until the clock reaches ``deadline``; returns SUSPENDED."""
        if deadline >= _INF:
            task._parked_on = _FOREVER
            return SUSPENDED
        task._parked_on = self._wheel.add(deadline, task._id)  # by id: see _timers.py
        return SUSPENDED

    def call_at(self, deadline: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``fn(*args)`` in the scheduler thread once the clock reaches ``deadline``."""
        if deadline != deadline:
            raise ValueError("call_at: the deadline is NaN; pass a time from the scheduler clock")
        handle = TimerHandle(deadline, fn, args)
        if deadline < _INF:  # an infinite deadline never comes: the handle is all there is
            self._wheel.add(deadline, handle)
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
            self._wheel.died()
        handle = TimerHandle(deadline, self._deadline_passed, ())
        handle.args = (task, exc_factory, handle)
        self._wheel.add(deadline, handle)
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
                self._wheel.died()
            else:
                parked.unpark(task)

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

    def throw_in(self, task: Task[Any], exc: BaseException) -> bool:
        """Raise ``exc`` in ``task`` at its ``yield`` as an ordinary exception (it may handle it
        and go on): unlike :meth:`cancel`, the task is not watched for ignoring it.

        Returns False, and does nothing, if the task has ended or already has an exception on
        its way to it (a cancellation is never overwritten). A task's own running step cannot
        be thrown into: the caller raises instead (CoopUsageError).
        """
        if task._outcome != _PENDING or task._value.__class__ is Throw:
            return False
        if task is self.current_task():
            raise CoopUsageError(f"task {task.name!r} tried to throw into its own running "
                                 f"step; raise the exception instead")
        if task._parked_on is not None:
            self.interrupt(task, exc)
            return True
        revoke = task._revoke
        if revoke is not None:  # woken with a resource it has not used: it goes back
            task._revoke = None
            value = task._value
            revoke(None if value is _HANDED_NONE else value)
        task._value = Throw(exc)
        return True

    def is_cancelling(self, task: Task[Any]) -> bool:
        """Whether ``task`` has been cancelled and has not ended yet (it may be cleaning up)."""
        return task in self._cancelling

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
        task = self._current.task
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

    def run_main(self, coro: Runnable[Any], name: str | None = "main",
                 until: object = None) -> Any:
        """Run ``coro`` as the main task, as :func:`coop.run` does, and return its result.

        With ``until`` (a time on this scheduler's clock), the run stops when the clock gets
        there, before anything due then runs: see :func:`coop.run`.
        """
        check_runnable(coro)
        deadline = _check_until(until, self.now())
        self._forget_end_time()  # a scheduler may be run again after a run that raised
        main = self._spawn(coro, name, False)
        self._main = main
        if deadline is not None:
            self._wheel.add_first(deadline, TimerHandle(deadline, self._reach_until,
                                                        (deadline,)))
        self._run(main)
        if self._reached is not None:
            reached, self._reached = self._reached, None
            if main._outcome != _DONE:
                if main._outcome == _FAILED and not isinstance(main._result, Cancelled):
                    return main.result()  # it failed on its own before the time was up
                main._observed = True
                raise Timeout(reached)
        return main.result()

    def _forget_end_time(self) -> None:
        # A method, not assignments in run_main: mypy would narrow _reached to None there,
        # and the compiled run_main would then refuse to read the message set meanwhile.
        self._halted = False
        self._reached = None

    def _reach_until(self, deadline: float) -> None:
        # Fires before every other timer due at the deadline; the loop stops after the poll
        # that fired it, and _run cancels what is left.
        waits = [(t, self.describe_wait(t)) for t in self._tasks.values()
                 if t._parked_on is not None]
        self._reached = (f"the run stopped at its end time ({deadline:g}, run(until=...)) "
                         f"before main finished; {len(waits)} task(s) were waiting"
                         + (":\n" + _list_waits(waits) if waits else ""))
        self._halted = True
        self._wheel.cancel_from(deadline)

    def _run(self, main: Task[Any] | None) -> None:
        if running_scheduler() is not None:
            raise CoopUsageError(
                "coop.run() was called from inside a running task; a task must not start a "
                "second scheduler. Use `yield coop.spawn(gen)` or `yield from gen` instead"
            )
        if self._dump_on_signal is not None:
            self._dump_on_signal.install()  # before anything else: it may refuse
        _running.scheduler = self
        if getattr(self.policy, "closed_world", False):
            self._deadlock.strangers = set(threading.enumerate())
        installed = self._install_sigint()
        self._hide_tasks_from_gc(True)
        if self._debug is not None:
            self._debug.start()
        try:
            try:
                self._loop(main is not None)
                if self._halted:
                    # run(until=...): the time is up. Every task is cancelled, main first,
                    # and their cleanup runs (it may take time of its own).
                    self._halted = False
                    self._cancel_all("the run reached its end time")
                    self._loop(False)
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
            if self._debug is not None:
                self._debug.stop()
            self._current.task = None
            self._hide_tasks_from_gc(False)
            if installed is not None:
                _signal.signal(signal.SIGINT, installed)
            if self._dump_on_signal is not None:
                self._dump_on_signal.uninstall()
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
        if _RESUME is None:
            self._loop_interpreted(until_main_done)
            return
        ready = self._ready
        popleft = ready.popleft
        append = ready.append
        wheel = self._wheel
        timers = wheel.near
        bucket_keys = wheel.keys
        inbox = self._inbox
        clock_now = self._clock_now
        resume = _RESUME
        returned = _RETURNED
        running = self._current
        while True:
            for _ in range(len(ready)):
                task = popleft()
                running.task = task
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
                    (timers or bucket_keys) and wheel.due(clock_now())):
                self._poll(False)
            else:
                continue  # nothing was polled: no instrument can have been added
            if self._halted:
                return  # run(until=...) reached its end time
            # Looked at only after a poll (add_instrument hands in a no-op to make one), so a
            # round without one pays nothing for instruments.
            if self._instrumented():
                self._loop_with_policy(until_main_done)
                return

    def _loop_interpreted(self, until_main_done: bool) -> None:
        """The FIFO loop in the shape the interpreter runs fastest (the pure-Python kernel).

        _loop without its tests of the C helper (``resume``). Measured with callgrind, per
        bare-yield switch: 1,578 instructions here; 1,595 when the running task stayed at the
        head of the ready queue so that nothing was stored (``ready[0]`` and ``rotate(-1)``
        cost more than popleft and append), 1,606 storing it in a field of the Scheduler (in
        the interpreter its 38 fields live in a dict, and a store there costs 100
        instructions more than one in a slot), and 1,641 in _loop itself.
        """
        ready = self._ready
        popleft = ready.popleft
        append = ready.append
        running = self._current
        returned = _RETURNED
        while True:
            for _ in range(len(ready)):
                task = popleft()
                running.task = task
                value = task._value
                try:
                    if value is None:
                        effect = task._coro.send(None)
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
                            effect = task._coro.send(value)
                except BaseException as exc:
                    self._finish(task, exc)
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
            wheel = self._wheel
            if not ready:
                self._poll(True)
            elif self._inbox or self._sigint_pending or self._cleaning_up or self._io or (
                    (wheel.near or wheel.keys) and wheel.due(self._clock_now())):
                self._poll(False)
            else:
                continue
            if self._halted:
                return
            if self._instrumented():
                self._loop_with_policy(until_main_done)
                return

    def _loop_with_policy(self, until_main_done: bool) -> None:
        pick = None if self.policy is None else self.policy.pick
        # A policy that wants to know which tasks it chooses among (exploration keeps
        # per-task priorities) defines pick_task(ready): the ready deque itself, oldest first.
        pick_task = None if self.policy is None else getattr(self.policy, "pick_task", None)
        # A policy with picks_alone = False is not asked when one task is ready: most steps of
        # a small program are such, and asking is a call into Python each time.
        ask_alone = bool(getattr(self.policy, "picks_alone", True))
        ready = self._ready
        # In rounds, as the FIFO loop runs, polling at the same points: so FifoPolicy gives
        # exactly the default loop's trace, and any policy sees the same points of choice.
        while (self._nondaemon if until_main_done else len(self._tasks)) != 0:
            if not ready:
                self._poll(True)
                if self._halted:
                    return  # run(until=...) reached its end time
                continue
            for _ in range(len(ready)):
                if pick_task is not None:
                    index = pick_task(ready) if ask_alone or len(ready) > 1 else 0
                else:
                    index = 0 if pick is None else pick(len(ready))
                if index:
                    task = ready[index]
                    del ready[index]
                else:
                    task = ready.popleft()
                self._step(task)
                if until_main_done and self._nondaemon == 0:
                    return
            wheel = self._wheel
            if ready and (self._inbox or self._sigint_pending or self._cleaning_up or self._io
                          or (self._ordered and self._external)
                          or ((wheel.near or wheel.keys) and wheel.due(self._clock_now()))):
                self._poll(False)
            if self._halted:
                return  # run(until=...) reached its end time

    def _step(self, task: Task[Any]) -> None:
        """Resume one task with its pending value: the policy loop's path (the FIFO loop
        inlines the same)."""
        self._current.task = task
        self.steps += 1
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
        # Looked up once per resume: an instrument without step hooks then costs a step
        # nothing.
        step_hooks = instruments is not None and instruments.stepping
        while True:
            if step_hooks:
                assert instruments is not None
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
                if step_hooks:
                    assert instruments is not None
                    instruments.call(self, "after_step", task, None)
                self._finish(task, exc)
                return
            if step_hooks:
                assert instruments is not None
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
            if self._debug is not None and not task._observed:
                self._debug.failed_unjoined(task, task._result)
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
            if self._debug is not None and count == 1:
                self._debug.cancel_ignored(task, effect)
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
        self._current.task = None  # what runs from here on (hand-ins, timers) runs in no task
        if self._ordered and self._external:
            self._await_externals()
            if self._ready:
                block = False  # the outcomes woke tasks: nothing to wait for now
        wheel = self._wheel
        timers = wheel.near
        clock = self.clock
        timeout: float | None = 0.0
        jump_to: float | None = None
        if block and not self._inbox and not self._sigint_pending:
            deadline = wheel.next_deadline()  # dead timers dropped
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
                timeout = self._deadlock.check(self)  # or raises Deadlock
        if timeout != 0.0 or self._io:
            instruments = self._instruments
            if instruments is not None and block:
                instruments.call(self, "before_idle", timeout)
            selector = self._selector if self._selector is not None else self._open_selector()
            self._in_select = True
            try:
                # Looked at again here: a hand-in or a Ctrl-C that came before the wake-up
                # socket existed (made just now, on the run's first wait) wrote nothing to it.
                if self._inbox or self._sigint_pending:
                    timeout = 0.0
                events = selector.select(timeout)
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
        if handed_in or self._ready:
            self._deadlock.activity()
        keys = wheel.keys
        if timers or keys:
            now = self._clock_now()
            now_key = now // BUCKET
            while True:
                while timers and timers[0][0] <= now and not self._halted:
                    entry = heapq.heappop(timers)
                    target = entry[2]
                    if target.__class__ is TimerHandle:
                        if not target.cancelled:
                            target.fn(*target.args)
                    else:
                        sleeper = wheel.sleeper(entry)
                        if sleeper is not None:
                            self.wake(sleeper)
                if not (keys and keys[0] <= now_key) or self._halted:
                    break
                wheel.open_bucket()  # one at a time, in order: each is sorted on its own
            if now_key > wheel.near_key:
                wheel.near_key = now_key
        if self._cleaning_up:
            self._recheck_cleanups()
        if self._sigint_pending:
            self._sigint_pending = False
            self._cancel_everything()

    def _await_externals(self) -> None:
        """Under a seeded policy, every call in flight hands its outcome back before the loop
        goes on, and the tasks those outcomes wake become ready in task order: so a call's
        result lands in the same round of every run with that seed, however long its thread
        or process took, and the order the threads happened to finish in does not show."""
        ready = self._ready
        before = len(ready)
        inbox = self._inbox
        give_up = time.monotonic() + _ORDERED_WAIT
        handed_in = False
        while self._external:
            while inbox:
                fn, args = inbox.popleft()
                self._run_handin(fn, args)
                handed_in = True
            if not self._external or self._sigint_pending:
                break  # a Ctrl-C is seen by the rest of the poll
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                log.warning("coop: %d offloaded call(s) did not hand a result back within %g s "
                            "while the seeded policy waited to order them; going on, so this "
                            "run may not replay exactly (does a call wait for the scheduler?)",
                            self._external, _ORDERED_WAIT)
                break
            selector = self._selector if self._selector is not None else self._open_selector()
            self._in_select = True
            try:
                if not inbox and not self._sigint_pending:
                    for key, _mask in selector.select(min(remaining, 1.0)):
                        if key.data is None:
                            self._drain_wakeups()  # descriptors: seen again by the next select
            finally:
                self._in_select = False
        if handed_in:
            self._deadlock.activity()
        if len(ready) > before:
            woken = [ready.pop() for _ in range(len(ready) - before)]
            woken.sort(key=_task_id)
            ready.extend(woken)

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
        selector = self._selector if self._selector is not None else self._open_selector()
        if not events:
            if registered:
                del self._io[fd]
                selector.unregister(fd)
        elif registered:
            selector.modify(fd, events, waits)
        else:
            selector.register(fd, events, waits)
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

    def note_owned_wait(self, task: Task[Any]) -> None:
        """Tell deadlock detection that ``task`` has just parked on something whose
        ``holders()`` may name tasks (a lock's owner, a joined task, an asked actor).

        WaitQueue.park does it for a queue made with ``holders=``; a Parkable of one's own
        with holders calls it after setting the task's wait. A cycle is looked for only from
        these waits, so a wait-for cycle among waits not noted is found only once no other
        thread is alive.
        """
        self._deadlock.note(task, len(self._tasks))

    def _open_selector(self) -> Any:
        """The selector and the wake-up socket pair, made the first time the loop waits."""
        selector = selectors.DefaultSelector()
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        selector.register(wake_r, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = wake_r, wake_w
        self._selector = selector
        return selector

    def _poke(self) -> None:
        """Wake the loop from another thread, with nothing handed in (it looks again)."""
        wake_w = self._wake_w
        if wake_w is None:
            return  # the loop has never waited: it is not waiting now, and will look again
        try:
            wake_w.send(b"\0")
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
        if _signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None  # someone else owns Ctrl-C; leave it to them
        return _signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # Runs between two bytecodes of whatever the main thread was doing, possibly kernel
        # bookkeeping: so the first Ctrl-C only raises a flag that the loop acts on at a safe
        # point. The second one is a request to stop now, wherever that lands.
        self._interrupts += 1
        if self._interrupts >= 2:
            raise KeyboardInterrupt
        self._sigint_pending = True
        wake_w = self._wake_w
        if wake_w is None:
            return  # the loop has never waited: it sees the flag at its next poll
        try:
            wake_w.send(b"\0")
        except OSError:
            pass

    def dump(self) -> Any:
        """The pending tasks as a :class:`coop.dump.TaskTree`: each task's name, id, state,
        what it waits for, its parent and its suspended stack (see :func:`coop.dump_tasks`).

        Call it in the scheduler's thread (a task, a callback it runs, or between runs).
        """
        from ._stacks import dump  # not compiled: it reads frames
        return dump(self)

    def _cancel_everything(self) -> None:
        self._interrupted = True
        self._cancel_all("KeyboardInterrupt")

    def _cancel_all(self, why: str) -> None:
        """Cancel every task, main first, each with its own Cancelled(why)."""
        order = list(self._tasks.values())
        if self._main is not None and self._main in order:
            order.remove(self._main)
            order.insert(0, self._main)
        for task in order:
            self.cancel(task, Cancelled(why))

    # ------------------------------------------------------------- cleanup

    def _close_all_tasks(self) -> None:
        """After an error that stops the loop, let every live task's ``finally`` blocks run."""
        for task in list(self._tasks.values()):
            # Its `finally` runs as the task (a lock's `with` checks who releases it).
            self._current.task = task
            try:
                task._coro.close()
            except BaseException:  # a task that yields in `finally` cannot be helped now
                pass
            self._current.task = None
            task._outcome = _CANCELLED
            task._result = Cancelled("the scheduler stopped")
            self._tasks.pop(task._id, None)
            if self._untracking:  # run() failed: it shows its remaining tasks to the GC here
                _TRACK(task, task._coro)  # type: ignore[misc]
        self._ready.clear()
        self._cancelling.clear()
        self._cleaning_up.clear()
        self._deadlock.forget()
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
        if self._selector is not None:
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


