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
``multiprocessing.Pool``                    processes  crashes detected by coop (see below)
``multiprocessing.pool.ThreadPool``         threads
``distributed.Client`` (Dask)               processes  ``pure=False``; cloudpickle
``ray.util.multiprocessing.Pool``           processes  cloudpickle
any other ``concurrent.futures.Executor``   as named   called as ``submit(fn, *args, **kw)``
==========================================  =========  ======================================

Optional libraries (Dask, Ray, loky) are never imported here: a pool is recognised by the
module and name of its class, so their modules are only touched once the caller has handed
one in (and so imported it already).

A ``multiprocessing.Pool`` replaces a worker that dies but never reports the call it was
running, whose result then never arrives (its own ``map`` hangs forever). coop sends such a
pool a wrapper that tells a watcher thread in this process, over a local socket, when each call
starts and ends; when a worker dies its socket closes, and the call it had started fails with
:class:`coop.WorkerCrashed`.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import selectors
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing import connection
from typing import Any

from ._pools import Done, ProcessPool, ThreadPool, describe_exit
from ._wire import (
    _MSG,
    CRASH,
    ERROR,
    OUTCOME,
    VALUE,
    WIRE,
    describe_callable,
    dumps_call,
    dumps_map,
    invoke,
    invoke_direct,
    invoke_tracked,
    map_direct,
    map_local,
)

log = logging.getLogger("coop")

THREADS = "threads"
PROCESSES = "processes"


class Backend:
    """What the offload effects need from a pool. One adapter per pool and scheduler."""

    #: "threads" or "processes": whether calls share this process's memory.
    kind = PROCESSES
    #: Whether coop started the pool (and so stops it when ``run()`` ends).
    owned = False
    #: How many calls the pool runs at once (to size pmap's chunks).
    size = 1
    #: Whether :meth:`cancel` can withdraw a call the pool has queued. Where it cannot, coop
    #: hands the pool one call beyond those it runs, not one per worker.
    withdraws = True

    def __init__(self, label: str) -> None:
        #: The pool in words, for messages.
        self.label = label

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        """Start ``fn(*args, **kwargs)``; return a handle for :meth:`cancel`."""
        raise NotImplementedError

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        """Start ``[fn(x) for x in items]``; ``first`` is ``items[0]``'s index, for messages."""
        raise NotImplementedError

    def cancel(self, handle: Any) -> bool:
        """Withdraw a call whose result nobody wants any more, where the pool can.

        Returns whether the pool will still report the call through its ``done`` (it could
        not withdraw it): until then the call holds its place among those the pool runs.
        """
        return True

    def close(self) -> None:
        """The scheduler is done: stop the pool if coop started it, else let go of it."""


# ---------------------------------------------------------------- coop's own pools


class CoopThreads(Backend):
    kind = THREADS
    owned = True

    def __init__(self, max_workers: int) -> None:
        super().__init__(f"coop's thread pool ({max_workers} threads)")
        self.pool = ThreadPool(max_workers)
        self.size = max_workers

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        return self.pool.submit(fn, args, kwargs, done)

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        return self.pool.submit(map_local, (fn, items), {}, done)

    def cancel(self, handle: Any) -> bool:
        ThreadPool.cancel(handle)
        return False

    def close(self) -> None:
        self.pool.shutdown()


class CoopProcesses(Backend):
    owned = True

    def __init__(self, max_workers: int, start_method: str | None = None) -> None:
        self.pool = ProcessPool(max_workers, start_method)
        super().__init__(f"coop's process pool ({max_workers} processes, "
                         f"{self.pool.start_method})")
        self.size = max_workers

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        return self.pool.submit(dumps_call(what, fn, args, kwargs), done)

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        return self.pool.submit(dumps_map(what, fn, items, first), done)

    def cancel(self, handle: Any) -> bool:
        self.pool.cancel(handle)
        return False  # withdrawn, or stopped by ending its worker: never reported

    def close(self) -> None:
        self.pool.shutdown()


# ---------------------------------------------------------------- executors


class ExecutorBackend(Backend):
    """A ``concurrent.futures.Executor``: ``submit`` and a done callback on its future.

    ``mode`` says what crosses to the worker: ``"local"`` (threads: the call itself),
    ``"pickle"`` (a process pool using pickle: coop's pre-pickled payload) or ``"direct"``
    (a pool with its own serializer, such as loky's cloudpickle: the call, wrapped so the
    outcome still comes back with its traceback).
    """

    def __init__(self, executor: Any, kind: str, mode: str, label: str) -> None:
        super().__init__(label)
        self.executor = executor
        self.kind = kind
        self.mode = mode
        self.size = int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1)
        self._replacement: Any = None  # an executor coop made after the caller's broke

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        if self.mode == "local":
            return self._submit_local(done, fn, args, kwargs)
        if self.mode == "pickle":
            return self._submit(done, WIRE, invoke, dumps_call(what, fn, args, kwargs))
        return self._submit(done, OUTCOME, invoke_direct, fn, args, kwargs)

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        if self.mode == "local":
            return self._submit_local(done, map_local, (fn, items), {})
        if self.mode == "pickle":
            return self._submit(done, WIRE, invoke, dumps_map(what, fn, items, first))
        return self._submit(done, OUTCOME, map_direct, fn, items)

    def _submit_local(self, done: Done, fn: Callable[..., Any], args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> Any:
        # The worker thread reports the outcome itself: cheaper than the future's done
        # callbacks, and a call withdrawn with future.cancel() never reports at all.
        executor = self._replacement or self.executor
        return executor.submit(_run_and_report, done, fn, args, kwargs)

    def _submit(self, done: Done, kind: int, fn: Callable[..., Any], *args: Any,
                **kwargs: Any) -> Any:
        from concurrent.futures import BrokenExecutor

        executor = self._replacement or self.executor
        try:
            future = executor.submit(fn, *args, **kwargs)
        except BrokenExecutor:
            executor = self._replace(executor)
            future = executor.submit(fn, *args, **kwargs)

        def finished(future: Any) -> None:
            if future.cancelled():
                return
            exc = future.exception()
            if exc is None:
                done(kind, future.result())
            elif isinstance(exc, BrokenExecutor):
                done(CRASH, f"a worker process of {self.label} died abruptly, which broke "
                            f"the pool ({type(exc).__name__}: {exc})")
            else:
                done(ERROR, exc)

        future.add_done_callback(finished)
        return future

    def _replace(self, broken: Any) -> Any:
        """A crash broke the caller's executor for good: go on with a new one like it."""
        cls = type(broken)
        try:
            if cls.__module__.startswith("loky"):
                import importlib  # the caller uses loky already

                loky = importlib.import_module("loky")
                new = loky.get_reusable_executor(max_workers=self.size)
            else:
                kwargs: dict[str, Any] = {"max_workers": self.size}
                for name in ("mp_context", "initializer", "initargs"):
                    if hasattr(broken, f"_{name}"):
                        kwargs[name] = getattr(broken, f"_{name}")
                new = cls(**kwargs)
        except Exception as exc:
            from .errors import WorkerCrashed

            raise WorkerCrashed(f"{self.label} is broken (a worker died) and coop could not "
                                f"make a new one like it ({exc}); hand in a new pool") from exc
        log.warning("coop: a worker of %s died and broke it; coop goes on with a new %s "
                    "until run() ends", self.label, cls.__name__)
        self._drop_replacement(wait=False)
        self._replacement = new
        return new

    def _drop_replacement(self, wait: bool) -> None:
        old, self._replacement = self._replacement, None
        if old is None or type(old).__module__.startswith("loky"):
            return  # loky's reusable executor is the process's, not coop's to stop
        old.shutdown(wait=wait, cancel_futures=True)

    def cancel(self, handle: Any) -> bool:
        return not handle.cancel()  # a future already running cannot be withdrawn

    def close(self) -> None:
        self._drop_replacement(wait=True)


def _run_and_report(done: Done, fn: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> None:
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:
        done(ERROR, exc)
    else:
        done(VALUE, value)


# ---------------------------------------------------------------- multiprocessing.Pool


class MultiprocessingBackend(Backend):
    """``multiprocessing.Pool`` (watched for crashes) or ``multiprocessing.pool.ThreadPool``."""

    withdraws = False

    def __init__(self, pool: Any, kind: str, label: str) -> None:
        super().__init__(label)
        self.pool = pool
        self.kind = kind
        self.size = int(getattr(pool, "_processes", 0) or os.cpu_count() or 1)
        self._watch: CrashWatch | None = None

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        if self.kind == THREADS:
            return self._apply(done, VALUE, fn, args, kwargs)
        return self._apply_tracked(done, dumps_call(what, fn, args, kwargs))

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        if self.kind == THREADS:
            return self._apply(done, VALUE, map_local, (fn, items), {})
        return self._apply_tracked(done, dumps_map(what, fn, items, first))

    def _apply(self, done: Done, kind: int, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
        self.pool.apply_async(fn, args, kwargs, callback=lambda value: done(kind, value),
                              error_callback=lambda exc: done(ERROR, exc))
        return None  # multiprocessing pools cannot withdraw a call: a late result is dropped

    def _apply_tracked(self, done: Done, payload: bytes) -> Any:
        watch = self._watch
        if watch is None:
            watch = self._watch = CrashWatch(self.pool, self.label)
        call_id = watch.track(done)

        def finished(kind: int, value: Any) -> None:
            waiting = watch.finish(call_id)
            if waiting is not None:  # else the watcher has reported the call crashed
                waiting(kind, value)

        try:
            self.pool.apply_async(invoke_tracked, (watch.address, watch.token, call_id, payload),
                                  callback=lambda data: finished(WIRE, data),
                                  error_callback=lambda exc: finished(ERROR, exc))
        except BaseException:
            watch.finish(call_id)
            raise
        return call_id

    def cancel(self, handle: Any) -> bool:
        # A multiprocessing pool cannot withdraw a call it was handed: it still reports it
        # (or its crash), and only then is its place free for the next one coop queued.
        return True

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None


class _Peer:
    """One worker process's connection to the watcher."""

    __slots__ = ("buffer", "pid", "process", "running", "trusted")

    def __init__(self) -> None:
        self.buffer = b""
        self.trusted = False
        self.pid = 0
        self.process: Any = None
        self.running: dict[int, bool] = {}  # call id -> has ended (result on its way)


class CrashWatch:
    """Learns which worker of a ``multiprocessing.Pool`` runs which call, and fails the call
    of a worker that dies. One thread, blocked in ``select`` until a worker speaks or dies."""

    #: How long a result may take to arrive after its worker reported the call ended and died.
    grace = 5.0

    def __init__(self, pool: Any, label: str) -> None:
        self._pool = pool
        self._label = label
        self._lock = threading.Lock()
        self._calls: dict[int, Done] = {}
        self._ids = itertools.count(1)
        self.token = os.urandom(16)
        self._dir: str | None = None
        if hasattr(socket, "AF_UNIX"):
            self._dir = tempfile.mkdtemp(prefix="coop-watch-")
            path = os.path.join(self._dir, "s")
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            self.address: Any = ("unix", path)
        else:
            listener = socket.socket(socket.AF_INET)
            listener.bind(("127.0.0.1", 0))
            self.address = ("inet", listener.getsockname())
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._closed = False
        self._thread = threading.Thread(target=self._watch, daemon=True, name="coop-crash-watch")
        self._thread.start()

    def track(self, done: Done) -> int:
        call_id = next(self._ids)
        with self._lock:
            self._calls[call_id] = done
        return call_id

    def finish(self, call_id: int) -> Done | None:
        """Stop watching a call; returns its ``done`` unless it was already reported."""
        with self._lock:
            return self._calls.pop(call_id, None)

    def close(self) -> None:
        self._closed = True
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass
        self._thread.join(2.0)

    def _watch(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        deadlines: list[tuple[float, int, str]] = []
        try:
            while not self._closed:
                timeout = None
                if deadlines:
                    timeout = max(0.0, min(d[0] for d in deadlines) - time.monotonic())
                for key, _ in selector.select(timeout):
                    if key.fileobj is self._listener:
                        self._accept(selector)
                    elif key.fileobj is self._wake_r:
                        try:
                            self._wake_r.recv(64)
                        except OSError:
                            pass
                    else:
                        self._read(selector, key.fileobj, key.data, deadlines)  # type: ignore[arg-type]
                now = time.monotonic()
                for deadline in [d for d in deadlines if d[0] <= now]:
                    deadlines.remove(deadline)
                    done = self.finish(deadline[1])
                    if done is not None:
                        done(CRASH, deadline[2])
        finally:
            for key in list(selector.get_map().values()):
                if isinstance(key.fileobj, socket.socket):
                    key.fileobj.close()
            selector.close()
            self._wake_w.close()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, _Peer())

    def _read(self, selector: selectors.BaseSelector, sock: socket.socket, peer: _Peer,
              deadlines: list[tuple[float, int, str]]) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            selector.unregister(sock)
            sock.close()
            if peer.trusted:
                self._died(peer, deadlines)
            return
        buffer = peer.buffer + data
        if not peer.trusted:
            if len(buffer) < len(self.token):
                peer.buffer = buffer
                return
            if not hmac.compare_digest(buffer[:len(self.token)], self.token):
                selector.unregister(sock)
                sock.close()
                return
            peer.trusted = True
            buffer = buffer[len(self.token):]
        size = _MSG.size
        end = len(buffer) - len(buffer) % size
        for offset in range(0, end, size):
            kind, call_id, pid = _MSG.unpack_from(buffer, offset)
            if kind == b"S":
                peer.running[call_id] = False
                if peer.pid != pid:
                    peer.pid = pid
                    peer.process = self._find_process(pid)
            else:
                peer.running.pop(call_id, None)
                # Until its result arrives the call is still the pool's to deliver.
                peer.running[call_id] = True
        with self._lock:
            for call_id in [c for c in peer.running if c not in self._calls]:
                del peer.running[call_id]
        peer.buffer = buffer[end:]

    def _find_process(self, pid: int) -> Any:
        # Kept so the exit code can still be read after the pool has forgotten the worker.
        for process in list(getattr(self._pool, "_pool", None) or ()):
            if getattr(process, "pid", None) == pid:
                return process
        return None

    def _died(self, peer: _Peer, deadlines: list[tuple[float, int, str]]) -> None:
        if not peer.running:
            return
        exitcode = None
        process = peer.process
        if process is not None:
            try:
                connection.wait([process.sentinel], timeout=1.0)
                exitcode = process.exitcode
            except (OSError, ValueError, AssertionError):
                pass
        how = f"its worker process (pid {peer.pid}) of {self._label} died: " \
              f"{describe_exit(exitcode)}"
        for call_id, ended in peer.running.items():
            if ended:
                deadlines.append((time.monotonic() + self.grace, call_id,
                                  how + ", after the call returned but before its result "
                                        "arrived"))
                continue
            done = self.finish(call_id)
            if done is not None:
                done(CRASH, how)
        peer.running.clear()


# ---------------------------------------------------------------- clusters


class DaskBackend(Backend):
    """A Dask ``distributed.Client``: every call is ``submit(..., pure=False)``.

    Dask merges identical calls by default (``pure=True``: the key is a hash of the function
    and its arguments), which would run ``to_process(random.random)`` once for every caller.
    Offloaded calls are not pure, so each gets a unique key.
    """

    def __init__(self, client: Any) -> None:
        super().__init__(f"Dask client {getattr(client, 'scheduler', None) or client!r}")
        self.client = client
        try:
            self.size = max(1, sum(client.nthreads().values()))
        except Exception:
            self.size = os.cpu_count() or 1

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        return self._submit(done, describe_callable(fn), invoke_direct, fn, args, kwargs)

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        return self._submit(done, describe_callable(fn), map_direct, fn, items)

    def _submit(self, done: Done, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        key = f"coop-{name}-{uuid.uuid4().hex}"
        future = self.client.submit(fn, *args, pure=False, key=key)

        def finished(future: Any) -> None:
            # Called in Dask's callback thread, where blocking to fetch the result is fine.
            status = future.status
            if status == "cancelled":
                return
            try:
                data = future.result()
            except BaseException as exc:
                if type(exc).__name__ == "KilledWorker":
                    done(CRASH, f"the Dask workers running it died ({exc})")
                else:
                    done(ERROR, exc)
            else:
                done(OUTCOME, data)

        future.add_done_callback(finished)
        return future

    def cancel(self, handle: Any) -> bool:
        # Future.cancel() waits for the Dask scheduler to answer, a network round trip that
        # the scheduler thread must not sit through.
        threading.Thread(target=self._cancel, args=(handle,), daemon=True,
                         name="coop-dask-cancel").start()
        return False  # a cancelled Dask future reports nothing

    @staticmethod
    def _cancel(future: Any) -> None:
        try:
            future.cancel()
        except Exception:
            log.debug("coop: cancelling a Dask future failed", exc_info=True)


class RayPoolBackend(Backend):
    """Ray's ``ray.util.multiprocessing.Pool`` (whose ``apply_async`` cannot be withdrawn).

    Ray's pool does not replace an actor that dies, and goes on handing calls to it; after a
    crash coop goes on with a new pool of the same size, which it stops when ``run()`` ends.
    """

    withdraws = False
    _CRASHES = frozenset({"RayActorError", "WorkerCrashedError", "ActorDiedError",
                          "NodeDiedError", "OutOfMemoryError"})

    def __init__(self, pool: Any) -> None:
        super().__init__("Ray multiprocessing pool")
        self.pool = pool
        self.size = max(1, len(getattr(pool, "_actor_pool", None) or ()) or os.cpu_count() or 1)
        self._broken = False
        self._replacement: Any = None

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        return self._apply(done, invoke_direct, (fn, args, kwargs))

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        return self._apply(done, map_direct, (fn, items))

    def _apply(self, done: Done, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        def failed(exc: BaseException) -> None:
            if {cls.__name__ for cls in type(exc).__mro__} & self._CRASHES:
                self._broken = True
                first = str(exc).splitlines()[0] if str(exc) else ""
                done(CRASH, f"the Ray worker running it died ({type(exc).__name__}: {first})")
            else:
                done(ERROR, exc)

        self._pool().apply_async(fn, args, callback=lambda data: done(OUTCOME, data),
                                 error_callback=failed)
        return None

    def _pool(self) -> Any:
        if self._broken:
            self._broken = False
            log.warning("coop: a worker of %s died; coop goes on with a new pool of %d until "
                        "run() ends", self.label, self.size)
            if self._replacement is not None:
                self._replacement.terminate()
            self._replacement = type(self.pool)(processes=self.size)
        return self._replacement or self.pool

    def close(self) -> None:
        if self._replacement is not None:
            self._replacement.terminate()
            self._replacement = None


# ---------------------------------------------------------------- recognising pools


def _class_names(obj: Any) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(obj).__mro__}


def classify(pool: Any) -> str:
    """``"threads"`` or ``"processes"`` for a pool coop accepts; a TypeError for anything else.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     coop.backends.classify(pool)
    'threads'
    """
    return _adapter_class(pool)[0]


def _adapter_class(pool: Any) -> tuple[str, Callable[[], Backend]]:
    names = _class_names(pool)
    if "distributed.client.Client" in names:
        return PROCESSES, lambda: DaskBackend(pool)
    if "ray.util.multiprocessing.pool.Pool" in names:
        return PROCESSES, lambda: RayPoolBackend(pool)
    if "multiprocessing.pool.ThreadPool" in names:
        return THREADS, lambda: MultiprocessingBackend(pool, THREADS,
                                                       "a multiprocessing ThreadPool")
    if "multiprocessing.pool.Pool" in names:
        return PROCESSES, lambda: MultiprocessingBackend(pool, PROCESSES,
                                                         "a multiprocessing Pool")
    if "concurrent.futures.thread.ThreadPoolExecutor" in names:
        return THREADS, lambda: ExecutorBackend(pool, THREADS, "local", "a ThreadPoolExecutor")
    if "concurrent.futures.process.ProcessPoolExecutor" in names:
        return PROCESSES, lambda: ExecutorBackend(pool, PROCESSES, "pickle",
                                                  "a ProcessPoolExecutor")
    if any(name.startswith("loky.") for name in names):
        return PROCESSES, lambda: ExecutorBackend(pool, PROCESSES, "direct",
                                                  "a loky executor")
    if "concurrent.futures._base.Executor" in names:
        kind = PROCESSES if "process" in type(pool).__name__.lower() else THREADS
        return kind, lambda: ExecutorBackend(pool, kind, "local", type(pool).__name__)
    raise TypeError(
        f"coop cannot run calls on {pool!r} ({type(pool).__name__}): pass a number of workers, "
        f"a concurrent.futures Executor, a multiprocessing Pool or ThreadPool, a Dask "
        f"distributed.Client, or a ray.util.multiprocessing.Pool"
    )


def adapt(pool: Any) -> Backend:
    """The :class:`Backend` for a caller's pool (which coop uses as it is and never stops)."""
    return _adapter_class(pool)[1]()
