"""The backends of coop's own pools: ``"threads"`` and ``"processes"`` (``coop.offload.pools``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..pools import ProcessPool, ThreadPool
from ..wire import Done, dumps_call, dumps_map, map_local
from .base import THREADS, Backend


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
