"""Event: a flag tasks wait for; setting it wakes them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..lowlevel import Effect, Scheduler, Task
from ._common import PrimitiveState, check_timeout, get_ident, name_label, park


@dataclass(frozen=True)
class EventStatistics:
    """What :meth:`Event.statistics` reports."""

    name: str
    is_set: bool
    #: How many tasks wait for the event.
    waiting: int


class EventState(PrimitiveState):
    """An event's flag, and the Parkable its waiters are parked on.

    A line of its own rather than a WaitQueue, and a wait effect made on the first wait():
    a run may make dozens of events, and these were two thirds of making one.
    """

    __slots__ = ("flag", "waiting", "wait")

    def __init__(self, kind: str, label: str | int) -> None:
        # PrimitiveState's fields, set here: see its __init__.
        self.kind = kind
        self.family = "Event"
        self.label = label
        self.scheduler: Scheduler | None = None
        self.thread = 0
        self.flag = False
        # The waiters in the order they came (a dict: a cancelled one leaves in O(1)).
        self.waiting: dict[Task[Any], None] = {}
        self.wait: EventWait | None = None

    def park(self, task: Task[Any], tag: Any = None) -> Any:
        self.waiting[task] = None
        return task.scheduler.park(task, self)

    def wake_all(self) -> None:
        waiting = self.waiting
        if waiting:
            self.waiting = {}
            for task in waiting:
                task.scheduler.wake(task, True)

    def describe_wait(self) -> str:
        return f"{self.name} to be set"

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        self.waiting.pop(task, None)

    def describe(self) -> str:
        return self.describe_wait()

    def holders(self) -> list[Task[Any]]:
        return []  # anyone may set an event: a wait for it is no wait-for edge


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
        if self.timeout is None:  # state.park() written out: the wait of every turn
            state.waiting[task] = None
            return scheduler.park(task, state)
        return park(state, scheduler, task, self.timeout, state.describe_wait)

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
        self._state = EventState(type(self).__name__, name_label("Event", name))

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
            state.wake_all()

    def clear(self) -> None:
        """Unset the event: later waits block again until the next :meth:`set`."""
        self._state.flag = False

    def wait(self, timeout: float | None = None) -> Effect[bool]:
        """Effect: wait until the event is set; resumes with True.

        With ``timeout``, raises :class:`coop.Timeout` if it is not set in time.
        """
        state = self._state
        if timeout is None:
            wait = state.wait
            if wait is None:
                wait = state.wait = EventWait(state, None)
            return wait
        return EventWait(state, check_timeout(timeout, f"{state.name}.wait"))

    def statistics(self) -> EventStatistics:
        """The event's name, whether it is set, and the number of waiters."""
        state = self._state
        return EventStatistics(state.name, state.flag, len(state.waiting))

    def __repr__(self) -> str:
        state = self._state
        flag = "set" if state.flag else "unset"
        return f"<{state.name} {flag}, {len(state.waiting)} waiting>"
