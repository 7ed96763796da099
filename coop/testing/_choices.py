"""Values and faults as choices: ``choice`` and ``maybe``, recorded in an explored schedule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

from ..lowlevel import Effect, Scheduler, Task

T = TypeVar("T")


class Choice(Effect[T]):
    __slots__ = ("options", "p_true", "what")

    def __init__(self, options: tuple[T, ...], what: str, p_true: float | None) -> None:
        self.options = options
        self.what = what
        self.p_true = p_true

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        choose = getattr(scheduler.policy, "choose_value", None)
        index = (0 if choose is None
                 else choose(len(self.options), self.what, self.p_true, self.options))
        return self.options[index]

    def __repr__(self) -> str:
        return self.what


def choice(options: Sequence[T], *, name: str | None = None) -> Effect[T]:
    """``value = yield coop.testing.choice(options)``: under :func:`coop.testing.explore`, one
    of ``options``, chosen (and recorded, so a replay takes the same); under a plain
    ``coop.run``, the first.

    >>> def main():
    ...     return (yield coop.testing.choice(["small", "large"]))
    >>> coop.run(main())
    'small'
    """
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or not options:
        raise TypeError(f"coop.testing.choice takes a non-empty sequence of options (a list, "
                        f"a tuple, a range), got {options!r}")
    what = name or f"choice({list(options)!r})"
    return Choice(tuple(options), what, None)


def maybe(p: float = 0.5, *, name: str | None = None) -> Effect[bool]:
    """``if (yield coop.testing.maybe(0.1)): drop the message``: an injected fault. Under
    :func:`coop.testing.explore`, True or False (a random run takes True with chance ``p``;
    a systematic one tries both), recorded in the schedule; under a plain ``coop.run``, False.

    >>> def main():
    ...     return (yield coop.testing.maybe(0.5))
    >>> coop.run(main())
    False
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or not 0 <= p <= 1:
        raise ValueError(f"coop.testing.maybe(p) takes a probability in [0, 1], got {p!r}")
    return Choice((False, True), name or f"maybe({p:g})", float(p))
