"""Telling cleanup from obstinacy: a cancelled task that yields inside its handler is cleaning
up and is let be; one that yields after it caught coop.Cancelled and went on is cancelled again
(Scheduler._after_cancellation). These helpers look at where a generator is suspended.
"""

from __future__ import annotations

import gc
from typing import Any

from ..errors import Cancelled


def _chain(coro: Any) -> list[Any]:
    """A task's generator and those it is delegating to (``yield from``, ``await``)."""
    chain: list[Any] = []
    while coro is not None and len(chain) < 1000:
        chain.append(coro)
        coro = getattr(coro, "gi_yieldfrom", None) or getattr(coro, "cr_await", None)
    return chain


def _handling(coro: Any, exc: BaseException) -> bool:
    """Whether a suspended task is inside the handler of ``exc`` (an except or finally block).

    While a generator handles an exception, the exception is among the objects it refers to
    (its saved exception state, or a local), and the GC's referents show them.
    """
    for gen in _chain(coro):
        for ref in gc.get_referents(gen):
            if ref is exc:
                return True
    return False


def _where(coro: Any) -> str:
    """The file and line where a suspended task's innermost frame is."""
    chain = _chain(coro)
    for gen in chain[::-1]:  # innermost first (mypyc cannot compile reversed() of Any here)
        frame = getattr(gen, "gi_frame", None) or getattr(gen, "cr_frame", None)
        if frame is not None:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return "an unknown line"


def _nothing() -> None:
    pass


def _cancelled_again() -> Cancelled:
    return Cancelled("cancelled again: the task caught coop.Cancelled and went on")
