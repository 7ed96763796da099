"""Condition: tasks wait, holding a Lock, until another task notifies them.

A waiter is parked on the condition until notified, then on the lock's own line with a
:class:`CondWaiter` tag, which takes the lock when the lock is handed to it: so ``wait()``
always leaves with the lock held, cancelled or timed out as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import Cancelled, CoopUsageError, Timeout
from ..lowlevel import SUSPENDED, Effect, Scheduler, Task, Throw, TimerHandle, WaitQueue, reschedule
from ._common import Acquired, check_count, check_timeout, make_name, not_a_context_manager
from .lock import Lock, LockState, LockStatistics, lock_state

T = TypeVar("T")


@dataclass(frozen=True)
class ConditionStatistics:
    """What :meth:`Condition.statistics` reports."""

    name: str
    #: The statistics of the condition's lock (its holder, tasks waiting to re-acquire it).
    lock: LockStatistics
    #: How many tasks wait for a notify.
    waiting: int


class ConditionState:
    """A condition's name, its lock (the public one and its state) and its waiters.

    It serves the scheduler its lock serves: it has no binding of its own.
    """

    __slots__ = ("lock", "lock_state", "name", "waiters")

    def __init__(self, name: str, lock: Lock) -> None:
        self.name = name
        self.lock = lock
        self.lock_state: LockState = lock_state(lock)
        self.waiters = WaitQueue(self.describe_wait, on_interrupt=self.on_interrupt)

    def on_interrupt(self, task: Task[Any], exc: BaseException) -> bool:
        # Cancelled or timed out before a notify: it still leaves wait() holding the lock.
        waiter: CondWaiter | None = self.waiters.remove(task)
        if waiter is None:
            return False
        waiter.interrupted(exc)
        waiter.reacquire()
        return True

    def require_lock(self, what: str) -> None:
        """Refuse ``what`` unless the calling task holds the lock."""
        lock = self.lock_state
        owner = lock.owner
        scheduler = lock.scheduler
        if owner is None or scheduler is None or scheduler.current_task() is not owner:
            raise CoopUsageError(f"{self.name}.{what}() needs the caller to hold "
                                 f"{lock.name}")

    def describe_wait(self) -> str:
        return f"a notify on {self.name}"


class CondWaiter:
    """One task inside ``Condition.wait()``: parked on the condition, then on the lock."""

    __slots__ = ("condition", "pending", "predicate", "task", "timed_out", "timer")

    def __init__(self, condition: ConditionState, task: Task[Any],
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
                    value = Throw(self.timeout_error())
                else:
                    self.condition.waiters.park(task, self)
                    return False
        elif self.timed_out:
            value = Throw(self.timeout_error())
        else:
            value = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        # No revoke: whatever happens next, wait() must leave with the lock held, and the
        # task's own `with` block gives it back.
        reschedule(task, value)
        return True

    def reacquire(self) -> None:
        """Leave the condition's queue for the lock (or take it at once if it is free)."""
        lock = self.condition.lock_state
        if lock.owner is None:
            lock.owner = self.task
            if not self.granted():
                lock.owner = None
        else:
            lock.park(self.task, self)

    def interrupted(self, exc: BaseException) -> None:
        # A cancellation outranks a timeout noted earlier: it must not be caught as one.
        if self.pending is None or isinstance(exc, Cancelled):
            self.pending = exc
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def time_up(self) -> None:
        self.timer = None
        waiters = self.condition.waiters
        waiting = self.task in waiters
        # A plain wait already notified has succeeded, however long the lock then takes.
        if waiting or self.predicate is not None:
            self.timed_out = True
        if waiting:
            waiters.unpark(self.task)
            self.reacquire()

    def timeout_error(self) -> Timeout:
        return Timeout(f"timed out waiting for a notify on {self.condition.name}")


class CondWait(Effect[Any]):
    __slots__ = ("condition", "predicate", "timeout")

    def __init__(self, condition: ConditionState, predicate: Callable[[], Any] | None,
                 timeout: float | None) -> None:
        self.condition = condition
        self.predicate = predicate
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        cond = self.condition
        lock = cond.lock_state
        if lock.scheduler is not scheduler:
            lock.bind(scheduler)
        if lock.owner is not task:
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
        waiter = CondWaiter(cond, task, predicate)
        if timeout is not None:
            waiter.timer = scheduler.call_at(scheduler.now() + timeout, waiter.time_up)
        cond.waiters.park(task, waiter)
        lock.hand_off()
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

    __slots__ = ("__weakref__", "_state")

    def __init__(self, lock: Lock | None = None, *, name: str | None = None) -> None:
        name = make_name("Condition", name)
        if lock is None:
            lock = Lock(name=f"{name}.lock")
        elif not isinstance(lock, Lock):
            raise TypeError(f"Condition(lock) takes a coop.Lock, got {lock!r}")
        self._state = ConditionState(name, lock)

    @property
    def name(self) -> str:
        """The name used in reports: ``Condition#N`` or the ``name=`` given."""
        return self._state.name

    @property
    def lock(self) -> Lock:
        """The lock the condition works with."""
        return self._state.lock

    def acquire(self, timeout: float | None = None) -> Effect[Acquired]:
        """Effect: acquire the condition's lock (see :meth:`Lock.acquire`)."""
        return self._state.lock.acquire(timeout)

    def release(self) -> None:
        """Release the condition's lock (see :meth:`Lock.release`)."""
        self._state.lock.release()

    def locked(self) -> bool:
        """True while some task holds the condition's lock."""
        return self._state.lock.locked()

    def wait(self, timeout: float | None = None) -> Effect[bool]:
        """Effect: release the lock, wait for a notify, re-acquire the lock; resumes with True.

        The caller must hold the lock. With ``timeout``, raises :class:`coop.Timeout` (with
        the lock re-acquired) if no notify came in time.
        """
        state = self._state
        return CondWait(state, None, check_timeout(timeout, f"{state.name}.wait"))

    def wait_for(self, predicate: Callable[[], T],
                 timeout: float | None = None) -> Effect[T]:
        """Effect: wait until ``predicate()`` is true; resumes with its (true) result.

        The predicate is checked with the lock held: at once, then each time this task is
        notified and has the lock back. With ``timeout``, raises :class:`coop.Timeout` if it
        is still false when time runs out.
        """
        state = self._state
        if not callable(predicate):
            raise TypeError(f"{state.name}.wait_for takes a callable, got {predicate!r}")
        return CondWait(state, predicate, check_timeout(timeout, f"{state.name}.wait_for"))

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiting tasks (the longest-waiting first); the caller must hold
        the lock, and they run once they get it back."""
        state = self._state
        check_count(n, f"{state.name}.notify(n)", 0)
        state.require_lock("notify")
        lock = state.lock_state
        waiters = state.waiters
        for _ in range(n):
            popped = waiters.pop()
            if popped is None:
                break
            task, waiter = popped
            if waiter.predicate is None and waiter.timer is not None:
                waiter.timer.cancel()  # a notified plain wait can no longer time out
                waiter.timer = None
            lock.park(task, waiter)

    def notify_all(self) -> None:
        """Wake every waiting task; the caller must hold the lock."""
        self.notify(len(self._state.waiters))

    def statistics(self) -> ConditionStatistics:
        """The condition's name, its lock's statistics and the number of waiters."""
        state = self._state
        return ConditionStatistics(state.name, state.lock.statistics(), len(state.waiters))

    def __enter__(self) -> None:
        raise not_a_context_manager("Condition")

    def __exit__(self, *exc_info: object) -> None:
        raise not_a_context_manager("Condition")

    async def __aenter__(self) -> None:
        await self._state.lock_state.acquire

    async def __aexit__(self, *exc_info: object) -> None:
        self._state.lock.release()

    def __repr__(self) -> str:
        state = self._state
        return f"<{state.name} on {state.lock.name}, {len(state.waiters)} waiting>"
