"""The compiled kernel's C helpers (_resume.c), or their pure-Python stand-ins.

The compiled kernel resumes tasks through a C helper that reports a task's normal end without
raising StopIteration (in compiled code an exception costs a microsecond); the pure-Python
kernel calls coro.send, where catching the StopIteration is cheap. The helpers also hide
pending tasks from the cyclic GC while run() runs (_resume.c says why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .. import _native


class _NeverReturned:
    """Stands in for _resume.Returned in the pure-Python kernel, where nothing returns one."""


# The compiled kernel resumes tasks through a C helper that reports a task's normal end without
# raising StopIteration (see _resume.c: in compiled code an exception costs a microsecond);
# the pure-Python kernel calls coro.send, where catching the StopIteration is cheap. It also
# hides pending tasks from the cyclic GC while run() runs (_resume.c says why).
_helpers = _native.c_helpers()


# Final, like every module global the hot paths read: compiled, it is then a C static
# rather than a dict lookup per read.
_RESUME: Final[Callable[[Any, Any], Any] | None] = None if _helpers is None else _helpers.resume


_RETURNED: Final[type[Any]] = _NeverReturned if _helpers is None else _helpers.Returned


# untrack(*objs) / track(*objs)
_UNTRACK: Final[Callable[..., bool] | None] = None if _helpers is None else _helpers.untrack


_TRACK: Final[Callable[..., None] | None] = None if _helpers is None else _helpers.track
