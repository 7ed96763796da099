"""What the kernel refuses, and the messages that say what to do instead: things that cannot
run as a task, a generator spawned twice, an asyncio coroutine, a yield of something that is
not an effect.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from types import CoroutineType, GeneratorType
from typing import Any, Final

from ._task import Task, Throw

# Read on every spawn: as Final names of this module, compiled, they are C statics (an
# imported name is a dict lookup per read).
_GENERATOR: Final[type[Any]] = GeneratorType
_COROUTINE: Final[type[Any]] = CoroutineType


def check_runnable(obj: Any) -> None:
    """Raise a TypeError that says what to do if ``obj`` cannot be run as a task."""
    cls = obj.__class__
    # Fast path for the common case: a fresh generator or coroutine (checked by hand: the
    # inspect helpers cost more than the rest of a spawn put together).
    # Not `gi_frame is None`: reading gi_frame makes a frame object (~160 B) that stays with
    # the generator for its whole life. A finished generator's frame is cleared, and the GC
    # then sees only its code, name and qualname (3 referents); a fresh one also its frame's.
    if cls is _GENERATOR and not (obj.gi_suspended or obj.gi_running
                                     or len(gc.get_referents(obj)) <= 3):
        return
    if cls is _COROUTINE and not (obj.cr_suspended or obj.cr_running
                                     or len(gc.get_referents(obj)) <= 3
                                     or _is_asyncio_coroutine(obj)):
        return
    import inspect

    if inspect.isgeneratorfunction(obj) or inspect.iscoroutinefunction(obj):
        name = _function_name(obj)
        kind = "generator" if inspect.isgeneratorfunction(obj) else "coroutine"
        raise TypeError(
            f"{name} is a {kind} function, not a {kind}: call it to get one, "
            f"as in coop.spawn({name}(...))"
        )
    if _is_asyncio_coroutine(obj):
        raise TypeError(_asyncio_message(obj))
    if inspect.isgenerator(obj):
        state = inspect.getgeneratorstate(obj)
        if state != inspect.GEN_CREATED:
            raise ValueError(
                f"generator {obj.__name__} is already "
                f"{'finished' if state == 'GEN_CLOSED' else 'started'}: "
                f"a task must start from a fresh generator; call the generator function again"
            )
        return
    if inspect.iscoroutine(obj):
        cstate = inspect.getcoroutinestate(obj)
        if cstate != inspect.CORO_CREATED:
            raise ValueError(
                f"coroutine {obj.__name__} is already "
                f"{'finished' if cstate == 'CORO_CLOSED' else 'started'}: "
                f"a task must start from a fresh coroutine; call the async function again"
            )
        return
    if callable(getattr(obj, "send", None)) and callable(getattr(obj, "throw", None)):
        return  # a generator-like object (say, Cython's): trust it
    raise TypeError(
        f"cannot run {obj!r} ({type(obj).__name__}) as a task: a task is a generator "
        f"(call a function that contains `yield`) or a coroutine (call an `async def` function)"
    )


def _function_name(fn: Any) -> str:
    """The name to show for a function, looking through functools.partial."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return str(getattr(fn, "__name__", None) or repr(fn))


#: asyncio's source directory, once asyncio has been imported (see _is_asyncio_coroutine).
_asyncio_dir: list[str] = []


def _is_asyncio_coroutine(obj: Any) -> bool:
    """True for a coroutine of asyncio's own (asyncio.sleep(1), ...), which needs its loop."""
    code = getattr(obj, "cr_code", None)
    if code is None:
        return False
    if not _asyncio_dir:  # computed once: this runs on every spawn of a coroutine
        asyncio = sys.modules.get("asyncio")
        if asyncio is None:
            return False  # not imported: nothing can be one of its coroutines
        _asyncio_dir.append(os.path.dirname(str(asyncio.__file__)) + os.sep)
    return str(code.co_filename).startswith(_asyncio_dir[0])


#: Added to the error of a task that awaited asyncio's own machinery.
ASYNCIO_HINT = (
    "coop does not run asyncio coroutines, tasks or futures: they need asyncio's event loop. "
    "Use coop's own effects instead (coop.sleep, coop.Queue, coop.Event, coop.timeout...), "
    "or run asyncio code in a thread: `yield coop.to_thread(asyncio.run, coroutine_fn())`"
)


def _asyncio_message(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
    return f"{name}() is an asyncio coroutine, not a coop task: {ASYNCIO_HINT}"


def _refused(task: Task[Any], effect: Any, exc: BaseException) -> Throw:
    """What to throw into a task whose yielded value could not be applied."""
    if not hasattr(effect, "_coop_apply"):
        return Throw(TypeError(_bad_yield_message(task, effect)))
    return Throw(exc)  # the effect refused: the error is the task's own


def _bad_yield_message(task: Task[Any], obj: Any) -> str:
    import inspect

    shown = repr(obj)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if isinstance(obj, Task):
        hint = "to wait for a task, yield coop.join(task)"
    elif inspect.isgenerator(obj):
        hint = ("to run a generator inline use `yield from gen`; "
                "to run it as a separate task use `yield coop.spawn(gen)`")
    elif _is_asyncio_coroutine(obj) or type(obj).__module__.startswith("asyncio"):
        hint = ASYNCIO_HINT
    elif inspect.iscoroutine(obj):
        hint = "to run a coroutine as a task use `yield coop.spawn(coro)`"
    elif type(obj).__module__.startswith("concurrent"):
        hint = ("coop does not wait on concurrent.futures objects; offload the call itself "
                "with `yield coop.to_thread(fn, ...)` or `yield coop.to_process(fn, ...)`")
    else:
        hint = ("yield an effect such as coop.sleep(1) or coop.join(task), "
                "or a bare `yield` to give up the turn")
    return (f"task {task.name!r} yielded {shown} ({type(obj).__name__}), "
            f"which is not a coop effect: {hint}")


# A spawned generator's ``__name__``: equal to the name it had, and the mark that it is a
# task's (see Scheduler._spawn). Made with type(): mypyc cannot compile a subclass of str.
_SpawnedName: Final[Any] = type("_SpawnedName", (str,), {"__slots__": ()})


#: One marked copy per distinct name (there are as many as there are generator functions).
_SPAWNED_NAMES: Final[dict[str, str]] = {}


def _spawned_twice(coro: Any) -> ValueError:
    name = getattr(coro, "__qualname__", None) or getattr(coro, "__name__", "the generator")
    return ValueError(
        f"{name} was already spawned as a task: one generator can run as one task only "
        f"(two would share its frame); call {name}(...) again to get a second one"
    )


def _check_until(until: object, now: float) -> float | None:
    """run(until=...): a time on the scheduler's clock, not before its present."""
    if until is None:
        return None
    if isinstance(until, bool) or not isinstance(until, (int, float)) or until != until:
        raise TypeError(f"run(until=...) takes a time on the scheduler's clock (a number), or "
                        f"None for no end, got {until!r}")
    if until < now:
        raise ValueError(f"run(until={until!r}) is before the clock's present ({now:g}); "
                         f"with the default clock pass time.monotonic() + seconds")
    return float(until)


#: The slow-step threshold ``debug=True`` means, in seconds.
DEFAULT_SLOW_STEP = 0.1


def _debug_requested(debug: object) -> float | None:
    """The slow-step threshold if debug mode is asked for (by ``debug``, or for None by the
    environment: PYTHONDEVMODE / ``-X dev``, COOP_DEBUG), else None."""
    if debug is None:
        wanted = sys.flags.dev_mode or os.environ.get("COOP_DEBUG", "") not in ("", "0")
        return DEFAULT_SLOW_STEP if wanted else None
    if debug is True:
        return DEFAULT_SLOW_STEP
    if debug is False:
        return None
    if isinstance(debug, (int, float)) and not isinstance(debug, bool) and debug > 0:
        return float(debug)
    raise TypeError(f"debug= takes True, False, None (then PYTHONDEVMODE or COOP_DEBUG=1 turn "
                    f"it on) or a slow-step threshold in seconds > 0, got {debug!r}")
