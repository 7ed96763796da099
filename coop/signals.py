"""Waiting for a POSIX signal as a task: ``signum = yield coop.wait_signal(signal.SIGTERM)``.

A task that waits for a signal is not stuck: something outside the program may still send it,
so deadlock detection leaves it be (a raw handler installed with :func:`signal.signal` is
invisible to it, which is why this exists). The handlers are installed while a task waits and
the previous ones put back when the last waiter for that signal is gone.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

from .errors import CoopUsageError
from .lowlevel import Effect, Task

if TYPE_CHECKING:
    from .lowlevel import Scheduler

__all__ = ["wait_signal"]

# Signals a process cannot catch.
_UNCATCHABLE = {getattr(signal, name) for name in ("SIGKILL", "SIGSTOP") if hasattr(signal, name)}


def _check_signum(signum: object) -> signal.Signals:
    if isinstance(signum, bool) or not isinstance(signum, int):
        raise TypeError(f"coop.wait_signal takes signal numbers such as signal.SIGTERM, "
                        f"got {signum!r} ({type(signum).__name__})")
    if signum not in signal.valid_signals():
        raise ValueError(f"coop.wait_signal: {signum} is not a signal number on this system")
    if signum in _UNCATCHABLE:
        raise ValueError(f"coop.wait_signal: {signal.Signals(signum).name} cannot be caught "
                         f"by any process")
    return signal.Signals(signum)


class _Waiter:
    """What a task waiting for signals is parked on."""

    __slots__ = ("registry", "signums", "task")

    def __init__(self, registry: _SignalWaits, task: Task[Any],
                 signums: tuple[signal.Signals, ...]) -> None:
        self.registry = registry
        self.task = task
        self.signums = signums

    def unpark(self, task: Task[Any]) -> None:
        self.registry.remove(self)  # cancelled or timed out: the handlers may go back

    def describe(self) -> str:
        return "signal " + " or ".join(s.name for s in self.signums)

    def holders(self) -> list[Task[Any]]:
        return []


class _SignalWaits:
    """The signal waits of one scheduler, and the handlers they displaced."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.waiters: dict[int, list[_Waiter]] = {}
        self.displaced: dict[int, Any] = {}
        scheduler.add_closer(self.restore_all)

    def add(self, waiter: _Waiter) -> None:
        for signum in waiter.signums:
            if signum not in self.displaced:
                self.displaced[signum] = signal.signal(signum, self._arrived)
            self.waiters.setdefault(signum, []).append(waiter)
        self.scheduler.begin_outside_wait()

    def remove(self, waiter: _Waiter) -> None:
        for signum in waiter.signums:
            waiting = self.waiters.get(signum, [])
            if waiter in waiting:
                waiting.remove(waiter)
            if not waiting:
                self.waiters.pop(signum, None)
                self._put_back(signum)
        self.scheduler.end_outside_wait()

    def _arrived(self, signum: int, frame: Any) -> None:
        # A signal handler runs in the main thread between two bytecodes of whatever was
        # running, kernel bookkeeping included: hand the delivery in like another thread would.
        self.scheduler.call_soon_threadsafe(self._deliver, signum)

    def _deliver(self, signum: int) -> None:
        for waiter in list(self.waiters.get(signum, [])):
            self.remove(waiter)
            self.scheduler.wake(waiter.task, signal.Signals(signum))

    def _put_back(self, signum: int) -> None:
        previous = self.displaced.pop(signum, None)
        if previous is not None:
            signal.signal(signum, previous)

    def restore_all(self) -> None:
        for signum in list(self.displaced):
            self._put_back(signum)
        self.waiters.clear()


class WaitSignal(Effect[signal.Signals]):
    __slots__ = ("signums",)

    def __init__(self, signums: tuple[signal.Signals, ...]) -> None:
        self.signums = signums

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        if threading.current_thread() is not threading.main_thread():
            raise CoopUsageError(
                "coop.wait_signal works only in a scheduler running in the main thread (Python "
                "runs signal handlers there alone); run this scheduler in the main thread, or "
                "have the main thread's handler hand the news in with "
                "scheduler.call_soon_threadsafe(...)"
            )
        registry = scheduler.services.get("signals")
        if registry is None:
            registry = scheduler.services["signals"] = _SignalWaits(scheduler)
        waiter = _Waiter(registry, task, self.signums)
        registry.add(waiter)
        return scheduler.park(task, waiter)

    def __repr__(self) -> str:
        return f"coop.wait_signal({', '.join(s.name for s in self.signums)})"


def wait_signal(*signums: int) -> WaitSignal:
    """Wait until one of ``signums`` arrives; returns it (a :class:`signal.Signals`).

    coop's handlers are installed while a task waits and the previous ones are put back when
    the last task waiting for that signal is done (it arrived, or the wait was cancelled or
    timed out). Every task waiting for a signal is woken when it arrives. Waiting for a signal
    is not a deadlock: nothing else need be able to wake the program. Signals are delivered
    to the main thread only, so the scheduler must run there (anywhere else the wait raises
    :class:`coop.CoopUsageError`).

    >>> import os, signal
    >>> def stopper():
    ...     yield coop.sleep(1)
    ...     os.kill(os.getpid(), signal.SIGUSR1)   # as `kill -USR1` from outside would
    >>> def main():
    ...     yield coop.spawn(stopper())
    ...     got = yield coop.wait_signal(signal.SIGTERM, signal.SIGUSR1)
    ...     return got.name
    >>> coop.run(main(), clock=coop.VirtualClock())
    'SIGUSR1'
    """
    if not signums:
        raise TypeError("coop.wait_signal needs at least one signal, e.g. "
                        "coop.wait_signal(signal.SIGTERM)")
    return WaitSignal(tuple(dict.fromkeys(_check_signum(s) for s in signums)))

