"""An actor instance's life as the rest of coop sees it: its cell (task, links, monitors, how
it ended), the :class:`Monitor` that watches it and the :class:`Down` it sends when it ends.

An Actor's attributes are its subclass's namespace, so coop keeps what it knows of an
instance in one :class:`ActorCell` rather than in attributes of the actor: the actor's own
methods reach it as ``self._cell``, the modules that hold another actor (links, monitors,
supervisors) through :func:`cell_of`. The mailbox is not the cell's own: it belongs to the
instance's place in a supervisor and outlives a crashed instance.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ..errors import Cancelled, CoopUsageError
from ..lowlevel import Scheduler, Task, TaskState, running_scheduler

if TYPE_CHECKING:
    from .base import Actor
    from .mailbox import Mailbox

# The cells of the actors alive, by id(actor). Weak: the actor holds its cell, and the cell
# holds the actor, so an entry lives exactly as long as its actor.
_cells: weakref.WeakValueDictionary[int, ActorCell] = weakref.WeakValueDictionary()

# The key of a scheduler's services that maps its running actors' tasks to their cells.
_SERVICE = "coop.actors"


def cell_of(actor: Actor) -> ActorCell:
    """``actor``'s cell; CoopUsageError if its ``__init__`` did not make one."""
    cell = _cells.get(id(actor))
    if cell is None or cell.actor is not actor:
        raise CoopUsageError(
            f"{type(actor).__name__}.__init__ did not call super().__init__(): an actor needs "
            f"its mailbox")
    return cell


def current_cell() -> ActorCell | None:
    """The cell of the actor whose task is running (its code, or an effect it yielded)."""
    scheduler = running_scheduler()
    if scheduler is None:
        return None
    cells = scheduler.services.get(_SERVICE)
    task = scheduler.current_task()
    if cells is None or task is None:
        return None
    cell: ActorCell | None = cells.get(task)
    return cell


class ActorCell:
    """What coop knows of one actor instance: its task, the name and daemon flag it was given,
    the instances linked to it, the monitors watching it, and the failure it ended with."""

    __slots__ = ("__weakref__", "actor", "daemon", "failure", "links", "mailbox", "monitors",
                 "name", "task")

    def __init__(self, actor: Actor, mailbox: Mailbox, name: str | None,
                 daemon: bool) -> None:
        self.actor = actor
        self.mailbox = mailbox
        self.name = name
        self.daemon = daemon
        self.task: Task[Any] | None = None
        self.links: list[ActorCell] = []
        self.monitors: list[Monitor] = []
        # What run() raised, kept where it was raised (Actor's bootstrap): reading it from the
        # task would mark the failure as seen, and an unwatched crash must still be reported.
        self.failure: BaseException | None = None
        _cells[id(actor)] = self

    def start(self, scheduler: Scheduler, coro: Generator[Any, Any, Any]) -> Task[Any]:
        """Spawn ``coro``, the actor's bootstrap, as its task and bind the mailbox to it."""
        if self.name is None:
            # The kernel names a task after its generator and id: "Worker-4".
            coro.__name__ = type(self.actor).__name__  # type: ignore[attr-defined]
        task = scheduler.spawn(coro, self.name, self.daemon)
        self.task = task
        mailbox = self.mailbox
        mailbox.bind(self.actor, task, scheduler)
        # Not observes=True: ended() decides whether someone took charge of a failure.
        scheduler.add_done_callback(task, self.ended)
        if mailbox.maxsize:
            scheduler.add_closer(mailbox.stranded)
        cells = scheduler.services.get(_SERVICE)
        if cells is None:
            cells = scheduler.services[_SERVICE] = {}
        cells[task] = self
        return task

    def adopt(self, mailbox: Mailbox) -> None:
        """A supervisor restart: this fresh instance takes over its predecessor's mailbox."""
        mailbox.take_over(self.mailbox, self.actor)
        self.mailbox = mailbox

    def reason(self) -> BaseException | None:
        """What the ended instance's task ended with; None if it returned (or was closed)."""
        task = self.task
        assert task is not None
        outcome = task.outcome
        if outcome is TaskState.DONE:
            return None
        if outcome is TaskState.FAILED and self.failure is not None:
            return self.failure
        # A cancellation (never reported as unseen: looking costs nothing), or an exception
        # thrown in before run() began, so never seen by the bootstrap.
        return task.exception()

    def ended(self, task: Task[Any]) -> None:
        """Done callback of the actor's task: the mailbox, the links, the monitors."""
        reason = self.reason()
        mailbox = self.mailbox
        mailbox.detach(task)
        responsible = False
        if mailbox.supervised and reason is not None:
            mailbox.orphan(reason)
            responsible = True
        else:
            mailbox.kill(reason)
        links, self.links = self.links, []
        for peer in links:
            if self in peer.links:
                peer.links.remove(self)
            if reason is not None:
                responsible = True
                peer.cancel_linked(self, reason)
        monitors, self.monitors = self.monitors, []
        for ref in monitors:
            responsible = True
            fire(ref, reason)
        if responsible and reason is not None:
            # Looking at the outcome marks the failure as seen: a supervisor, a link or a
            # monitor took charge of it. Unseen, the scheduler reports it unless joined.
            task.exception()
        cells = task.scheduler.services.get(_SERVICE)
        if cells is not None:
            cells.pop(task, None)

    def cancel_linked(self, peer: ActorCell, reason: BaseException) -> None:
        """``peer``, linked to this instance, ended with ``reason``: cancel this one."""
        task = self.task
        if task is not None:
            task.scheduler.cancel(task, Cancelled(
                f"{self.actor.name} was linked to {peer.actor.name}, which ended with "
                f"{reason!r}"))


class Down:
    """The message a watcher gets when a monitored actor ends (see :func:`monitor`).

    ``actor`` is the actor that ended; ``reason`` None if it ended normally (closed, or its
    ``run()`` returned), else the exception it failed with (a :class:`coop.Cancelled` if it
    was cancelled).

    >>> down = coop.Down(coop.Actor(name="w"), None)
    >>> down.normal, down
    (True, Down(w, reason=None))
    """

    __slots__ = ("actor", "reason")

    def __init__(self, actor: Actor, reason: BaseException | None) -> None:
        self.actor = actor
        self.reason = reason

    @property
    def normal(self) -> bool:
        """True if the actor ended normally."""
        return self.reason is None

    def __repr__(self) -> str:
        return f"Down({self.actor.name}, reason={self.reason!r})"


class Monitor:
    """What :func:`monitor` returns; :meth:`cancel` stops the watch.

    >>> watcher, target = coop.Actor(), coop.Actor()
    >>> ref = coop.monitor(target, watcher)
    >>> ref.cancel()
    >>> ref.active
    False
    """

    __slots__ = ("active", "target", "watcher")

    def __init__(self, target: Actor, watcher: Actor) -> None:
        self.target = target
        self.watcher = watcher
        self.active = True

    def cancel(self) -> None:
        """Stop watching: no Down will come (unless it is already in the mailbox)."""
        self.active = False
        monitors = cell_of(self.target).monitors
        if self in monitors:
            monitors.remove(self)

    def __repr__(self) -> str:
        state = "active" if self.active else "inactive"
        return f"<Monitor {self.watcher.name} watches {self.target.name} {state}>"


def fire(ref: Monitor, reason: BaseException | None) -> None:
    """The target of ``ref`` has ended: its watcher gets the Down, once."""
    if ref.active:
        ref.active = False
        cell_of(ref.watcher).mailbox.deliver_anywhere(Down(ref.target, reason))
