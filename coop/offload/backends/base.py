"""What the offload effects need from a pool: :class:`Backend`, and the two kinds of pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..wire import Done

#: The kinds of backend, as callers name them: ``"threads"`` share this process's memory;
#: ``"processes"`` get their calls pickled.
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
