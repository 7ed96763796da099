"""The offload effects: ``to_thread``, ``to_process`` and ``pmap``, and what they check at
the call (a function to call, not a task; an iterable; a backend coop knows)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ..lowlevel import Effect, Task
from .backends import PROCESSES, THREADS
from .progress import progress_bar
from .service import check_backend, service_of
from .waits import Call, MapWait
from .wire import describe_callable

if TYPE_CHECKING:
    from ..lowlevel import Scheduler

T = TypeVar("T")
X = TypeVar("X")
#: The parameters of the function handed to to_thread or to_process, so that the checker
#: checks the arguments given with it against them.
P = ParamSpec("P")

_NOT_PLAIN = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, CO_COROUTINE, ..._ITERABLE_, ASYNC_GEN


def _check_fn(where: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{where} needs a function to call, got {fn!r} ({type(fn).__name__})")
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_flags & _NOT_PLAIN:
        name = describe_callable(fn)
        raise TypeError(
            f"{where}: {name} is a generator or async function, which is a task, not "
            f"blocking work: run it with `yield coop.spawn({name}(...))` or `yield from`"
        )


class Offload(Effect[T]):
    """The effect made by :func:`to_thread` and :func:`to_process`; yield it to run the call.

    :meth:`on` picks the backend for this one call.
    """

    __slots__ = ("args", "backend", "fn", "kind", "kwargs")

    def __init__(self, kind: str, fn: Callable[..., T], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.kind = kind
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.backend: Any = None

    def on(self, backend: Any) -> Offload[T]:
        """Run this call on ``backend``: ``"threads"``, ``"processes"`` or a pool object.

        >>> from concurrent.futures import ThreadPoolExecutor
        >>> def main(pool):
        ...     return (yield coop.to_thread(max, 3, 7).on(pool))
        >>> with ThreadPoolExecutor(1) as pool:
        ...     coop.run(main(pool))
        7
        """
        check_backend(backend)
        self.backend = backend
        return self

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        gate = service_of(scheduler).gate(self.backend, self.kind)
        what = f"to_{'thread' if self.kind == THREADS else 'process'}" \
               f"({describe_callable(self.fn)})"
        call = Call(scheduler, task, what, gate, self.fn, self.args, self.kwargs)
        gate.admit(call)
        scheduler.begin_external(call)
        return scheduler.park(task, call)

    def __repr__(self) -> str:
        where = "thread" if self.kind == THREADS else "process"
        return f"coop.to_{where}({describe_callable(self.fn)})"


def to_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Offload[T]:
    """Run ``fn(*args, **kwargs)`` in a worker thread; the task resumes with its result.

    For blocking calls (files, sockets, ``time.sleep``, C code that releases the GIL): other
    tasks run meanwhile. Its exception is raised in the task, traceback intact. Once started,
    a thread cannot be stopped: cancelling the task drops the result, the call runs on.

    >>> import time
    >>> def main():
    ...     started = time.monotonic()
    ...     yield coop.to_thread(time.sleep, 0.01)
    ...     return time.monotonic() - started >= 0.01
    >>> coop.run(main())
    True
    """
    _check_fn("coop.to_thread", fn)
    return Offload(THREADS, fn, args, kwargs)


def to_process(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Offload[T]:
    """Run ``fn(*args, **kwargs)`` in a worker process; the task resumes with its result.

    For CPU-bound Python, which the GIL keeps to one core per process. ``fn``, its arguments and
    its result are pickled: a function defined at the top level of a module works, a lambda
    does not (a TypeError says so, before anything is sent). An exception raised in the worker
    is re-raised in the task with the worker's traceback as its ``__cause__``; a worker that
    dies makes it raise :class:`coop.WorkerCrashed`.

    >>> def main():
    ...     return (yield coop.to_process(pow, 2, 100))
    >>> coop.run(main())
    1267650600228229401496703205376
    """
    _check_fn("coop.to_process", fn)
    return Offload(PROCESSES, fn, args, kwargs)



# ------------------------------------------------------------------ a parallel map


class PMap(Effect[list[T]]):
    """The effect made by :func:`pmap`; yield it to run the map."""

    __slots__ = ("backend", "chunksize", "fn", "items", "progress")

    def __init__(self, fn: Callable[[X], T], items: Iterable[X], chunksize: int | None,
                 progress: bool, backend: Any) -> None:
        self.fn = fn
        self.items = items
        self.chunksize = chunksize
        self.progress = progress
        self.backend = backend

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        items = self.items
        total = _length(items)
        if total == 0:
            return []
        gate = service_of(scheduler).gate(self.backend, PROCESSES)
        chunksize = self.chunksize
        if chunksize is None:
            if total is None:  # as Pool.map does: the count decides the chunks
                items = list(items)
                total = len(items)
                if not total:
                    return []
            chunksize = _auto_chunksize(total, gate.backend.size)
        what = f"pmap({describe_callable(self.fn)})"
        bar = progress_bar(total, what) if self.progress else None
        wait = MapWait(scheduler, task, what, gate, self.fn, iter(items), chunksize, total, bar)
        if not wait.start():
            return []  # an iterable that turned out empty
        scheduler.begin_external(wait)
        return scheduler.park(task, wait)

    def __repr__(self) -> str:
        total = _length(self.items)
        shown = "" if total is None else f", <{total} items>"
        return f"coop.pmap({describe_callable(self.fn)}{shown})"


def _length(items: Iterable[Any]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


def _auto_chunksize(count: int, workers: int) -> int:
    # What multiprocessing.Pool.map does: about four chunks per worker, so a slow chunk
    # does not leave the others idle at the end, and few enough that overhead stays small.
    return max(1, math.ceil(count / (4 * max(1, workers))))


def pmap(fn: Callable[[X], T], iterable: Iterable[X], *, chunksize: int | None = None,
         progress: bool = False, backend: Any = None) -> PMap[T]:
    """``[fn(x) for x in iterable]`` in parallel; the task resumes with the ordered list.

    Like ``multiprocessing.Pool.map``: the items are cut into chunks of ``chunksize`` (by
    default about four chunks per worker, as ``Pool.map`` does), each chunk runs as one call,
    and the results come back in the items' order. The first failure cancels the chunks not yet
    done and is raised in the task. Items are taken from ``iterable`` as the pool has room for
    them (an iterator without a ``len`` is listed first only when ``chunksize`` is not given),
    so the first results arrive before the whole input is pickled and memory stays bounded.
    While chunks come back in under 20 ms, consecutive chunks travel together in one call (up
    to ``Pool.map``'s default share of about four calls per worker), so tiny chunks do not
    cost a hand-off each; chunks that take longer travel one per call. ``progress=True`` shows
    a progress bar that advances as chunks complete (tqdm when installed, else a plain
    line on stderr).

    ``backend``: ``"processes"`` (the default), ``"threads"`` for blocking calls, or a pool.

    >>> def main():
    ...     return (yield coop.pmap(abs, [-1, -2, 3], chunksize=2))
    >>> coop.run(main())
    [1, 2, 3]
    """
    _check_fn("coop.pmap", fn)
    try:
        iter(iterable)
    except TypeError:
        raise TypeError(f"coop.pmap needs an iterable of items, got {iterable!r} "
                        f"({type(iterable).__name__})") from None
    if chunksize is not None and (isinstance(chunksize, bool) or not isinstance(chunksize, int)
                                  or chunksize < 1):
        raise ValueError(f"coop.pmap: chunksize must be a whole number >= 1, got {chunksize!r}")
    if backend is not None:
        check_backend(backend)
    if isinstance(iterable, Iterator) and chunksize is None:
        iterable = list(iterable)  # the count sizes the chunks, as in Pool.map
    return PMap(fn, iterable, chunksize, progress, backend)
