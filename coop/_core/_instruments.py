"""Instruments: objects whose hooks the scheduler calls (tracing, debugging, exploration).
Only the hooks an instrument defines are called; one that raises is removed and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._run import Scheduler

log = logging.getLogger("coop")

#: What an instrument may define; each is called with the arguments shown.
INSTRUMENT_HOOKS = (
    "task_spawned",    # (task): made, at the back of the ready queue
    "before_step",     # (task): about to be resumed
    "after_step",      # (task, effect): it yielded effect (None: a bare yield, or it ended)
    "task_parked",     # (task, on): the effect parked it on `on` (a Parkable)
    "task_woken",      # (task, value): made ready again with value (a Throw raises)
    "task_exited",     # (task): it ended; task.state says how
    "before_idle",     # (timeout): nothing is ready; about to block at most timeout s
    "after_idle",      # (): back from blocking
    "external_begin",  # (call): a call went to another thread, process or cluster
    "external_end",    # (call): its result is back
)


#: Per class, the hooks its instances define (without looking at instance attributes): a
#: getattr that misses raises and catches an AttributeError, and exploration adds an
#: instrument per run, where ten such misses were a tenth of the run's own set-up.
_class_hooks: dict[type, tuple[str, ...]] = {}


def hooks_of(instrument: object) -> list[str]:
    """The hooks ``instrument`` defines, on its class or as its own attributes."""
    cls = type(instrument)
    on_class = _class_hooks.get(cls)
    if on_class is None:
        on_class = _class_hooks[cls] = tuple(
            name for name in INSTRUMENT_HOOKS if callable(getattr(cls, name, None)))
    own = getattr(instrument, "__dict__", None)
    if not own:
        return list(on_class)
    return [name for name in INSTRUMENT_HOOKS
            if name in on_class or callable(own.get(name))]


class _Instruments:
    """The installed instruments, and for each hook the bound methods that implement it."""

    def __init__(self) -> None:
        self.instruments: list[object] = []
        self.hooks: dict[str, list[tuple[object, Callable[..., Any]]]] = {
            name: [] for name in INSTRUMENT_HOOKS}
        # Whether any instrument has before_step or after_step: read once per resume.
        self.stepping = False

    def add(self, instrument: object) -> None:
        found = hooks_of(instrument)
        if not found:
            raise TypeError(f"{instrument!r} defines none of the instrument hooks "
                            f"({', '.join(INSTRUMENT_HOOKS)})")
        self.instruments.append(instrument)
        for name in found:
            self.hooks[name].append((instrument, getattr(instrument, name)))
        self.stepping = bool(self.hooks["before_step"] or self.hooks["after_step"])

    def remove(self, instrument: object) -> bool:
        if instrument not in self.instruments:
            return False
        self.instruments.remove(instrument)
        for name in INSTRUMENT_HOOKS:
            self.hooks[name] = [e for e in self.hooks[name] if e[0] is not instrument]
        self.stepping = bool(self.hooks["before_step"] or self.hooks["after_step"])
        return True

    def call(self, scheduler: Scheduler, name: str, *args: Any) -> None:
        for instrument, hook in self.hooks[name]:
            try:
                hook(*args)
            except Exception:
                log.exception("coop: instrument %r failed in %s and has been removed",
                              instrument, name)
                self.remove(instrument)
                if not self.instruments:
                    scheduler._instruments = None
