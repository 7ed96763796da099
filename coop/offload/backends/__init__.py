"""Backends: one small adapter per kind of pool, so the offload effects see a single interface.

An adapter submits a call (or a chunk of a map) and reports its completion, once, through
``done(kind, value)`` from whatever thread the pool completes it on. Adapters exist for:

==========================================  =========  ======================================
pool                                        runs on    notes
==========================================  =========  ======================================
coop's own threads (``"threads"``)          threads    daemon threads, started as needed
coop's own processes (``"processes"``)      processes  a crash fails only the call it killed
``concurrent.futures.ThreadPoolExecutor``   threads
``concurrent.futures.ProcessPoolExecutor``  processes  broken by a crash: coop replaces it
``loky`` executors                          processes  cloudpickle: lambdas work there
``multiprocessing.Pool``                    processes  calls pulled from coop (see below)
``multiprocessing.pool.ThreadPool``         threads
``distributed.Client`` (Dask)               processes  ``pure=False``; cloudpickle
``ray.util.multiprocessing.Pool``           processes  cloudpickle
any other ``concurrent.futures.Executor``   as named   called as ``submit(fn, *args, **kw)``
==========================================  =========  ======================================

Optional libraries (Dask, Ray, loky) are never imported here: a pool is recognised by the
module and name of its class, so their modules are only touched once the caller has handed
one in (and so imported it already). Each adapter has a module of its own in this package,
imported when a pool of its kind is first handed in.

A ``multiprocessing.Pool`` replaces a worker that dies but never reports the call it was
running (its own ``map`` hangs forever), and a worker SIGKILLed inside the pool's own plumbing
can wedge it for good (see ``pool_watch.PoolWatch``). coop hands such a pool anonymous tasks
that ask a watcher thread in this process, over a local socket, for their call and send its
outcome back on it: the watcher knows which worker holds which call, fails the call of a
worker that dies, and mends a pool that a dead worker has wedged.
"""


from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import PROCESSES, THREADS, Backend

__all__ = ["PROCESSES", "THREADS", "Backend", "adapt", "classify"]


def _class_names(obj: Any) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(obj).__mro__}


def classify(pool: Any) -> str:
    """``"threads"`` or ``"processes"`` for a pool coop accepts; a TypeError for anything else.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     coop.offload.backends.classify(pool)
    'threads'
    """
    return _adapter_class(pool)[0]


def adapt(pool: Any) -> Backend:
    """The :class:`Backend` for a caller's pool (which coop uses as it is and never stops)."""
    return _adapter_class(pool)[1]()


def _adapter_class(pool: Any) -> tuple[str, Callable[[], Backend]]:
    names = _class_names(pool)
    if "distributed.client.Client" in names:
        return PROCESSES, lambda: _dask(pool)
    if "ray.util.multiprocessing.pool.Pool" in names:
        return PROCESSES, lambda: _ray(pool)
    if "multiprocessing.pool.ThreadPool" in names:
        return THREADS, lambda: _multiprocessing(pool, THREADS, "a multiprocessing ThreadPool")
    if "multiprocessing.pool.Pool" in names:
        return PROCESSES, lambda: _multiprocessing(pool, PROCESSES, "a multiprocessing Pool")
    if "concurrent.futures.thread.ThreadPoolExecutor" in names:
        return THREADS, lambda: _executor(pool, THREADS, "local", "a ThreadPoolExecutor")
    if "concurrent.futures.process.ProcessPoolExecutor" in names:
        return PROCESSES, lambda: _executor(pool, PROCESSES, "pickle", "a ProcessPoolExecutor")
    if any(name.startswith("loky.") for name in names):
        return PROCESSES, lambda: _executor(pool, PROCESSES, "direct", "a loky executor")
    if "concurrent.futures._base.Executor" in names:
        kind = PROCESSES if "process" in type(pool).__name__.lower() else THREADS
        return kind, lambda: _executor(pool, kind, "local", type(pool).__name__)
    raise TypeError(
        f"coop cannot run calls on {pool!r} ({type(pool).__name__}): pass a number of workers, "
        f"a concurrent.futures Executor, a multiprocessing Pool or ThreadPool, a Dask "
        f"distributed.Client, or a ray.util.multiprocessing.Pool"
    )


# The adapters' modules are imported when a pool of their kind first comes: `import coop`
# imports neither multiprocessing nor concurrent.futures.

def _dask(client: Any) -> Backend:
    from .dask import DaskBackend

    return DaskBackend(client)


def _ray(pool: Any) -> Backend:
    from .ray import RayPoolBackend

    return RayPoolBackend(pool)


def _multiprocessing(pool: Any, kind: str, label: str) -> Backend:
    from .mp_pool import MultiprocessingBackend

    return MultiprocessingBackend(pool, kind, label)


def _executor(executor: Any, kind: str, crossing: str, label: str) -> Backend:
    from .executors import Crossing, ExecutorBackend

    return ExecutorBackend(executor, kind, Crossing(crossing), label)
