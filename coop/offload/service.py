"""The backends of one scheduler: which pool runs a call, started or adapted on first use."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .backends import PROCESSES, THREADS, Backend, adapt, classify
from .gate import Gate

if TYPE_CHECKING:
    from ..lowlevel import Scheduler

# The key of this subsystem's state in Scheduler.services.
_SERVICE = "offload"


def cpu_count() -> int:
    """The CPUs this process may use (its affinity mask where the OS has one).

    >>> coop.offload.cpu_count() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_backend(backend: Any) -> None:
    """Refuse, at the call, a backend that is neither a kind's name nor a pool coop accepts."""
    if not isinstance(backend, str):
        classify(backend)  # a TypeError that lists what is accepted
    elif backend not in (THREADS, PROCESSES):
        raise ValueError(f"unknown backend {backend!r}: use 'threads', 'processes', or a pool")


class Service:
    """The backends of one scheduler: coop's own pools, started on first use, and adapters
    for the pools callers hand in, each behind its :class:`Gate`. Stopped by the scheduler's
    closer when ``run()`` ends."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        # What configure() set for each kind: None (coop's pool, sized to the machine), a
        # number of workers, or a caller's pool.
        self.specs: dict[str, Any] = {THREADS: None, PROCESSES: None}
        self.named: dict[str, Gate] = {}
        # By id(pool), with the pool itself: an id is reused once its object is gone.
        self.adapters: dict[int, tuple[Any, Gate]] = {}
        self.armed = False
        scheduler.services[_SERVICE] = self

    def gate(self, spec: Any, kind: str) -> Gate:
        """The gate of the backend ``spec`` names (a kind's name, a pool, or None for
        ``kind``'s default), starting or adapting it on first use."""
        if spec is None:
            spec = kind
        if isinstance(spec, str):
            gate = self.named.get(spec)
            if gate is None:
                gate = self.named[spec] = Gate(self._start(spec))
                self._arm()
            return gate
        entry = self.adapters.get(id(spec))
        if entry is None or entry[0] is not spec:
            entry = self.adapters[id(spec)] = (spec, Gate(adapt(spec)))
            self._arm()
        return entry[1]

    def _arm(self) -> None:
        # Once per run: a Scheduler may run again after a run has closed its backends.
        if not self.armed:
            self.armed = True
            self.scheduler.add_closer(self.close)

    def _start(self, name: str) -> Backend:
        check_backend(name)
        spec = self.specs[name]
        if spec is not None and not isinstance(spec, int):
            return adapt(spec)
        # Imported here: the pools bring multiprocessing, which `import coop` must not.
        from .backends.own import CoopProcesses, CoopThreads

        if name == THREADS:
            return CoopThreads(spec or min(32, cpu_count() + 4))
        return CoopProcesses(spec or cpu_count())

    def close(self) -> None:
        self.armed = False
        backends = [*(g.backend for g in self.named.values()),
                    *(g.backend for _, g in self.adapters.values())]
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


def service_of(scheduler: Scheduler) -> Service:
    """The offload service of ``scheduler``, made on first use."""
    service: Service | None = scheduler.services.get(_SERVICE)
    return service if service is not None else Service(scheduler)


def _check_spec(name: str, spec: Any) -> None:
    if spec is None:
        return
    if isinstance(spec, str):
        raise ValueError(f"{name}={spec!r}: give a number of workers or a pool")
    if isinstance(spec, bool) or (isinstance(spec, int) and spec < 1):
        raise ValueError(f"{name}={spec!r}: the number of workers must be at least 1")
    if not isinstance(spec, int):
        classify(spec)  # a TypeError that lists what is accepted


def configure(scheduler: Scheduler, *, threads: Any = None, processes: Any = None) -> None:
    """Set the default backends of ``scheduler``: a number of workers or a pool for each.

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
    service = service_of(scheduler)
    for kind, spec in ((THREADS, threads), (PROCESSES, processes)):
        if spec is not None:
            if kind in service.named:
                raise RuntimeError(f"coop's {kind} backend has already started; configure it "
                                   f"before the first call")
            service.specs[kind] = spec
