"""coop.run: the one call most programs make."""

from __future__ import annotations

from typing import Any, TypeVar

from .kernel import Scheduler
from .policy import Policy
from .task import Runnable

T = TypeVar("T")


def run(main: Runnable[T], *, clock: Any = None, policy: Policy | None = None) -> T:
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

    >>> def main():
    ...     yield coop.sleep(1)
    ...     return "done"
    >>> coop.run(main(), clock=coop.VirtualClock())
    'done'
    """
    scheduler = Scheduler(clock=clock, policy=policy)
    try:
        return scheduler.run_main(main)  # type: ignore[no-any-return]
    finally:
        scheduler.close()
