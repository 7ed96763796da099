"""Deadlock detection: the wait-for graph search, the threads that may still hand work in
(and the one thread that watches them end), the quiet-spell warning and the report.

The scheduler asks its DeadlockDetector when nothing is ready, no timer is set and nothing is
in flight: cycles are looked for only from waits on owned things made since the last look, the
full search only when about to raise.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import Deadlock
from ._task import _PENDING, Task

if TYPE_CHECKING:
    from ._run import Scheduler

log = logging.getLogger("coop")

# Threads that can never hand work to a scheduler (idle pool workers of coop's own): their being
# alive must not suppress deadlock detection. Names starting with "coop-" are counted here too.
# Held weakly, as the Thread objects: an ident is reused by a later thread once one has ended,
# and a program's own thread must not be taken for one of coop's (seen: a false Deadlock).
_internal_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def ignore_thread(thread: threading.Thread) -> None:
    """Tell deadlock detection that ``thread`` never hands work to a scheduler."""
    _internal_threads.add(thread)


def _find_cycle(starts: list[Task[Any]]) -> list[Task[Any]] | None:
    """A wait-for cycle reachable from ``starts``, in order, or None.

    An edge goes from a parked task to each parked task that holds what it waits for (a
    Lock's owner, a joined task, an asked actor): every edge, not just the first, since a wait
    may need several holders (readers of a read-write lock) and any one of them can close a
    cycle. Depth-first, each task visited once.
    """
    state: dict[Task[Any], int] = {}  # 1: on the current path, 2: explored, no cycle
    for start in starts:
        if start in state:
            continue
        path = [start]
        stack = [iter(_waits_on(start))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                state[path.pop()] = 2
            elif state.get(following) == 1:
                return path[path.index(following):]
            elif following not in state:
                state[following] = 1
                path.append(following)
                stack.append(iter(_waits_on(following)))
    return None


def _waits_on(task: Task[Any]) -> list[Task[Any]]:
    parked = task._parked_on
    if parked is None or parked.__class__ is tuple or task._outcome != _PENDING:
        return []
    return [h for h in parked.holders() if h._parked_on is not None and h._outcome == _PENDING]


def _threads_that_may_hand_in() -> list[threading.Thread]:
    """The other live threads of the program, but coop's own idle workers."""
    me = threading.get_ident()
    return [thread for thread in threading.enumerate()
            if thread.ident != me and thread not in _internal_threads
            and not thread.name.startswith("coop-") and thread.is_alive()]


class _ThreadWatch:
    """One thread for the whole process that waits for other threads to end, so that a
    scheduler stuck only because they were alive looks again then (without polling)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[threading.Thread, None] = {}
        self._pokes: dict[Callable[[], None], None] = {}
        # Not `_thread`: mypyc would name the C field `__thread`, a C keyword.
        self._watcher: threading.Thread | None = None

    def watch(self, threads: list[threading.Thread], poke: Callable[[], None]) -> None:
        """Call ``poke()`` once every one of ``threads`` has ended."""
        # A thread made outside the threading module cannot be joined (it is a dummy):
        # only the quiet-spell warning can tell about a deadlock it keeps from being raised.
        joinable = [t for t in threads if type(t).__name__ != "_DummyThread"]
        if not joinable:
            return
        with self._lock:
            if poke in self._pokes and all(t in self._watched for t in joinable):
                return
            self._pokes[poke] = None
            for thread in joinable:
                self._watched[thread] = None
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._run, name="coop-deadlock-watch",
                                                daemon=True)
                self._watcher.start()

    def _run(self) -> None:
        # Joins the watched threads one at a time: a deadlock needs them all gone anyway. It
        # ends once nothing is left to watch (a later watch() starts another).
        while True:
            with self._lock:
                alive = [t for t in self._watched if t.is_alive()]
                pokes: list[Callable[[], None]] = []
                if not alive:
                    self._watched.clear()
                    pokes, self._pokes = list(self._pokes), {}
                    self._watcher = None
            for poke in pokes:
                poke()
            if not alive:
                return
            alive[0].join()


_THREAD_WATCH = _ThreadWatch()


#: A deadlock report lists at most this many waits; the rest are counted (all are in .waits).
_REPORTED_WAITS = 20


def _list_waits(waits: list[tuple[Task[Any], str]]) -> str:
    # A deadlock among 100,000 tasks must not print 100,000 lines: the first few name the
    # problem, the count of each kind of wait among the rest says how big it is.
    shown = [f"  {task.name} waits for {what}" for task, what in waits[:_REPORTED_WAITS]]
    rest = waits[_REPORTED_WAITS:]
    if rest:
        kinds: dict[str, int] = {}
        for _, what in rest:
            kind = "a timer" if what.startswith("a timer") else what
            kinds[kind] = kinds.get(kind, 0) + 1
        common = sorted(kinds.items(), key=lambda item: -item[1])
        summary = ", ".join(f"{n} on {what}" for what, n in common[:3])
        if len(common) > 3:
            summary += f", {sum(n for _, n in common[3:])} on other things"
        shown.append(f"  ... and {len(rest)} more ({summary}); Deadlock.waits has them all")
    return "\n".join(shown)


def _check_warning(seconds: object) -> float | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"deadlock_warning takes a number of seconds >= 0, or None to turn "
                         f"the warning off; got {seconds!r}")
    return float(seconds)


class DeadlockDetector:
    """One scheduler's deadlock detection: the owned waits made since the last look, and the
    quiet spell (stuck while only other threads keep it from being a deadlock)."""

    def __init__(self, warning: object) -> None:
        self.warning = _check_warning(warning)
        # Tasks that parked on an owned wait since the last check (note).
        self.owned: dict[Task[Any], None] = {}
        # When a check first found tasks stuck that only a foreign thread could wake
        # (time.monotonic: a warning after real seconds, whatever the clock), and whether
        # that quiet spell has been warned about.
        self.stuck_since: float | None = None
        self.warned = False
        # Threads that cannot know this scheduler (alive before its run began, under a
        # policy that says so: exploration's fresh scheduler per run); None: any may.
        self.strangers: set[threading.Thread] | None = None

    def note(self, task: Task[Any], live_tasks: int) -> None:
        """``task`` has just parked on something whose ``holders()`` may name tasks."""
        owned = self.owned
        owned[task] = None
        if len(owned) > 2 * live_tasks + 1024:
            # Checks do not run while timers are set: drop the waits that have ended since.
            self.owned = {t: None for t in owned if t._parked_on is not None}

    def activity(self) -> None:
        """Something happened (a task ran, a call was handed in): a quiet spell is over."""
        if self.stuck_since is not None:
            self.stuck_since = None
            self.warned = False

    def forget(self) -> None:
        self.owned.clear()

    def check(self, scheduler: Scheduler) -> float | None:
        """Nothing is ready, no timer is set, nothing is in flight: can the waiters be woken?

        Raises Deadlock if they cannot: a wait-for cycle (whatever else may happen), or
        nothing left that could wake anyone. Otherwise returns how long the loop may block
        before it looks again: None (until a hand-in), 0 (one is waiting), or the time left
        before the quiet-spell warning. Nothing here is proportional to the number of tasks
        unless it raises: cycles are looked for only from the waits made since the last look.
        """
        tasks = scheduler._tasks.values()  # a view: nothing is copied unless it raises
        if not tasks:
            return None
        owned, self.owned = self.owned, {}
        cycle = _find_cycle([t for t in owned if t._parked_on is not None])
        if cycle is not None:
            self._raise(scheduler, tasks, cycle)
        if scheduler._outside_waits:
            return None  # a task waits for a signal: that is not being stuck
        threads = _threads_that_may_hand_in()
        if self.strangers is not None:
            threads = [thread for thread in threads if thread not in self.strangers]
        if scheduler._inbox:
            # Looked at after the threads: one may have handed its last call in and ended
            # since the caller found the inbox empty.
            return 0.0
        if not threads:
            # Stuck for sure: report a cycle if there is one anywhere, for the clearer report.
            self._raise(scheduler, tasks,
                        _find_cycle([t for t in tasks if t._parked_on is not None]))
        _THREAD_WATCH.watch(threads, scheduler._poke)  # looks again when they have all ended
        return self._quiet_spell(scheduler, tasks, threads)

    def _quiet_spell(self, scheduler: Scheduler, tasks: Iterable[Task[Any]],
                     threads: list[threading.Thread]) -> float | None:
        """Warn once the waiters have been stuck for ``warning`` seconds while only other
        threads keep it from being a deadlock; returns the time left until then."""
        if self.warning is None or self.warned:
            return None
        now = time.monotonic()
        if self.stuck_since is None:
            self.stuck_since = now
        left = self.stuck_since + self.warning - now
        if left > 0:
            return left
        self.warned = True
        waits = _stuck_waits(scheduler, tasks, None)
        names = ", ".join(repr(t.name) for t in threads)
        log.warning("coop: %d task(s) have waited %.3g s and only another thread can wake "
                    "them; it is a deadlock unless one does (it would be raised as "
                    "coop.Deadlock, but these threads are alive: %s):\n%s", len(waits),
                    now - self.stuck_since, names, _list_waits(waits))
        return None

    @staticmethod
    def _raise(scheduler: Scheduler, tasks: Iterable[Task[Any]],
               cycle: list[Task[Any]] | None) -> None:
        waits = _stuck_waits(scheduler, tasks, cycle)
        if cycle is None:
            head = f"{len(waits)} task(s) wait and nothing can wake them"
        elif len(waits) == len(cycle):
            head = f"{len(waits)} task(s) wait and a wait-for cycle"
        else:
            head = (f"{len(waits)} task(s) wait: a wait-for cycle among the first "
                    f"{len(cycle)}, and {len(waits) - len(cycle)} more")
        # Where each reported task is parked, read from its frames (not compiled: only here).
        from ._stacks import where_parked
        stacks = where_parked([task for task, _ in waits[:_REPORTED_WAITS]])
        raise Deadlock(f"deadlock: {head}:\n{_list_waits(waits)}{stacks}", waits)


def _stuck_waits(scheduler: Scheduler, tasks: Iterable[Task[Any]],
                 cycle: list[Task[Any]] | None) -> list[tuple[Task[Any], str]]:
    waiting = [t for t in tasks if t._parked_on is not None]
    if cycle is not None:
        in_cycle = set(cycle)
        waiting = cycle + [t for t in waiting if t not in in_cycle]
    return [(t, scheduler.describe_wait(t)) for t in waiting]
