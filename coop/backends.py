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
one in (and so imported it already).

A ``multiprocessing.Pool`` replaces a worker that dies but never reports the call it was
running (its own ``map`` hangs forever), and a worker SIGKILLed inside the pool's own plumbing
can wedge it for good (see :class:`PoolWatch`). coop hands such a pool anonymous tasks that ask
a watcher thread in this process, over a local socket, for their call and send its outcome back
on it: the watcher knows which worker holds which call, fails the call of a worker that dies,
and mends a pool that a dead worker has wedged.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing import connection
from typing import Any

from ._pools import Done, ProcessPool, ThreadPool, describe_exit
from ._wire import (
    _FRAME,
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
    invoke_pulled,
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
    #: Calls per worker that coop keeps in a pool that can withdraw them.
    depth = 2

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
    # Withdrawing a queued call is setting a flag, and a thread finishes a tiny call long
    # before the scheduler could hand it the next: with two calls per thread, 2,000 tiny
    # calls in flight cost 21 us each (against 5-9 before coop's queue); a deep window keeps
    # the threads fed and costs nothing.
    depth = 64

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
    """``multiprocessing.Pool`` (calls pulled through a :class:`PoolWatch`) or
    ``multiprocessing.pool.ThreadPool`` (calls handed to ``apply_async``)."""

    withdraws = False

    def __init__(self, pool: Any, kind: str, label: str) -> None:
        super().__init__(label)
        self.pool = pool
        self.kind = kind
        self.size = int(getattr(pool, "_processes", 0) or os.cpu_count() or 1)
        # A process pool is handed anonymous tasks that pull their call from coop's watcher,
        # so a call not yet pulled can be withdrawn; a ThreadPool runs the call it was handed.
        self.withdraws = kind == PROCESSES
        self._watch: PoolWatch | None = None

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        if self.kind == THREADS:
            return self._apply(done, VALUE, fn, args, kwargs)
        return self._hand(done, dumps_call(what, fn, args, kwargs))

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        if self.kind == THREADS:
            return self._apply(done, VALUE, map_local, (fn, items), {})
        return self._hand(done, dumps_map(what, fn, items, first))

    def _apply(self, done: Done, kind: int, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
        self.pool.apply_async(fn, args, kwargs, callback=lambda value: done(kind, value),
                              error_callback=lambda exc: done(ERROR, exc))
        return None  # a ThreadPool cannot withdraw a call: a late result is dropped

    def _hand(self, done: Done, payload: bytes) -> Any:
        watch = self._watch
        if watch is None:
            watch = self._watch = PoolWatch(self.pool, self.label)
        return watch.hand(payload, done)

    def cancel(self, handle: Any) -> bool:
        if self._watch is None or handle is None:
            return True  # a ThreadPool's call: reported when it ends
        return not self._watch.withdraw(handle)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None


class _Peer:
    """One worker process's link to the watcher."""

    __slots__ = ("buffer", "holding", "pid", "process", "trusted")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.trusted = False
        self.pid = 0
        self.process: Any = None
        self.holding = 0  # the id of the call it pulled and has not answered, or 0


def _unread(reader: Any) -> int | None:
    """Bytes waiting in a pipe (a multiprocessing Connection), or None where unknown."""
    try:
        import fcntl
        import termios

        buf = bytearray(4)
        fcntl.ioctl(reader.fileno(), termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)
    except (ImportError, OSError, ValueError, AttributeError):
        return None


class PoolWatch:
    """Hands the calls for a ``multiprocessing.Pool`` to its workers, and knows which worker
    holds which call.

    Each call coop hands the pool waits here; the pool gets an anonymous task
    (:func:`coop._wire.invoke_pulled`) that asks this watcher, over a socket, for the next
    call and sends its outcome back on the same socket. One thread, blocked in ``select``
    until a worker speaks or its socket closes (the worker died: the call it held fails).

    A worker killed inside the pool's own plumbing can wedge the whole pool, which
    multiprocessing never notices: its workers take tasks one at a time under a lock shared
    by all of them (``_inqueue._rlock``; the idle worker holding it sits in ``read`` until a
    task comes), and put results under another (``_outqueue._wlock``); a worker SIGKILLed
    while holding one takes it to its grave, and every other worker blocks on it forever.
    While calls wait here and no worker has asked for one for :attr:`stall` seconds, the
    watcher looks: a lock held by nobody alive is released, and pool tasks lost with a dead
    worker are handed again.
    """

    #: Seconds without any worker asking for a call, while calls wait, before looking for
    #: a wedged pool.
    stall = 0.5

    def __init__(self, pool: Any, label: str) -> None:
        self._pool = pool
        self._label = label
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[bytes, Done]] = {}  # not yet pulled, in order
        self._held: dict[int, Done] = {}  # pulled by a worker, outcome not yet back
        self._ids = itertools.count(1)
        self._progress = time.monotonic()  # when a worker last asked for or answered a call
        self._asleep = False  # the watcher waits without a timeout: wake it for a new call
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
        self._thread = threading.Thread(target=self._watch, daemon=True, name="coop-pool-watch")
        self._thread.start()

    # ------------------------------------------------------------ the scheduler's side

    def hand(self, payload: bytes, done: Done) -> int:
        """Queue a call for the pool's workers and hand the pool a task to pull it."""
        call_id = next(self._ids)
        with self._lock:
            if not self._pending:
                self._progress = time.monotonic()
            self._pending[call_id] = (payload, done)
            wake = self._asleep
        if wake:
            self._wake()
        try:
            self._pull_task()
        except BaseException:
            with self._lock:
                self._pending.pop(call_id, None)
            raise
        return call_id

    def withdraw(self, call_id: int) -> bool:
        """Drop a call no worker has pulled yet; False if one has (its outcome will come)."""
        with self._lock:
            return self._pending.pop(call_id, None) is not None

    def close(self) -> None:
        self._closed = True
        self._wake()
        self._thread.join(2.0)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _pull_task(self) -> None:
        self._pool.apply_async(invoke_pulled, (self.address, self.token),
                               error_callback=self._pull_failed)

    def _pull_failed(self, exc: BaseException) -> None:
        # The task could not reach the watcher (no socket to be had): it took no call, and
        # the call it was sent for must not wait for a pull that will never come.
        with self._lock:
            if not self._pending:
                return
            call_id = next(iter(self._pending))
            _, done = self._pending.pop(call_id)
        done(CRASH, f"a worker process of {self._label} could not ask coop for it "
                    f"({type(exc).__name__}: {exc})")

    # ------------------------------------------------------------ the watcher thread

    def _watch(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._closed:
                with self._lock:
                    waiting = bool(self._pending)
                    self._asleep = not waiting
                    due = self._progress + self.stall
                timeout = max(0.0, due - time.monotonic()) if waiting else None
                for key, _ in selector.select(timeout):
                    if key.fileobj is self._listener:
                        self._accept(selector)
                    elif key.fileobj is self._wake_r:
                        try:
                            self._wake_r.recv(64)
                        except OSError:
                            pass
                    else:
                        self._read(selector, key.fileobj, key.data)  # type: ignore[arg-type]
                with self._lock:
                    stalled = bool(self._pending) and \
                        time.monotonic() - self._progress >= self.stall
                if stalled and not self._closed:
                    self._unwedge()
                    with self._lock:
                        self._progress = time.monotonic()
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

    def _read(self, selector: selectors.BaseSelector, sock: socket.socket, peer: _Peer) -> None:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(selector, sock, peer)
            return
        buffer = peer.buffer
        buffer += data
        if not peer.trusted:
            if len(buffer) < len(self.token):
                return
            if not hmac.compare_digest(bytes(buffer[:len(self.token)]), self.token):
                selector.unregister(sock)
                sock.close()
                return
            peer.trusted = True
            del buffer[:len(self.token)]
        size = _FRAME.size
        while len(buffer) >= size:
            kind, number, length = _FRAME.unpack_from(buffer)
            if kind == b"P":
                del buffer[:size]
                if peer.pid != number:
                    peer.pid = number
                    peer.process = self._find_process(number)
                if not self._give(sock, peer):
                    self._drop(selector, sock, peer)
                    return
            elif kind == b"R":
                if len(buffer) < size + length:
                    return
                outcome = bytes(buffer[size:size + length])
                del buffer[:size + length]
                peer.holding = 0
                with self._lock:
                    self._progress = time.monotonic()
                    done = self._held.pop(number, None)
                if done is not None:
                    done(WIRE, outcome)
            else:  # not coop's protocol: forget this peer
                self._drop(selector, sock, peer)
                return

    def _give(self, sock: socket.socket, peer: _Peer) -> bool:
        """Answer a worker's pull with the next call, or with nothing; False if it died."""
        with self._lock:
            self._progress = time.monotonic()
            if self._pending:
                call_id = next(iter(self._pending))
                payload, done = self._pending.pop(call_id)
                self._held[call_id] = done
                peer.holding = call_id
            else:
                call_id, payload = 0, b""
        frame = _FRAME.pack(b"C" if call_id else b"N", call_id, len(payload))
        try:
            # The worker is waiting for exactly this and reads it at once.
            sock.setblocking(True)
            sock.sendall(frame + payload)
            sock.setblocking(False)
        except OSError:
            return False
        return True

    def _drop(self, selector: selectors.BaseSelector, sock: socket.socket, peer: _Peer) -> None:
        """A worker's socket closed: it died (coop's workers never close theirs)."""
        selector.unregister(sock)
        sock.close()
        if not peer.holding:
            return
        call_id, peer.holding = peer.holding, 0
        exitcode = None
        process = peer.process
        if process is not None:
            try:
                connection.wait([process.sentinel], timeout=1.0)
                exitcode = process.exitcode
            except (OSError, ValueError, AssertionError):
                pass
        with self._lock:
            done = self._held.pop(call_id, None)
        if done is not None:
            done(CRASH, f"its worker process (pid {peer.pid}) of {self._label} died: "
                        f"{describe_exit(exitcode)}")

    def _find_process(self, pid: int) -> Any:
        # multiprocessing.Pool has no public list of its workers; its ``_pool`` (a list of
        # Process objects, the same since Python 2.6) is read only to tell how one died.
        for process in list(getattr(self._pool, "_pool", None) or ()):
            if getattr(process, "pid", None) == pid:
                return process
        return None

    def _unwedge(self) -> None:
        """Calls wait and no worker has asked for one in a while: find out why, and mend.

        This reads three private parts of ``multiprocessing.Pool`` (the same since Python
        3.3), for want of any public way to learn that its queues are stuck: ``_inqueue``
        and ``_outqueue`` (``SimpleQueue``: a pipe and a ``Lock`` for each direction) and
        ``_taskqueue`` (the tasks its handler thread has yet to write to the pipe).
        """
        pool = self._pool
        inqueue = getattr(pool, "_inqueue", None)
        outqueue = getattr(pool, "_outqueue", None)
        taskqueue = getattr(pool, "_taskqueue", None)
        if inqueue is None or outqueue is None or taskqueue is None:
            self._pull_task()  # not the Pool we know: all that can be done is to ask again
            return
        # An idle worker holding the task lock sits in read() and takes a waiting task at
        # once: a task still unread with the lock held, twice over a moment, is a dead
        # worker's lock. A worker holds the result lock only while it writes a result.
        unread = _unread(inqueue._reader)
        if unread and self._held_by_the_dead(inqueue._rlock, lambda: _unread(inqueue._reader)
                                             == unread):
            log.warning("coop: a worker of %s died while taking a task and left the pool's "
                        "task lock locked; coop released it", self._label)
        wlock = getattr(outqueue, "_wlock", None)
        if wlock is not None and self._held_by_the_dead(wlock, lambda: True):
            log.warning("coop: a worker of %s died while sending a result and left the "
                        "pool's result lock locked; coop released it", self._label)
        if not unread and taskqueue.empty():
            # Nothing queued in the pool, yet calls wait: the tasks sent for them were lost
            # with workers that died taking them. Tasks that find nothing to run are cheap.
            with self._lock:
                missing = len(self._pending)
            for _ in range(missing):
                self._pull_task()

    @staticmethod
    def _held_by_the_dead(lock: Any, unchanged: Callable[[], bool]) -> bool:
        """Release ``lock`` if it stays held while nothing moves; whether it was."""
        for _ in range(2):
            if lock.acquire(False):
                lock.release()
                return False
            time.sleep(0.05)
            if not unchanged():
                return False
        # A multiprocessing Lock has no owner: any process may release it.
        try:
            lock.release()
        except ValueError:  # released meanwhile after all
            return False
        return True


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
