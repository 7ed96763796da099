"""TaskGroup: children that never outlive the block (or body) that started them.

asyncio's TaskGroup and trio's nursery. Two spellings, one object:

* ``async with coop.TaskGroup() as group: group.spawn(coro)`` in an ``async def``; the block
  is the body, run by the task that entered it (the owner).
* ``result = yield coop.TaskGroup.run(body)`` in a generator, where ``body(group)`` returns a
  generator (or coroutine) that spawns the children. A generator cannot run code after a
  ``with`` block that waits (``__exit__`` cannot yield), so the body is handed over whole and
  runs as a member of the group, and the owner waits, parked on the group, until every member
  has ended. There is no window in which a child is started and nobody owns it.

``group.spawn`` is a plain call in both: the group, not a ``yield``, is what keeps the child
owned, and asyncio users spell it ``tg.create_task(coro)`` the same way.

When a member fails, the others (children, and the body) are cancelled, their cleanup runs,
and the failure is raised in the owner: one failure as itself, several as an ExceptionGroup.
A member that ends cancelled is not a failure. The owner being cancelled (or interrupted, or
timing out) while it waits cancels every member first and is told once their cleanup is done.
:meth:`TaskGroup.cancel` ends the group early without an error.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from .errors import Cancelled, CoopUsageError
from .lowlevel import (
    Effect,
    Runnable,
    Scheduler,
    Task,
    TaskState,
    Throw,
    add_done_callback,
    check_runnable,
    current_scheduler,
    current_task,
    park,
    reschedule,
    throw_in,
)

__all__ = ["TaskGroup"]

T = TypeVar("T")

_USE = ("use `async with coop.TaskGroup() as group:` in an async def, or "
        "`result = yield coop.TaskGroup.run(body)` in a generator")


class _Phase(enum.Enum):
    NEW = "not entered yet"
    OPEN = "open"
    ENDING = "ending"  # a member failed, or cancel(): no new children
    ENDED = "ended"


class TaskGroup:
    """A group of child tasks that all end before the owner goes on.

    >>> async def fetch(name, seconds):
    ...     await coop.sleep(seconds)
    ...     return name
    >>> async def main():
    ...     async with coop.TaskGroup() as group:
    ...         first = group.spawn(fetch("a", 2))
    ...         second = group.spawn(fetch("b", 1))
    ...     return first.result(), second.result(), coop.current_time()
    >>> coop.run(main(), clock=coop.VirtualClock())
    ('a', 'b', 2.0)

    The same in a generator:

    >>> def fetch_gen(name, seconds):
    ...     yield coop.sleep(seconds)
    ...     return name
    >>> def body(group):
    ...     tasks = [group.spawn(fetch_gen(n, s)) for n, s in [("a", 2), ("b", 1)]]
    ...     yield coop.sleep(0)
    ...     return tasks
    >>> def main_gen():
    ...     tasks = yield coop.TaskGroup.run(body)
    ...     return [t.result() for t in tasks]
    >>> coop.run(main_gen(), clock=coop.VirtualClock())
    ['a', 'b']
    """

    __slots__ = ("_group",)

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"TaskGroup(name=...) takes a str, got {name!r}")
        self._group = _GroupState(self, name)

    @property
    def name(self) -> str:
        """The name given, else ``TaskGroup of <owner>``."""
        return self._group.display_name()

    def spawn(self, work: Runnable[T], *, name: str | None = None) -> Task[T]:
        """Start ``work`` (a generator or coroutine) as a child of the group; a plain call.

        The child is a daemon if the owner is one. It cannot outlive the group: spawning
        into a group that has ended, or is ending because a member failed or
        :meth:`cancel` was called, is a :class:`coop.CoopUsageError`.
        """
        return self._group.spawn(work, name)

    def cancel(self) -> None:
        """End the group early, without an error: every member is cancelled at its current
        ``yield`` (the async spelling's body too), their cleanup runs, and the owner goes on
        after the block (``run`` returns None if the body did not finish).

        A member that calls it is cancelled at its next ``yield`` that gives up its turn, so
        it may still return a result first. Cancelling a group that has ended does nothing.
        """
        self._group.cancel()

    @staticmethod
    def run(body: Callable[[TaskGroup], Runnable[T]], *,
            name: str | None = None) -> Effect[T]:
        """``result = yield coop.TaskGroup.run(body)``: run ``body(group)`` as the first member
        of a new group and return its result once every member has ended.

        ``body`` is a generator function (or ``async def``) taking the group; it spawns the
        children with ``group.spawn(...)``. A failure is raised as the ``async with``
        spelling raises it.
        """
        if not callable(body):
            raise TypeError(f"TaskGroup.run takes a function of the group that returns a "
                            f"generator (def body(group): ... yield ...), got {body!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"TaskGroup.run(name=...) takes a str, got {name!r}")
        public = TaskGroup(name=name)
        return _RunGroup(public, public._group, body)

    def statistics(self) -> TaskGroupStatistics:
        """How many members run and how many have failed, and where the group is in its life."""
        group = self._group
        return TaskGroupStatistics(group.display_name(), len(group.running),
                                   len(group.failures), group.phase.value)

    def __repr__(self) -> str:
        group = self._group
        return f"<{group.display_name()} {group.phase.value}, {len(group.running)} running>"

    async def __aenter__(self) -> TaskGroup:
        self._group.enter(current_task(), "async with")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool:
        group = self._group
        group.body_ended(exc)
        await _WaitMembers(group)
        group.phase = _Phase.ENDED
        if exc is not None and exc is group.cancel_exc and not group.failures:
            return True  # the group was ended early on purpose: not an error
        if exc is not None and (group.failures == [exc] or group.owner_exc is exc):
            return False  # raised on as it is, traceback intact
        outcome = group.outcome()
        if outcome.__class__ is Throw:
            raise outcome.exc
        return exc is not None and exc is group.cancel_exc

    def __enter__(self) -> TaskGroup:
        raise TypeError(f"a TaskGroup is not a plain `with` block (a generator cannot wait at "
                        f"its end): {_USE}")

    def __exit__(self, *exc: object) -> None:  # pragma: no cover - __enter__ always raises
        return None


@dataclass(frozen=True)
class TaskGroupStatistics:
    """What :meth:`TaskGroup.statistics` reports."""

    name: str
    #: Members still running (children, and the ``run`` spelling's body).
    running: int
    #: Members that failed so far.
    failed: int
    #: "not entered yet", "open", "ending" or "ended".
    phase: str


class _GroupState:
    """A TaskGroup's members and outcome; the Parkable its owner waits on at the end."""

    __slots__ = ("body", "cancel_exc", "failures", "name", "owner", "owner_exc", "phase",
                 "public", "running", "scheduler", "waiting")

    def __init__(self, public: TaskGroup, name: str | None) -> None:
        self.public = public
        self.name = name
        self.phase = _Phase.NEW
        self.owner: Task[Any] | None = None
        self.scheduler: Scheduler | None = None
        self.running: dict[Task[Any], None] = {}  # members still running, in spawn order
        self.failures: list[BaseException] = []
        self.body: Task[Any] | None = None  # the run() spelling's body
        # What the group throws into the owner's body (the async spelling) to end it early:
        # recognised by identity at the block's end, and swallowed there.
        self.cancel_exc: Cancelled | None = None
        # The owner's own cancellation (or interruption) while in the group: raised last.
        self.owner_exc: BaseException | None = None
        self.waiting = False  # the owner is parked here, waiting for the members

    def display_name(self) -> str:
        if self.name is not None:
            return self.name
        return f"TaskGroup of {self.owner.name}" if self.owner is not None else "TaskGroup"

    def enter(self, owner: Task[Any], how: str) -> None:
        if self.phase is not _Phase.NEW:
            raise CoopUsageError(f"{self.display_name()} has been entered already ({how}): a "
                                 f"TaskGroup is used once; make a new one")
        self.owner = owner
        self.scheduler = owner.scheduler
        self.phase = _Phase.OPEN

    def spawn(self, work: Any, name: str | None) -> Task[Any]:
        if self.phase is not _Phase.OPEN:
            close = getattr(work, "close", None)
            if callable(close):  # as asyncio's TaskGroup: no "never awaited" warning follows
                close()
            if self.phase is _Phase.NEW:
                raise CoopUsageError(f"{self.display_name()}.spawn: the group has not been "
                                     f"entered; {_USE}")
            why = ("is ending (a member failed, or it was cancelled)"
                   if self.phase is _Phase.ENDING else "has ended")
            raise CoopUsageError(f"{self.display_name()}.spawn: the group {why}: a child "
                                 f"cannot outlive its group; spawn it into one still open")
        try:
            check_runnable(work)
        except (TypeError, ValueError) as err:
            raise type(err)(f"TaskGroup.spawn: {err}") from None
        scheduler = current_scheduler()
        assert self.owner is not None
        if scheduler is not self.scheduler:
            raise CoopUsageError(f"{self.display_name()}.spawn: the group belongs to another "
                                 f"scheduler")
        child = scheduler.spawn(work, name, self.owner.daemon)
        self.running[child] = None
        add_done_callback(child, self.member_done, observes=True)
        return child

    def cancel(self) -> None:
        if self.phase is _Phase.NEW:
            raise CoopUsageError(f"{self.display_name()}.cancel: the group has not been "
                                 f"entered; {_USE}")
        if self.phase is _Phase.ENDED:
            return
        if self.cancel_exc is None:
            self.cancel_exc = Cancelled(f"{self.display_name()} was cancelled")
        self.end_members()

    def body_ended(self, exc: BaseException | None) -> None:
        """The async spelling's block is left, by ``exc`` or normally."""
        if exc is None or exc is self.cancel_exc:
            return
        if isinstance(exc, Cancelled) or self.owner_exc is not None:
            self.owner_exc = self.owner_exc or exc  # the owner itself is being cancelled
        else:
            self.failures.append(exc)
        self.end_members()

    def member_done(self, task: Task[Any]) -> None:
        del self.running[task]
        if task.outcome is TaskState.FAILED:
            exc = task.exception()
            assert exc is not None
            self.failures.append(exc)
            self.end_members()
        if not self.running and self.waiting:
            self.waiting = False
            assert self.owner is not None
            reschedule(self.owner, self.final())

    def end_members(self) -> None:
        """Take no more children; cancel every member (and the owner's body) at its yield."""
        if self.phase is _Phase.OPEN:
            self.phase = _Phase.ENDING
        scheduler, owner = self.scheduler, self.owner
        assert scheduler is not None and owner is not None
        me = scheduler.current_task()
        for member in list(self.running):
            if member is me:  # a task's own running step cannot be thrown into
                scheduler.call_at(scheduler.now(), self.cancel_later, member)
            else:
                scheduler.cancel(member)
        if self.body is None and not self.waiting and self.phase is _Phase.ENDING:
            if self.cancel_exc is None:
                self.cancel_exc = Cancelled(f"{self.display_name()} is ending: a member failed")
            if owner is me:
                scheduler.call_at(scheduler.now(), self.cancel_later, owner)
            else:
                throw_in(owner, self.cancel_exc)

    def cancel_later(self, task: Task[Any]) -> None:
        if task is self.owner and self.body is None:
            # Still in the block: it did not reach the end at once.
            if not self.waiting and self.phase is _Phase.ENDING and self.cancel_exc:
                throw_in(task, self.cancel_exc)
        elif task in self.running:
            assert self.scheduler is not None
            self.scheduler.cancel(task)

    def final(self) -> Any:
        """What the owner is woken with at the end: a Throw, or the ``run`` body's result."""
        if self.owner_exc is not None:
            if self.failures:
                self.owner_exc.add_note(f"{self.display_name()}: while it ended, members "
                                        "failed: " + "; ".join(map(repr, self.failures)))
            return Throw(self.owner_exc)
        if self.body is None:
            return None  # the async spelling works out the rest in __aexit__
        return self.outcome()

    def outcome(self) -> Any:
        """A Throw of the failure (an ExceptionGroup of several), or the body's result."""
        self.phase = _Phase.ENDED
        if len(self.failures) == 1:
            return Throw(self.failures[0])
        if self.failures:
            return Throw(BaseExceptionGroup(f"{len(self.failures)} members of "
                                            f"{self.display_name()} failed", self.failures))
        body = self.body
        if body is not None and body.outcome is TaskState.DONE:
            return body.result()
        return None

    def wait_for_members(self, task: Task[Any]) -> Any:
        """The owner's wait at the end: the outcome at once if no member runs, else parked."""
        if not self.running:
            final = self.final()
            if final.__class__ is Throw:
                raise final.exc
            return final
        self.waiting = True
        return park(task, self, owned=True)

    # Parkable: the owner waits here for its members.
    def interrupt(self, task: Task[Any], exc: BaseException) -> bool:
        if not self.running:
            return False
        self.owner_exc = exc  # the latest wins, as a cancellation replaces an outcome
        self.end_members()
        return True

    def unpark(self, task: Task[Any]) -> None:
        self.waiting = False

    def describe(self) -> str:
        names = ", ".join(t.name for t in self.running) or "nothing"
        return f"{self.display_name()} to end ({names})"

    def holders(self) -> list[Task[Any]]:
        return list(self.running)


class _WaitMembers(Effect[Any]):
    __slots__ = ("group",)

    def __init__(self, group: _GroupState) -> None:
        self.group = group

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return self.group.wait_for_members(task)

    def __repr__(self) -> str:
        return f"{self.group.display_name()}: waiting for its members"


class _RunGroup(Effect[T]):
    __slots__ = ("body", "group", "public")

    def __init__(self, public: TaskGroup, group: _GroupState,
                 body: Callable[[TaskGroup], Runnable[T]]) -> None:
        self.public = public
        self.group = group
        self.body = body

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        work = self.body(self.public)
        try:
            check_runnable(work)
        except (TypeError, ValueError) as err:
            raise type(err)(f"TaskGroup.run(body): body(group) must return a generator or "
                            f"coroutine (write body with `yield` or `async def`): {err}") from None
        group = self.group
        group.enter(task, "TaskGroup.run")
        group.body = group.spawn(work, None)
        return group.wait_for_members(task)

    def __repr__(self) -> str:
        return f"coop.TaskGroup.run({getattr(self.body, '__name__', self.body)})"
