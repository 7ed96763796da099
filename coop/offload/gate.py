"""coop's own queue in front of each backend: calls wait here until the pool has room."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backends import Backend


class Source:
    """What waits in a :class:`Gate` for slots: one call, or a pmap's chunks."""

    __slots__ = ()

    def submit_next(self) -> bool:
        """Hand the pool one call (taking a slot with :meth:`Gate.take`); whether more are to
        come."""
        raise NotImplementedError

    def fail(self, exc: BaseException) -> None:
        """A submission raised after the task had parked: end the wait with ``exc``."""
        raise NotImplementedError


class Gate:
    """coop's own queue in front of one backend, in the scheduler's thread.

    The pool is handed only as many calls as it runs at once plus a small prefetch (so a
    worker that finishes finds its next call already there); the rest wait here, where
    withdrawing one is dropping it from a deque, whatever the pool can or cannot withdraw
    itself (a ``multiprocessing.Pool`` or Ray's pool cannot). A pmap is one source of many
    calls: its chunks are pickled one at a time as slots free up, so the input streams, the
    memory held stays bounded, and the scheduler never stops for long to pickle. Sources take
    slots in turn, so a long pmap does not hold up a ``to_process`` behind it.
    """

    __slots__ = ("backend", "capacity", "running", "sources")

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        size = max(1, backend.size)
        self.capacity = backend.depth * size if backend.withdraws else size + 1
        self.running = 0
        self.sources: deque[Source] = deque()

    def admit(self, source: Source) -> None:
        """Queue ``source``; raise what its first submission raised (a pickling error)."""
        self.sources.append(source)
        if self.running < self.capacity:
            self.pump(source)

    def pump(self, own: Source | None = None) -> None:
        sources = self.sources
        while self.running < self.capacity and sources:
            source = sources[0]
            try:
                more = source.submit_next()
            except BaseException as exc:
                self.remove(source)
                if source is own:
                    raise  # still in the task's own yield: it gets the error at once
                source.fail(exc)
                continue
            if more:
                sources.rotate(-1)
            else:
                sources.popleft()

    def take(self, handle: Any) -> Slot:
        """A call the backend has just been handed (``handle``, for its ``cancel``) holds a
        slot until :meth:`Slot.free`."""
        self.running += 1
        return Slot(self, handle)

    def release(self) -> None:
        self.running -= 1
        if self.sources:
            self.pump()

    def remove(self, source: Source) -> None:
        try:
            self.sources.remove(source)
        except ValueError:
            pass


class Slot:
    """One call handed to a pool: it holds a slot of the gate until the pool is done with it
    (or has withdrawn it: then it never reports, and the slot is freed at once)."""

    __slots__ = ("gate", "handle", "held")

    def __init__(self, gate: Gate, handle: Any) -> None:
        self.gate = gate
        self.handle = handle
        self.held = True

    def free(self) -> None:
        """Give the slot back (once; later calls do nothing)."""
        if self.held:
            self.held = False
            self.gate.release()
