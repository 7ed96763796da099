"""The kernel's own effects, the things a task yields to say what it wants next.

``value = yield effect`` in a generator, ``value = await effect`` in an ``async def`` task, and
``value = yield from effect`` where a type checker should see the result type. All of these
are also ``coop.<name>``; :class:`Effect` is the base class of new kinds of wait (see
:mod:`coop.lowlevel`).

A facade: the effects are compiled with the kernel in ``coop/_core``, and this module and
:mod:`coop.lowlevel` are the only ones outside it that import it (tests/test_layering.py).
"""

from __future__ import annotations

from ._core._effects import (
    CurrentTask,
    Effect,
    Now,
    Sleep,
    Spawn,
    current_task,
    now,
    sleep,
    spawn,
)
from ._core._task_effects import Cancel, Join, cancel, join

__all__ = [
    "Cancel",
    "CurrentTask",
    "Effect",
    "Join",
    "Now",
    "Sleep",
    "Spawn",
    "cancel",
    "current_task",
    "join",
    "now",
    "sleep",
    "spawn",
]
