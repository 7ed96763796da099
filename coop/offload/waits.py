"""What a task is parked on while its work runs elsewhere: one call, or a pmap's chunks.

Each is a :class:`Source` in its backend's :class:`Gate` (it hands the pool its calls as slots
free up) and the task's Parkable (a cancellation or a timeout withdraws what it still can).
Completions arrive from pool threads and are handed to the scheduler's thread with
``call_soon_threadsafe``; there the task is woken with the result, or the error it stands for.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any

from .. import tracing
from ..errors import WorkerCrashed
from ..lowlevel import Task, Throw
from .backends import THREADS
from .gate import Gate, Slot, Source
from .wire import CRASH, ERR, ERROR, OUTCOME, VALUE, WIRE, Completion, decode, outcome_error

if TYPE_CHECKING:
    from ..lowlevel import Scheduler


class WaitState(enum.Enum):
    WAITING = "waiting"
    SETTLED = "settled"  # the task was woken with the outcome
    DROPPED = "dropped"  # the task stopped waiting (cancelled, timed out): late results go


WAITING = WaitState.WAITING
SETTLED = WaitState.SETTLED
DROPPED = WaitState.DROPPED

#: A pmap call that comes back faster than this carries more chunks next time.
BATCH_SECONDS = 0.02


class ExternalWait(Source):
    """A task parked on work in flight elsewhere (the kernel's Parkable protocol).

    Subclasses say how to withdraw what is still pending when the task stops waiting.
    """

    __slots__ = ("backend", "gate", "scheduler", "state", "task", "what")

    def __init__(self, scheduler: Scheduler, task: Task[Any], what: str, gate: Gate) -> None:
        self.scheduler = scheduler
        self.task: Task[Any] | None = task
        self.what = what
        self.gate = gate
        self.backend = gate.backend
        self.state = WAITING

    def _withdraw(self) -> None:
        raise NotImplementedError

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        if self.state is not WAITING:
            return
        self.state = DROPPED
        self.task = None
        self.scheduler.end_external(self)
        self.gate.remove(self)
        self._withdraw()

    def holders(self) -> list[Task[Any]]:
        return []

    def _wake(self, value: Any) -> None:
        self.state = SETTLED
        self.scheduler.end_external(self)
        task, self.task = self.task, None
        assert task is not None
        self.scheduler.wake(task, value)


class Call(ExternalWait):
    """A task parked on one offloaded call."""

    __slots__ = ("args", "fn", "kwargs", "slot", "worker")

    def __init__(self, scheduler: Scheduler, task: Task[Any], what: str, gate: Gate,
                 fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__(scheduler, task, what, gate)
        self.fn: Callable[..., Any] | None = fn
        self.args = args
        self.kwargs = kwargs
        self.slot: Slot | None = None
        # (pid, thread id, name) of the worker thread that ran it: noted for coop.tracing.
        self.worker: tuple[int, int, str] | None = None

    def submit_next(self) -> bool:
        fn, self.fn = self.fn, None
        assert fn is not None
        handle = self.backend.submit(self.what, fn, self.args, self.kwargs, self.done)
        self.args, self.kwargs = (), {}
        self.slot = self.gate.take(handle)
        return False

    def fail(self, exc: BaseException) -> None:
        if self.state is WAITING:
            self._wake(Throw(exc))

    def done(self, kind: Completion, value: Any) -> None:
        """From a pool's thread: hand the outcome to the scheduler's thread."""
        if tracing.active and self.backend.kind == THREADS:
            # A thread pool's worker reports itself: this is the thread that ran the call.
            self.worker = (os.getpid(), threading.get_native_id(),
                           threading.current_thread().name)
        self.scheduler.call_soon_threadsafe(self.settle, kind, value)

    def where(self) -> tuple[int, int, str] | None:
        """Where the call ran, as (pid, thread id, name), where known: the worker thread of a
        thread pool (noted while tracing), the worker process of coop's process pool."""
        if self.worker is not None:
            return self.worker
        handle = None if self.slot is None else self.slot.handle
        process = getattr(getattr(handle, "worker", None), "process", None)
        pid = getattr(process, "pid", None)
        if isinstance(pid, int):
            return pid, pid, "coop-worker"
        return None

    def settle(self, kind: Completion, value: Any) -> None:
        if self.slot is not None:
            self.slot.free()
        if self.state is not WAITING:
            return  # dropped: the task was cancelled or timed out; the late result goes
        try:
            result = outcome(self.what, kind, value)
        except BaseException as exc:
            self._wake(Throw(exc))
        else:
            self._wake(result)

    def _withdraw(self) -> None:
        self.fn = None
        slot = self.slot
        if slot is None:
            return  # still in coop's queue: the pool never heard of it
        if not self.backend.cancel(slot.handle):
            slot.free()

    def describe(self) -> str:
        return f"{self.what} on {self.backend.label}"


class MapWait(ExternalWait):
    """A task parked on the chunks of one pmap, which it hands out as the gate has room."""

    __slots__ = ("batch", "chunksize", "fn", "items", "left", "limit", "next_start",
                 "progress", "results", "sent", "slots", "total")

    def __init__(self, scheduler: Scheduler, task: Task[Any], what: str, gate: Gate,
                 fn: Callable[[Any], Any], items: Iterator[Any], chunksize: int,
                 total: int | None, progress: Any) -> None:
        super().__init__(scheduler, task, what, gate)
        self.fn = fn
        self.items: Iterator[Any] | None = items
        self.chunksize = chunksize
        self.total = total
        self.slots: dict[int, Slot] = {}  # chunk index -> its call, while in the pool
        self.results: list[Any] = []
        self.left = 0  # chunks handed out and not yet back
        self.next_start = 0
        self.progress = progress
        # Chunks per call. Tiny chunks cost more in hand-offs than in work, and with only a
        # few calls in the pool at a time each round trip would leave workers idle: while a
        # call comes back in well under BATCH_SECONDS, the next carries twice as many
        # chunks, up to Pool.map's own share of about four calls per worker.
        self.batch = 1
        self.limit = max(1, (total or 0) // (4 * max(1, self.backend.size) * chunksize))
        self.sent: dict[int, tuple[float, int, int]] = {}  # index -> when, first item, count

    def start(self) -> bool:
        """Hand the pool the first chunks; whether the task must wait for them (not when the
        input turned out empty). Raises what the first submission raised."""
        try:
            self.gate.admit(self)
        except BaseException:
            self.state = DROPPED
            self._cancel_rest()
            raise
        if self.items is None and not self.results:
            self._cancel_rest()  # nothing to wait for; a progress bar is closed all the same
            return False
        return True

    def submit_next(self) -> bool:
        items = self.items
        assert items is not None
        chunk = list(islice(items, self.chunksize * self.batch))
        if not chunk:
            self.items = None
            return False
        index = len(self.results)
        start = self.next_start
        handle = self.backend.submit_map(self.what, self.fn, chunk, start,
                                         partial(self.done, index))
        self.next_start = start + len(chunk)
        self.results.append(None)
        self.slots[index] = self.gate.take(handle)
        self.sent[index] = (time.perf_counter(), start, len(chunk))
        self.left += 1
        if len(chunk) < self.chunksize * self.batch or self.next_start == self.total:
            self.items = None  # the last chunk: no trip back for an empty one
            return False
        return True

    def fail(self, exc: BaseException) -> None:
        if self.state is WAITING:
            self._end(Throw(exc))

    def done(self, index: int, kind: Completion, value: Any) -> None:
        self.scheduler.call_soon_threadsafe(self.settle, index, kind, value)

    def settle(self, index: int, kind: Completion, value: Any) -> None:
        when, start, count = self.sent.pop(index, (0.0, 0, 0))
        if self.batch < self.limit and time.perf_counter() - when < BATCH_SECONDS:
            self.batch = min(self.limit, 2 * self.batch)
        slot = self.slots.pop(index, None)
        if slot is not None:
            slot.free()
        if self.state is not WAITING:
            return
        try:
            first, last = start // self.chunksize, (start + count - 1) // self.chunksize
            chunks = f"chunk {first}" if first == last else f"chunks {first} to {last}"
            chunk = outcome(f"{self.what} {chunks}", kind, value)
        except BaseException as exc:
            self._end(Throw(exc))
            return
        self.results[index] = chunk
        if self.progress is not None:
            self.progress.update(len(chunk))
        self.left -= 1
        if not self.left and self.items is None and self.state is WAITING:
            self._end([x for part in self.results for x in part])

    def _end(self, value: Any) -> None:
        self.gate.remove(self)
        self._cancel_rest()
        self._wake(value)

    def _cancel_rest(self) -> None:
        self.items = None
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        # A chunk the pool could not withdraw keeps its slot, and its place here, until it
        # reports (settle frees it): dropping it now would lose the slot for good.
        for index, slot in list(self.slots.items()):
            if not self.backend.cancel(slot.handle):
                del self.slots[index]
                slot.free()

    def _withdraw(self) -> None:
        self._cancel_rest()

    def describe(self) -> str:
        of = f" of {self.total // self.chunksize + bool(self.total % self.chunksize)}" \
            if self.total is not None else ""
        return f"{self.what} ({len(self.results) - self.left}{of} chunks done) on " \
               f"{self.backend.label}"


def outcome(what: str, kind: Completion, value: Any) -> Any:
    """The result a pool reported, or raise the error it stands for."""
    if kind == VALUE:
        return value
    if kind == WIRE:
        try:
            decoded = decode(value)
        except Exception as exc:
            raise TypeError(f"{what}: the result came back but cannot be unpickled here: "
                            f"{type(exc).__name__}: {exc}") from exc
        if decoded[0] == ERR:
            raise outcome_error(what, decoded)
        return decoded[1]
    if kind == OUTCOME:
        if value[0] == ERR:
            raise outcome_error(what, value)
        return value[1]
    if kind == ERROR:
        raise value
    if kind == CRASH:
        raise WorkerCrashed(f"{what} was lost: {value}")
    raise AssertionError(f"unknown completion kind {kind}")
