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

# Only what `import coop` can afford: the backends' modules, multiprocessing and
# concurrent.futures with them, are imported when a pool is first needed.
from .backends import classify as classify
from .effects import Offload as Offload
from .effects import PMap as PMap
from .effects import pmap, to_process, to_thread
from .service import configure as configure
from .service import cpu_count as cpu_count
from .wire import RemoteTraceback

__all__ = ["RemoteTraceback", "pmap", "to_process", "to_thread"]
