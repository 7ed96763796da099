"""Structured concurrency: run several pieces of work as one, and bound work by time.

``gather``, ``race`` and ``timeout`` own the children they start: when they return or raise,
every child they cancelled has finished its cleanup, and a task cancelled while inside one of
them cancels its children first. No orphan keeps running unseen. The children of a daemon
task are daemons: a daemon waiting in a race does not keep ``coop.run`` going.

An effect given to ``gather`` or ``race`` runs in a child task, yet what it acquires is for
the task waiting there. An effect that hands over a resource says how, with two methods that
this module calls in the scheduler thread:

``_coop_hand_over(value, holder, to)``
    ``value``, the effect's result, passes from task ``holder`` (the child that applied the
    effect) to task ``to``: a lock's owner becomes ``to``, so ``to`` may release it.
``_coop_give_back(value, holder)``
    nobody will use ``value`` (a race loser that got it anyway, a gather that failed, a
    waiting task cancelled before it ran): the lock is released, the unit returned, the
    item served to the next getter.

The primitives of :mod:`coop.sync` and actor mailboxes' ``recv`` define them, and ``gather``,
``race`` and ``timeout`` pass them on for the effects they contain, so nesting works. An
effect without them (``sleep``, ``Event.wait``, ``Queue.put``) just completes.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Never, TypeAlias, TypeVar, overload

from .errors import Timeout
from .lowlevel import (
    SUSPENDED,
    Effect,
    Runnable,
    Task,
    TaskState,
    Throw,
    TimerHandle,
    check_runnable,
    check_seconds,
)

if TYPE_CHECKING:
    from .lowlevel import Scheduler

__all__ = ["gather", "race", "timeout"]

log = logging.getLogger("coop")

T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")
T5 = TypeVar("T5")

#: What ``gather``, ``race`` and ``timeout`` take, each giving a ``T``: a Task (watched as it
#: is), an effect (run in a child task, or by ``timeout`` in the caller itself), or a generator
#: or coroutine (spawned). A string: the kernel's classes may be compiled, and this is for the
#: type checker alone.
Work: TypeAlias = "Task[T] | Effect[T] | Runnable[T]"


class _Mode(enum.StrEnum):
    """What a group waits for: every child, the first to finish, or its only child."""

    ALL = "gather"
    FIRST = "race"
    ONLY = "timeout"


def _run_effect(effect: Effect[T]) -> Generator[Any, Any, T]:
    return (yield effect)  # type: ignore[no-any-return]


def _as_work(item: Any, what: str) -> Any:
    """A Task is watched as it is; a generator or coroutine is spawned; an effect is wrapped."""
    if isinstance(item, Task):
        return item
    if isinstance(item, Effect):
        return _run_effect(item)
    try:
        check_runnable(item)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{what}: {err}") from None
    return item


def _handing_over(item: Any) -> Any:
    """``item`` if it is an effect whose result may carry a resource, else None."""
    if isinstance(item, Effect) and hasattr(item, "_coop_give_back"):
        return item
    return None


# The two hooks are the hand-over protocol this module defines (see above), named like the
# effect protocol's _coop_apply: calling them uses the protocol and reaches into nothing. SLF001
# cannot tell; flake8-self's ignore-names could list the _coop_ hooks.
def _hand_over(effect: Any, value: Any, holder: Task[Any], to: Task[Any]) -> None:
    try:
        effect._coop_hand_over(value, holder, to)
    except Exception:
        log.exception("coop: handing over the result of %r failed", effect)


def _give_back(effect: Any, value: Any, holder: Task[Any]) -> None:
    try:
        effect._coop_give_back(value, holder)
    except Exception:
        log.exception("coop: giving back the result of %r failed", effect)


class _Group:
    """The children of one gather/race/timeout, and the task waiting for them.

    It is what the waiting task is parked on, so the kernel routes the task's cancellation
    here (``interrupt``): the children are cancelled first and the task is woken with the
    exception only once every one of them has finished.
    """

    __slots__ = ("scheduler", "caller", "mode", "children", "results", "pending", "outcome",
                 "closing", "parked", "timer", "effects", "kept")

    def __init__(self, scheduler: Scheduler, caller: Task[Any], mode: _Mode,
                 effects: list[Any]) -> None:
        self.scheduler = scheduler
        self.caller = caller
        self.mode = mode
        # Per child, the effect it runs if that effect may hand a resource over, else None.
        self.effects = effects
        # Results handed over to the caller, as (effect, value): given back if the caller
        # is not to have them after all (a failure, its cancellation).
        self.kept: list[tuple[Any, Any]] = []
        self.children: list[Task[Any]] = []
        self.results: list[Any] = []
        self.pending = 0
        # What to resume the caller with once every child has ended: a value or a Throw.
        self.outcome: Any = None
        self.closing = False
        self.parked = False
        self.timer: TimerHandle | None = None

    def start(self, work: list[Any]) -> Any:
        scheduler = self.scheduler
        daemon = self.caller.daemon  # a daemon's helpers must not keep run() going either
        for item in work:
            child = item if isinstance(item, Task) else scheduler.spawn(item, None, daemon)
            if child.scheduler is not scheduler:
                raise ValueError(f"{self.mode}: {child!r} belongs to another scheduler")
            self.children.append(child)
        self.results = [None] * len(self.children)
        self.pending = len(self.children)
        for index, child in enumerate(self.children):
            scheduler.add_done_callback(child, functools.partial(self._child_done, index),
                                        observes=True)
        if self.pending == 0 and not self.closing:
            self._close(self.results if self.mode is _Mode.ALL else None)
        if self.pending == 0:
            return self._deliver_now()
        self.parked = True
        return scheduler.park(self.caller, self, True)  # owned: it waits for its children

    def _child_done(self, index: int, child: Task[Any]) -> None:
        self.pending -= 1
        done = child.outcome is TaskState.DONE
        value = child.result() if done else None
        effect = self.effects[index] if self.effects else None
        if effect is not None and done:
            if self.closing:
                _give_back(effect, value, child)  # got it too late: nobody wants it
            else:
                _hand_over(effect, value, child, self.caller)
                self.kept.append((effect, value))
        if not self.closing:
            if done:
                if self.mode is _Mode.ALL:
                    self.results[index] = value
                    if self.pending == 0:
                        self._close(self.results)
                elif self.mode is _Mode.FIRST:
                    self._close((index, value))
                else:
                    self._close(value)
            else:
                exc = child.exception()
                assert exc is not None  # it raised or was cancelled
                self._close(Throw(exc))  # the first failure wins; the rest are cut
        if self.pending == 0 and self.closing and self.parked:
            self.parked = False
            self.scheduler.wake(self.caller, self.outcome,
                                self._revoked if self.kept else None)

    def _revoked(self, outcome: Any) -> None:
        # The caller was cancelled after being woken with the outcome, before it ran.
        self._give_back_kept()

    def _give_back_kept(self) -> None:
        kept, self.kept = self.kept, []
        for effect, value in kept:
            _give_back(effect, value, self.caller)

    def _close(self, outcome: Any) -> None:
        """Settle the outcome and cancel every child still running."""
        self.closing = True
        self.outcome = outcome
        if outcome is None or outcome.__class__ is Throw:
            self._give_back_kept()
        if self.timer is not None:
            self.timer.cancel()
        for child in self.children:
            self.scheduler.cancel(child)

    def _deliver_now(self) -> Any:
        if self.outcome.__class__ is Throw:
            raise self.outcome.exc
        return self.outcome

    def deadline_passed(self, seconds: float) -> None:
        self.timer = None
        if not self.closing:
            self._close(Throw(Timeout(f"timed out after {seconds:g} s")))

    # Parkable
    def interrupt(self, task: Task[Any], exc: BaseException) -> bool:
        if self.pending == 0:
            return False
        if self.closing:
            # Already winding down: the interruption replaces the outcome, and what was
            # handed over for it goes back.
            self.outcome = Throw(exc)
            self._give_back_kept()
        else:
            self._close(Throw(exc))
        return True

    def unpark(self, task: Task[Any]) -> None:
        self.parked = False
        if not self.closing:
            self._close(None)
        self._give_back_kept()

    def describe(self) -> str:
        running = [c.name for c in self.children if not c.done()]
        return f"{self.mode} of {', '.join(running) or 'nothing'}"

    def holders(self) -> list[Task[Any]]:
        return [c for c in self.children if not c.done()]


# A list, not a tuple, at run time (what gather has always returned): its element type is
# the union of the children's result types (the overloads of gather), or their join.
class Gather(Effect[list[T]]):
    __slots__ = ("effects", "work")

    def __init__(self, work: tuple[Work[T], ...]) -> None:
        self.work = [_as_work(item, "coop.gather") for item in work]
        self.effects = [_handing_over(item) for item in work]

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return _Group(scheduler, task, _Mode.ALL, self.effects).start(self.work)

    # Nested in another gather or race: pass each result's hand-over on.
    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        for effect, item in zip(self.effects, value, strict=True):
            if effect is not None:
                _hand_over(effect, item, holder, to)

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        for effect, item in zip(self.effects, value, strict=True):
            if effect is not None:
                _give_back(effect, item, holder)


# One overload per count up to five, so that children of different result types give a list
# of their union (list[int | str]) rather than of their join (list[object]), which is what one
# TypeVar over *work infers; past five, that join. The counts must not overlap: a generator's
# type holds Any, and a call with Any in its arguments that several overloads of different
# results match is given Any. A call with *args (gather(*tasks)) takes one TypeVar's type.
@overload
def gather() -> Gather[Never]: ...


@overload
def gather(w1: Work[T1], /) -> Gather[T1]: ...


@overload
def gather(w1: Work[T1], w2: Work[T2], /) -> Gather[T1 | T2]: ...


@overload
def gather(w1: Work[T1], w2: Work[T2], w3: Work[T3], /) -> Gather[T1 | T2 | T3]: ...


@overload
def gather(w1: Work[T1], w2: Work[T2], w3: Work[T3], w4: Work[T4],
           /) -> Gather[T1 | T2 | T3 | T4]: ...


@overload
def gather(w1: Work[T1], w2: Work[T2], w3: Work[T3], w4: Work[T4], w5: Work[T5],
           /) -> Gather[T1 | T2 | T3 | T4 | T5]: ...


@overload
def gather(w1: Work[T], w2: Work[T], w3: Work[T], w4: Work[T], w5: Work[T], w6: Work[T],
           /, *more: Work[T]) -> Gather[T]: ...


def gather(*work: Work[Any]) -> Gather[Any]:
    """Run generators, coroutines, effects or tasks together; returns all results in order.

    The first failure cancels the rest (their ``finally`` blocks run to the end) and is then
    raised. If the task waiting in ``gather`` is cancelled, every child is cancelled first.

    >>> def square(x):
    ...     yield coop.sleep(x)
    ...     return x * x
    >>> def main():
    ...     return (yield coop.gather(square(3), square(1), square(2)))
    >>> coop.run(main(), clock=coop.VirtualClock())
    [9, 1, 4]
    """
    return Gather(work)


class Race(Effect[tuple[int, T]]):
    __slots__ = ("effects", "work")

    def __init__(self, work: tuple[Work[T], ...]) -> None:
        if not work:
            raise ValueError("coop.race needs at least one contender")
        self.work = [_as_work(item, "coop.race") for item in work]
        self.effects = [_handing_over(item) for item in work]

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return _Group(scheduler, task, _Mode.FIRST, self.effects).start(self.work)

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        effect = self.effects[value[0]]
        if effect is not None:
            _hand_over(effect, value[1], holder, to)

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        effect = self.effects[value[0]]
        if effect is not None:
            _give_back(effect, value[1], holder)


# As gather's (see there): the winner's result is the union of the contenders' result types.
# The index is a plain int: a union of (Literal[i], Ti) tuples would say more, but unpacking
# it gives the same two types.
@overload
def race(w1: Work[T1], /) -> Race[T1]: ...


@overload
def race(w1: Work[T1], w2: Work[T2], /) -> Race[T1 | T2]: ...


@overload
def race(w1: Work[T1], w2: Work[T2], w3: Work[T3], /) -> Race[T1 | T2 | T3]: ...


@overload
def race(w1: Work[T1], w2: Work[T2], w3: Work[T3], w4: Work[T4],
         /) -> Race[T1 | T2 | T3 | T4]: ...


@overload
def race(w1: Work[T1], w2: Work[T2], w3: Work[T3], w4: Work[T4], w5: Work[T5],
         /) -> Race[T1 | T2 | T3 | T4 | T5]: ...


@overload
def race(w1: Work[T], w2: Work[T], w3: Work[T], w4: Work[T], w5: Work[T], w6: Work[T],
         /, *more: Work[T]) -> Race[T]: ...


def race(*work: Work[Any]) -> Race[Any]:
    """Run contenders together; returns ``(index, result)`` of the first to finish.

    The others are cancelled and have finished their cleanup when ``race`` returns. If the
    first to finish raised, that exception is raised instead.

    >>> def after(seconds, value):
    ...     yield coop.sleep(seconds)
    ...     return value
    >>> def main():
    ...     return (yield coop.race(after(5, "slow"), after(1, "fast")))
    >>> coop.run(main(), clock=coop.VirtualClock())
    (1, 'fast')
    """
    return Race(work)


class TimeoutEffect(Effect[T]):
    __slots__ = ("seconds", "work")

    def __init__(self, seconds: float | None, work: Work[T]) -> None:
        self.seconds = None if seconds is None else check_seconds(seconds, "coop.timeout")
        self.work: Any
        if isinstance(work, (Effect, Task)):
            self.work = work
        elif inspect.isgenerator(work) or inspect.iscoroutine(work):
            self.work = _as_work(work, "coop.timeout")
        else:
            raise TypeError(
                f"coop.timeout(seconds, work): work must be an effect (coop.sleep(1), "
                f"queue.get(), ...), a generator, a coroutine or a Task; got {work!r}"
            )

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        seconds = self.seconds
        work = self.work
        if isinstance(work, Effect):
            # A single wait needs no child task: arm a deadline on the wait itself. Only if
            # the task did park: an effect may suspend it with no wait (sleep(0) requeues it),
            # and a deadline left on it then would strike a later wait. Applying the effect
            # here is what the kernel does when a task yields one (lowlevel has no call for it).
            value = work._coop_apply(scheduler, task)
            if value is SUSPENDED and seconds is not None and task.state is TaskState.WAITING:
                scheduler.set_deadline(task, scheduler.now() + seconds,
                                       lambda: Timeout(f"timed out after {seconds:g} s"))
            return value
        group = _Group(scheduler, task, _Mode.ONLY, [])
        value = group.start([work])
        if value is SUSPENDED and seconds is not None:
            group.timer = scheduler.call_at(scheduler.now() + seconds, group.deadline_passed,
                                            seconds)
        return value

    # A timeout over an effect applies it in the caller itself: a resource is the caller's
    # already, and a nested hand-over passes straight on.
    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        effect = _handing_over(self.work)
        if effect is not None:
            _hand_over(effect, value, holder, to)

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        effect = _handing_over(self.work)
        if effect is not None:
            _give_back(effect, value, holder)


def timeout(seconds: float | None, work: Work[T]) -> TimeoutEffect[T]:
    """Wait for ``work`` for at most ``seconds``; raises :class:`coop.Timeout` past that.

    ``work`` is an effect (``coop.sleep``, ``queue.get()``, ``coop.join(task)``...), a
    generator or coroutine (run as a child task), or a Task. On timeout the work is cancelled
    and its cleanup has finished before ``Timeout`` is raised. ``seconds=None`` waits forever.

    >>> def slow():
    ...     yield coop.sleep(10)
    ...     return "finished"
    >>> def main():
    ...     try:
    ...         return (yield coop.timeout(1, slow()))
    ...     except coop.Timeout as err:
    ...         return f"gave up: {err}"
    >>> coop.run(main(), clock=coop.VirtualClock())
    'gave up: timed out after 1 s'
    """
    return TimeoutEffect(seconds, work)

