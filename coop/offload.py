"""Hand blocking or CPU-bound work to threads, processes or a cluster; resume with the result.

One OS thread runs every coop task, and the GIL lets only one thread run Python bytecode at a
time. Blocking I/O releases the GIL, so it is fine in a thread; CPU-bound Python holds it, so it
needs other processes to run in parallel. A task hands such work away and waits for it, while
every other task keeps running::

    page = yield coop.to_thread(fetch, url)              # blocking I/O: a thread
    digest = yield coop.to_process(crunch, data)          # CPU-bound: another process
    squares = yield coop.pmap(square, range(1000))        # CPU-bound, in chunks, ordered

The waiting task is parked and costs nothing: the result comes back through the scheduler's
thread-safe completion path, which wakes the scheduler's ``select``; nothing polls.

**Backends.** By default ``to_thread`` runs on a pool of daemon threads and ``to_process`` and
``pmap`` on a pool of worker processes, both started by coop on first use, sized to the machine
(``min(32, CPUs + 4)`` threads, one process per CPU) and stopped when :func:`coop.run` ends.
``coop.run(main, threads=..., processes=...)`` takes a size instead, or a pool of your own, which
coop uses as it is and leaves running: a ``concurrent.futures`` executor (thread, process or
loky), a ``multiprocessing.Pool`` or ``multiprocessing.pool.ThreadPool``, a Dask
``distributed.Client`` (``pip install coop-scheduler[dask]``) or a
``ray.util.multiprocessing.Pool`` (``pip install coop-scheduler[ray]``); Dask merges identical
calls unless told they are not pure, so coop submits with ``pure=False``. One call can name its
own backend: ``to_process(fn, x).on(pool)``,
``to_thread(fn).on("processes")``, ``pmap(fn, xs, backend="threads")``. Dask and Ray are
imported only by the caller; coop recognises their objects without importing them.

**Start method.** coop's worker processes are started with ``forkserver`` where the platform
has it (Linux and the other Unixes), else ``spawn`` (macOS, Windows). Not ``fork``: a coop
program has threads (the pools', Dask's, yours), and a forked child inherits a copy of every
lock another thread held at that moment, which may then never be released. The fork server is a
clean single-threaded process started once, and workers are forked from it: measured here, a
pool of two was ready in ~30 ms (~10 ms with ``fork``, ~80 ms with ``spawn``). As with every
start method but ``fork``, the function and its arguments must be importable by name: define
functions at the top level of a module, and guard a script's entry point with
``if __name__ == "__main__":``.

**Nothing hangs, nothing is lost.**

- A worker process that dies mid-call (``os._exit``, a segfault, the OOM killer) makes the
  waiting task raise :class:`coop.WorkerCrashed` naming the call; later calls work (coop's pool
  starts a new worker; a broken ``ProcessPoolExecutor`` is replaced by a new one like it; a
  ``multiprocessing.Pool``, whose own ``map`` would hang forever here, is watched by coop).
  A ``multiprocessing.Pool`` forks its replacement workers from a thread of its own while
  coop's threads run: make yours with ``multiprocessing.get_context("forkserver").Pool(n)``
  (or ``"spawn"``) rather than the ``fork`` default of Linux before Python 3.14.
- A function, argument or result that cannot be pickled raises a TypeError in the task naming
  the object and why (a lambda, a local function, an open file, a lock...). The check happens
  before the call is submitted. Dask, Ray and loky pickle with cloudpickle, where lambdas work.
- An exception raised in a worker process is re-raised in the task with the worker's traceback
  attached as its ``__cause__`` (a :class:`RemoteTraceback`), even one whose ``__init__``
  takes other arguments than its message (it is rebuilt without calling ``__init__``); one
  whose class cannot be found here is reported by class and message. loky, Dask and Ray
  bring results and exceptions home with their own serializer (cloudpickle): whatever the
  backend alone returns, coop returns.
- coop keeps its own queue in front of every backend and hands a pool only as many calls as
  it runs plus a small prefetch (twice its size; 64 calls per thread for coop's own threads,
  whose queued calls are withdrawn by a flag; one call beyond its size for Ray's pool or a
  ``ThreadPool``, which cannot withdraw what they were handed). So
  cancelling or timing out a waiting task withdraws a queued call on every backend: it never
  reaches the pool. On coop's own process pool a running call is stopped by ending its
  worker (which is then replaced), never a worker that has moved on to another call.
- A worker killed while it starts fails no call (the queued calls go to another or a new
  worker); one that exits on its own while starting (a broken environment, an unguarded
  ``__main__``) fails the calls waiting, since every replacement would meet the same fate.
  If the fork server dies, the workers it started go on: their results arrive, and coop
  ends them when ``run()`` ends. A thread that is already running cannot be stopped: it runs
  to the end, and its result is dropped. coop's threads are daemon threads, so such a thread
  does not keep the program from exiting.
- Worker processes coop starts ignore SIGINT, so a Ctrl-C at the terminal reaches only the
  scheduler, which cancels every task and stops the pools it started, their pending calls
  cancelled and their processes ended before ``run()`` raises KeyboardInterrupt.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from ._wire import (
    CRASH,
    ERR,
    ERROR,
    OUTCOME,
    VALUE,
    WIRE,
    RemoteTraceback,
    decode,
    describe_callable,
    outcome_error,
)
from .effects import Effect
from .errors import WorkerCrashed
from .kernel import SUSPENDED, ignore_thread
from .task import Task, Throw

if TYPE_CHECKING:
    from .backends import Backend
    from .kernel import Scheduler

# The backends (and multiprocessing with them) are imported on first use, not by `import coop`.
THREADS = "threads"
PROCESSES = "processes"


def cpu_count() -> int:
    """The CPUs this process may use (its affinity mask where the OS has one).

    >>> coop.offload.cpu_count() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def classify(pool: Any) -> str:
    """``"threads"`` or ``"processes"`` for a pool coop accepts; a TypeError for anything else.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     coop.offload.classify(pool)
    'threads'
    """
    from .backends import classify as classify_pool

    return classify_pool(pool)


def _adapt(pool: Any) -> Backend:
    from .backends import adapt

    return adapt(pool)

__all__ = ["RemoteTraceback", "pmap", "to_process", "to_thread"]

T = TypeVar("T")

_SERVICE = "offload"
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


# ------------------------------------------------------------------ per-scheduler service


class _Service:
    """The backends of one scheduler: coop's own pools, started on first use, and adapters
    for the pools callers hand in. Stopped by the scheduler's closer when ``run()`` ends."""

    def __init__(self, kernel: Scheduler) -> None:
        self.kernel = kernel
        self.specs: dict[str, Any] = {THREADS: None, PROCESSES: None}
        self.named: dict[str, Backend] = {}
        self.adapters: dict[int, tuple[Any, Backend]] = {}
        self.armed = False
        kernel.services[_SERVICE] = self

    def backend(self, spec: Any, kind: str) -> Backend:
        if spec is None:
            spec = kind
        if isinstance(spec, str):
            backend = self.named.get(spec)
            if backend is None:
                backend = self.named[spec] = self._start(spec)
                self._arm()
            return backend
        entry = self.adapters.get(id(spec))
        if entry is None or entry[0] is not spec:
            entry = self.adapters[id(spec)] = (spec, _adapt(spec))
            self._arm()
        return entry[1]

    def _arm(self) -> None:
        # Once per run: a Scheduler may run again after a run has closed its backends.
        if not self.armed:
            self.armed = True
            self.kernel.add_closer(self.close)

    def _start(self, name: str) -> Backend:
        if name not in (THREADS, PROCESSES):
            raise ValueError(f"unknown backend {name!r}: use 'threads', 'processes', or a pool")
        from .backends import CoopProcesses, CoopThreads

        spec = self.specs[name]
        if spec is not None and not isinstance(spec, int):
            return _adapt(spec)
        if name == THREADS:
            return CoopThreads(spec or min(32, cpu_count() + 4))
        return CoopProcesses(spec or cpu_count())

    def close(self) -> None:
        self.armed = False
        backends = [*self.named.values(), *(b for _, b in self.adapters.values())]
        self.named.clear()
        self.adapters.clear()
        errors = []
        for backend in backends:
            try:
                backend.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _service(kernel: Scheduler) -> _Service:
    service: _Service | None = kernel.services.get(_SERVICE)
    return service if service is not None else _Service(kernel)


def _check_spec(name: str, spec: Any) -> None:
    if spec is None:
        return
    if isinstance(spec, str):
        raise ValueError(f"{name}={spec!r}: give a number of workers or a pool")
    if isinstance(spec, bool) or (isinstance(spec, int) and spec < 1):
        raise ValueError(f"{name}={spec!r}: the number of workers must be at least 1")
    if not isinstance(spec, int):
        classify(spec)  # a TypeError that lists what is accepted


def configure(kernel: Scheduler, *, threads: Any = None, processes: Any = None) -> None:
    """Set the default backends of ``kernel``: a number of workers or a pool for each.

    :func:`coop.run` calls this for its ``threads=`` and ``processes=`` arguments; a program that
    drives a :class:`coop.Scheduler` itself may call it before ``run()``.

    >>> sched = coop.Scheduler()
    >>> coop.offload.configure(sched, threads=2)
    >>> def main():
    ...     return (yield coop.to_thread(sum, [1, 2, 3]))
    >>> task = sched.spawn(main())
    >>> sched.run()
    >>> task.result()
    6
    """
    _check_spec("threads", threads)
    _check_spec("processes", processes)
    service = _service(kernel)
    for kind, spec in ((THREADS, threads), (PROCESSES, processes)):
        if spec is not None:
            if kind in service.named:
                raise RuntimeError(f"coop's {kind} backend has already started; configure it "
                                   f"before the first call")
            service.specs[kind] = spec


# ------------------------------------------------------------------ coop's queue


class _Gate:
    """coop's own queue in front of one backend, in the scheduler's thread.

    The pool is handed only as many calls as it runs at once plus a small prefetch (so a
    worker that finishes finds its next call already there); the rest wait here, where
    withdrawing one is dropping it from a deque, whatever the pool can or cannot withdraw
    itself (a ``multiprocessing.Pool`` or Ray's pool cannot). A pmap is one source of many
    calls: its chunks are pickled one at a time as slots free up, so the input streams, the
    memory held stays bounded, and the scheduler never stops for long to pickle. Sources take
    slots in turn, so a long pmap does not hold up a ``to_process`` behind it.
    """

    __slots__ = ("backend", "capacity", "running", "sources")

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        size = max(1, backend.size)
        self.capacity = backend.depth * size if backend.withdraws else size + 1
        self.running = 0
        self.sources: deque[_Source] = deque()

    def admit(self, source: _Source) -> None:
        """Queue ``source``; raise what its first submission raised (a pickling error)."""
        self.sources.append(source)
        if self.running < self.capacity:
            self.pump(source)

    def pump(self, own: _Source | None = None) -> None:
        sources = self.sources
        while self.running < self.capacity and sources:
            source = sources[0]
            try:
                more = source.submit_next()
            except BaseException as exc:
                self.remove(source)
                if source is own:
                    raise  # still in the task's own yield: it gets the error at once
                source.fail(exc)
                continue
            if more:
                sources.rotate(-1)
            else:
                sources.popleft()

    def release(self) -> None:
        self.running -= 1
        if self.sources:
            self.pump()

    def remove(self, source: _Source) -> None:
        try:
            self.sources.remove(source)
        except ValueError:
            pass


def _gate(backend: Backend) -> _Gate:
    gate: _Gate | None = getattr(backend, "gate", None)
    if gate is None:
        gate = backend.gate = _Gate(backend)  # type: ignore[attr-defined]
    return gate


class _Source:
    """What waits in a :class:`_Gate` for slots: one call, or a pmap's chunks."""

    __slots__ = ()

    def submit_next(self) -> bool:
        """Hand the pool one call (taking a slot); whether more are to come."""
        raise NotImplementedError

    def fail(self, exc: BaseException) -> None:
        """A submission raised after the task had parked: end the wait with ``exc``."""
        raise NotImplementedError


# ------------------------------------------------------------------ one call


class _ExternalWait(_Source):
    """A task parked on work in flight elsewhere (the kernel's Parkable protocol).

    Subclasses say how to withdraw what is still pending when the task stops waiting.
    """

    __slots__ = ("backend", "gate", "kernel", "state", "task", "what")

    def __init__(self, kernel: Scheduler, task: Task[Any], what: str, backend: Backend) -> None:
        self.kernel = kernel
        self.task: Task[Any] | None = task
        self.what = what
        self.backend = backend
        self.gate = _gate(backend)
        self.state = 0  # 0 waiting, 1 settled, 2 dropped (the task stopped waiting)

    def _withdraw(self) -> None:
        raise NotImplementedError

    # Parkable
    def unpark(self, task: Task[Any]) -> None:
        if self.state:
            return
        self.state = 2
        self.task = None
        self.kernel.end_external()
        self.gate.remove(self)
        self._withdraw()

    def holders(self) -> list[Task[Any]]:
        return []

    def _wake(self, value: Any) -> None:
        self.state = 1
        self.kernel.end_external()
        task, self.task = self.task, None
        assert task is not None
        self.kernel.wake(task, value)


class _Slot:
    """One call handed to a pool: it holds a slot of the gate until the pool is done with it
    (or has withdrawn it: then it never reports, and the slot is freed at once)."""

    __slots__ = ("handle", "held")

    def __init__(self) -> None:
        self.handle: Any = None
        self.held = True


class _Call(_ExternalWait):
    """A task parked on one offloaded call."""

    __slots__ = ("args", "fn", "kwargs", "slot")

    def __init__(self, kernel: Scheduler, task: Task[Any], what: str, backend: Backend,
                 fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__(kernel, task, what, backend)
        self.fn: Callable[..., Any] | None = fn
        self.args = args
        self.kwargs = kwargs
        self.slot: _Slot | None = None

    def submit_next(self) -> bool:
        fn, self.fn = self.fn, None
        assert fn is not None
        slot = _Slot()
        slot.handle = self.backend.submit(self.what, fn, self.args, self.kwargs, self.done)
        self.args, self.kwargs = (), {}
        self.slot = slot
        self.gate.running += 1
        return False

    def fail(self, exc: BaseException) -> None:
        if not self.state:
            self._wake(Throw(exc))

    def done(self, kind: int, value: Any) -> None:
        """From a pool's thread: hand the outcome to the scheduler's thread."""
        self.kernel.call_soon_threadsafe(self.settle, kind, value)

    def settle(self, kind: int, value: Any) -> None:
        slot = self.slot
        if slot is not None and slot.held:
            slot.held = False
            self.gate.release()
        if self.state:
            return  # dropped: the task was cancelled or timed out; the late result goes
        try:
            result = _outcome(self.what, kind, value)
        except BaseException as exc:
            self._wake(Throw(exc))
        else:
            self._wake(result)

    def _withdraw(self) -> None:
        self.fn = None
        slot = self.slot
        if slot is None:
            return  # still in coop's queue: the pool never heard of it
        if not self.backend.cancel(slot.handle) and slot.held:
            slot.held = False
            self.gate.release()

    def describe(self) -> str:
        return f"{self.what} on {self.backend.label}"


def _outcome(what: str, kind: int, value: Any) -> Any:
    """The result a pool reported, or raise the error it stands for."""
    if kind == VALUE:
        return value
    if kind == WIRE:
        try:
            outcome = decode(value)
        except Exception as exc:
            raise TypeError(f"{what}: the result came back but cannot be unpickled here: "
                            f"{type(exc).__name__}: {exc}") from exc
        if outcome[0] == ERR:
            raise outcome_error(what, outcome)
        return outcome[1]
    if kind == OUTCOME:
        if value[0] == ERR:
            raise outcome_error(what, value)
        return value[1]
    if kind == ERROR:
        raise value
    if kind == CRASH:
        raise WorkerCrashed(f"{what} was lost: {value}")
    raise AssertionError(f"unknown completion kind {kind}")


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
        if not isinstance(backend, str):
            classify(backend)
        elif backend not in (THREADS, PROCESSES):
            raise ValueError(f"unknown backend {backend!r}: use 'threads', 'processes', "
                             f"or a pool")
        self.backend = backend
        return self

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        service = kernel.services.get(_SERVICE) or _Service(kernel)
        backend = service.backend(self.backend, self.kind)
        what = f"to_{'thread' if self.kind == THREADS else 'process'}" \
               f"({describe_callable(self.fn)})"
        call = _Call(kernel, task, what, backend, self.fn, self.args, self.kwargs)
        call.gate.admit(call)
        kernel.begin_external()
        task._parked_on = call
        return SUSPENDED

    def __repr__(self) -> str:
        where = "thread" if self.kind == THREADS else "process"
        return f"coop.to_{where}({describe_callable(self.fn)})"


def to_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Offload[T]:
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


def to_process(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Offload[T]:
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


class _Map(_ExternalWait):
    """A task parked on the chunks of one pmap, which it hands out as the gate has room."""

    __slots__ = ("batch", "chunksize", "fn", "items", "left", "limit", "next_start",
                 "progress", "results", "sent", "slots", "total")

    def __init__(self, kernel: Scheduler, task: Task[Any], what: str, backend: Backend,
                 fn: Callable[[Any], Any], items: Iterator[Any], chunksize: int,
                 total: int | None, progress: Any) -> None:
        super().__init__(kernel, task, what, backend)
        self.fn = fn
        self.items: Iterator[Any] | None = items
        self.chunksize = chunksize
        self.total = total
        self.slots: dict[int, _Slot] = {}  # chunk index -> its call, while in the pool
        self.results: list[Any] = []
        self.left = 0  # chunks handed out and not yet back
        self.next_start = 0
        self.progress = progress
        # Chunks per call. Tiny chunks cost more in hand-offs than in work, and with only a
        # few calls in the pool at a time each round trip would leave workers idle: while a
        # call comes back in well under _BATCH_SECONDS, the next carries twice as many
        # chunks, up to Pool.map's own share of about four calls per worker.
        self.batch = 1
        self.limit = max(1, (total or 0) // (4 * max(1, backend.size) * chunksize))
        self.sent: dict[int, tuple[float, int, int]] = {}  # index -> when, first item, count

    def submit_next(self) -> bool:
        items = self.items
        assert items is not None
        chunk = list(islice(items, self.chunksize * self.batch))
        if not chunk:
            self.items = None
            return False
        index = len(self.results)
        start = self.next_start
        slot = _Slot()
        slot.handle = self.backend.submit_map(self.what, self.fn, chunk, start,
                                              partial(self.done, index))
        self.next_start = start + len(chunk)
        self.results.append(None)
        self.slots[index] = slot
        self.sent[index] = (time.perf_counter(), start, len(chunk))
        self.left += 1
        self.gate.running += 1
        if len(chunk) < self.chunksize * self.batch or self.next_start == self.total:
            self.items = None  # the last chunk: no trip back for an empty one
            return False
        return True

    def fail(self, exc: BaseException) -> None:
        if not self.state:
            self._end(Throw(exc))

    def done(self, index: int, kind: int, value: Any) -> None:
        self.kernel.call_soon_threadsafe(self.settle, index, kind, value)

    def settle(self, index: int, kind: int, value: Any) -> None:
        when, start, count = self.sent.pop(index, (0.0, 0, 0))
        if self.batch < self.limit and time.perf_counter() - when < _BATCH_SECONDS:
            self.batch = min(self.limit, 2 * self.batch)
        slot = self.slots.pop(index, None)
        if slot is not None and slot.held:
            slot.held = False
            self.gate.release()
        if self.state:
            return
        try:
            first, last = start // self.chunksize, (start + count - 1) // self.chunksize
            chunks = f"chunk {first}" if first == last else f"chunks {first} to {last}"
            chunk = _outcome(f"{self.what} {chunks}", kind, value)
        except BaseException as exc:
            self._end(Throw(exc))
            return
        self.results[index] = chunk
        if self.progress is not None:
            self.progress.update(len(chunk))
        self.left -= 1
        if not self.left and self.items is None and not self.state:
            self._end([x for part in self.results for x in part])

    def _end(self, value: Any) -> None:
        self.gate.remove(self)
        self._cancel_rest()
        self._wake(value)

    def _cancel_rest(self) -> None:
        self.items = None
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        slots, self.slots = self.slots, {}
        for slot in slots.values():
            if not self.backend.cancel(slot.handle) and slot.held:
                slot.held = False
                self.gate.release()

    def _withdraw(self) -> None:
        self._cancel_rest()

    def describe(self) -> str:
        of = f" of {self.total // self.chunksize + bool(self.total % self.chunksize)}" \
            if self.total is not None else ""
        return f"{self.what} ({len(self.results) - self.left}{of} chunks done) on " \
               f"{self.backend.label}"


class PMap(Effect[list[T]]):
    """The effect made by :func:`pmap`; yield it to run the map."""

    __slots__ = ("backend", "chunksize", "fn", "items", "progress")

    def __init__(self, fn: Callable[[Any], T], items: Iterable[Any], chunksize: int | None,
                 progress: bool, backend: Any) -> None:
        self.fn = fn
        self.items = items
        self.chunksize = chunksize
        self.progress = progress
        self.backend = backend

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        items = self.items
        total = _length(items)
        if total == 0:
            return []
        backend = _service(kernel).backend(self.backend, PROCESSES)
        chunksize = self.chunksize
        if chunksize is None:
            if total is None:  # as Pool.map does: the count decides the chunks
                items = list(items)
                total = len(items)
                if not total:
                    return []
            chunksize = _auto_chunksize(total, backend.size)
        what = f"pmap({describe_callable(self.fn)})"
        bar = _progress_bar(total, what) if self.progress else None
        parked = _Map(kernel, task, what, backend, self.fn, iter(items), chunksize, total, bar)
        try:
            parked.gate.admit(parked)
        except BaseException:
            parked.state = 2
            parked._cancel_rest()
            raise
        if parked.items is None and not parked.results:
            return []  # an iterable that turned out empty
        kernel.begin_external()
        task._parked_on = parked
        return SUSPENDED

    def __repr__(self) -> str:
        total = _length(self.items)
        shown = "" if total is None else f", <{total} items>"
        return f"coop.pmap({describe_callable(self.fn)}{shown})"


#: A pmap call that comes back faster than this carries more chunks next time.
_BATCH_SECONDS = 0.02


def _length(items: Iterable[Any]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


def _auto_chunksize(count: int, workers: int) -> int:
    # What multiprocessing.Pool.map does: about four chunks per worker, so a slow chunk
    # does not leave the others idle at the end, and few enough that overhead stays small.
    return max(1, math.ceil(count / (4 * max(1, workers))))


def pmap(fn: Callable[[Any], T], iterable: Iterable[Any], *, chunksize: int | None = None,
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
        if isinstance(backend, str):
            if backend not in (THREADS, PROCESSES):
                raise ValueError(f"unknown backend {backend!r}: use 'threads', 'processes', "
                                 f"or a pool")
        else:
            classify(backend)
    if isinstance(iterable, Iterator) and chunksize is None:
        iterable = list(iterable)  # the count sizes the chunks, as in Pool.map
    return PMap(fn, iterable, chunksize, progress, backend)


# ------------------------------------------------------------------ progress


class _PlainProgress:
    """A progress line on stderr for when tqdm is not installed."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.total = total
        self.desc = desc
        self.count = 0
        self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self._shown = -1

    def update(self, n: int) -> None:
        self.count += n
        of = "" if self.total is None else f"/{self.total}"
        if self.tty:
            sys.stderr.write(f"\r{self.desc}: {self.count}{of}")
            sys.stderr.flush()
            return
        if self.total is None:  # a log file gets a line per power of two
            if self.count.bit_length() != (self.count - n).bit_length():
                sys.stderr.write(f"{self.desc}: {self.count}\n")
            return
        tenth = self.count * 10 // self.total  # a log file gets at most eleven lines
        if tenth != self._shown:
            self._shown = tenth
            sys.stderr.write(f"{self.desc}: {self.count}/{self.total}\n")

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _progress_bar(total: int | None, desc: str) -> Any:
    import importlib

    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return _PlainProgress(total, desc)
    bar = tqdm(total=total, desc=desc, unit="item")
    monitor = getattr(tqdm, "monitor", None)
    if isinstance(monitor, threading.Thread):
        # tqdm's refresh thread never hands work to a scheduler: it must not make deadlock
        # detection wait for it, here or in any later run.
        ignore_thread(monitor)
    return bar
