"""coop.run, the one call most programs make, and what code it runs may ask of it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any, TypeVar

from .errors import CoopUsageError
from .lowlevel import Runnable, Scheduler, running_scheduler
from .offload import configure
from .policy import Policy
from .tracing import Tracer

T = TypeVar("T")

#: What ``python -m coop run`` sets for the script it runs: a function that :func:`run` calls
#: once per run, returning options (``"clock"``, ``"debug"``, ``"trace"``) for those the call
#: did not pass. None otherwise, and then run() looks at nothing else.
DEFAULTS: Callable[[], dict[str, Any]] | None = None


def run(main: Runnable[T], *, clock: Any = None, policy: Policy | None = None,
        threads: Any = None, processes: Any = None,
        deadlock_warning: float | None = 10.0, until: float | None = None,
        debug: bool | float | None = None,
        trace: str | os.PathLike[str] | IO[str] | None = None,
        dump_signal: int | str | None = None) -> T:
    """Run ``main`` (a generator or coroutine) as the main task and return its result.

    Returns once ``main`` and every task spawned without ``daemon=True`` have finished (as a
    program waits for its non-daemon threads); daemon tasks still running then are cancelled.
    Raises what ``main`` raised (the other tasks are then cancelled, their cleanup runs first),
    :class:`coop.Deadlock` if tasks wait and nothing can wake them, and KeyboardInterrupt after
    a Ctrl-C has cancelled every task. A task that failed and that nobody joined is logged on
    the ``coop`` logger.

    ``clock``: :class:`coop.RealClock` (default) or :class:`coop.VirtualClock`.
    ``policy``: which ready task runs next; FIFO by default, :class:`coop.RandomPolicy` to
    explore interleavings.
    ``threads``, ``processes``: the backends of :func:`coop.to_thread` and of
    :func:`coop.to_process` / :func:`coop.pmap`: a number of workers for the pools coop starts
    (by default sized to the machine; they stop when ``run()`` returns), or a pool of your own,
    used as it is and left running (see :mod:`coop.offload`).
    ``deadlock_warning``: tasks stuck while only another OS thread could still wake them are
    not raised as a deadlock (the thread may yet hand something in); after this many seconds
    of it a warning with the deadlock report and the names of those threads is logged on the
    ``coop`` logger (once per quiet spell). ``None`` turns the warning off.

    ``until``: a time on the clock (virtual seconds, or ``time.monotonic()`` seconds under the
    default clock) at which the run stops, as SimPy's ``env.run(until=T)``: when the clock
    gets there, before anything due at that time runs, every task still pending is
    cancelled (main first) and its cleanup runs; then ``run()`` returns main's result if main
    had finished, and otherwise raises :class:`coop.Timeout`, whose message lists what the
    tasks were waiting for (a program stuck for good stops at ``until`` this way, rather
    than raising Deadlock).

    >>> def clock_tower():
    ...     while True:
    ...         yield coop.sleep(1)
    ...         print(f"bong at {coop.current_time():g}")
    >>> def main():
    ...     yield coop.spawn(clock_tower())
    ...     yield coop.sleep(2.5)
    ...     return "main is done"
    >>> coop.run(main(), clock=coop.VirtualClock(), until=3)
    bong at 1
    bong at 2
    'main is done'

    A SystemExit or KeyboardInterrupt raised in any task stops the run: every other task is
    cancelled and its cleanup runs, then ``run()`` raises it (so ``sys.exit(3)`` in a task
    exits with status 3).

    ``debug``: debug mode, as asyncio's: warnings (:class:`coop.DebugWarning`, at the file and
    line to look at) of an effect made and never yielded, a step that held the scheduler
    longer than 0.1 s (or the number of seconds given as ``debug``), a task that caught
    ``coop.Cancelled`` and went on, a failed task nobody waits for (when it fails). ``None``
    (the default) turns it on when Python runs in development mode (``PYTHONDEVMODE=1``,
    ``-X dev``) or ``COOP_DEBUG=1`` is set. Off, it costs nothing.

    >>> def main():
    ...     yield coop.sleep(1)
    ...     return "done"
    >>> coop.run(main(), clock=coop.VirtualClock())
    'done'

    ``trace``: write the run's timeline to this file (a path, a :class:`pathlib.Path` or an
    open text file) as Chrome trace-event JSON, for https://ui.perfetto.dev and
    chrome://tracing: a track per task, its steps, waits and wakes, arrows from spawns,
    messages and replies, offloaded calls on their workers' tracks (see :mod:`coop.tracing`).
    Written when the run ends, however it ends. Off, it costs nothing.

    ``dump_signal``: a signal (``signal.SIGUSR1``, or its name) on which the tree of pending
    tasks (:func:`coop.dump_tasks`) is printed to stderr, and the run goes on: ``kill -USR1
    <pid>`` on a program that seems stuck shows where every task waits. The handler only hands
    a call in; the dump is made in the scheduler thread at its next poll. The previous handler
    is back when ``run()`` returns. Unix only; not SIGINT (Ctrl-C cancels every task), and
    ``run()`` must be in the main thread.
    """
    if DEFAULTS is not None:
        given = DEFAULTS()
        clock = clock if clock is not None else given.get("clock")
        debug = debug if debug is not None else given.get("debug")
        trace = trace if trace is not None else given.get("trace")
    scheduler = Scheduler(clock=clock, policy=policy, deadlock_warning=deadlock_warning,
                          debug=debug, dump_signal=dump_signal)
    tracer = None
    try:
        if trace is not None:
            tracer = Tracer(trace)
            scheduler.add_instrument(tracer)
        if threads is not None or processes is not None:
            configure(scheduler, threads=threads, processes=processes)
        return scheduler.run_main(main, until=until)  # type: ignore[no-any-return]
    finally:
        try:
            scheduler.close()
        finally:
            if tracer is not None:
                tracer.close()


def current_time() -> float:
    """The running scheduler's clock, read with a plain call (no ``yield``), so that it fits
    in an expression: ``log(f"{coop.current_time():.2f} arrived")``.

    The same value as ``yield coop.now()``: virtual seconds under a :class:`coop.VirtualClock`,
    ``time.monotonic()`` under the default clock. Works anywhere the scheduler runs code (a
    task, a callback it runs); elsewhere it raises :class:`coop.CoopUsageError`.

    >>> def customer(name, log):
    ...     yield coop.sleep(1.25)
    ...     log.append(f"{coop.current_time():.2f} {name} arrives")
    >>> def main():
    ...     log = []
    ...     yield coop.join((yield coop.spawn(customer("ann", log))))
    ...     return log
    >>> coop.run(main(), clock=coop.VirtualClock())
    ['1.25 ann arrives']
    """
    scheduler = running_scheduler()
    if scheduler is None:
        raise CoopUsageError(
            "coop.current_time() reads the clock of the scheduler running in this thread, and "
            "none is: call it from a task or a callback coop runs (from another thread, ask "
            "with scheduler.now() on the scheduler itself)")
    return scheduler.now()
