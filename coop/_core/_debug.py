"""Debug mode: warnings for the mistakes that otherwise pass in silence.

``coop.run(main, debug=True)`` (or ``PYTHONDEVMODE=1``, ``python -X dev``, ``COOP_DEBUG=1``)
installs a :class:`DebugMode` on the scheduler. It is an instrument, so with debug mode off the
kernel pays nothing for it: the hot loop runs its uninstrumented path. It warns (a
:class:`coop.DebugWarning`, pointing at the user's file and line) of:

* an effect that was made and dropped without being yielded (``coop.sleep(1)`` alone on a line,
  ``queue.put(x)`` without ``yield``): it does nothing, and the program goes on as if it had;
* a step that held the scheduler longer than a threshold: probably a blocking call;
* a task that caught ``coop.Cancelled`` and went on (the kernel cancels it again; this says
  where, the first time);
* a task that failed while nobody waited for it, when it fails rather than when run() ends.

Not compiled: it reads frames, and it is off the hot paths by construction.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import DebugWarning
from ._cancelling import _where
from ._effects import DEBUG_HOOKS, Effect
from ._run import running_scheduler

if TYPE_CHECKING:
    from ._run import Scheduler
    from ._task import Task

_COOP_DIR = str(Path(__file__).resolve().parent.parent) + os.sep


class DebugMode:
    """The debug instrument of one scheduler."""

    def __init__(self, scheduler: Scheduler, slow_step: float) -> None:
        self.scheduler = scheduler
        #: Seconds a step may hold the scheduler before it is reported.
        self.slow_step = slow_step
        # Effects made in the current step, with where they were made: looked at when the
        # step ends (an effect dropped by then was never yielded).
        self.made: list[tuple[Effect[Any], str, int]] = []
        self.step_began = 0.0
        self.started = False

    def start(self) -> None:
        if not self.started:
            self.started = True
            _watch_effects(+1)

    def stop(self) -> None:
        if self.started:
            self.started = False
            _watch_effects(-1)

    # -------------------------------------------------------------- instrument hooks

    def task_spawned(self, task: Task[Any]) -> None:
        _wrap_new_effect_classes()  # effect classes defined (or imported) since the start

    def before_step(self, task: Task[Any]) -> None:
        self.made.clear()
        self.step_began = time.perf_counter()

    def after_step(self, task: Task[Any], effect: Any) -> None:
        held = time.perf_counter() - self.step_began
        if held > self.slow_step:
            self._warn_slow(task, held)
        if self.made:
            made, self.made = self.made, []
            for candidate, filename, line in made:
                # Only this list and the two names here refer to a dropped one.
                if candidate is not effect and sys.getrefcount(candidate) <= 3:
                    _warn_at(f"{candidate!r} was made in task {task.name!r} and never yielded, "
                             f"so it did nothing: write `yield {candidate!r}` (in an async "
                             f"def, `await`)", filename, line)

    # ---------------------------------------------------------- called by the kernel

    def effect_made(self, effect: Effect[Any]) -> None:
        if self.scheduler.current_task() is None:
            return  # made by a callback, not a task: nobody to yield it
        for made, _, _ in self.made:
            if made is effect:
                return  # told twice: by a compiled __init__ and by a wrapper (pure kernel)
        site = _creation_site()
        if site is not None:
            self.made.append((effect, *site))

    def cancel_ignored(self, task: Task[Any], effect: Any) -> None:
        filename, line = _site_of(_where(task._coro))
        _warn_at(f"task {task.name!r} caught coop.Cancelled and went on (it yielded {effect!r} "
                 f"after its handler): it is cancelled again. Let Cancelled propagate: clean "
                 f"up in `finally:`, or re-raise at the end of the `except` block",
                 filename, line)

    def failed_unjoined(self, task: Task[Any], exc: BaseException) -> None:
        filename, line = "<unknown>", 0
        tb = exc.__traceback__
        while tb is not None:  # the innermost frame: where it was raised
            filename, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
            tb = tb.tb_next
        _warn_at(f"task {task.name!r} failed with {exc!r} and nobody waits for it: join it "
                 f"(`yield coop.join(task)`), or run it in a coop.TaskGroup, or its failure is "
                 f"only logged when run() ends", filename, line)

    def _warn_slow(self, task: Task[Any], held: float) -> None:
        where = _where(task._coro) if not task.done() else "its end"
        filename, line = _site_of(where)
        _warn_at(f"task {task.name!r} held the scheduler for {held * 1000:.0f} ms in one step "
                 f"(up to {where}; the limit is {self.slow_step * 1000:.0f} ms): probably a "
                 f"blocking call (time.sleep, I/O, a long computation); every other task "
                 f"waited. Offload it: `yield coop.to_thread(fn, ...)` (or coop.to_process "
                 f"for CPU-bound work)", filename, line)


def _warn_at(message: str, filename: str, line: int) -> None:
    warnings.warn_explicit(f"coop debug: {message}", DebugWarning, filename, line,
                           module="coop.debug")


def _site_of(where: str) -> tuple[str, int]:
    filename, _, line = where.rpartition(":")
    return (filename, int(line)) if line.isdigit() else (where, 0)


def _is_coop(frame: FrameType) -> bool:
    return frame.f_code.co_filename.startswith(_COOP_DIR)


def _creation_site() -> tuple[str, int] | None:
    """Where the user made the effect being initialised: their own line, or the line that
    called the coop factory that made it; None for one coop made for its own use."""
    frame: FrameType | None = sys._getframe(1)
    # Past this module, the wrappers and the effects' own __init__ (compiled ones have no
    # frame at all).
    while frame is not None and (frame.f_code in _OWN_CODE or (
            frame.f_code.co_name == "__init__" and isinstance(frame.f_locals.get("self"),
                                                               Effect))):
        frame = frame.f_back
    if frame is None:
        return None
    if not _is_coop(frame):
        return frame.f_code.co_filename, frame.f_lineno
    caller = frame.f_back  # a coop factory (queue.put): the user's line calls it
    if caller is not None and not _is_coop(caller):
        return caller.f_code.co_filename, caller.f_lineno
    return None


# ------------------------------------------- watching the interpreted effect classes

_watchers = 0
_wrapped: dict[type, Any] = {}  # class -> its own __init__ before wrapping


def _dispatch(effect: Effect[Any]) -> None:
    scheduler = running_scheduler()
    debug = None if scheduler is None else scheduler._debug
    if debug is not None:
        debug.effect_made(effect)


def _watch_effects(change: int) -> None:
    """Begin (+1) or end (-1) one debug scheduler's interest; the first wraps, the last
    unwraps, so that a process that ran in debug mode once pays nothing after."""
    global _watchers
    _watchers += change
    if _watchers == 1 and change > 0:
        DEBUG_HOOKS.created = _dispatch
        _wrap_new_effect_classes()
    elif _watchers == 0:
        DEBUG_HOOKS.created = None
        for cls, init in _wrapped.items():
            cls.__init__ = init  # type: ignore[misc]
        _wrapped.clear()


def _wrap_new_effect_classes() -> None:
    if _watchers == 0:
        return
    pending: list[type] = [Effect]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        init = cls.__dict__.get("__init__")
        if cls in _wrapped or init is None or not hasattr(init, "__code__"):
            continue  # compiled (it calls DEBUG_HOOKS itself), or no __init__ of its own
        _wrapped[cls] = init
        cls.__init__ = _watching(init)  # type: ignore[misc]


def _watching(init: Any) -> Any:
    def __init__(self: Effect[Any], *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if type(self).__init__ is __init__:  # once, by the most derived class's __init__
            _dispatch(self)
    __init__.__wrapped__ = init  # type: ignore[attr-defined]
    __init__.__doc__ = init.__doc__
    _OWN_CODE.add(__init__.__code__)
    return __init__


_OWN_CODE = {_dispatch.__code__, DebugMode.effect_made.__code__, _creation_site.__code__}
