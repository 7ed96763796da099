"""Ray's ``ray.util.multiprocessing.Pool`` as a process backend. Ray itself is never imported
here: the caller who handed in the pool has imported it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from ..wire import CRASH, ERROR, OUTCOME, Done, invoke_direct, map_direct
from .base import Backend

log = logging.getLogger("coop")


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
                done(CRASH, f"the Ray worker running it died ({type(exc).__name__}: {first}); "
                            f"Ray's Pool does not replace a dead actor, so coop uses a new pool "
                            f"until run() ends: pass a new Pool to later runs")
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
