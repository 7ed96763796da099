"""A read-write lock written on coop.lowlevel alone: many readers or one writer.

Writers are preferred: once a writer waits, new readers queue behind it, so a stream of
readers cannot starve the writers. The lock names its holders for deadlock reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import coop
from coop import lowlevel


@dataclass(frozen=True)
class RWLockStatistics:
    readers: int           # tasks reading now
    writer: str | None     # the task writing now, by name
    waiting_readers: int
    waiting_writers: int


class RWLock:
    def __init__(self, name: str = "rwlock") -> None:
        self.name = name
        self.readers: set[coop.Task[Any]] = set()
        self.writer: coop.Task[Any] | None = None
        # One queue for both kinds, tagged "r" or "w", so that arrival order is kept.
        self.waiting = lowlevel.WaitQueue(self.describe, self.holders)

    def read(self) -> coop.Effect[Any]:
        """``with (yield lock.read()):`` share the lock with other readers."""
        return _Acquire(self, "r")

    def write(self) -> coop.Effect[Any]:
        """``with (yield lock.write()):`` hold the lock alone."""
        return _Acquire(self, "w")

    def statistics(self) -> RWLockStatistics:
        kinds = [kind for _, kind in self.waiting.items()]
        return RWLockStatistics(len(self.readers), self.writer.name if self.writer else None,
                                kinds.count("r"), kinds.count("w"))

    def holders(self) -> list[coop.Task[Any]]:
        return [self.writer] if self.writer is not None else list(self.readers)

    def describe(self) -> str:
        holders = ", ".join(sorted(t.name for t in self.holders())) or "nobody"
        return f"{self.name} (held by {holders})"

    def can_take(self, kind: str, queue_first: bool) -> bool:
        if self.writer is not None:
            return False
        if kind == "w":
            return not self.readers
        # A reader waits behind any waiting writer (writer preference) unless it is first.
        return queue_first or all(k == "r" for _, k in self.waiting.items())

    def take(self, task: coop.Task[Any], kind: str) -> _Held:
        if kind == "w":
            self.writer = task
        else:
            self.readers.add(task)
        return _Held(self, task)

    def release(self, task: coop.Task[Any]) -> None:
        if self.writer is task:
            self.writer = None
        else:
            self.readers.discard(task)
        # Hand on to the first waiter, and to every reader after it up to a writer.
        while (first := self.waiting.first()) is not None and self.can_take(first[1], True):
            waiter, kind = self.waiting.pop()  # type: ignore[misc]
            held = self.take(waiter, kind)
            # If the waiter is cancelled before it runs, the lock goes on to the next one.
            lowlevel.reschedule(waiter, held, revoke=lambda h: h.lock.release(h.task))


class _Held:
    """What ``yield lock.read()`` resumes with: a context manager that releases."""

    def __init__(self, lock: RWLock, task: coop.Task[Any]) -> None:
        self.lock, self.task = lock, task

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        self.lock.release(self.task)


class _Acquire(coop.Effect[Any]):
    def __init__(self, lock: RWLock, kind: str) -> None:
        self.lock, self.kind = lock, kind

    def _coop_apply(self, scheduler: coop.Scheduler, task: coop.Task[Any]) -> Any:
        lock = self.lock
        if task is lock.writer or task in lock.readers:
            raise coop.CoopUsageError(f"{task.name} already holds {lock.name}; it is not "
                                      f"reentrant (that wait could never end)")
        if lock.can_take(self.kind, not lock.waiting):
            return lock.take(task, self.kind)
        return lowlevel.park(task, lock.waiting, self.kind)


def main() -> None:
    lock, log = RWLock("the table"), []

    def reader(i: int) -> Any:
        with (yield lock.read()):
            log.append(f"t={(yield coop.now()):g} reader {i} reads, "
                       f"{lock.statistics().readers} reading")
            yield coop.sleep(1)

    def writer() -> Any:
        with (yield lock.write()):
            log.append(f"t={(yield coop.now()):g} writer writes, "
                       f"{lock.statistics().waiting_readers} reader(s) waiting")
            yield coop.sleep(1)

    def program() -> Any:
        tasks = []
        for i in range(2):
            tasks.append((yield coop.spawn(reader(i))))
        tasks.append((yield coop.spawn(writer())))
        tasks.append((yield coop.spawn(reader(2))))  # arrives after the writer: waits for it
        for task in tasks:
            yield coop.join(task)

    coop.run(program(), clock=coop.VirtualClock())
    print("\n".join(log))


if __name__ == "__main__":
    main()
