"""coop.testing: find concurrency bugs, replay them exactly.

Cooperative scheduling makes a run a function of its choices: which ready task runs next, in
which order the results other threads hand in are applied, which value a ``choice`` takes.
:func:`explore` runs a program under many such schedules (with a virtual clock, so sleeps take
no time), stops at the first failure (an exception escaping main, a :class:`coop.Deadlock`,
an ``invariant`` that no longer holds), shrinks it to the fewest moves away from coop's
default order and gives it back as a short token; :func:`replay` runs that schedule again,
exactly.
"""

from __future__ import annotations

from ._choices import choice, maybe
from ._control import InvariantViolated
from ._explore import Exploration, ExplorationFailed, Failure, check, explore, replay
from ._schedule import ScheduleMismatch
from ._strategies import DFS, PCT

__all__ = [
    "DFS",
    "PCT",
    "Exploration",
    "ExplorationFailed",
    "Failure",
    "InvariantViolated",
    "ScheduleMismatch",
    "check",
    "choice",
    "explore",
    "maybe",
    "replay",
]
