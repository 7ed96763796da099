"""What the primitives share: their names and checks, the scheduler each one serves, the timed
park, and the context manager an acquire hands out (with the messages for its misspellings).

Every primitive is a public object over a private state object (``LockState``,
``QueueState``...) whose fields have plain names: the effects, guards and hand-offs that work
on a primitive hold its state directly, so they reach every field in the one step they always
took, and the public object shows nothing but its API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import CoopUsageError, Timeout
from ..lowlevel import Effect, Scheduler, Task, check_seconds, serial

#: The calling OS thread's id (a module global: the thread checks run on hot paths).
get_ident = threading.get_ident


def make_name(kind: str, name: str | None) -> str:
    """``name``, or the next ``Kind#N`` of that kind (numbered per class)."""
    if name is None:
        return f"{kind}#{serial(kind)}"
    if not isinstance(name, str):
        raise TypeError(f"{kind}(name=...) takes a str, got {name!r}")
    return name


def check_timeout(timeout: float | None, what: str) -> float | None:
    """A ``timeout=`` argument: None (no limit) or seconds."""
    return None if timeout is None else check_seconds(timeout, what)


def check_count(value: object, what: str, minimum: int) -> int:
    """An int (not a bool) of at least ``minimum``.

    Not ``lowlevel.check_int``: its TypeError says "takes an int", and the primitives have
    always said "must be an int".
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def holder_names(holders: list[Task[Any]]) -> str:
    """The holders' names for a report, marking those that ended still holding."""
    return ", ".join(h.name + (" (ended without releasing)" if h.done() else "")
                     for h in holders)


class Line(Protocol):
    """What a task waits in: a ``WaitQueue``, or a primitive's own Parkable with a ``park``."""

    def park(self, task: Task[Any], tag: Any = None) -> Any:
        """Park ``task`` here; returns SUSPENDED."""


def park(line: Line, scheduler: Scheduler, task: Task[Any], timeout: float | None,
         describe: Callable[[], str], tag: Any = None) -> Any:
    """Park ``task`` in ``line``, with a deadline if ``timeout`` is given."""
    if timeout is not None:
        if timeout == 0:
            raise Timeout(f"timed out at once (timeout=0) waiting for {describe()}")

        def expired() -> BaseException:
            return Timeout(f"timed out after {timeout:g} s waiting for {describe()}")

        scheduler.set_deadline(task, scheduler.now() + timeout, expired)
    return line.park(task, tag)


def name_label(family: str, name: str | None) -> str | int:
    """What a primitive's ``name`` is made of: the ``name=`` given, or the next number of
    ``family`` (``Lock#3``, formatted only when the name is read; see PrimitiveState)."""
    if name is None:
        return serial(family)
    if not isinstance(name, str):
        raise TypeError(f"{family}(name=...) takes a str, got {name!r}")
    return name


class PrimitiveState:
    """What every primitive's state starts with: its kind and name, and the scheduler it serves.

    A primitive serves the tasks of one scheduler: its waiters are parked there and woken
    there, and a second scheduler in another thread would wake them without the first ever
    noticing (a hang). It is the first user's, and passes to another scheduler only once that
    one is done with it (no task left), which is how one module-level primitive serves
    successive runs.
    """

    __slots__ = ("family", "kind", "label", "scheduler", "thread")

    def __init__(self, kind: str, family: str, label: str | int) -> None:
        # Subclasses that are made by the dozen per run (Event, Lock) set these fields
        # themselves: a super().__init__ call costs as much as the rest of their set-up.
        self.kind = kind  # the public class's name, for messages
        self.family = family  # what default names are numbered by (the base class)
        self.label = label  # from name_label: the name given or the number
        # The scheduler served (the first to use it), and the id of its thread.
        self.scheduler: Scheduler | None = None
        self.thread = 0

    @property
    def name(self) -> str:
        """``Event#3``, or the ``name=`` given. Made when asked for: most primitives of a
        small run are never named in a message."""
        label = self.label
        return label if isinstance(label, str) else f"{self.family}#{label}"

    def bind(self, scheduler: Scheduler) -> None:
        """A task of ``scheduler`` uses the primitive: make it that scheduler's, or refuse.

        Effects call this only when ``state.scheduler is not scheduler``: one identity test on
        the hot path.
        """
        old = self.scheduler
        # A closed scheduler has no task left either.
        if old is not None and old is not scheduler and old.tasks():
            raise self.foreign_error("a task of another scheduler")
        self.scheduler = scheduler
        self.thread = get_ident()

    def check_thread(self, what: str) -> None:
        """A method runs in a thread other than its scheduler's (the slow path): refuse, or,
        if that scheduler is done with the primitive, set it free for the next one."""
        old = self.scheduler
        if old is not None and old.tasks():
            raise self.foreign_error(f"{what} from another thread")
        self.scheduler = None
        self.thread = 0

    def foreign_error(self, how: str) -> CoopUsageError:
        ident = self.thread
        thread = next((t.name for t in threading.enumerate() if t.ident == ident), str(ident))
        return CoopUsageError(
            f"{self.name} belongs to the scheduler running in thread {thread} (the first "
            f"to use it), and was used by {how}; a coop.{self.kind} "
            f"serves the tasks of one scheduler. To signal across schedulers or threads, send "
            f"to an actor (its send() is thread-safe) or hand a call to the owning scheduler "
            f"with scheduler.call_soon_threadsafe(fn, *args)"
        )


class Acquired:
    """What ``yield lock.acquire()`` (or a semaphore's) resumes the task with: a context
    manager that releases on exit, so ``with (yield lock.acquire()):`` releases on every path
    out of the block (return, exception, cancellation).

    >>> lock = coop.Lock()
    >>> def main():
    ...     held = yield lock.acquire()
    ...     with held:
    ...         inside = lock.locked()
    ...     return inside, lock.locked()
    >>> coop.run(main())
    (True, False)
    """

    __slots__ = ("_release",)

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._release()

    def __repr__(self) -> str:
        return f"<Acquired {self._release}>"


def not_a_context_manager(kind: str) -> CoopUsageError:
    """The error for ``with lock:``, which cannot acquire (acquiring must yield)."""
    return CoopUsageError(
        f"a coop.{kind} cannot be used as `with {kind.lower()}:` because acquiring it must "
        f"yield: write `with (yield {kind.lower()}.acquire()):` in a generator task, or "
        f"`async with {kind.lower()}:` in an async def task"
    )


def missing_yield(kind: str) -> CoopUsageError:
    """The error for ``with lock.acquire():``, the forgotten ``yield``."""
    name = kind.lower()
    return CoopUsageError(
        f"`with {name}.acquire():` is missing its yield: {name}.acquire() is an effect, and "
        f"a task waits for an effect by yielding it. Write `with (yield {name}.acquire()):` "
        f"in a generator task (`with (yield from {name}.acquire()):` for a typed result), or "
        f"`async with {name}:` in an async def task"
    )


class AcquireEffect(Effect[Acquired]):
    """An effect that hands its task a resource: a lock, a semaphore unit.

    It refuses the context-manager protocol with the right spelling (the forgotten ``yield``
    is the usual mistake), and it tells :mod:`coop.structured` how its result passes from
    the child task that acquired it to the task waiting in ``race``/``gather``
    (``_coop_hand_over``) and how to give it back when nobody will use it
    (``_coop_give_back``).
    """

    __slots__ = ()

    def _kind(self) -> str:
        raise NotImplementedError

    def __enter__(self) -> None:
        raise missing_yield(self._kind())

    def __exit__(self, *exc_info: object) -> None:
        raise missing_yield(self._kind())

    def __aenter__(self) -> None:
        raise missing_yield(self._kind())

    def __aexit__(self, *exc_info: object) -> None:
        raise missing_yield(self._kind())

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        raise NotImplementedError

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        raise NotImplementedError
