"""Synchronization primitives: Lock, Semaphore, Event, Condition, Queue, Barrier; and for
simulations, SimPy's Container, PriorityResource and PreemptiveResource.

Every primitive is built on the kernel's contract, :mod:`coop.lowlevel`, alone: a task that
must wait is parked on the primitive's queue and woken, first in first out, with a value or an
exception. The queue is a :class:`coop.WaitQueue`, but for an Event's waiters, a Lock's and a
Queue's getters and putters: lines of their own, whose plain dict their hot paths test without
a call (and that cost less to make: a run may make dozens of events).
None of them touches the run loop.

A blocking operation is an effect, yielded from the task::

    def worker(lock, queue):
        with (yield lock.acquire()):      # acquire yields; the with block releases on any exit
            item = yield queue.get()      # completes at once when an item is there
        yield queue.put(item)

In an ``async def`` task the same operations are awaited, and ``async with lock:`` acquires and
releases. ``yield from lock.acquire()`` gives a type checker the result type.

Rules every primitive keeps:

* Waiters are served in FIFO order, and a release hands the resource straight to the first
  waiter: nobody can barge in between.
* A task woken with a resource (a lock, a semaphore unit, a queue item) that is cancelled
  before it gets to run keeps nothing: the resource goes to the next waiter.
* Every blocking operation takes ``timeout=`` (seconds) and raises :class:`coop.Timeout` when
  it runs out; ``timeout=0`` tries once without waiting. They also work inside
  :func:`coop.timeout`.
* ``statistics()`` returns a small frozen dataclass (who holds it, how many wait) and the
  primitive's name (``Lock#2``, or the ``name=`` given) appears in :class:`coop.Deadlock`
  reports: ``philosopher-3 waits for Lock#2 held by philosopher-2``.

* A primitive belongs to one scheduler, the first whose task uses it. A task of another
  scheduler that uses it, or another OS thread calling ``release()``, ``set()``,
  ``put_nowait()`` and the like, gets :class:`coop.CoopUsageError` (that would wake tasks
  behind their scheduler's back). Once its scheduler has no task left the primitive is free
  again, so one module-level lock serves successive ``coop.run`` calls. From another thread,
  go through ``scheduler.call_soon_threadsafe(event.set)`` or an actor's thread-safe
  ``send``.
* A Lock has an owner, so a task waiting for it is a wait-for edge to its holder in
  :class:`coop.Deadlock` cycle detection; a Semaphore (any task may release it), an Event, a
  Condition's notify, a Queue and a Barrier have none, and make no edge.
* Inside :func:`coop.race` and :func:`coop.gather`, an acquire that wins hands its lock or
  unit to the task waiting there, which releases it as usual; one that was not needed (a
  race loser, a gather that failed) gives it back, as does a ``get`` its item.
"""

from __future__ import annotations

from ._common import Acquired as Acquired
from .barrier import Barrier
from .barrier import BarrierStatistics as BarrierStatistics
from .condition import Condition
from .condition import ConditionStatistics as ConditionStatistics
from .container import Container
from .container import ContainerStatistics as ContainerStatistics
from .event import Event
from .event import EventStatistics as EventStatistics
from .lock import Lock
from .lock import LockStatistics as LockStatistics
from .queue import END as END
from .queue import End as End
from .queue import LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull, QueueShutDown
from .queue import QueueStatistics as QueueStatistics
from .resource import PreemptiveResource, PriorityResource
from .resource import ResourceStatistics as ResourceStatistics
from .resource import Usage as Usage
from .semaphore import BoundedSemaphore, Semaphore
from .semaphore import SemaphoreStatistics as SemaphoreStatistics

# The names `from coop.sync import *` (and so `coop`) takes; Acquired, the statistics
# classes and END (with its type, End) are documented as coop.sync.<name>, imported above as
# such: a bare coop.END would not say whose end it is.
__all__ = [
    "Lock",
    "Semaphore",
    "BoundedSemaphore",
    "Event",
    "Condition",
    "Queue",
    "LifoQueue",
    "PriorityQueue",
    "Barrier",
    "Container",
    "PriorityResource",
    "PreemptiveResource",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
]
