"""Tasks waiting on file descriptors (lowlevel.wait_readable / wait_writable): one reader and
one writer per descriptor, registered with the scheduler's selector only while a task waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._task import Task

if TYPE_CHECKING:
    from ._run import Scheduler

class _IOWaits:
    """The tasks waiting on one file descriptor: one reader and one writer at most."""

    __slots__ = ("fd", "reader", "writer")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reader: _IOWait | None = None
        self.writer: _IOWait | None = None

    def get(self, readable: bool) -> _IOWait | None:
        return self.reader if readable else self.writer

    def set(self, readable: bool, wait: _IOWait | None) -> None:
        if readable:
            self.reader = wait
        else:
            self.writer = wait


class _IOWait:
    """What a task waiting for a descriptor to be ready is parked on."""

    __slots__ = ("readable", "scheduler", "task", "waits")

    def __init__(self, scheduler: Scheduler, task: Task[Any], waits: _IOWaits,
                 readable: bool) -> None:
        self.scheduler = scheduler
        self.task = task
        self.waits = waits
        self.readable = readable

    def release(self) -> None:
        """Stop waiting: the descriptor is unregistered for this direction."""
        waits = self.waits
        if waits.get(self.readable) is not self:
            return
        waits.set(self.readable, None)
        self.scheduler._outside_waits -= 1
        try:
            self.scheduler._register_io(waits)
        except (OSError, ValueError, KeyError):  # closed meanwhile: nothing left to stop
            self.scheduler._io.pop(waits.fd, None)

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        self.release()  # cancelled or timed out

    def describe(self) -> str:
        return (f"file descriptor {self.waits.fd} to be "
                f"{'readable' if self.readable else 'writable'}")

    def holders(self) -> list[Task[Any]]:
        return []
