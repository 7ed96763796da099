"""Queue, LifoQueue, PriorityQueue: items between tasks, bounded or not, with back-pressure."""

from __future__ import annotations

import functools
import heapq
import queue as _stdlib_queue
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from ..errors import CoopUsageError
from ..lowlevel import Effect, Scheduler, Task, WaitQueue
from ._common import PrimitiveState, check_timeout, get_ident, make_name, park

T = TypeVar("T")


@dataclass(frozen=True)
class QueueStatistics:
    """What :meth:`Queue.statistics` reports."""

    name: str
    qsize: int
    #: 0 for an unbounded queue.
    maxsize: int
    #: Tasks blocked in ``get``.
    getters_waiting: int
    #: Tasks blocked in ``put``.
    putters_waiting: int
    #: Items put and not yet marked with ``task_done()``.
    unfinished_tasks: int


class QueueEmpty(_stdlib_queue.Empty):
    """Raised by :meth:`Queue.get_nowait` on an empty queue.

    It derives from :class:`queue.Empty`, so either name catches it.

    >>> try:
    ...     coop.Queue(name="inbox").get_nowait()
    ... except coop.QueueEmpty as err:
    ...     print("empty:", err)
    empty: inbox is empty
    """


class QueueFull(_stdlib_queue.Full):
    """Raised by :meth:`Queue.put_nowait` on a full queue.

    It derives from :class:`queue.Full`, so either name catches it.

    >>> q = coop.Queue(1)
    >>> q.put_nowait("a")
    >>> try:
    ...     q.put_nowait("b")
    ... except coop.QueueFull:
    ...     print("full")
    full
    """


_NOTHING: Any = object()


class QueueLine:
    """The getters, or the putters, waiting: a Parkable whose ``tasks`` is a plain dict (in
    order, each with its tag: a putter's item), so that every put and get tests it with a
    dict's truth value and takes from it with dict operations. No holders: whoever puts or
    gets ends the wait, so it is no wait-for edge."""

    __slots__ = ("tasks", "what")

    def __init__(self, what: Callable[[], str]) -> None:
        self.tasks: dict[Task[Any], Any] = {}
        self.what = what

    def park(self, task: Task[Any], tag: Any = None) -> Any:
        """Park ``task`` at the back of the line; returns SUSPENDED."""
        self.tasks[task] = tag
        return task.scheduler.park(task, self)

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        self.tasks.pop(task, None)

    def describe(self) -> str:
        return self.what()

    def holders(self) -> list[Task[Any]]:
        return []

    def __repr__(self) -> str:
        return f"<QueueLine {self.what()} waiters={len(self.tasks)}>"


class QueueState(PrimitiveState, Generic[T]):
    """A queue's items, its lines of getters and putters, and the accounting for join().

    This one is first in, first out; a subclass changes the buffer's discipline.
    """

    __slots__ = ("all_done", "buf", "capacity", "get", "getters", "maxsize", "overflow",
                 "put_one", "putters", "revoker", "take_one", "unfinished")

    def __init__(self, kind: str, name: str, maxsize: int) -> None:
        super().__init__(kind, name)
        self.maxsize = max(maxsize, 0)
        self.capacity = maxsize if maxsize > 0 else sys.maxsize
        self.buf: deque[T] | list[T] = deque()
        # The buffer's discipline as bound methods, one call on the hot path.
        self.put_one: Callable[[T], None] = self.buf.append
        self.take_one: Callable[[], T] = self.buf.popleft
        self.setup_buffer()
        # Items pushed out of a full queue by an item given back from a cancelled getter:
        # they go in before any blocked putter's.
        self.overflow: deque[T] = deque()
        self.getters = QueueLine(self.describe_get)
        self.putters = QueueLine(self.describe_put)
        self.all_done = WaitQueue(self.describe_join)
        self.unfinished = 0
        self.get: QueueGet[T] = QueueGet(self, None)
        # Bound once: every item handed to a waiting getter carries it.
        self.revoker = self.revoked

    def setup_buffer(self) -> None:
        """Set ``buf``, ``put_one`` and ``take_one``: LIFO and priority queues differ."""

    def give_back(self, item: T) -> T | None:
        """Return an item given back by a cancelled getter to where it is served next; if
        the queue is then over its bound, return the item that must wait outside."""
        buf = self.buf
        assert isinstance(buf, deque)
        buf.appendleft(item)
        return buf.pop() if len(buf) > self.capacity else None

    def hand(self, item: T) -> None:
        """Give ``item`` to the first waiting getter (the buffer is empty when any waits)."""
        getters = self.getters.tasks
        task = next(iter(getters))
        del getters[task]
        # A None wake value cannot carry a revoke: the kernel resumes a task woken with None
        # without clearing it, so it could fire later, after the item was used.
        task.scheduler.wake(task, item, None if item is None else self.revoker)

    def admit(self) -> None:
        """Let items waiting outside in, oldest first, while there is room."""
        buf = self.buf
        overflow = self.overflow
        putters = self.putters.tasks
        while len(buf) < self.capacity:
            if overflow:
                self.put_one(overflow.popleft())
            elif putters:
                task = next(iter(putters))
                item = putters.pop(task)
                self.unfinished += 1
                self.put_one(item)
                task.scheduler.wake(task)
            else:
                return

    def take_from_outside(self) -> Any:
        """With the buffer empty, the oldest item waiting outside it, or _NOTHING."""
        if self.overflow:
            return self.overflow.popleft()
        putters = self.putters.tasks
        if not putters:
            return _NOTHING
        task = next(iter(putters))
        item = putters.pop(task)
        self.unfinished += 1
        task.scheduler.wake(task)
        return item

    def revoked(self, item: T) -> None:
        # The getter handed this item was cancelled before it ran: it never had the item.
        if self.getters.tasks:
            self.hand(item)
            return
        outside = self.give_back(item)
        if outside is not None:
            self.overflow.appendleft(outside)

    def describe_get(self) -> str:
        return f"an item from {self.name} (empty)"

    def describe_put(self) -> str:
        return f"room in {self.name} (full, {len(self.buf)}/{self.maxsize})"

    def describe_join(self) -> str:
        return f"{self.name} to be done ({self.unfinished} unfinished item(s))"


class LifoState(QueueState[T]):
    __slots__ = ()

    def setup_buffer(self) -> None:
        self.take_one = self.buf.pop

    def give_back(self, item: T) -> T | None:
        # The given-back item is older than every item in the queue: it goes to the bottom.
        buf = self.buf
        if len(buf) >= self.capacity:
            return item
        assert isinstance(buf, deque)
        buf.appendleft(item)
        return None


class PriorityState(QueueState[T]):
    __slots__ = ()

    def setup_buffer(self) -> None:
        heap: list[Any] = []
        self.buf = heap
        self.put_one = functools.partial(heapq.heappush, heap)
        self.take_one = functools.partial(heapq.heappop, heap)

    def give_back(self, item: T) -> T | None:
        if len(self.buf) >= self.capacity:
            return item
        self.put_one(item)
        return None


class QueueGet(Effect[T]):
    __slots__ = ("state", "timeout")

    def __init__(self, state: QueueState[T], timeout: float | None) -> None:
        self.state = state
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        q = self.state
        if q.scheduler is not scheduler:
            q.bind(scheduler)
        if q.buf:
            item = q.take_one()
            if q.putters.tasks or q.overflow:
                q.admit()
            return item
        if q.overflow or q.putters.tasks:
            return q.take_from_outside()
        if self.timeout is None:
            getters = q.getters  # QueueLine.park spelled out: the consumer's hot path
            getters.tasks[task] = None
            return scheduler.park(task, getters)
        return park(q.getters, scheduler, task, self.timeout, q.describe_get)

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        pass  # an item has no owner

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        # Taken for a race that another contender won: served next, as if never taken.
        self.state.revoked(value)

    def __enter__(self) -> None:
        raise CoopUsageError(f"{self.state.name}.get() is an effect, not a context manager: "
                             f"write `item = yield queue.get()`")

    def __exit__(self, *exc_info: object) -> None:
        raise CoopUsageError(f"{self.state.name}.get() is not a context manager")

    def __repr__(self) -> str:
        return f"{self.state.name}.get()"


class QueuePut(Effect[None]):
    __slots__ = ("item", "state", "timeout")

    def __init__(self, state: QueueState[Any], item: Any, timeout: float | None) -> None:
        self.state = state
        self.item = item
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        q = self.state
        if q.scheduler is not scheduler:
            q.bind(scheduler)
        item = self.item
        getters = q.getters.tasks
        if getters:
            q.unfinished += 1
            # Straight to the first waiting getter (QueueState.hand spelled out: the hot path).
            getter = next(iter(getters))
            del getters[getter]
            getter.scheduler.wake(getter, item, None if item is None else q.revoker)
            return None
        if len(q.buf) < q.capacity:
            q.unfinished += 1
            q.put_one(item)
            return None
        if self.timeout is None:
            putters = q.putters  # QueueLine.park spelled out: the producer's hot path
            putters.tasks[task] = item
            return scheduler.park(task, putters)
        return park(q.putters, scheduler, task, self.timeout, q.describe_put, item)

    def __repr__(self) -> str:
        return f"{self.state.name}.put({self.item!r})"


class QueueJoin(Effect[None]):
    __slots__ = ("state",)

    def __init__(self, state: QueueState[Any]) -> None:
        self.state = state

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        q = self.state
        if q.scheduler is not scheduler:
            q.bind(scheduler)
        if q.unfinished == 0:
            return None
        return q.all_done.park(task)

    def __repr__(self) -> str:
        return f"{self.state.name}.join()"


class Queue(Generic[T]):
    """A FIFO queue between tasks, bounded by ``maxsize`` (0 or less: unbounded).

    ``yield q.put(item)`` waits while the queue is full, ``item = yield q.get()`` while it is
    empty; both complete at once, without a trip through the ready queue, when they can.
    Blocked getters and putters are served FIFO; an item put while tasks wait in ``get`` goes
    straight to the first of them. ``put_nowait``/``get_nowait`` never wait and raise
    :class:`coop.QueueFull` / :class:`coop.QueueEmpty`. ``task_done()`` and ``join()`` work as
    in :class:`asyncio.Queue`.

    A getter handed an item and cancelled before it runs gives the item back to the head of
    the queue (or to the next getter): no item is lost or delivered twice. (Not so for a
    ``None`` item, which the kernel cannot take back; send another sentinel if it matters.)
    A putter cancelled while it waits has put nothing; once woken, its item is in. In the rare
    case that a given-back item finds the queue full again, the youngest item waits outside,
    ahead of any blocked putter, so the queue never holds more than ``maxsize``.

    >>> q = coop.Queue(maxsize=2)
    >>> def producer():
    ...     for n in range(5):
    ...         yield q.put(n)
    ...     yield q.put("stop")
    >>> def consumer():
    ...     got = []
    ...     while (item := (yield q.get())) != "stop":
    ...         got.append(item)
    ...     return got
    >>> def main():
    ...     yield coop.spawn(producer())
    ...     return (yield coop.join((yield coop.spawn(consumer()))))
    >>> coop.run(main())
    [0, 1, 2, 3, 4]
    """

    __slots__ = ("__weakref__", "_state")

    # The buffer's discipline: LifoQueue and PriorityQueue bring their own.
    _discipline: ClassVar[type[QueueState[Any]]] = QueueState

    def __init__(self, maxsize: int = 0, *, name: str | None = None) -> None:
        kind = type(self).__name__
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError(f"{kind}(maxsize) must be an int, got {maxsize!r}")
        self._state: QueueState[T] = self._discipline(kind, make_name(kind, name), maxsize)

    @property
    def name(self) -> str:
        """The name used in reports: ``Queue#N`` or the ``name=`` given."""
        return self._state.name

    @property
    def maxsize(self) -> int:
        """The bound on the number of items; 0 means unbounded."""
        return self._state.maxsize

    def qsize(self) -> int:
        """The number of items in the queue."""
        return len(self._state.buf)

    def empty(self) -> bool:
        """True if the queue holds no item."""
        return not self._state.buf

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items (never, for an unbounded queue)."""
        state = self._state
        return len(state.buf) >= state.capacity

    def put(self, item: T, timeout: float | None = None) -> Effect[None]:
        """Effect: put ``item``, waiting while the queue is full.

        With ``timeout``, raises :class:`coop.Timeout` (and the item is not put) if no room
        came in time.
        """
        state = self._state
        if timeout is None:
            return QueuePut(state, item, None)
        return QueuePut(state, item, check_timeout(timeout, f"{state.name}.put"))

    def get(self, timeout: float | None = None) -> Effect[T]:
        """Effect: take the next item, waiting while the queue is empty; resumes with it.

        With ``timeout``, raises :class:`coop.Timeout` if no item came in time.
        """
        state = self._state
        if timeout is None:
            return state.get
        return QueueGet(state, check_timeout(timeout, f"{state.name}.get"))

    def put_nowait(self, item: T) -> None:
        """Put ``item`` without waiting; raises :class:`coop.QueueFull` if there is no room."""
        state = self._state
        thread = state.thread
        if thread and thread != get_ident():
            state.check_thread("put_nowait()")
        if state.getters.tasks:
            state.unfinished += 1
            state.hand(item)
        elif len(state.buf) < state.capacity:
            state.unfinished += 1
            state.put_one(item)
        else:
            raise QueueFull(f"{state.name} is full ({state.maxsize} items)")

    def get_nowait(self) -> T:
        """Take the next item without waiting; raises :class:`coop.QueueEmpty` if there is
        none."""
        state = self._state
        thread = state.thread
        if thread and thread != get_ident():
            state.check_thread("get_nowait()")
        if state.buf:
            item = state.take_one()
            if state.putters.tasks or state.overflow:
                state.admit()
            return item
        item = state.take_from_outside()
        if item is _NOTHING:
            raise QueueEmpty(f"{state.name} is empty")
        return item

    def task_done(self) -> None:
        """Mark one item taken from the queue as processed (for :meth:`join`).

        Raises ValueError if called more times than items were put.
        """
        state = self._state
        thread = state.thread
        if thread and thread != get_ident():
            state.check_thread("task_done()")
        if state.unfinished <= 0:
            raise ValueError(f"{state.name}.task_done() called more times than items were put")
        state.unfinished -= 1
        if state.unfinished == 0:
            state.all_done.wake_all(None)

    def join(self) -> Effect[None]:
        """Effect: wait until every item put has been marked with :meth:`task_done`."""
        return QueueJoin(self._state)

    def statistics(self) -> QueueStatistics:
        """The queue's name, size, bound, waiting getters and putters, unfinished items."""
        state = self._state
        return QueueStatistics(state.name, len(state.buf), state.maxsize,
                               len(state.getters.tasks), len(state.putters.tasks),
                               state.unfinished)

    def __repr__(self) -> str:
        state = self._state
        bound = f"/{state.maxsize}" if state.maxsize else ""
        return (f"<{state.name} {len(state.buf)}{bound} items, {len(state.getters.tasks)} "
                f"getters, {len(state.putters.tasks)} putters waiting>")


class LifoQueue(Queue[T]):
    """A :class:`Queue` that hands out the most recently put item first (a stack).

    >>> q = coop.LifoQueue()
    >>> for n in (1, 2, 3):
    ...     q.put_nowait(n)
    >>> [q.get_nowait() for _ in range(3)]
    [3, 2, 1]
    """

    __slots__ = ()

    _discipline = LifoState


class PriorityQueue(Queue[T]):
    """A :class:`Queue` that hands out the smallest item first (``heapq`` order), such as
    ``(priority, data)`` tuples.

    >>> q = coop.PriorityQueue()
    >>> for job in [(2, "write"), (0, "urgent"), (1, "read")]:
    ...     q.put_nowait(job)
    >>> [q.get_nowait()[1] for _ in range(3)]
    ['urgent', 'read', 'write']
    """

    __slots__ = ()

    _discipline = PriorityState
