"""Actors: generators with a mailbox, run by the scheduler.

The lecture's Actor is a Thread with a Queue: no shared memory, only messages, a generalised
producer/consumer. coop keeps its API (``send``, ``recv``, ``close`` with the ``ActorExit``
sentinel, ``start``, ``join``) but an actor is a generator on the scheduler, so thousands of
them cost what one thread does. On top of it: selective receive with timeouts, ``ask`` with a
reply, bounded mailboxes, links, monitors and an Erlang/OTP-style :class:`Supervisor`.

How the mailbox is built (on the kernel's parking mechanism, nothing else):

* The messages are a deque. The receiving task, when the deque is empty, is parked on the
  mailbox itself (the mailbox is the kernel "Parkable"), so deadlock reports can say
  "a message in PrintActor-3's mailbox".
* A ``recv`` that finds a message returns it at once, with no trip through the ready queue.
  A ``send`` to a parked receiver hands the message straight to it (``Scheduler.wake`` with the
  message as the value), with a revoke hook so that a receiver cancelled before it ran puts
  the message back where it was: a supervisor restart loses nothing.
* ``ask`` allocates one :class:`Request`, which is at once the effect the asker yields, the
  message the actor receives and the thing the asker is parked on.
* ``send`` from another OS thread goes through ``Scheduler.call_soon_threadsafe``; from the
  scheduler's own thread it is a few attribute tests and a deque append.
* A bounded mailbox (``maxsize``) holds at most that many messages; further ones wait in line
  behind it, in order, and move in as the actor takes messages. ``yield actor.send(msg)``
  resumes once ``msg`` is in the mailbox; a send that is not yielded still never loses or
  reorders its message. A plain OS thread that sends to a full bounded mailbox is blocked
  until there is room (``timeout=`` bounds that wait): back-pressure, so that a thread
  producing faster than the actor consumes cannot fill memory or flood the scheduler.

What a supervisor restart does with the mailbox: the mailbox belongs to the child's *place*
in the supervisor, not to the instance. When a supervised child crashes, its mailbox keeps
accepting messages; the fresh instance made by the restart adopts it, with every message that
was still queued, in order, and every sender still waiting for room. Old references to the
crashed instance keep working for ``send`` and ``ask``: they share the mailbox. A message
handed to a child that is stopped before it ran goes back to the front of the mailbox. What
is not delivered again is the message a child was handling when it crashed (the likely cause:
redelivering it would crash the child again) or when the supervisor stopped it
(``one_for_all``, ``rest_for_one``); the requests it had received and not answered fail in
their askers with :class:`ActorStopped`. ``Supervisor.close()`` lets each child finish the
messages sent before it, restarting one that crashes on the way. When the supervisor gives
up, the mailboxes of its children are closed for good: queued requests fail, sends raise.
"""

# One concept per module, all built on coop.lowlevel: errors (ActorExit, ActorStopped,
# TooManyRestarts), mailbox (the mailbox, the send and receive effects), request (ask/reply),
# cell (what coop knows of an actor instance: task, links, monitors; Down, Monitor), base
# (Actor, @actor), links (link, monitor), supervisor (Strategy, Supervisor).

from .base import Actor, actor
from .cell import Down, Monitor
from .errors import ActorExit, ActorStopped, TooManyRestarts
from .links import link, monitor
from .request import Request
from .supervisor import Strategy, Supervisor, one_for_all, one_for_one, rest_for_one

__all__ = [
    "Actor",
    "ActorExit",
    "ActorStopped",
    "Down",
    "Monitor",
    "Request",
    "Strategy",
    "Supervisor",
    "TooManyRestarts",
    "actor",
    "link",
    "monitor",
    "one_for_all",
    "one_for_one",
    "rest_for_one",
]
