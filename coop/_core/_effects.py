"""Effects: the things a task yields to say what it wants next.

``value = yield effect`` in a generator, ``value = await effect`` in an ``async def`` task, and
``value = yield from effect`` where a type checker should see the result type. An effect is a
small request object; the kernel hands it itself and the task (``_coop_apply``), and the effect
either returns the value to resume the task with at once, raises to throw an error into the
task, or parks the task and returns ``SUSPENDED``.

Compiled with the kernel; ``join`` and ``cancel`` are in ``_task_effects.py``. The public
names are re-exported by :mod:`coop.effects`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from gc import get_referents as _referents
from types import GeneratorType
from typing import TYPE_CHECKING, Any, Final, Generic, SupportsFloat, TypeVar

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # needed only when mypyc compiles this module: a no-op otherwise
    def mypyc_attr(*attrs: str, **kwattrs: object) -> Any:  # type: ignore[misc]
        return lambda cls: cls

from ._checks import check_runnable
from ._task import Runnable, Task
from ._waitqueue import SUSPENDED

if TYPE_CHECKING:
    from ._run import Scheduler

# Read by every Spawn: a Final name is a C static, compiled.
_REFERENTS: Final = _referents

T = TypeVar("T")
# Covariant: an effect only produces its value, so an Effect[int] is an Effect[object].
T_co = TypeVar("T_co", covariant=True)


# Compiled with the kernel, and subclassed by interpreted code (coop's primitives, users).
@mypyc_attr(allow_interpreted_subclasses=True)
class Effect(Generic[T_co]):
    """Base class of everything a task may yield. Subclass it to add a new kind of wait.

    >>> class Twice(coop.Effect[int]):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def _coop_apply(self, scheduler, task):
    ...         return 2 * self.n          # complete at once with this value
    >>> def main():
    ...     return (yield Twice(21))
    >>> coop.run(main())
    42
    """

    __slots__ = ()

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        raise NotImplementedError

    def __await__(self) -> Generator[Effect[T_co], Any, T_co]:
        return (yield self)  # type: ignore[no-any-return]

    def __iter__(self) -> Generator[Effect[T_co], Any, T_co]:
        return (yield self)  # type: ignore[no-any-return]


class DebugHooks:
    """What debug mode (``_debug.py``) hooks into the effects compiled here: ``created`` is
    told of each sleep and spawn made, to warn of one never yielded. Interpreted effect classes
    are wrapped instead; these cannot be, and pay one test of a field of a static object."""

    def __init__(self) -> None:
        self.created: Callable[[Effect[Any]], None] | None = None


DEBUG_HOOKS: Final = DebugHooks()


def check_int(value: object, what: str, minimum: int = 0) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``; else TypeError or
    ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} takes an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


# Seconds are typed SupportsFloat, not float, where users pass them: compiled, a float
# parameter is checked by mypyc on entry, with its own message and letting True through.
def check_seconds(seconds: object, what: str) -> float:
    """``seconds`` as a float if it is a number >= 0 (not a bool, not NaN); else TypeError or
    ValueError naming ``what``. ``inf`` passes: an infinite deadline is none."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} takes a number of seconds, got {seconds!r} "
                        f"({type(seconds).__name__})")
    if math.isnan(seconds):
        raise ValueError(f"{what}: seconds is NaN; pass a number >= 0")
    if seconds < 0:
        raise ValueError(f"{what}: seconds must be >= 0, got {seconds}; "
                         f"use 0 (or a bare `yield`) to just give up the turn")
    return float(seconds)


class Sleep(Effect[None]):
    __slots__ = ("seconds",)

    def __init__(self, seconds: SupportsFloat) -> None:
        # Most sleeps are a plain non-negative float: skip the checks' calls (NaN fails >= 0).
        if seconds.__class__ is float and seconds >= 0:
            self.seconds = seconds
        else:
            self.seconds = check_seconds(seconds, "coop.sleep")
        created = DEBUG_HOOKS.created
        if created is not None:
            created(self)

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        if self.seconds == 0:
            scheduler._ready.append(task)
            return SUSPENDED
        return scheduler.sleep_until(task, scheduler._clock_now() + self.seconds)

    def __repr__(self) -> str:
        return f"coop.sleep({self.seconds})"


def sleep(seconds: SupportsFloat) -> Sleep:
    """Suspend the task for ``seconds``; ``sleep(0)`` gives up the turn like a bare ``yield``.

    >>> def main():
    ...     yield coop.sleep(2.5)
    ...     return (yield coop.now())
    >>> coop.run(main(), clock=coop.VirtualClock())
    2.5
    """
    return Sleep(seconds)


class Now(Effect[float]):
    __slots__ = ()

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return scheduler._clock_now()


def now() -> Now:
    """The scheduler clock's time in seconds (virtual time under a VirtualClock).

    >>> def main():
    ...     return (yield coop.now())
    >>> coop.run(main(), clock=coop.VirtualClock(start=10))
    10.0
    """
    return Now()


class Spawn(Effect[Task[T]]):
    __slots__ = ("coro", "daemon", "name")

    def __init__(self, coro: Runnable[T], name: str | None, daemon: bool) -> None:
        # Checked here so that a mistake surfaces at the spawn call, the earliest point; the
        # common case (a fresh generator) is tested inline because spawn is a hot path.
        if (coro.__class__ is not GeneratorType or coro.gi_suspended or coro.gi_running
                or len(_REFERENTS(coro)) <= 3):  # 3: a finished generator (see check_runnable)
            check_runnable(coro)
        self.coro = coro
        self.name = name
        self.daemon = daemon
        created = DEBUG_HOOKS.created
        if created is not None:
            created(self)

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return scheduler._spawn(self.coro, self.name, self.daemon)

    def __repr__(self) -> str:
        what = getattr(self.coro, "__qualname__", None) or type(self.coro).__name__
        return f"coop.spawn({what}(...))"


def spawn(coro: Runnable[T], name: str | None = None, *, daemon: bool = False) -> Spawn[T]:
    """Start ``coro`` (a generator or coroutine) as a new task; resumes at once with its Task.

    The child goes to the back of the ready queue. ``coop.run`` waits for every task spawned
    without ``daemon=True``; daemon tasks still running when the program ends are cancelled,
    and a daemon task that fails is not reported. A generator runs as one task only: spawning
    one that a pending task already runs raises ValueError.

    >>> def child(n):
    ...     yield
    ...     return n * n
    >>> def main():
    ...     task = yield coop.spawn(child(7), name="square")
    ...     return (yield coop.join(task))
    >>> coop.run(main())
    49
    """
    return Spawn(coro, name, daemon)


class CurrentTask(Effect[Task[Any]]):
    __slots__ = ()

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return task


def current_task() -> CurrentTask:
    """The Task running this code.

    >>> def main():
    ...     me = yield coop.current_task()
    ...     return me.name
    >>> coop.run(main())
    'main'
    """
    return CurrentTask()
