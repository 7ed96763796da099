"""A Dask ``distributed.Client`` as a process backend. Dask itself is never imported here: the
caller who handed in the client has imported it."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ..wire import CRASH, ERROR, OUTCOME, Done, describe_callable, invoke_direct, map_direct
from .base import Backend

log = logging.getLogger("coop")


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
