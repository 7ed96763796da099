"""Supervisor: an actor that starts child actors and restarts those that crash, with the
restart strategies of Erlang/OTP."""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, cast

from ..errors import CoopUsageError
from ..lowlevel import Cancel, Join, check_seconds
from .base import Actor
from .cell import ActorCell, Down, cell_of
from .errors import ActorExit, TooManyRestarts
from .links import monitor
from .request import Request

if TYPE_CHECKING:
    # A default, as Request's (see there): a bare `Supervisor` stays Supervisor[Actor].
    # Covariant: a Supervisor[Worker] is a Supervisor[Actor] (it only hands its children out).
    from typing_extensions import TypeVar

    C = TypeVar("C", bound=Actor, default=Actor, covariant=True)
else:
    from typing import TypeVar

    C = TypeVar("C", bound=Actor, covariant=True)

log = logging.getLogger("coop")

A = TypeVar("A", bound=Actor)


class Strategy(enum.StrEnum):
    """Which children a :class:`Supervisor` restarts when one crashes (as in Erlang/OTP).

    >>> coop.one_for_one is coop.Strategy.ONE_FOR_ONE, str(coop.rest_for_one)
    (True, 'rest_for_one')
    """

    #: Restart only the child that crashed.
    ONE_FOR_ONE = "one_for_one"
    #: Stop every other child, then restart them all.
    ONE_FOR_ALL = "one_for_all"
    #: Stop the children started after the crashed one, then restart it and them.
    REST_FOR_ONE = "rest_for_one"


one_for_one = Strategy.ONE_FOR_ONE
one_for_all = Strategy.ONE_FOR_ALL
rest_for_one = Strategy.REST_FOR_ONE

#: A child of a Supervisor: an actor class, or a factory of instances (a restart needs a new
#: one); ``C`` is the actor type made.
ChildSpec: TypeAlias = "type[C] | Callable[[], C]"


class Supervisor(Actor, Generic[C]):
    """An actor that starts child actors and restarts those that crash, as Erlang/OTP does.

    ``children``: actor classes or zero-argument factories (a restart needs a fresh
    instance). ``strategy``: :data:`one_for_one` (default), :data:`one_for_all` or
    :data:`rest_for_one`. More than ``max_restarts`` restarts within ``within`` seconds and
    the supervisor gives up: it stops its children and fails with :class:`TooManyRestarts`.

    A child that ends normally (closed, or its ``run()`` returned) is not restarted. A
    restarted child adopts its predecessor's mailbox: queued messages are kept, in order,
    and old references keep working; only the message being handled when it crashed is not
    delivered again. ``close()`` closes the children (last started first), waits for them,
    then ends the supervisor; ``yield sup.join()`` waits for that.

    For a type checker ``Supervisor([Worker])`` is a ``Supervisor[Worker]``, whose
    :attr:`children` are a ``list[Worker]``; children of several classes give their common
    base class.

    >>> class Worker(coop.Actor):
    ...     def run(self):
    ...         while True:
    ...             msg = yield self.recv()
    ...             if msg == "crash":
    ...                 raise RuntimeError("crashed")
    ...             print(self.name, "handled", msg)
    >>> def main():
    ...     sup = coop.Supervisor([Worker], max_restarts=3, within=10).start()
    ...     worker = sup.children[0]
    ...     for msg in ["a", "crash", "b"]:
    ...         worker.send(msg)                # "b" waits for the restarted worker
    ...     yield coop.sleep(1)
    ...     sup.close()
    ...     yield sup.join()
    >>> coop.run(main(), clock=coop.VirtualClock())
    Worker-3 handled a
    Worker-4 handled b
    """

    def __init__(self, children: Iterable[ChildSpec[C]], *,
                 strategy: Strategy | str = one_for_one, max_restarts: int = 3,
                 within: float = 5.0, name: str | None = None,
                 daemon: bool | None = None) -> None:
        super().__init__(name=name, daemon=daemon)
        specs: list[ChildSpec[Actor]] = list(children)
        for spec in specs:
            if isinstance(spec, Actor):
                raise TypeError(
                    f"Supervisor children are actor classes or zero-argument factories, not "
                    f"instances ({spec!r}): a restart needs a fresh one; pass "
                    f"{type(spec).__name__} or lambda: {type(spec).__name__}(...)")
            if not callable(spec):
                raise TypeError(f"Supervisor child {spec!r} is not an actor class or factory")
        try:
            self.strategy = Strategy(strategy)
        except ValueError:
            raise ValueError(f"unknown strategy {strategy!r}; use one of "
                             f"{', '.join(s.value for s in Strategy)}") from None
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) \
                or max_restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {max_restarts!r}")
        self.max_restarts = max_restarts
        self.within = check_seconds(within, "Supervisor(within=...)")
        self._specs = specs
        # The children's places, in start order: the cell of the instance in each (None once
        # it ended normally, as it is not restarted).
        self._current: list[ActorCell | None] = []
        self._restarts: deque[float] = deque()

    @property
    def children(self) -> list[C]:
        """The live child actors, in start order (filled when ``start()`` returns)."""
        # A cell holds a plain Actor; each of these was made by one of the specs, so a C.
        return [cast(C, c.actor) for c in self._current
                if c is not None and c.task is not None and not c.task.done()]

    def start(self: A) -> A:
        """Spawn the supervisor and start its children, in order, at once.

        >>> def main():
        ...     sup = coop.Supervisor([coop.Actor, coop.Actor]).start()
        ...     names = [child.name for child in sup.children]
        ...     sup.close()
        ...     yield sup.join()
        ...     return names
        >>> coop.run(main())
        ['Actor-3', 'Actor-4']
        """
        Actor.start(self)
        assert isinstance(self, Supervisor)
        try:
            for spec in self._specs:
                child = self._make(spec)
                self._current.append(child)
                self._launch(child)
        except BaseException:
            for started in self._current:
                if started is not None and started.task is not None:
                    started.task.scheduler.cancel(started.task)
            task = self.task
            if task is not None:
                task.scheduler.cancel(task)
            raise
        return self

    def run(self) -> Generator[Any, Any, Any]:
        """Restart crashed children until closed (not meant to be overridden)."""
        try:
            try:
                while True:
                    msg = yield self.recv()
                    if msg.__class__ is Down:
                        yield from self._on_down(msg)
                    elif msg.__class__ is Request:
                        msg.fail(CoopUsageError(f"{self.name} is a Supervisor; it answers no "
                                                f"requests: ask its children"))
                    else:
                        log.warning("coop: %s ignored a message: %r", self.name, msg)
            except ActorExit:
                yield from self._close_children()
                raise
        except ActorExit:
            raise
        except BaseException as exc:
            yield from self._stop_children(exc)
            raise

    # -- internals

    def _make(self, spec: ChildSpec[Actor]) -> ActorCell:
        child = spec()
        if not isinstance(child, Actor):
            raise TypeError(f"Supervisor child factory {spec!r} returned {child!r}, "
                            f"not an Actor")
        return cell_of(child)

    def _launch(self, child: ActorCell) -> None:
        child.mailbox.supervised = True
        child.actor.start()
        monitor(child.actor, self)

    def _on_down(self, down: Down) -> Generator[Any, Any, None]:
        current = self._current
        index = next((i for i, c in enumerate(current)
                      if c is not None and c.actor is down.actor), -1)
        if index < 0:
            return  # an instance already replaced, or stopped by us
        if down.reason is None:
            current[index] = None  # ended normally: not restarted
            return
        self._count_restart(down.actor, down.reason)
        strategy = self.strategy
        if strategy is Strategy.ONE_FOR_ONE:
            group = [index]
        elif strategy is Strategy.ONE_FOR_ALL:
            group = [i for i, c in enumerate(current) if c is not None]
        else:
            group = [i for i in range(index, len(current)) if current[i] is not None]
        for i in reversed(group):  # stop the others, last started first
            child = current[i]
            if i != index and child is not None and child.task is not None:
                yield Cancel(child.task, True)
        for i in group:
            old = current[i]
            if old is None:
                continue
            if old.mailbox.dead:  # it ended normally while we stopped the others
                current[i] = None
                continue
            self._replace(i)

    def _count_restart(self, child: Actor, reason: BaseException) -> None:
        now = self._now()
        restarts = self._restarts
        restarts.append(now)
        while restarts and restarts[0] <= now - self.within:
            restarts.popleft()
        if len(restarts) > self.max_restarts:
            raise TooManyRestarts(
                f"{self.name} gave up: more than {self.max_restarts} restart(s) within "
                f"{self.within:g}s; last: {child.name} failed with {reason!r}") from reason

    def _replace(self, index: int) -> ActorCell:
        old = self._current[index]
        assert old is not None
        new = self._make(self._specs[index])
        new.adopt(old.mailbox)
        self._current[index] = new
        self._launch(new)
        return new

    def _now(self) -> float:
        task = self.task
        assert task is not None
        return task.scheduler.now()

    def _close_children(self) -> Generator[Any, Any, None]:
        # Last started first, each after it has handled every message sent before its
        # close; one that crashes on the way is restarted to finish the rest.
        for index in reversed(range(len(self._current))):
            while True:
                child = self._current[index]
                if child is None:
                    break
                child.actor.close()
                task = child.task
                assert task is not None
                if not task.done():
                    try:
                        yield Join(task)
                    except BaseException:
                        if not task.done():
                            raise  # not the child's failure: this supervisor is cancelled
                reason = child.reason()
                if reason is None or child.mailbox.dead:
                    break
                self._count_restart(child.actor, reason)
                self._replace(index)

    def _stop_children(self, reason: BaseException) -> Generator[Any, Any, None]:
        for child in reversed(self._current):
            if child is not None and child.task is not None:
                yield Cancel(child.task, True)
        for child in self._current:
            if child is not None:
                mb = child.mailbox
                mb.kill(mb.reason if mb.reason is not None else reason)
