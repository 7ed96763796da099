"""The pools coop starts itself: daemon worker threads, and worker processes it watches.

Neither is a ``concurrent.futures`` executor, on purpose:

- Worker threads are daemon threads named ``coop-thread-N``. A thread that is already running
  cannot be stopped, and a ``ThreadPoolExecutor`` joins its threads when the interpreter
  exits, so a cancelled ``to_thread(time.sleep, 3600)`` would hold up the exit after Ctrl-C.
- Each worker process has its own pipe, and one manager thread waits on every pipe and every
  process sentinel at once. So the pool knows which call each worker runs: a worker that dies
  fails exactly that call (a ``ProcessPoolExecutor`` breaks as a whole and fails every pending
  call), a queued call can be withdrawn, and a running one can be stopped by ending its worker.
  Workers ignore SIGINT, so a Ctrl-C at the terminal reaches only the scheduler.

Completion callbacks (``done(kind, value)``) are called in a pool thread; the offload layer
hands them to the scheduler with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import itertools
import os
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing import connection
from multiprocessing.context import BaseContext
from typing import Any

from .wire import CRASH, ERROR, VALUE, WIRE, Completion, Done, invoke

#: Workers in a row killed while starting before each further such death fails a call.
_BOOT_DEATHS = 3


def _kill_orphan(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def default_start_method() -> str:
    """The start method for coop's worker processes: ``forkserver`` where it exists, else
    ``spawn`` (macOS, where forking a process that uses system frameworks is unsafe, and
    Windows, which has nothing else).

    Not ``fork``: a coop program has threads (the pools' own, Dask's, the user's), and a forked
    child gets a copy of every lock some other thread held at that instant, possibly forever
    locked. The fork server is a clean single-threaded process started once; each worker is
    forked from it, which costs ~30 ms for a pool of two here against ~10 ms for ``fork``
    and ~80 ms for ``spawn`` (whose workers each start a fresh interpreter).
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods and sys.platform != "darwin":
        return "forkserver"
    return "spawn"


def describe_exit(exitcode: int | None) -> str:
    """``killed by signal SIGSEGV`` / ``exit code 1`` / ``exit status unknown``."""
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


# ------------------------------------------------------------------------- threads


class _ThreadJob:
    __slots__ = ("args", "cancelled", "done", "fn", "kwargs")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 done: Done) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.done = done
        self.cancelled = False


class ThreadPool:
    """Up to ``max_workers`` daemon threads, started as calls need them."""

    _counter = itertools.count(1)

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._queue: queue.SimpleQueue[_ThreadJob | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
               done: Done) -> _ThreadJob:
        job = _ThreadJob(fn, args, kwargs, done)
        with self._lock:
            if self._closed:
                raise RuntimeError("coop's thread pool has been shut down")
            if self._idle:
                self._idle -= 1  # that idle thread will take this job
                start = False
            else:
                start = self._threads < self.max_workers
                if start:
                    self._threads += 1
        self._queue.put(job)
        if start:
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"coop-thread-{next(self._counter)}")
            thread.start()
        return job

    @staticmethod
    def cancel(job: _ThreadJob) -> None:
        # Not yet started: it is skipped. Started: it runs to the end, its result is dropped.
        job.cancelled = True

    def _work(self) -> None:
        get = self._queue.get
        lock = self._lock
        while True:
            job = get()
            if job is None:
                return
            if not job.cancelled:
                try:
                    value = job.fn(*job.args, **job.kwargs)
                except BaseException as exc:
                    job.done(ERROR, exc)
                else:
                    job.done(VALUE, value)
            job = None  # drop the call's references while idle
            with lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Stop the idle threads; running calls finish on their own (daemon threads)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            count = self._threads
        for _ in range(count):
            self._queue.put(None)


# ------------------------------------------------------------------------- processes


def _worker_main(conn: connection.Connection) -> None:
    """A worker process: run pickled calls from ``conn`` until it closes."""
    # A Ctrl-C at a terminal goes to the whole process group: the scheduler handles it and
    # stops the workers; a worker that died of it would look like a crash.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send_bytes(b"")  # ready
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not payload:
            return
        conn.send_bytes(invoke(payload))


class _Worker:
    __slots__ = ("conn", "doomed", "job", "orphan", "process", "ready")

    def __init__(self, process: Any, conn: connection.Connection) -> None:
        self.process = process
        self.conn = conn
        self.job: _ProcJob | None = None
        self.ready = False
        # Terminated to stop its call: it must take no other call, even if its last result
        # got out before the signal landed.
        self.doomed = False
        # Its fork server died: the sentinel (a pipe from that server) no longer tells
        # whether the worker lives, and the worker is no longer this process's grandchild
        # to wait for. Its own pipe still tells: it reads end-of-file when the worker dies.
        self.orphan = False


class _ProcJob:
    __slots__ = ("done", "payload", "settled", "worker")

    def __init__(self, payload: bytes, done: Done) -> None:
        self.payload = payload
        self.done = done
        self.worker: _Worker | None = None
        self.settled = False


class ProcessPool:
    """Up to ``max_workers`` worker processes, started as calls need them."""

    def __init__(self, max_workers: int, start_method: str | None = None) -> None:
        import multiprocessing

        self.max_workers = max_workers
        self.start_method = start_method or default_start_method()
        self._ctx: BaseContext = multiprocessing.get_context(self.start_method)
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._queue: deque[_ProcJob] = deque()
        self._booting = 0
        # Workers in a row that died while starting: a worker that cannot start at all
        # (a broken environment) must not be restarted forever with calls waiting on it.
        self._boot_deaths = 0
        self._closed = False
        self._wake_r, self._wake_w = connection.Pipe(duplex=False)
        self._thread: threading.Thread | None = None

    # -- called from the scheduler's thread

    def submit(self, payload: bytes, done: Done) -> _ProcJob:
        job = _ProcJob(payload, done)
        with self._lock:
            if self._closed:
                raise RuntimeError("coop's process pool has been shut down")
            worker = self._idle.pop() if self._idle else None
            if worker is not None:
                worker.job = job
                job.worker = worker
                poke = False
            else:
                self._queue.append(job)
                poke = (len(self._queue) > self._booting
                        and len(self._workers) < self.max_workers)
            if self._thread is None:
                self._thread = threading.Thread(target=self._manage, daemon=True,
                                                name="coop-process-pool")
                self._thread.start()
        if worker is not None:
            self._send(worker, payload)
        elif poke:
            self._poke()
        return job

    def cancel(self, job: _ProcJob) -> None:
        """Withdraw a queued call; stop a running one by ending its worker process."""
        with self._lock:
            if job.settled:
                return
            job.settled = True
            worker = job.worker
            if worker is None:
                try:
                    self._queue.remove(job)
                except ValueError:
                    pass
                return
            if worker.job is not job:
                return  # its result is in, and the worker may hold another task's call now
            # A process, unlike a thread, can be stopped from outside without harm to this
            # one. Under the lock, so the manager cannot hand the worker another call between
            # the check above and the signal; the manager then sees it die, finds its job
            # settled, and reports nothing.
            worker.doomed = True
            try:
                worker.process.terminate()
            except (OSError, AttributeError, ValueError):
                pass

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop every worker: idle ones are told to exit, busy ones are terminated."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._poke()
        thread.join(timeout + 1.0)

    # -- internals

    def _poke(self) -> None:
        try:
            self._wake_w.send_bytes(b"")
        except OSError:
            pass

    @staticmethod
    def _send(worker: _Worker, payload: bytes) -> None:
        try:
            worker.conn.send_bytes(payload)
        except OSError:
            pass  # it died: the manager sees its sentinel and reports the call

    def _settle(self, job: _ProcJob | None, kind: Completion, value: Any) -> None:
        if job is None:
            return
        with self._lock:
            if job.settled:
                return
            job.settled = True
        job.done(kind, value)

    def _manage(self) -> None:
        by_conn: dict[Any, _Worker] = {}
        by_sentinel: dict[int, _Worker] = {}
        try:
            while True:
                with self._lock:
                    if self._closed:
                        break
                    need = min(len(self._queue) - self._booting,
                               self.max_workers - len(self._workers))
                    if need > 0:
                        self._booting += need
                for _ in range(max(0, need)):
                    self._start_worker(by_conn, by_sentinel)
                waitables: list[Any] = [self._wake_r, *by_conn, *by_sentinel]
                for obj in connection.wait(waitables):
                    if obj is self._wake_r:
                        self._drain_wakeups()
                        continue
                    worker = by_sentinel.get(obj) if isinstance(obj, int) else by_conn.get(obj)
                    if worker is None or worker.conn not in by_conn:
                        continue  # already handled through its other waitable
                    if obj is worker.conn:
                        self._receive(worker, by_conn, by_sentinel)
                    elif self._server_died(worker):
                        by_sentinel.pop(worker.process.sentinel, None)
                        worker.orphan = True
                    else:
                        self._lost(worker, by_conn, by_sentinel)
        finally:
            self._stop_workers(by_conn)

    def _start_worker(self, by_conn: dict[Any, _Worker], by_sentinel: dict[int, _Worker]) -> None:
        parent_end, child_end = connection.Pipe()
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child_end,), name="coop-worker", daemon=True)
        try:
            process.start()
        except Exception as exc:
            child_end.close()
            parent_end.close()
            self._fail_queue(ERROR, RuntimeError(f"could not start a worker process: {exc}"))
            with self._lock:
                self._booting -= 1
            return
        child_end.close()
        worker = _Worker(process, parent_end)
        with self._lock:
            self._workers.append(worker)
        by_conn[parent_end] = worker
        by_sentinel[process.sentinel] = worker

    def _receive(self, worker: _Worker, by_conn: dict[Any, _Worker],
                 by_sentinel: dict[int, _Worker]) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._lost(worker, by_conn, by_sentinel)
            return
        if worker.ready:
            job, worker.job = worker.job, None
            self._settle(job, WIRE, data)
        else:
            worker.ready = True
            with self._lock:
                self._booting -= 1
                self._boot_deaths = 0
        with self._lock:
            if self._closed or worker.doomed:
                return
            job = None
            while self._queue:
                job = self._queue.popleft()
                if not job.settled:
                    break
                job = None
            if job is None:
                self._idle.append(worker)
            else:
                worker.job = job
                job.worker = worker
        if job is not None:
            self._send(worker, job.payload)

    def _server_died(self, worker: _Worker) -> bool:
        """Whether a forkserver worker's sentinel fired because its fork server died while
        the worker itself lives on (a forkserver worker is not our child: no zombie of it
        stays behind to make a dead one look alive)."""
        if self.start_method != "forkserver" or worker.conn.poll():
            return False  # it has spoken or closed its pipe: that path tells what happened
        try:
            os.kill(worker.process.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True

    def _lost(self, worker: _Worker, by_conn: dict[Any, _Worker],
              by_sentinel: dict[int, _Worker]) -> None:
        """A worker died (or closed its pipe): fail the call it was running, if any."""
        by_conn.pop(worker.conn, None)
        by_sentinel.pop(worker.process.sentinel, None)
        process = worker.process
        if worker.orphan:
            _kill_orphan(process.pid)
            how = "exit status unknown (its fork server had died)"
        else:
            process.join(1.0)
            if process.exitcode is None:
                process.kill()
                process.join(1.0)
            how = describe_exit(process.exitcode)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            booting = not worker.ready
            blamed: _ProcJob | None = None
            if booting:
                self._booting -= 1
                self._boot_deaths += 1
                exited = process.exitcode is not None and process.exitcode >= 0
                if not exited and self._boot_deaths >= _BOOT_DEATHS and self._queue:
                    # Killed while starting, again and again (the OOM killer, a limit on
                    # processes): each such death fails one waiting call, so calls end
                    # and never more of them fail than workers died.
                    blamed = self._queue.popleft()
        worker.conn.close()
        where = f"a worker process (pid {process.pid}) died while starting: {how}"
        if booting and process.exitcode is not None and process.exitcode >= 0:
            # It ended on its own before taking any call: a broken environment or a bad
            # __main__, which every replacement would meet again.
            self._fail_queue(CRASH, f"{where} (if the main script starts work when "
                                    f"imported, guard it with `if __name__ == '__main__':`)")
        elif blamed is not None:
            self._settle(blamed, CRASH, f"{where} ({self._boot_deaths} workers in a row died "
                                        f"before they could take a call)")
        job, worker.job = worker.job, None
        self._settle(job, CRASH, f"its worker process (pid {process.pid}) died: {how}")

    def _fail_queue(self, kind: Completion, value: Any) -> None:
        with self._lock:
            jobs = list(self._queue)
            self._queue.clear()
        for job in jobs:
            self._settle(job, kind, value)

    def _drain_wakeups(self) -> None:
        while self._wake_r.poll():
            self._wake_r.recv_bytes()

    def _stop_workers(self, by_conn: dict[Any, _Worker]) -> None:
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
            jobs = list(self._queue)
            self._queue.clear()
        for worker in workers:
            if worker.job is None and worker.ready:
                self._send(worker, b"")  # exit when you read this
            elif worker.orphan:
                try:  # Popen.terminate() would take the dead fork server's word that it ended
                    os.kill(worker.process.pid, signal.SIGTERM)
                except OSError:
                    pass
            else:
                try:
                    worker.process.terminate()
                except (OSError, AttributeError, ValueError):
                    pass
        for worker in workers:
            if worker.orphan:
                # Its pipe reads end-of-file once it has exited; nothing else can tell.
                if not connection.wait([worker.conn], 1.0):
                    _kill_orphan(worker.process.pid)
            else:
                worker.process.join(1.0)
                if worker.process.exitcode is None:
                    worker.process.kill()
                    worker.process.join(1.0)
            worker.conn.close()
            job, worker.job = worker.job, None
            self._settle(job, ERROR, RuntimeError("the process pool was shut down"))
        for job in jobs:
            self._settle(job, ERROR, RuntimeError("the process pool was shut down"))
        self._wake_r.close()
        self._wake_w.close()

