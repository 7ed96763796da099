"""Timers: a callback due at a deadline (TimerHandle), and the wheel that keeps every timer of
a scheduler in deadline order (sleeps, timeouts, call_at).

A timer is a ``(deadline, seq, target)`` entry, ``target`` a TimerHandle or a sleeping task's
id. Entries due in a bucket (``deadline // BUCKET``) up to ``near_key`` are in the heap
``near``; later ones wait unsorted in one list per bucket, whose keys are in the heap ``keys``.
A bucket is sorted into the near heap only when its time comes, so a timer is ordered among
the few due in the same millisecond, not in a heap of all of them (heap operations over
100,000 scattered entries cost microseconds each in cache misses).

An entry is compared by identity (a sleeping task's ``_parked_on`` is its entry), so it is
typed Any: mypyc would unbox a precise tuple type and box a new object on each use. It names
the task by id, not by reference: a tuple of numbers only is dropped from the cyclic GC's
tracking at its first collection, so 100,000 sleeping tasks do not add 100,000 long-lived
objects for every full collection to traverse (measured: GC was a quarter of the CPU of
100,000 sleeps).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any, Final

from ._task import Task

#: Width of a timer bucket, in clock seconds.
BUCKET: Final = 0.001


class TimerHandle:
    """A callback due at a deadline; ``cancel()`` stops it from running."""

    __slots__ = ("args", "cancelled", "deadline", "fn")

    def __init__(self, deadline: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.deadline = deadline
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerWheel:
    """The timers of one scheduler, in deadline order (ties in the order they were set).

    The run loop reads ``near`` and ``keys`` directly (it holds both lists for its whole run:
    their identity never changes) and fires what is due itself.
    """

    def __init__(self, tasks: dict[Any, Task[Any]]) -> None:
        # The scheduler's task table, by id: a sleep's entry is live while its task is
        # still parked on it.
        self.tasks = tasks
        self.near: list[Any] = []
        self.buckets: dict[float, list[Any]] = {}
        self.keys: list[float] = []
        self.near_key = float("-inf")
        # Timers whose wait ended early stay in place until reached; once they outnumber the
        # live ones (many timeouts that were not needed), the storage is rebuilt without them.
        self.dead = 0
        self.compact_at = 1024
        self.seq = itertools.count()

    def add(self, deadline: float, target: Any) -> Any:
        """File a timer for ``target`` (a TimerHandle or a task id); returns its entry."""
        entry: Any = (deadline, next(self.seq), target)
        key = deadline // BUCKET
        if key <= self.near_key:
            heapq.heappush(self.near, entry)
            return entry
        bucket = self.buckets.get(key)
        if bucket is None:
            self.buckets[key] = [entry]
            heapq.heappush(self.keys, key)
        else:
            bucket.append(entry)
        return entry

    def add_first(self, deadline: float, target: Any) -> Any:
        """File a timer that fires before every other one due at the same deadline."""
        # add()'s filing again, rather than a helper both call: add() is on the path of
        # every sleep, where one more call is measurable; this runs once per run(until=).
        entry: Any = (deadline, -1, target)
        key = deadline // BUCKET
        if key <= self.near_key:
            heapq.heappush(self.near, entry)
            return entry
        bucket = self.buckets.get(key)
        if bucket is None:
            self.buckets[key] = [entry]
            heapq.heappush(self.keys, key)
        else:
            bucket.append(entry)
        return entry

    def cancel_from(self, deadline: float) -> None:
        """Cancel every callback due at ``deadline`` or later (sleeps are left to their
        tasks' cancellation)."""
        for entries in (self.near, *self.buckets.values()):
            for entry in entries:
                target = entry[2]
                if target.__class__ is TimerHandle and entry[0] >= deadline:
                    target.cancelled = True

    def sleeper(self, entry: Any) -> Task[Any] | None:
        """The task still asleep on this entry, or None if the entry is dead."""
        task = self.tasks.get(entry[2])
        return task if task is not None and task._parked_on is entry else None

    def open_bucket(self) -> None:
        """Move the earliest bucket into the near heap."""
        key = heapq.heappop(self.keys)
        near = self.near
        was_empty = not near
        near.extend(self.buckets.pop(key))
        if was_empty:
            near.sort()  # the usual case; a sorted list is a heap
        else:
            heapq.heapify(near)
        self.near_key = key

    def next_deadline(self) -> float | None:
        """The earliest live timer's deadline, or None.

        Timers whose wait already ended (a timeout that was not needed, a cancelled sleep) are
        dropped on the way, so that they cannot make a virtual clock jump or hide a deadlock.
        """
        near = self.near
        while True:
            if not near:
                if not self.keys:
                    return None
                self.open_bucket()
            entry = near[0]
            deadline: float = entry[0]
            target = entry[2]
            if target.__class__ is TimerHandle:
                if not target.cancelled:
                    return deadline
            elif self.sleeper(entry) is not None:
                return deadline
            heapq.heappop(near)

    def due(self, now: float) -> bool:
        near = self.near
        if near and near[0][0] <= now:
            return True
        keys = self.keys
        return bool(keys) and keys[0] <= now // BUCKET

    def died(self) -> None:
        """One timer's wait ended before it fired."""
        self.dead += 1
        if self.dead >= self.compact_at:
            self.compact()

    def stored(self) -> int:
        """How many entries are kept, live or dead."""
        return len(self.near) + sum(len(bucket) for bucket in self.buckets.values())

    def compact(self) -> None:
        """Rebuild the near heap and buckets with only the live entries, in the same order."""
        def live(entry: Any) -> bool:
            target = entry[2]
            if target.__class__ is TimerHandle:
                return not target.cancelled
            return self.sleeper(entry) is not None

        near = [entry for entry in self.near if live(entry)]
        heapq.heapify(near)
        self.near[:] = near  # the run loop holds this list: keep its identity
        kept = 0
        for key in list(self.buckets):
            bucket = [entry for entry in self.buckets[key] if live(entry)]
            if bucket:
                self.buckets[key] = bucket
                kept += len(bucket)
            else:
                del self.buckets[key]
        self.keys[:] = sorted(self.buckets)  # a sorted list is a heap
        self.dead = 0
        self.compact_at = max(1024, len(near) + kept)
