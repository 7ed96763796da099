"""Event: a flag tasks wait for; setting it wakes them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..lowlevel import Effect, Scheduler, Task, WaitQueue
from ._common import PrimitiveState, check_timeout, get_ident, make_name, park


@dataclass(frozen=True)
class EventStatistics:
    """What :meth:`Event.statistics` reports."""

    name: str
    is_set: bool
    #: How many tasks wait for the event.
    waiting: int


class EventState(PrimitiveState):
    """An event's flag and its waiters."""

    __slots__ = ("flag", "wait", "waiters")

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(kind, name)
        self.flag = False
        self.waiters = WaitQueue(self.describe_wait)
        self.wait = EventWait(self, None)

    def describe_wait(self) -> str:
        return f"{self.name} to be set"


class EventWait(Effect[bool]):
    __slots__ = ("state", "timeout")

    def __init__(self, state: EventState, timeout: float | None) -> None:
        self.state = state
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        state = self.state
        if state.scheduler is not scheduler:
            state.bind(scheduler)
        if state.flag:
            return True
        return park(state.waiters, scheduler, task, self.timeout, state.describe_wait)

    def __repr__(self) -> str:
        return f"{self.state.name}.wait()"


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

    __slots__ = ("__weakref__", "_state")

    def __init__(self, *, name: str | None = None) -> None:
        self._state = EventState(type(self).__name__, make_name("Event", name))

    @property
    def name(self) -> str:
        """The name used in reports: ``Event#N`` or the ``name=`` given."""
        return self._state.name

    def is_set(self) -> bool:
        """True while the event is set."""
        return self._state.flag

    def set(self) -> None:
        """Set the event and wake every task waiting for it (a no-op if already set)."""
        state = self._state
        thread = state.thread
        if thread and thread != get_ident():
            state.check_thread("set()")
        if not state.flag:
            state.flag = True
            state.waiters.wake_all(True)

    def clear(self) -> None:
        """Unset the event: later waits block again until the next :meth:`set`."""
        self._state.flag = False

    def wait(self, timeout: float | None = None) -> Effect[bool]:
        """Effect: wait until the event is set; resumes with True.

        With ``timeout``, raises :class:`coop.Timeout` if it is not set in time.
        """
        state = self._state
        if timeout is None:
            return state.wait
        return EventWait(state, check_timeout(timeout, f"{state.name}.wait"))

    def statistics(self) -> EventStatistics:
        """The event's name, whether it is set, and the number of waiters."""
        state = self._state
        return EventStatistics(state.name, state.flag, len(state.waiters))

    def __repr__(self) -> str:
        state = self._state
        flag = "set" if state.flag else "unset"
        return f"<{state.name} {flag}, {len(state.waiters)} waiting>"
