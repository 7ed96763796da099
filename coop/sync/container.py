"""Container: an amount of something (fuel, money, parts) that tasks put in and take out,
SimPy's ``Container``; putters wait for room, getters for enough of it, each kind FIFO."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import lowlevel
from ..lowlevel import Effect, Scheduler, Task
from ._common import PrimitiveState, check_timeout, name_label, park


@dataclass(frozen=True)
class ContainerStatistics:
    """What :meth:`Container.statistics` reports."""

    name: str
    #: The amount in the container now.
    level: float
    capacity: float
    #: Tasks blocked in ``put``, and the amounts they want to put, first in line first.
    putters_waiting: tuple[float, ...]
    #: Tasks blocked in ``get``, and the amounts they want, first in line first.
    getters_waiting: tuple[float, ...]
    #: An amount a getter was handed and gave back (it was cancelled before it ran) that
    #: found the container refilled meanwhile: it goes in, ahead of every putter, as room
    #: comes. Almost always 0.
    held_back: float


def check_number(value: object, what: str) -> float:
    """An int or a float (not a bool, not NaN); TypeError or ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number (an int or a float), got {value!r} "
                        f"({type(value).__name__})")
    if math.isnan(value):
        raise ValueError(f"{what} must be a number, got NaN")
    return value


class ContainerLine:
    """The putters, or the getters, waiting: a Parkable holding each task with its amount, in
    order. No holders: anyone may put or get, so a wait here is no wait-for edge."""

    __slots__ = ("on_head_left", "tasks", "what")

    def __init__(self, what: Callable[[], str], on_head_left: Callable[[], None]) -> None:
        self.tasks: dict[Task[Any], float] = {}
        self.what = what
        self.on_head_left = on_head_left

    def park(self, task: Task[Any], tag: Any = None) -> Any:
        """Park ``task`` at the back of the line, wanting ``tag`` (its amount)."""
        self.tasks[task] = tag
        return lowlevel.park(task, self)

    def first(self) -> tuple[Task[Any], float] | None:
        for item in self.tasks.items():
            return item
        return None

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        head = self.first()
        self.tasks.pop(task, None)
        if head is not None and head[0] is task:
            # A head that did not fit held back the rest of its line: they may fit now.
            self.on_head_left()

    def describe(self) -> str:
        return self.what()

    def holders(self) -> list[Task[Any]]:
        return []


class ContainerState(PrimitiveState):
    """The level, the two lines and the amount held back."""

    __slots__ = ("capacity", "getters", "held_back", "level", "putters", "revoker")

    def __init__(self, kind: str, family: str, label: str | int, capacity: float,
                 init: float) -> None:
        super().__init__(kind, family, label)
        self.capacity = capacity
        self.level = init
        self.held_back: float = 0.0
        self.putters = ContainerLine(self.describe_put, self.serve)
        self.getters = ContainerLine(self.describe_get, self.serve)
        self.revoker = self.revoked

    def check_amount(self, amount: object, what: str) -> float:
        amount = check_number(amount, what)
        if not 0 < amount < math.inf:
            raise ValueError(f"{what} must be positive and finite, got {amount!r}")
        if amount > self.capacity:
            raise ValueError(f"{what} is {amount!r}, above {self.name}'s capacity "
                             f"{self.capacity!r}: it could never be done (split it into "
                             f"amounts that fit, or make the container bigger)")
        return amount

    def serve(self) -> None:
        """Serve the heads of both lines while they can be: the level has changed.

        Strictly first come, first served within each line, as SimPy does: a head that does
        not fit holds back the smaller requests behind it, so a big one is never starved.
        """
        putters, getters = self.putters, self.getters
        progressed = True
        while progressed:
            progressed = False
            if self.held_back:
                room = self.capacity - self.level
                if room > 0:
                    taken = min(room, self.held_back)
                    self.level += taken
                    self.held_back -= taken
                    progressed = True
            if not self.held_back and (head := putters.first()) is not None \
                    and self.capacity - self.level >= head[1]:
                del putters.tasks[head[0]]
                self.level += head[1]
                # A put is done once woken (a putter cancelled before it runs has still put:
                # its amount may already be taken); None carries no revoke anyway.
                head[0].scheduler.wake(head[0], None)
                progressed = True
            if (head := getters.first()) is not None and self.level >= head[1]:
                del getters.tasks[head[0]]
                self.level -= head[1]
                head[0].scheduler.wake(head[0], head[1], self.revoker)
                progressed = True

    def revoked(self, amount: float) -> None:
        # The getter handed ``amount`` was cancelled (or interrupted) before it ran: it never
        # had it. Room it freed may have gone to putters since; what does not fit now waits.
        back = min(amount, self.capacity - self.level)
        self.level += back
        self.held_back += amount - back
        self.serve()

    def describe_put(self) -> str:
        return f"room in {self.name} (level {self.level:g} of {self.capacity:g})"

    def describe_get(self) -> str:
        return f"enough in {self.name} (level {self.level:g} of {self.capacity:g})"


class ContainerPut(Effect[None]):
    __slots__ = ("amount", "state", "timeout")

    def __init__(self, state: ContainerState, amount: float, timeout: float | None) -> None:
        self.state = state
        self.amount = amount
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        state = self.state
        if state.scheduler is not scheduler:
            state.bind(scheduler)
        amount = self.amount
        if not state.putters.tasks and not state.held_back \
                and state.capacity - state.level >= amount:
            state.level += amount
            if state.getters.tasks:
                state.serve()
            return None
        return park(state.putters, scheduler, task, self.timeout, state.describe_put, amount)

    def __repr__(self) -> str:
        return f"{self.state.name}.put({self.amount!r})"


class ContainerGet(Effect[float]):
    __slots__ = ("amount", "state", "timeout")

    def __init__(self, state: ContainerState, amount: float, timeout: float | None) -> None:
        self.state = state
        self.amount = amount
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        state = self.state
        if state.scheduler is not scheduler:
            state.bind(scheduler)
        amount = self.amount
        if not state.getters.tasks and state.level >= amount:
            state.level -= amount
            if state.putters.tasks or state.held_back:
                state.serve()
            return amount
        return park(state.getters, scheduler, task, self.timeout, state.describe_get, amount)

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        pass  # an amount has no owner

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        # Got for a race that another contender won: back in, as if never taken.
        self.state.revoked(value)

    def __repr__(self) -> str:
        return f"{self.state.name}.get({self.amount!r})"


class Container:
    """An amount of one thing, between 0 and ``capacity``, starting at ``init``: SimPy's
    ``Container`` (a tank of fuel, a stock of parts).

    ``yield c.put(amount)`` waits until there is room for all of ``amount``;
    ``yield c.get(amount)`` waits until there is that much, and resumes with it. Waiters of
    each kind are served strictly first come, first served, as in SimPy: a get of 50 at the
    head of the line is not overtaken by a get of 5 behind it, however long it waits (so it
    cannot be starved). Amounts are ints or floats, positive and no more than the capacity
    (an amount that could never fit is refused at once).

    A task that times out or is cancelled while it waits has put or taken nothing. A getter
    handed its amount and cancelled before it runs gives it back; a putter woken and
    cancelled before it runs has put its amount (it may be gone already), as with a
    :class:`Queue`'s items.

    >>> tank = coop.Container(capacity=100, init=20, name="tank")
    >>> def car(log, litres):
    ...     yield tank.get(litres)
    ...     log.append(f"t={coop.current_time():g} car got {litres}")
    >>> def tanker():
    ...     yield coop.sleep(5)
    ...     yield tank.put(80)
    >>> def main():
    ...     log = []
    ...     for litres in (15, 40, 10):             # 40 waits; 10 queues behind it
    ...         yield coop.spawn(car(log, litres))
    ...     yield coop.spawn(tanker())
    ...     yield coop.sleep(10)
    ...     return log, tank.level
    >>> coop.run(main(), clock=coop.VirtualClock())
    (['t=0 car got 15', 't=5 car got 40', 't=5 car got 10'], 35)
    """

    __slots__ = ("__weakref__", "_state")

    def __init__(self, capacity: float = math.inf, init: float = 0, *,
                 name: str | None = None) -> None:
        kind = type(self).__name__
        capacity = check_number(capacity, f"{kind}(capacity)")
        if capacity <= 0:
            raise ValueError(f"{kind}(capacity) must be > 0 (math.inf for no limit), "
                             f"got {capacity!r}")
        init = check_number(init, f"{kind}(init)")
        if not 0 <= init <= capacity or init == math.inf:
            raise ValueError(f"{kind}(init) must be finite and between 0 and the capacity "
                             f"{capacity!r}, got {init!r}")
        self._state = ContainerState(kind, kind, name_label(kind, name), capacity, init)

    @property
    def name(self) -> str:
        """The name used in reports: ``Container#N`` or the ``name=`` given."""
        return self._state.name

    @property
    def level(self) -> float:
        """The amount in the container now."""
        return self._state.level

    @property
    def capacity(self) -> float:
        """The most the container holds (``math.inf`` by default)."""
        return self._state.capacity

    def put(self, amount: float, timeout: float | None = None) -> Effect[None]:
        """Effect: add ``amount``, waiting (FIFO among putters) until all of it fits.

        With ``timeout``, raises :class:`coop.Timeout` (and nothing is added) if no room came
        in time.
        """
        state = self._state
        amount = state.check_amount(amount, f"{state.name}.put(amount)")
        return ContainerPut(state, amount, check_timeout(timeout, f"{state.name}.put"))

    def get(self, amount: float, timeout: float | None = None) -> Effect[float]:
        """Effect: take ``amount`` out, waiting (FIFO among getters) until there is that much;
        resumes with ``amount``.

        With ``timeout``, raises :class:`coop.Timeout` (and nothing is taken) if not enough
        came in time.
        """
        state = self._state
        amount = state.check_amount(amount, f"{state.name}.get(amount)")
        return ContainerGet(state, amount, check_timeout(timeout, f"{state.name}.get"))

    def statistics(self) -> ContainerStatistics:
        """The name, level, capacity, and the amounts waiting to be put and got."""
        state = self._state
        return ContainerStatistics(state.name, state.level, state.capacity,
                                   tuple(amount for _, amount in state.putters.tasks.items()),
                                   tuple(amount for _, amount in state.getters.tasks.items()),
                                   state.held_back)

    def __repr__(self) -> str:
        state = self._state
        return (f"<{state.name} level={state.level:g}/{state.capacity:g}, "
                f"{len(state.putters.tasks)} putters, {len(state.getters.tasks)} getters waiting>")
