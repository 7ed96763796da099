"""Links and monitors: :func:`link` ties two actors' fates, :func:`monitor` tells a watcher
when an actor ends (the :class:`Down` and :class:`Monitor` they use are in :mod:`.cell`)."""

from __future__ import annotations

from ..errors import CoopUsageError
from .base import Actor
from .cell import Monitor, cell_of, current_cell, fire


def monitor(target: Actor, watcher: Actor | None = None) -> Monitor:
    """Watch ``target``: when it ends, ``watcher`` receives a :class:`Down` with the reason.

    ``watcher`` defaults to the actor whose code calls ``monitor`` (called from elsewhere,
    pass it). A target that has already ended sends its Down at once. Unlike a link, a
    monitor never stops the watcher.

    >>> class Crashes(coop.Actor):
    ...     def run(self):
    ...         yield self.recv()
    ...         raise ValueError("boom")
    >>> class Watcher(coop.Actor):
    ...     def run(self):
    ...         worker = Crashes().start()
    ...         coop.monitor(worker)
    ...         worker.send("go")
    ...         down = yield self.recv()
    ...         return down.actor is worker, down.reason
    >>> def main():
    ...     return (yield Watcher().start().join())
    >>> coop.run(main())
    (True, ValueError('boom'))
    """
    if not isinstance(target, Actor):
        raise TypeError(f"coop.monitor watches an Actor, got {target!r}")
    if watcher is None:
        cell = current_cell()
        if cell is None:
            raise CoopUsageError(
                "coop.monitor(target) called outside an actor's code: pass the actor that "
                "should receive the Down, coop.monitor(target, watcher), or wait with "
                "`yield target.join()`")
        watcher = cell.actor
    elif not isinstance(watcher, Actor):
        raise TypeError(f"the watcher must be an Actor (it receives a Down), got {watcher!r}")
    ref = Monitor(target, watcher)
    target_cell = cell_of(target)
    task = target_cell.task
    if task is not None and task.done():
        fire(ref, target_cell.reason())
    else:
        target_cell.monitors.append(ref)
    return ref



def link(a: Actor, b: Actor) -> None:
    """Link two started actors: if either ends abnormally (fails or is cancelled), the other
    is cancelled. A normal end (close, or ``run()`` returning) does not spread.

    >>> class Crashes(coop.Actor):
    ...     def run(self):
    ...         yield self.recv()
    ...         raise ValueError("boom")
    >>> def main():
    ...     a = Crashes().start(); b = coop.Actor().start()
    ...     coop.link(a, b)
    ...     a.send("go")
    ...     for actor in (a, b):
    ...         try:
    ...             yield actor.join()
    ...         except BaseException as err:
    ...             print(actor.name, type(err).__name__)
    >>> coop.run(main())
    Crashes-2 ValueError
    Actor-3 Cancelled
    """
    for x in (a, b):
        if not isinstance(x, Actor):
            raise TypeError(f"coop.link links two Actors, got {x!r}")
        if cell_of(x).task is None:
            raise CoopUsageError(f"coop.link: {x.name} has not been started; start it first")
    if a is b:
        raise CoopUsageError(f"coop.link: cannot link {a.name} to itself")
    cell_a, cell_b = cell_of(a), cell_of(b)
    for one, other in ((cell_a, cell_b), (cell_b, cell_a)):
        task = one.task
        assert task is not None
        if task.done():
            reason = one.reason()
            if reason is not None:
                other.cancel_linked(one, reason)
            return
    if cell_b not in cell_a.links:
        cell_a.links.append(cell_b)
        cell_b.links.append(cell_a)
