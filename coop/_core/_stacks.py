"""Task dumps: each pending task's suspended stack, what it waits for and who its parent is.

What ``coop.dump_tasks()``, ``Scheduler.dump()``, the Deadlock report and ``dump_signal=``
show. Not compiled: it reads frames, and it runs only when asked (or when a deadlock is
reported), never on a hot path.

A task's stack is its generator (or coroutine) and those it delegates to (``yield from``,
``await``), outermost first, innermost last as in a traceback; the frames of coop's own code at
the innermost end (an effect's ``__await__``) are left out, so the last frame is the user's
line where the task is parked.

A task's parent is the task that spawned it, when that is known:

* in debug mode a :class:`SpawnTracker` (an instrument, so it costs nothing otherwise)
  records the task running at each spawn;
* otherwise it is worked out when asked, from what watches the task's end: a gather, race or
  timeout (the task waiting in it) or a TaskGroup (its owner). A task spawned with plain
  ``coop.spawn`` outside debug mode has no known parent and is shown at the top level.
"""

from __future__ import annotations

import linecache
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import CoopUsageError
from ._cancelling import _chain
from ._task import _PENDING, Task, TaskState

if TYPE_CHECKING:
    from ._run import Scheduler

_COOP_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
#: A stack in a Deadlock report shows at most this many frames, the innermost ones.
_REPORTED_FRAMES = 6


@dataclass(frozen=True)
class Frame:
    """One frame of a task's suspended stack: where it is, as a traceback line."""

    filename: str
    lineno: int
    function: str
    #: The source line, stripped ('' when the source cannot be read).
    line: str

    def __str__(self) -> str:
        head = f'File "{_shown(self.filename)}", line {self.lineno}, in {self.function}'
        return f"{head}\n  {self.line}" if self.line else head


def _shown(filename: str) -> str:
    """A file under the current directory as a relative path (as pytest shows them): a
    report of twenty stacks stays readable."""
    try:
        cwd = os.getcwd()
    except OSError:  # the directory was removed
        return filename
    return filename[len(cwd) + 1:] if filename.startswith(cwd + os.sep) else filename


@dataclass(frozen=True)
class TaskDump:
    """One pending task in a :class:`TaskTree`, with the tasks it spawned under it."""

    id: int
    name: str
    state: TaskState
    #: What it waits for, in words (``"Lock#2 held by worker-3"``); None unless waiting.
    waiting_for: str | None
    daemon: bool
    #: The id and name of the task that spawned it (None if unknown, or spawned from a
    #: callback); that task may have ended, and then this one is a root of the tree.
    parent_id: int | None
    parent_name: str | None
    #: Where it is suspended: outermost frame first, the line it is parked at last.
    stack: tuple[Frame, ...]
    children: tuple[TaskDump, ...]

    @property
    def where(self) -> Frame | None:
        """The innermost frame: the line the task is parked at (None if it has no frame)."""
        return self.stack[-1] if self.stack else None

    def walk(self) -> Iterator[TaskDump]:
        """This task and every task below it, depth first, parents before children."""
        todo = [self]
        while todo:
            node = todo.pop()
            yield node
            todo.extend(reversed(node.children))

    def label(self) -> str:
        """The one-line summary the tree shows: name, id, state and what it waits for."""
        text = f"{self.name} (task {self.id}{', daemon' if self.daemon else ''})"
        if self.waiting_for is not None:
            text += f" waiting for {self.waiting_for}"
        else:
            text += f" {self.state}"
        return text

    def __str__(self) -> str:
        return "\n".join(_render([self]))


@dataclass(frozen=True)
class TaskTree:
    """Every pending task of a scheduler, as a tree of who spawned whom.

    ``str(tree)`` is the readable form (one line per task, its stack under it, innermost
    last); :meth:`walk` goes through every task.
    """

    #: The tasks with no pending parent, oldest first.
    roots: tuple[TaskDump, ...]
    #: The scheduler clock's time when the dump was taken.
    time: float

    def walk(self) -> Iterator[TaskDump]:
        """Every task of the tree, depth first, parents before children."""
        for root in self.roots:
            yield from root.walk()

    def __len__(self) -> int:
        return sum(1 for _ in self.walk())

    def find(self, name: str) -> TaskDump | None:
        """The first task named ``name``, or None."""
        return next((node for node in self.walk() if node.name == name), None)

    def __str__(self) -> str:
        count = len(self)
        head = (f"coop: {count} pending task(s) at t={self.time:.6g} "
                f"(each stack innermost last):")
        return "\n".join([head, *_render(list(self.roots))]) if count else \
            f"coop: no pending tasks at t={self.time:.6g}"


def _render(roots: list[TaskDump]) -> list[str]:
    """The tree as lines, with asyncio pstree's connectors; iterative (trees may be deep)."""
    lines: list[str] = []
    # (node, the prefix of its own line, the prefix under it)
    todo: list[tuple[TaskDump, str, str]] = [(root, "", "") for root in reversed(roots)]
    while todo:
        node, own, under = todo.pop()
        label = node.label()
        if not own and node.parent_name is not None:  # a root: its parent is not pending
            label += f" [spawned by {node.parent_name}]"
        lines.append(own + label)
        bar = "│   " if node.children else "    "
        for frame in node.stack:
            for text in str(frame).splitlines():
                lines.append(f"{under}{bar}{text}")
        last = len(node.children) - 1
        for i in range(last, -1, -1):
            child = node.children[i]
            todo.append((child, under + ("└── " if i == last else "├── "),
                         under + ("    " if i == last else "│   ")))
    return lines


# ------------------------------------------------------------------ stacks


def _frames_of(task: Task[Any]) -> list[FrameType]:
    coro = task._coro
    chain = _chain(coro)
    frames: list[FrameType] = []
    for gen in chain:
        frame = getattr(gen, "gi_frame", None) or getattr(gen, "cr_frame", None)
        if frame is not None:
            frames.append(frame)
    if (getattr(coro, "gi_running", False) or getattr(coro, "cr_running", False)) and frames:
        # The running task (the one asking for the dump): its live frames, from its
        # outermost one down to the caller, are on this thread's stack.
        outer = frames[0]
        live: list[FrameType] = []
        here: FrameType | None = sys._getframe(1)
        while here is not None and here is not outer:
            live.append(here)
            here = here.f_back
        if here is outer:
            frames = [outer, *live[::-1]]
    return frames


def _is_coop(filename: str) -> bool:
    return filename.startswith(_COOP_DIR)


def stack_of(task: Task[Any]) -> tuple[Frame, ...]:
    """Where ``task`` is suspended, outermost frame first; coop's own frames at the innermost
    end are left out (unless the whole stack is coop's). Empty once the task has ended."""
    if task._outcome != _PENDING:
        return ()
    frames = _frames_of(task)
    end = len(frames)
    while end > 0 and _is_coop(frames[end - 1].f_code.co_filename):
        end -= 1
    if end == 0:
        end = len(frames)
    out = []
    for frame in frames[:end]:
        code = frame.f_code
        lineno = frame.f_lineno or code.co_firstlineno
        line = linecache.getline(code.co_filename, lineno, frame.f_globals).strip()
        out.append(Frame(code.co_filename, lineno, code.co_name, line))
    return tuple(out)


# ----------------------------------------------------------------- parents


class SpawnTracker:
    """An instrument recording, for each task spawned, the task running at that moment.

    Installed by debug mode: an instrument, so a run without one pays nothing for it (the
    spawn path already tests for instruments). The entry goes when the task ends.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.parents: dict[Task[Any], Task[Any] | None] = {}

    def task_spawned(self, task: Task[Any]) -> None:
        self.parents[task] = self.scheduler.current_task()

    def task_exited(self, task: Task[Any]) -> None:
        self.parents.pop(task, None)


def _tracker(scheduler: Scheduler) -> SpawnTracker | None:
    instruments = scheduler._instruments
    if instruments is None:
        return None
    for instrument in instruments.instruments:
        if isinstance(instrument, SpawnTracker):
            return instrument
    return None


def _watchers(scheduler: Scheduler, task: Task[Any]) -> Iterator[Any]:
    """The objects whose done-callbacks watch ``task`` (a gather's group, a TaskGroup)."""
    for fn, _ in scheduler._done_callbacks.get(task, ()):
        owner = getattr(fn, "__self__", None)
        if owner is None:  # a functools.partial of a bound method (gather's callbacks)
            owner = getattr(getattr(fn, "func", None), "__self__", None)
        if owner is not None:
            yield owner


def _inferred_parent(scheduler: Scheduler, task: Task[Any],
                     parked_on: dict[int, Task[Any]]) -> Task[Any] | None:
    for watcher in _watchers(scheduler, task):
        waiter = parked_on.get(id(watcher))  # the task waiting on what watches this one
        if waiter is not None and waiter is not task:
            return waiter
        for attribute in ("caller", "owner"):  # a gather/race/timeout group, a TaskGroup
            parent = getattr(watcher, attribute, None)
            if isinstance(parent, Task) and parent is not task:
                return parent
    return None


def parent_of(task: Task[Any]) -> Task[Any] | None:
    """The task that spawned ``task``, if known (see the module's docstring): recorded in
    debug mode, else worked out from the gather, race, timeout or TaskGroup watching it."""
    scheduler = task._scheduler
    tracker = _tracker(scheduler)
    if tracker is not None and task in tracker.parents:
        return tracker.parents[task]
    parked_on = {id(t._parked_on): t for t in scheduler._tasks.values()
                 if t._parked_on is not None}
    return _inferred_parent(scheduler, task, parked_on)


def _parents(scheduler: Scheduler, tasks: list[Task[Any]]) -> dict[Task[Any], Task[Any] | None]:
    tracker = _tracker(scheduler)
    recorded = tracker.parents if tracker is not None else {}
    parked_on = {id(t._parked_on): t for t in tasks if t._parked_on is not None}
    parents: dict[Task[Any], Task[Any] | None] = {}
    for task in tasks:
        if task in recorded:
            parents[task] = recorded[task]
        else:
            parents[task] = _inferred_parent(scheduler, task, parked_on)
    return parents


def _tree_links(tasks: list[Task[Any]], parents: dict[Task[Any], Task[Any] | None]
                ) -> dict[Task[Any], Task[Any] | None]:
    """Each task's parent in the tree: a pending one, with any link that would close a
    cycle cut (an inferred link can point anywhere: a gather of a task spawned earlier)."""
    links: dict[Task[Any], Task[Any] | None] = {}
    state: dict[Task[Any], int] = {}  # 1: on the path being followed, 2: placed
    for start in tasks:
        path: list[Task[Any]] = []
        node: Task[Any] | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            parent = parents.get(node)
            if parent is not None and parent not in parents:
                parent = None  # it has ended: this task is a root
            if parent is not None and state.get(parent) == 1:
                parent = None  # would close a cycle
            links[node] = parent
            node = parent
        for placed in path:
            state[placed] = 2
    return links


def dump(scheduler: Scheduler) -> TaskTree:
    """The tree of the scheduler's pending tasks (see :class:`TaskTree`)."""
    tasks = list(scheduler._tasks.values())  # oldest first
    parents = _parents(scheduler, tasks)
    links = _tree_links(tasks, parents)
    children: dict[Task[Any], list[Task[Any]]] = {}
    for task in tasks:
        parent = links[task]
        if parent is not None:
            children.setdefault(parent, []).append(task)
    built: dict[Task[Any], TaskDump] = {}
    # Children before parents, without recursion: a task is newer than the one that
    # spawned it, but an inferred parent may be newer, so order by depth.
    depth: dict[Task[Any], int] = {}
    for task in tasks:
        chain: list[Task[Any]] = []
        node: Task[Any] | None = task
        while node is not None and node not in depth:
            chain.append(node)
            node = links[node]
        base = -1 if node is None else depth[node]
        for i, member in enumerate(reversed(chain)):
            depth[member] = base + 1 + i
    for task in sorted(tasks, key=lambda t: -depth[t]):
        parent = parents[task]
        built[task] = TaskDump(
            id=task.id, name=task.name, state=task.state, waiting_for=task.waiting_for,
            daemon=task.daemon,
            parent_id=None if parent is None else parent.id,
            parent_name=None if parent is None else parent.name,
            stack=stack_of(task),
            children=tuple(built[c] for c in children.get(task, ())))
    roots = tuple(built[t] for t in tasks if links[t] is None)
    return TaskTree(roots, scheduler.now())


# ---------------------------------------------------------- deadlock report


def where_parked(tasks: list[Task[Any]]) -> str:
    """The Deadlock report's stacks: each task's frames, innermost (its parked line) last.
    Never raises: a report must be made whatever the frames hold."""
    try:
        lines = []
        for task in tasks:
            stack = stack_of(task)
            if not stack:
                continue
            lines.append(f"  {task.name} (task {task.id}):")
            shown = stack[-_REPORTED_FRAMES:]
            if len(stack) > len(shown):
                lines.append(f"    ... {len(stack) - len(shown)} outer frame(s)")
            for frame in shown:
                lines.extend(f"    {text}" for text in str(frame).splitlines())
        if not lines:
            return ""
        return "\nwhere they wait (innermost last):\n" + "\n".join(lines)
    except Exception:  # a frame that cannot be read must not cost the report
        return ""


# ------------------------------------------------------------- dump_signal


def check_dump_signal(value: object) -> int:
    """``value`` (a signal number, or a name: ``"SIGUSR1"``) as a signal number that may be
    used for dumps; ValueError or TypeError saying why not."""
    if isinstance(value, str):
        name = value.upper() if value.upper().startswith("SIG") else "SIG" + value.upper()
        number = getattr(signal, name, None)
        if not isinstance(number, int):
            raise ValueError(f"dump_signal={value!r}: this platform has no {name} "
                             f"(dump_signal needs a Unix signal, such as signal.SIGUSR1)")
        value = number
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"dump_signal takes a signal (signal.SIGUSR1, or its name 'SIGUSR1'), "
                        f"got {value!r}")
    if not hasattr(signal, "SIGUSR1"):
        raise ValueError("dump_signal needs Unix signals (SIGUSR1, SIGUSR2...): this "
                         "platform has none to spare; call coop.dump_tasks() from a task instead")
    if value == signal.SIGINT:
        raise ValueError("dump_signal cannot be SIGINT: coop's Ctrl-C cancels every task; use "
                         "signal.SIGUSR1 (and `kill -USR1 <pid>`)")
    if value not in signal.valid_signals():
        raise ValueError(f"dump_signal={value!r} is not a signal of this platform; use "
                         f"signal.SIGUSR1")
    if value in (signal.SIGKILL, signal.SIGSTOP):
        raise ValueError(f"dump_signal={signal.Signals(value).name}: that signal cannot be "
                         f"caught; use signal.SIGUSR1")
    return value


class DumpOnSignal:
    """``dump_signal=``: while the scheduler runs, the signal prints a task dump to stderr.

    The handler only hands a call in (through the inbox and the wake-up socket, as another
    thread would); the dump is made in the scheduler thread at its next poll, between steps.
    """

    def __init__(self, scheduler: Scheduler, signum: object) -> None:
        self.scheduler = scheduler
        self.signum = check_dump_signal(signum)
        self.previous: Any = None
        self.installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise CoopUsageError(f"dump_signal: Python handles signals in the main thread "
                                 f"only, and this scheduler runs in "
                                 f"{threading.current_thread().name!r}; run it in the main "
                                 f"thread, or call coop.dump_tasks() from a task")
        self.previous = signal.signal(self.signum, self._on_signal)
        self.installed = True

    def uninstall(self) -> None:
        if self.installed:
            self.installed = False
            previous = self.previous
            signal.signal(self.signum, signal.SIG_DFL if previous is None else previous)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.scheduler.call_soon_threadsafe(self.print_dump)

    def print_dump(self) -> None:
        try:
            text = str(dump(self.scheduler))
        except Exception as exc:  # a dump is a look: it must not disturb the run
            text = f"coop: the task dump failed: {exc!r}"
        name = signal.Signals(self.signum).name
        sys.stderr.write(f"{text}\n(dumped on {name}; the run goes on)\n")
        sys.stderr.flush()
