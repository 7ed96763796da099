"""The exceptions of actors: the close sentinel, a stopped actor, a supervisor that gave up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Actor


class ActorExit(Exception):
    """The sentinel :meth:`Actor.close` sends, and what ``recv`` raises on reaching it.

    As in the lecture, the class itself is the sentinel: ``actor.send(coop.ActorExit)`` is the
    same as ``actor.close()``. An actor whose ``run()`` lets ActorExit escape ends normally.

    >>> class Counter(coop.Actor):
    ...     def run(self):
    ...         seen = 0
    ...         try:
    ...             while True:
    ...                 yield self.recv()
    ...                 seen += 1
    ...         except coop.ActorExit:
    ...             return seen                  # ran out of messages: report
    >>> def main():
    ...     c = Counter(); c.start()
    ...     for i in range(3):
    ...         c.send(i)
    ...     c.close()
    ...     return (yield c.join())
    >>> coop.run(main())
    3
    """


class ActorStopped(RuntimeError):
    """The actor has been closed or has ended, so it will not handle this message.

    Raised by ``send``/``try_send``/``ask`` once an actor is closed or has ended, and thrown
    into an asker whose actor ended before replying. ``actor`` is the actor; ``reason`` the
    exception it ended with (None if it ended normally or was only closed), also chained as
    ``__cause__``.

    >>> class Silent(coop.Actor):
    ...     def run(self):
    ...         yield self.recv()                 # takes one message and ends, no reply
    >>> def main():
    ...     a = Silent(); a.start()
    ...     try:
    ...         yield a.ask("hello?")
    ...     except coop.ActorStopped as err:
    ...         return str(err)
    >>> coop.run(main())
    "Silent-2 ended before replying to ask('hello?')"
    """

    def __init__(self, message: str, actor: Actor | None = None,
                 reason: BaseException | None = None) -> None:
        super().__init__(message)
        self.actor = actor
        self.reason = reason
        if reason is not None:
            self.__cause__ = reason


class TooManyRestarts(RuntimeError):
    """A :class:`Supervisor` gave up: more than ``max_restarts`` crashes within ``within``
    seconds. Its children have been stopped; the last crash is chained as ``__cause__``.

    >>> class Fragile(coop.Actor):
    ...     def run(self):
    ...         yield self.recv()
    ...         raise ValueError("broken")
    >>> def main():
    ...     sup = coop.Supervisor([Fragile], max_restarts=1, within=60).start()
    ...     for _ in range(2):
    ...         sup.children[0].send("poison")
    ...         yield coop.sleep(1)
    ...     try:
    ...         yield sup.join()
    ...     except coop.TooManyRestarts as err:
    ...         return type(err.__cause__).__name__
    >>> coop.run(main(), clock=coop.VirtualClock())
    'ValueError'
    """


def short(obj: Any, limit: int = 60) -> str:
    """``repr(obj)``, cut to ``limit`` characters: messages name what was sent or asked."""
    shown = repr(obj)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."
