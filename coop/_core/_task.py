"""Task: one generator (or coroutine) run by the scheduler, and its outcome."""

from __future__ import annotations

import enum
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, Final, Generic, TypeAlias, TypeVar

from ..errors import CoopUsageError

if TYPE_CHECKING:
    from ._run import Scheduler
    from ._waitqueue import WaitQueue

T = TypeVar("T")
# Covariant: a task only produces its result, so a Task[int] is a Task[object].
T_co = TypeVar("T_co", covariant=True)

#: What a task runs: a generator that yields effects, or an ``async def`` coroutine.
Runnable: TypeAlias = Generator[Any, Any, T] | Coroutine[Any, Any, T]


class TaskState(enum.StrEnum):
    """Where a task is in its life. ``str(state)`` is the lower-case word.

    >>> def main():
    ...     child = yield coop.spawn(coop.sleep(1).__iter__())
    ...     before = child.state
    ...     yield coop.join(child)
    ...     return str(before), str(child.state)
    >>> coop.run(main(), clock=coop.VirtualClock())
    ('ready', 'done')
    """

    READY = "ready"          # runnable, waiting for its turn
    RUNNING = "running"      # executing right now
    WAITING = "waiting"      # parked on something: a timer, a join, a lock, a queue...
    DONE = "done"            # returned a value
    FAILED = "failed"        # raised an exception
    CANCELLED = "cancelled"  # ended by coop.Cancelled

    def __str__(self) -> str:
        return self.value


class Throw:
    """A pending exception for a task: the kernel throws it in at the next resume.

    Wrapping keeps the hot path to a single ``is None`` test and lets a task receive an
    exception object as an ordinary value (say, from a queue) without it being thrown.
    """

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


# Outcome codes; a small int keeps Task small and the checks cheap (Final: compiled, each is
# then a constant, not a lookup).
_PENDING: Final = 0
_DONE: Final = 1
_FAILED: Final = 2
_CANCELLED: Final = 3
_STATE_OF_OUTCOME = {_DONE: TaskState.DONE, _FAILED: TaskState.FAILED,
                     _CANCELLED: TaskState.CANCELLED}


class Task(Generic[T_co]):
    """A generator or coroutine being run by a :class:`coop.Scheduler`.

    Made by :func:`coop.spawn` or :meth:`coop.Scheduler.spawn`, never directly.

    >>> def child():
    ...     yield
    ...     return 42
    >>> def main():
    ...     task = yield coop.spawn(child(), name="answer")
    ...     value = yield coop.join(task)
    ...     return task.name, task.state, value
    >>> coop.run(main())
    ('answer', <TaskState.DONE: 'done'>, 42)
    """

    # Every slot is paid for by each of possibly a million tasks: keep the list short.
    __slots__ = (
        "__weakref__",
        "_coro",
        "_id",
        "_joiners",
        "_name",
        "_observed",
        "_outcome",
        "_parked_on",
        "_result",
        "_revoke",
        "_scheduler",
        "_timer",
        "_value",
        "daemon",
    )

    def __init__(self, coro: Runnable[T_co], scheduler: Scheduler, task_id: int,
                 name: str | None, daemon: bool) -> None:
        self._coro: Any = coro
        # What to send in at the next resume; None on the fast path, a Throw to raise.
        self._value: Any = None
        # What a waiting task is parked on (a WaitQueue, a timer entry, an external call).
        self._parked_on: Any = None
        # A timer that must be disarmed if the task is woken before it fires (timeouts).
        self._timer: Any = None
        # Called with the wake value if the task is cancelled after being woken but before it
        # ran: a lock handed to it goes back, so a cancelled task keeps no resource.
        self._revoke: Any = None
        self._outcome = _PENDING
        self._result: Any = None
        self._scheduler = scheduler
        self._joiners: WaitQueue | None = None
        self._observed = False
        # Kept as the very int object the scheduler keys its task table and timer entries by:
        # compiled, an int attribute is stored unboxed and every read would box a new one.
        self._id: Any = task_id
        self._name = name
        self.daemon = daemon

    @property
    def id(self) -> int:
        """The task's number, unique within its scheduler; the first task spawned is 1."""
        return self._id  # type: ignore[no-any-return]

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler that runs this task."""
        return self._scheduler

    @property
    def name(self) -> str:
        """The name given at spawn, else the function's name and the task id (``worker-3``)."""
        if self._name is None:
            fn = getattr(self._coro, "__name__", "task")
            self._name = f"{fn}-{self._id}"
        return self._name

    @property
    def state(self) -> TaskState:
        """The task's :class:`TaskState`, worked out on demand so switches stay cheap."""
        if self._outcome != _PENDING:
            return _STATE_OF_OUTCOME[self._outcome]
        if getattr(self._coro, "gi_running", False) or getattr(self._coro, "cr_running", False):
            return TaskState.RUNNING
        if self._parked_on is not None:
            return TaskState.WAITING
        return TaskState.READY

    @property
    def waiting_for(self) -> str | None:
        """What a waiting task waits for, in words (``"Lock#2 held by philosopher-2"``)."""
        parked = self._parked_on
        if parked is None or self._outcome != _PENDING:
            return None
        return self._scheduler.describe_wait(self)

    @property
    def outcome(self) -> TaskState | None:
        """How the task ended (DONE, FAILED or CANCELLED), or None while it is pending. Unlike
        :meth:`result`, looking does not count as observing a failure."""
        return None if self._outcome == _PENDING else _STATE_OF_OUTCOME[self._outcome]

    def done(self) -> bool:
        """True once the task has returned, raised, or been cancelled."""
        return self._outcome != _PENDING

    def cancelled(self) -> bool:
        """True if the task ended by :class:`coop.Cancelled`."""
        return self._outcome == _CANCELLED

    def result(self) -> T_co:
        """The task's return value; re-raises its exception; an error if it is still running."""
        self._require_done("result")
        self._observed = True
        if self._outcome == _DONE:
            return self._result  # type: ignore[no-any-return]
        raise self._result

    def exception(self) -> BaseException | None:
        """The exception the task ended with (None if it returned); an error if still running."""
        self._require_done("exception")
        self._observed = True
        return None if self._outcome == _DONE else self._result

    def _require_done(self, what: str) -> None:
        if self._outcome == _PENDING:
            raise CoopUsageError(
                f"{self!r} has not finished, so it has no {what} yet; "
                f"wait for it with `yield coop.join(task)` first"
            )

    def __repr__(self) -> str:
        return f"<Task {self._id} {self.name!r} {self.state}>"

