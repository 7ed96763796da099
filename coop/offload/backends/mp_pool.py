"""A caller's ``multiprocessing.Pool`` (its calls pulled through a :class:`PoolWatch`) or
``multiprocessing.pool.ThreadPool``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..wire import ERROR, VALUE, Completion, Done, dumps_call, dumps_map, map_local
from .base import PROCESSES, THREADS, Backend
from .pool_watch import PoolWatch


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

    def _apply(self, done: Done, kind: Completion, fn: Callable[..., Any], args: tuple[Any, ...],
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
