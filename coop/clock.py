"""Clocks: where the scheduler reads the time, and whether waiting takes real time."""

from __future__ import annotations

import time


class RealClock:
    """Monotonic wall time (:func:`time.monotonic`); the default for :func:`coop.run`.

    >>> clock = coop.RealClock()
    >>> clock.now() <= clock.now()
    True
    """

    #: A virtual clock jumps instead of blocking; the real one really waits.
    virtual = False

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    def advance_to(self, deadline: float) -> None:
        """Real time cannot be moved; the scheduler never calls this on a real clock."""
        raise TypeError("a RealClock cannot be advanced; use coop.VirtualClock() in tests")


class VirtualClock:
    """Simulated time for tests and simulations: ``now()`` starts at ``start`` (0) and jumps
    straight to the next timer whenever no task is ready, so a program that sleeps for an hour
    finishes at once and the same program always sees the same times.

    >>> def main():
    ...     yield coop.sleep(3600)
    ...     return (yield coop.now())
    >>> coop.run(main(), clock=coop.VirtualClock())
    3600.0

    While work offloaded to a thread or process is in flight, the clock does not jump past it:
    the scheduler waits (in real time) for the result first, so offloaded calls take no virtual
    time and a timeout around one cannot fire early because the clock raced ahead.
    """

    virtual = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The simulated time in seconds."""
        return self._now

    def advance_to(self, deadline: float) -> None:
        """Move the time forward to ``deadline`` (never backward)."""
        if deadline > self._now:
            self._now = deadline

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now})"
