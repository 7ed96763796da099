"""Queue, LifoQueue, PriorityQueue: items between tasks, bounded or not, with back-pressure."""

from __future__ import annotations

import enum
import functools
import heapq
import queue as _stdlib_queue
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, Literal, NoReturn, TypeVar

from ..errors import CoopUsageError
from ..lowlevel import Effect, Scheduler, Task, Throw, WaitQueue
from ._common import PrimitiveState, check_timeout, get_ident, name_label, park

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
    #: Whether :meth:`Queue.shutdown` was called.
    shut_down: bool = False


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


class QueueShutDown(Exception):
    """Raised by a queue's puts once :meth:`Queue.shutdown` was called, and by its gets once
    it is shut down and has no item left (at once after ``shutdown(immediate=True)``).

    :class:`asyncio.QueueShutDown` (Python 3.13) under coop's name.

    >>> q = coop.Queue(name="jobs")
    >>> q.put_nowait("last")
    >>> q.shutdown()
    >>> q.get_nowait()
    'last'
    >>> try:
    ...     q.get_nowait()
    ... except coop.QueueShutDown as err:
    ...     print(err)
    jobs is shut down and has no item left
    """


class End(enum.Enum):
    """The type of :data:`END`, what :meth:`Queue.get_or_end` resumes with once the queue is
    shut down and empty. An enum of one member, so that a type checker narrows
    ``item is not END`` to the item's type."""

    END = "END"

    def __repr__(self) -> str:
        return "coop.sync.END"

    def __str__(self) -> str:  # not `__str__ = __repr__`: mypyc cannot alias a method
        return "coop.sync.END"


#: What :meth:`Queue.get_or_end` resumes with once the queue is shut down and empty: not an
#: item (never put it in a queue).
END: Final = End.END

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

    __slots__ = ("all_done", "buf", "capacity", "dropping", "get", "get_or_end", "getters",
                 "maxsize", "next", "overflow", "put_bound", "put_one", "putters", "revoker",
                 "shut_down", "take_one", "unfinished")

    def __init__(self, kind: str, family: str, label: str | int, maxsize: int) -> None:
        super().__init__(kind, family, label)
        self.maxsize = max(maxsize, 0)
        self.capacity = maxsize if maxsize > 0 else sys.maxsize
        # What the puts' fast paths test the size against: the capacity, and 0 once the
        # queue is shut down, so that a put then falls to the path where a wait would begin
        # and meets the one test of `shut_down` there, rather than paying it on every put.
        self.put_bound = self.capacity
        # Set by Queue.shutdown; `dropping` too for shutdown(immediate=True), after which
        # an item given back by a cancelled getter is dropped rather than served.
        self.shut_down = False
        self.dropping = False
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
        # Made when first needed, as are the effects of get_or_end() and async for: most
        # queues are never joined, and a run may make many.
        self.all_done: WaitQueue | None = None
        self.unfinished = 0
        self.get: QueueGet[T] = QueueGet(self, None)
        self.get_or_end: Effect[T | Literal[End.END]] | None = None
        self.next: QueueNext[T] | None = None
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
        if self.dropping:
            # shutdown(immediate=True) dropped the items in the queue: this one too, counted
            # as done as they were, so that join() is not left waiting for it.
            self.drop(1)
            return
        if self.getters.tasks:
            self.hand(item)
            return
        outside = self.give_back(item)
        if outside is not None:
            self.overflow.appendleft(outside)

    def drop(self, count: int) -> None:
        """``count`` items were dropped unserved: mark them done, as asyncio does."""
        # Not below 0 (asyncio's rule too): task_done() may have been called early, for
        # items still in the queue.
        self.unfinished = max(self.unfinished - count, 0)
        if self.unfinished == 0 and self.all_done is not None:
            self.all_done.wake_all(None)

    def shutdown(self, immediate: bool) -> None:
        """Refuse puts from now on, wake every waiting putter and getter with how the wait
        ends, and with ``immediate`` drop the items left."""
        self.shut_down = True
        self.put_bound = 0
        if immediate and not self.dropping:
            self.dropping = True
            dropped = len(self.buf) + len(self.overflow)
            self.buf.clear()  # in place: put_one and take_one are bound to this buffer
            self.overflow.clear()
            self.drop(dropped)
        # A getter waits only while the queue is empty (every item put or given back goes
        # to a waiting getter first), so each one waiting now ends: its line holds the get
        # effect it waits in, which says how (QueueShutDown, END, the end of `async for`).
        getters, self.getters.tasks = self.getters.tasks, {}
        for task, get in getters.items():
            task.scheduler.wake(task, get.ended())
        # A waiting putter's item was never put: it is refused as a put would be now.
        putters, self.putters.tasks = self.putters.tasks, {}
        for task in putters:
            task.scheduler.wake(task, Throw(self.put_refused()))

    def put_refused(self) -> QueueShutDown:
        return QueueShutDown(f"{self.name} is shut down: it takes no more items")

    def get_refused(self) -> QueueShutDown:
        return QueueShutDown(f"{self.name} is shut down and has no item left")

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
        # Empty: the get waits, unless the queue is shut down (the one test of it here).
        if q.shut_down:
            ended = self.ended()  # what a getter waiting now is woken with: raised, or END
            if ended.__class__ is Throw:
                raise ended.exc
            return ended
        if self.timeout is None:
            getters = q.getters  # QueueLine.park spelled out: the consumer's hot path
            # The tag is the effect, which says how the wait ends at a shutdown.
            getters.tasks[task] = self
            return scheduler.park(task, getters)
        return park(q.getters, scheduler, task, self.timeout, q.describe_get, self)

    def ended(self) -> Any:
        """What this get resumes with once the queue is shut down and empty."""
        return Throw(self.state.get_refused())

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


# Effect[Any] to the type checker: it resumes with T or END, which get_or_end() declares.
class QueueGetOrEnd(QueueGet[Any]):
    """``get_or_end()``: a get that resumes with END, rather than raising, at the end."""

    __slots__ = ()

    def ended(self) -> Any:
        return END

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        if value is not END:  # END, a race loser's or a failed gather's, is no item
            self.state.revoked(value)

    def __repr__(self) -> str:
        return f"{self.state.name}.get_or_end()"


class QueueNext(QueueGet[T]):
    """What ``async for item in queue`` awaits for each item: a get that ends the loop at
    the end. StopAsyncIteration raised at the await is how an ``__anext__`` ends a loop; a
    generator does not turn it into a RuntimeError (PEP 479 is about StopIteration), so it
    passes through ``Effect.__await__`` as it is."""

    __slots__ = ()

    def ended(self) -> Any:
        return Throw(StopAsyncIteration())

    def __repr__(self) -> str:
        return f"anext({self.state.name})"


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
        if len(q.buf) < q.put_bound:
            q.unfinished += 1
            q.put_one(item)
            return None
        # Full, or shut down (put_bound is then 0): the put waits, or is refused.
        if q.shut_down:
            raise q.put_refused()
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
        if q.all_done is None:
            q.all_done = WaitQueue(q.describe_join)
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
    in :class:`asyncio.Queue`, and so does :meth:`shutdown`: puts are refused with
    :class:`coop.QueueShutDown`, and gets take the items left, then raise it. ``async for item
    in queue`` and, in a generator, ``while (item := (yield queue.get_or_end())) is not
    coop.sync.END`` take items until then.

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
    ...     q.shutdown()                       # no more items: the consumer's loop ends
    >>> def consumer():
    ...     got = []
    ...     while (item := (yield q.get_or_end())) is not coop.sync.END:
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
        self._state: QueueState[T] = self._discipline(kind, kind, name_label(kind, name),
                                                            maxsize)

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

    def get_or_end(self, timeout: float | None = None) -> Effect[T | Literal[End.END]]:
        """Effect: as :meth:`get`, but resumes with :data:`coop.sync.END` rather than raising
        :class:`coop.QueueShutDown` once the queue is shut down and empty.

        It is the generator task's loop over a queue, which ends cleanly at shutdown (an
        ``async def`` task writes ``async for item in queue``)::

            while (item := (yield queue.get_or_end())) is not coop.sync.END:
                handle(item)

        One expression per item, the end tested where the item arrives. It is the spelling
        chosen over a ``try``/``except QueueShutDown`` around the loop because that one also
        swallows the QueueShutDown of any other queue the body puts to (a consumer feeding
        a downstream queue that was shut down would end as if its own input had), and over
        a helper that runs a callback per item because the body stays a plain block that may
        ``yield``. ``yield from queue.get_or_end()`` gives a type checker ``T | End``, and
        ``is not END`` narrows it to ``T``. ``END`` is not an item: never put it in a queue.
        """
        state = self._state
        if timeout is None:
            if state.get_or_end is None:
                state.get_or_end = QueueGetOrEnd(state, None)
            return state.get_or_end
        return QueueGetOrEnd(state, check_timeout(timeout, f"{state.name}.get_or_end"))

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down, as :meth:`asyncio.Queue.shutdown` (Python 3.13) does.

        From now on every put (``put``, ``put_nowait``) raises :class:`coop.QueueShutDown`,
        and the putters waiting for room are woken with it: their items were never put.
        Gets go on taking the items left; once the queue is empty they raise
        QueueShutDown (``get_or_end`` resumes with :data:`coop.sync.END`, and ``async for``
        ends), and so do the getters waiting, woken at once since the queue is empty.

        With ``immediate=True`` the items left are dropped and counted as done for
        :meth:`join` (as if :meth:`task_done` had been called for each), so a ``join()``
        waiting only for them returns; every get raises at once. An item handed to a getter
        that is cancelled before it runs is then dropped too, rather than served.

        Calling it again is harmless; ``shutdown(immediate=True)`` after ``shutdown()`` drops
        what is left.

        >>> q = coop.Queue()
        >>> async def consumer():
        ...     return [item async for item in q]
        >>> def main():
        ...     task = yield coop.spawn(consumer())
        ...     for n in range(3):
        ...         yield q.put(n)
        ...     q.shutdown()                  # the consumer takes what is left, then ends
        ...     return (yield coop.join(task))
        >>> coop.run(main())
        [0, 1, 2]
        """
        if not isinstance(immediate, bool):
            raise TypeError(f"{self._state.name}.shutdown(immediate) takes a bool, "
                            f"got {immediate!r}")
        state = self._state
        thread = state.thread
        if thread and thread != get_ident():
            state.check_thread("shutdown()")
        state.shutdown(immediate)

    def put_nowait(self, item: T) -> None:
        """Put ``item`` without waiting; raises :class:`coop.QueueFull` if there is no room."""
        state = self._state
        thread = state.thread
        if thread and thread != get_ident():
            state.check_thread("put_nowait()")
        if state.getters.tasks:
            state.unfinished += 1
            state.hand(item)
        elif len(state.buf) < state.put_bound:
            state.unfinished += 1
            state.put_one(item)
        elif state.shut_down:
            raise state.put_refused()
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
            if state.shut_down:
                raise state.get_refused()
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
        if state.unfinished == 0 and state.all_done is not None:
            state.all_done.wake_all(None)

    def join(self) -> Effect[None]:
        """Effect: wait until every item put has been marked with :meth:`task_done`."""
        return QueueJoin(self._state)

    def statistics(self) -> QueueStatistics:
        """The queue's name, size, bound, waiting getters and putters, unfinished items, and
        whether it is shut down."""
        state = self._state
        return QueueStatistics(state.name, len(state.buf), state.maxsize,
                               len(state.getters.tasks), len(state.putters.tasks),
                               state.unfinished, state.shut_down)

    def __aiter__(self) -> Queue[T]:
        """``async for item in queue``: take items until the queue is shut down and empty."""
        return self

    def __anext__(self) -> Effect[T]:
        """The effect ``async for`` awaits: the next item, or the end of the loop."""
        state = self._state
        if state.next is None:
            state.next = QueueNext(state, None)
        return state.next

    def __iter__(self) -> NoReturn:
        # A plain for loop cannot wait for an item (that takes a yield): say what can.
        raise CoopUsageError(
            f"a coop.{self._state.kind} cannot be iterated with a plain for loop: getting an "
            f"item waits. Write `async for item in queue:` in an async def task, or "
            f"`while (item := (yield queue.get_or_end())) is not coop.sync.END:` in a "
            f"generator task")

    def __repr__(self) -> str:
        state = self._state
        bound = f"/{state.maxsize}" if state.maxsize else ""
        shut = ", shut down" if state.shut_down else ""
        return (f"<{state.name} {len(state.buf)}{bound} items, {len(state.getters.tasks)} "
                f"getters, {len(state.putters.tasks)} putters waiting{shut}>")


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
