"""Any ``concurrent.futures.Executor``: a thread or process pool, loky's, or one of its kind."""

from __future__ import annotations

import enum
import importlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import BrokenExecutor
from typing import Any

from ...errors import WorkerCrashed
from ..wire import (
    CRASH,
    ERROR,
    OUTCOME,
    VALUE,
    WIRE,
    Completion,
    Done,
    dumps_call,
    dumps_map,
    invoke,
    invoke_direct,
    map_direct,
    map_local,
)
from .base import Backend

log = logging.getLogger("coop")


class Crossing(enum.Enum):
    """What an executor's worker is handed for a call."""

    LOCAL = "local"  # threads of this process: the call itself
    PICKLE = "pickle"  # a process pool using pickle: coop's pre-pickled payload
    DIRECT = "direct"  # a pool with its own serializer (loky's cloudpickle): the call,
    # wrapped so that its outcome still comes back with the worker's traceback


LOCAL = Crossing.LOCAL
PICKLE = Crossing.PICKLE
DIRECT = Crossing.DIRECT


class ExecutorBackend(Backend):
    """A ``concurrent.futures.Executor``: ``submit`` and a done callback on its future.

    ``mode`` (a :class:`Crossing`) says what crosses to the worker.
    """

    def __init__(self, executor: Any, kind: str, mode: Crossing, label: str) -> None:
        super().__init__(label)
        self.executor = executor
        self.kind = kind
        self.mode = mode
        self.size = int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1)
        self._replacement: Any = None  # an executor coop made after the caller's broke

    def submit(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], done: Done) -> Any:
        if self.mode is LOCAL:
            return self._submit_local(done, fn, args, kwargs)
        if self.mode is PICKLE:
            return self._submit(done, WIRE, invoke, dumps_call(what, fn, args, kwargs))
        return self._submit(done, OUTCOME, invoke_direct, fn, args, kwargs)

    def submit_map(self, what: str, fn: Callable[[Any], Any], items: list[Any], first: int,
                   done: Done) -> Any:
        if self.mode is LOCAL:
            return self._submit_local(done, map_local, (fn, items), {})
        if self.mode is PICKLE:
            return self._submit(done, WIRE, invoke, dumps_map(what, fn, items, first))
        return self._submit(done, OUTCOME, map_direct, fn, items)

    def _submit_local(self, done: Done, fn: Callable[..., Any], args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> Any:
        # The worker thread reports the outcome itself: cheaper than the future's done
        # callbacks, and a call withdrawn with future.cancel() never reports at all.
        executor = self._replacement or self.executor
        return executor.submit(_run_and_report, done, fn, args, kwargs)

    def _submit(self, done: Done, kind: Completion, fn: Callable[..., Any], *args: Any,
                **kwargs: Any) -> Any:
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
                loky = importlib.import_module("loky")  # the caller uses loky already
                new = loky.get_reusable_executor(max_workers=self.size)
            else:
                kwargs: dict[str, Any] = {"max_workers": self.size}
                for name in ("mp_context", "initializer", "initargs"):
                    if hasattr(broken, f"_{name}"):
                        kwargs[name] = getattr(broken, f"_{name}")
                new = cls(**kwargs)
        except Exception as exc:
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
