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

from __future__ import annotations

import enum
import inspect
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable
from types import FrameType
from typing import Any, TypeAlias, TypeVar, overload

from .effects import Effect, _check_seconds
from .errors import Cancelled, CoopUsageError, Timeout
from .kernel import SUSPENDED, Scheduler, running_scheduler
from .sync import QueueFull
from .task import _DONE, _PENDING, Task, Throw
from .task_effects import Cancel, Join

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

log = logging.getLogger("coop")

_get_ident = threading.get_ident

# Guards the hand-over of a mailbox from "not started" (messages go straight into the deque,
# from any thread) to "started" (messages from other threads go through the scheduler).
_prestart_lock = threading.Lock()

A = TypeVar("A", bound="Actor")


# ------------------------------------------------------------------------- errors


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


# ------------------------------------------------------------------------ effects


class _Sent(Effect[None]):
    """What ``send`` returns when the message fits: yielding it resumes at once."""

    __slots__ = ()

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        return None

    def __repr__(self) -> str:
        return "<sent>"


_SENT = _Sent()


class _RecvAny(Effect[Any]):
    """``recv()`` with no arguments: one per mailbox, reused, so receiving allocates nothing.

    Its ``_coop_apply`` is a closure over the mailbox, stored on the instance: the kernel's
    lookup then finds it without binding a method, and the closure reads its variables
    without attribute lookups. This is the one hot path of every message.
    """

    __slots__ = ("_coop_apply", "mb")

    def __init__(self, mb: _Mailbox) -> None:
        self.mb = mb
        queue = mb.queue
        popleft = queue.popleft
        bounded = bool(mb.maxsize)

        def apply(kernel: Scheduler, task: Task[Any]) -> Any:
            if mb.sched is not kernel:
                mb.check_scheduler(task)
            if queue:
                msg = popleft()
                if msg is ActorExit or bounded:
                    return mb.took(msg)
                return msg
            if mb.waiter is None:
                mb.waiter = task
                task._parked_on = mb
                return SUSPENDED
            return mb.park(kernel, task, None, None)

        self._coop_apply = apply  # type: ignore[method-assign]

    # Inside race/gather: a message taken for a contender that lost goes back to the front.
    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        pass

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        self.mb.give_back(value)

    def __repr__(self) -> str:
        return f"<recv from {self.mb.name}'s mailbox>"


class _Recv(Effect[Any]):
    """``recv(match=..., timeout=...)``."""

    __slots__ = ("match", "mb", "timeout")

    def __init__(self, mb: _Mailbox, match: Callable[[Any], object] | None,
                 timeout: float | None) -> None:
        self.mb = mb
        self.match = match
        self.timeout = timeout

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        mb = self.mb
        if mb.sched is not kernel:
            mb.check_scheduler(task)
        queue = mb.queue
        match = self.match
        if match is None:
            if queue:
                return mb.took(queue.popleft())
        else:
            for i, msg in enumerate(queue):
                if msg is ActorExit:
                    # Nothing can arrive after the sentinel, so no match ever will. The
                    # sentinel stays: the skipped messages can still be drained by recv().
                    raise ActorExit()
                if match(msg):
                    del queue[i]
                    return mb.took(msg)
            line = mb.line
            if line is not None:
                for i, entry in enumerate(line.entries):
                    msg = entry[0]
                    if msg is ActorExit:
                        raise ActorExit()
                    if match(msg):
                        del line.entries[i]
                        line.admitted(entry)
                        if mb.blocked:
                            mb.room_freed()
                        return msg
        if self.timeout == 0:
            raise Timeout(f"no message{mb.matching(match)} in {mb.name}'s mailbox")
        return mb.park(kernel, task, match, self.timeout)

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        pass

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        self.mb.give_back(value)

    def __repr__(self) -> str:
        return f"<recv from {self.mb.name}'s mailbox{self.mb.matching(self.match)}>"


# What a line entry's second item becomes once its message is in the mailbox, or dropped.
_IN: Any = object()
_GONE: Any = object()


class _Line:
    """The messages waiting for room in a bounded mailbox, in order, as ``[msg, sender]``
    entries; ``sender`` is the task waiting for that message to get in, if any.

    It is the kernel ``Parkable`` those senders are parked on.
    """

    __slots__ = ("entries", "mb")

    def __init__(self, mb: _Mailbox) -> None:
        self.entries: deque[list[Any]] = deque()
        self.mb = mb

    def admitted(self, entry: list[Any]) -> None:
        sender = entry[1]
        entry[1] = _IN
        if sender is not None and sender is not _IN:
            sender._scheduler.wake(sender)

    def unpark(self, task: Task[Any]) -> None:
        for entry in self.entries:
            if entry[1] is task:
                entry[1] = None  # the sender gave up waiting; its message stays in line
                return

    def describe(self) -> str:
        return f"room in {self.mb.name}'s mailbox (maxsize {self.mb.maxsize})"

    def holders(self) -> list[Task[Any]]:
        # No sure edge: any task may receive from a mailbox, and an ask withdrawn on its
        # timeout makes room too. A deadlock here is still reported, as "nothing can wake".
        return []


class _PutWait(Effect[None]):
    """What ``send`` returns when a bounded mailbox is full: yield it to wait for room."""

    __slots__ = ("entry", "line")

    def __init__(self, line: _Line, entry: list[Any]) -> None:
        self.line = line
        self.entry = entry

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        entry = self.entry
        sender = entry[1]
        if sender is _IN:
            return None
        if sender is _GONE:
            mb = self.line.mb
            raise ActorStopped(f"{mb.name} ended before taking the message", mb.owner,
                               mb.reason)
        if sender is not None:
            raise CoopUsageError("the result of one send() was yielded twice")
        entry[1] = task
        task._parked_on = self.line
        return SUSPENDED

    def __repr__(self) -> str:
        return f"<wait for room in {self.line.mb.name}'s mailbox>"


# ------------------------------------------------------------------------ mailbox


class _Mailbox:
    """The queue, the parked receiver, the line of messages waiting for room, the open asks.

    It is the kernel ``Parkable`` a waiting receiver is parked on. It outlives the instance
    that made it when a supervisor restarts that instance (see the module docstring).
    """

    __slots__ = ("asks", "blocked", "closed", "dead", "fast", "inflight", "line", "match",
                 "maxsize", "owner", "queue", "reason", "recv_any", "revoke", "room", "sched",
                 "supervised", "task", "thread", "waiter")

    def __init__(self, owner: Actor, maxsize: int) -> None:
        self.queue: deque[Any] = deque()
        self.waiter: Task[Any] | None = None
        self.match: Callable[[Any], object] | None = None
        self.owner = owner
        self.task: Task[Any] | None = None
        self.sched: Scheduler | None = None
        self.thread: int | None = None
        self.closed = False
        self.dead = False
        self.reason: BaseException | None = None
        self.supervised = False
        self.maxsize = maxsize
        self.line: _Line | None = _Line(self) if maxsize else None
        # Back-pressure on OS-thread senders of a bounded mailbox: they wait on `room`.
        # `inflight` counts their messages handed in and not yet delivered (both changed
        # under `room`'s lock); `blocked` counts senders inside the wait, raised before they
        # look at the occupancy, so the scheduler thread, which frees room without the lock,
        # notifies whenever a sender could have seen the mailbox full.
        self.room: threading.Condition | None = threading.Condition() if maxsize else None
        self.inflight = 0
        self.blocked = 0
        self.asks: dict[Request, None] = {}
        self.recv_any = _RecvAny(self)
        self.revoke = self.queue.appendleft
        # The scheduler thread's id while a send from that thread needs no other check
        # (started, open, unbounded), else 0: one comparison on the hot path.
        self.fast = 0

    @property
    def name(self) -> str:
        return self.owner.name

    def refresh(self) -> None:
        fast = (self.sched is not None and not self.closed and not self.dead
                and not self.maxsize)
        self.fast = self.thread if fast and self.thread is not None else 0

    # -- delivering

    def enqueue(self, msg: Any) -> list[Any] | None:
        """Append to the mailbox, or to the line when a bounded mailbox is full."""
        line = self.line
        if line is not None and (line.entries or len(self.queue) >= self.maxsize):
            entry = [msg, None]
            line.entries.append(entry)
            return entry
        self.queue.append(msg)
        return None

    def deliver(self, msg: Any) -> list[Any] | None:
        """Put ``msg`` in the mailbox, or hand it to the parked receiver (scheduler thread).

        Returns the line entry if the message has to wait for room.
        """
        waiter = self.waiter
        if waiter is None:
            return self.enqueue(msg)
        match = self.match
        if msg is ActorExit:
            self.waiter = self.match = None
            waiter._scheduler.wake(waiter, Throw(ActorExit()))
            return self.enqueue(msg)
        revoke: Callable[[Any], None] | None
        if match is None:
            revoke = self.revoke
        else:
            try:
                matched = match(msg)
            except Exception as exc:  # the receiver's predicate: its error is the receiver's
                self.waiter = self.match = None
                waiter._scheduler.wake(waiter, Throw(exc))
                return self.enqueue(msg)
            if not matched:
                return self.enqueue(msg)
            position = len(self.queue)

            def revoke(value: Any) -> None:
                self.queue.insert(position, value)

        self.waiter = self.match = None
        waiter._scheduler.wake(waiter, msg, revoke)
        return None

    def deliver_handed_in(self, msg: Any) -> None:
        if self.dead:
            log.debug("coop: %r reached %s after it ended; dropped", msg, self.name)
            return
        self.deliver(msg)

    def hand_in(self, msg: Any) -> None:
        """Deliver from a thread that is not the scheduler's (or before the actor started)."""
        sched = self.sched
        if sched is None:
            with _prestart_lock:
                if self.sched is None:
                    self.enqueue(msg)
                    return
                sched = self.sched
        sched.call_soon_threadsafe(self.deliver_handed_in, msg)

    def deliver_anywhere(self, msg: Any) -> None:
        """Deliver a message coop itself sends (a Down), ignoring ``closed``."""
        if self.dead:
            return
        if self.thread == _get_ident():
            self.deliver(msg)
        else:
            self.hand_in(msg)

    def send_slow(self, msg: Any, timeout: float | None = None) -> Effect[None]:
        if msg is ActorExit:
            self.close()
            return _SENT
        self.check_open()
        if self.thread != _get_ident():
            if self.pushes_back():
                if timeout is not None:
                    timeout = _check_seconds(timeout, "send(timeout=...)")
                if not self.reserve_room(timeout):
                    raise QueueFull(
                        f"{self.name}'s mailbox stayed full ({self.maxsize} messages) for "
                        f"{timeout:g} s; {_short(msg)} was not sent")
                self.send_reserved(msg)
            else:
                self.hand_in(msg)
            return _SENT
        entry = self.deliver(msg)
        if entry is not None:
            assert self.line is not None
            return _PutWait(self.line, entry)
        return _SENT

    def full(self) -> bool:
        line = self.line
        return line is not None and (bool(line.entries) or len(self.queue) >= self.maxsize)

    # -- back-pressure on OS-thread senders

    def pushes_back(self) -> bool:
        """Whether a send from this (foreign) thread waits for room.

        Only for a bounded mailbox of a started actor, and only in a plain thread: a thread
        that runs a scheduler of its own would stall all of its tasks (its messages are
        handed in without waiting, as before); before start() nothing would make room.
        """
        return bool(self.maxsize) and self.sched is not None and running_scheduler() is None

    def occupancy(self) -> int:
        line = self.line
        return len(self.queue) + (len(line.entries) if line is not None else 0) + self.inflight

    def reserve_room(self, timeout: float | None) -> bool:
        """Wait (this thread) until the mailbox has room, and take it; False on timeout.

        Raises ActorStopped if the actor is closed or ends meanwhile.
        """
        room = self.room
        assert room is not None
        with room:
            self.blocked += 1
            try:
                deadline = None
                while (self.occupancy() >= self.maxsize and not self.closed
                       and not self.dead):
                    if timeout is None:
                        room.wait()
                        continue
                    if deadline is None:
                        deadline = time.monotonic() + timeout
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    room.wait(remaining)
                self.check_open()
                self.inflight += 1
                return True
            finally:
                self.blocked -= 1

    def send_reserved(self, msg: Any) -> None:
        sched = self.sched
        assert sched is not None
        sched.call_soon_threadsafe(self.deliver_reserved, msg)

    def deliver_reserved(self, msg: Any) -> None:
        # Delivered before the reservation is dropped: the occupancy a sender sees never
        # dips below what is really there.
        try:
            self.deliver_handed_in(msg)
        finally:
            room = self.room
            assert room is not None
            with room:
                self.inflight -= 1
                if self.blocked:
                    room.notify_all()

    def room_freed(self) -> None:
        """The scheduler thread made room (or closed the mailbox): wake blocked senders."""
        room = self.room
        if room is not None:
            with room:
                room.notify_all()  # all: a sender that timed out may have swallowed a notify

    def close(self) -> None:
        if self.closed or self.dead:
            return
        self.closed = True
        self.fast = 0
        if self.blocked:
            self.room_freed()  # blocked thread senders now get ActorStopped
        if self.thread == _get_ident():
            self.deliver(ActorExit)
        else:
            self.hand_in(ActorExit)

    def check_open(self) -> None:
        if self.dead:
            how = "ended" if self.reason is None else f"failed with {self.reason!r}"
            raise ActorStopped(f"{self.name} has {how}: it takes no more messages",
                               self.owner, self.reason)
        if self.closed:
            raise ActorStopped(f"{self.name} is closed (close() was called): it takes no more "
                               f"messages", self.owner)

    # -- receiving

    def took(self, msg: Any) -> Any:
        """Bookkeeping after a message left the queue: the sentinel, and room for the line."""
        if msg is ActorExit:
            self.queue.appendleft(msg)  # it stays: every later recv raises too
            raise ActorExit()
        line = self.line
        if line is not None and line.entries:
            self.admit()
        if self.blocked:
            self.room_freed()
        return msg

    def give_back(self, msg: Any) -> None:
        """A message received for a race contender that lost: back to the front."""
        if self.dead:
            return
        waiter = self.waiter
        if waiter is not None:
            match = self.match
            try:
                wanted = match is None or match(msg)
            except Exception:
                wanted = True  # deliver() throws the predicate's error into the receiver
            if wanted:
                self.deliver(msg)
                return
        self.queue.appendleft(msg)

    def check_scheduler(self, task: Task[Any]) -> None:
        """A task of a scheduler other than the actor's tries to receive (the slow path)."""
        if self.sched is None:
            return  # not started: nothing is bound yet
        raise CoopUsageError(
            f"{task.name} tried to receive from {self.name}'s mailbox, but {self.name} runs "
            f"on another scheduler (another thread); a mailbox is read by tasks of the "
            f"scheduler that started its actor. Send to the actor instead: send() and ask() "
            f"work from any thread")

    def admit(self) -> None:
        """Move messages from the line into the mailbox while there is room."""
        line = self.line
        assert line is not None
        entries = line.entries
        queue = self.queue
        while entries and len(queue) < self.maxsize:
            entry = entries.popleft()
            queue.append(entry[0])
            line.admitted(entry)

    def remove(self, msg: Any) -> bool:
        """Take ``msg`` (by identity) out of the mailbox or the line, if it is there."""
        queue = self.queue
        for i, queued in enumerate(queue):  # by identity: messages may define odd __eq__s
            if queued is msg:
                del queue[i]
                if self.line is not None and self.line.entries:
                    self.admit()
                if self.blocked:
                    self.room_freed()
                return True
        if self.line is not None:
            entries = self.line.entries
            for i, entry in enumerate(entries):
                if entry[0] is msg:
                    del entries[i]
                    self.line.admitted(entry)
                    if self.blocked:
                        self.room_freed()
                    return True
        return False

    def messages(self) -> list[Any]:
        """Everything waiting to be received, in order (the line after the mailbox)."""
        waiting = list(self.queue)
        if self.line is not None:
            waiting.extend(entry[0] for entry in self.line.entries)
        return waiting

    def park(self, kernel: Scheduler, task: Task[Any], match: Callable[[Any], object] | None,
             timeout: float | None) -> Any:
        if self.waiter is not None:
            raise CoopUsageError(
                f"{task.name} tried to receive from {self.name}'s mailbox while "
                f"{self.waiter.name} is already waiting on it; one task receives at a time "
                f"(normally the actor itself)")
        self.waiter = task
        self.match = match
        task._parked_on = self
        if timeout is not None:
            name, wanted = self.name, self.matching(match)
            kernel.set_deadline(task, kernel.clock.now() + timeout, lambda: Timeout(
                f"no message{wanted} in {name}'s mailbox within {timeout}s"))
        return SUSPENDED

    @staticmethod
    def matching(match: Callable[[Any], object] | None) -> str:
        if match is None:
            return ""
        return f" matching {getattr(match, '__qualname__', None) or repr(match)}"

    # -- the end

    def kill(self, reason: BaseException | None) -> None:
        """No receiver will ever come: fail the asks, the waiting senders and later sends."""
        if self.dead:
            return
        self.dead = True
        self.fast = 0
        self.supervised = False
        self.reason = reason
        self.queue.clear()
        self.fail_asks(list(self.asks), reason)
        line = self.line
        if line is not None:
            entries = list(line.entries)
            line.entries.clear()
            for entry in entries:
                sender = entry[1]
                entry[1] = _GONE
                if sender is not None and sender is not _IN:
                    sender._scheduler.wake(sender, Throw(ActorStopped(
                        f"{self.name} ended before taking the message", self.owner, reason)))
        if self.blocked:
            self.room_freed()  # blocked thread senders now get ActorStopped

    def stranded(self) -> None:
        """The scheduler's run is over: if the actor's task was closed with it (run()
        failed) rather than ended, nothing will ever make room; let thread senders go."""
        task = self.task
        if task is not None and task._outcome != _PENDING and not self.dead:
            self.kill(task._result)

    def orphan(self, reason: BaseException) -> None:
        """A supervised receiver crashed: keep what is queued for the next instance, fail
        the requests it had taken and not answered."""
        self.reason = reason
        queued = {id(m) for m in self.messages() if m.__class__ is Request}
        self.fail_asks([r for r in self.asks if id(r) not in queued], reason)

    def fail_asks(self, requests: list[Request], reason: BaseException | None) -> None:
        if reason is None:
            how = "was closed" if self.closed else "ended"
        elif isinstance(reason, Cancelled):
            how = "was cancelled"
        else:
            how = f"failed ({reason!r})"
        for request in requests:
            self.asks.pop(request, None)
            request._finish(Throw(ActorStopped(
                f"{self.name} {how} before replying to ask({_short(request.body)})",
                self.owner, reason)), _FAILED_REQ)

    # -- Parkable (a receiver waiting for a message)

    def unpark(self, task: Task[Any]) -> None:
        if self.waiter is task:
            self.waiter = self.match = None

    def describe(self) -> str:
        return f"a message{self.matching(self.match)} in {self.name}'s mailbox"

    def holders(self) -> list[Task[Any]]:
        return []  # anyone may send


def _short(obj: Any, limit: int = 60) -> str:
    shown = repr(obj)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


# ------------------------------------------------------------------------ requests

_NEW, _WAITING, _ANSWERED, _ABANDONED, _FAILED_REQ = range(5)


class Request(Effect[Any]):
    """A question put by :meth:`Actor.ask`: what the actor receives, to answer once.

    ``body`` is what was asked; :meth:`reply` sends the answer, :meth:`fail` raises an
    exception in the asker instead. If the actor ends without answering, the asker gets
    :class:`ActorStopped` at once; an asker that gave up (``timeout=``, cancellation) makes a
    later reply a no-op, and its request is withdrawn if the actor has not received it yet.

    >>> class Doubler(coop.Actor):
    ...     def run(self):
    ...         while True:
    ...             request = yield self.recv()
    ...             if request.body < 0:
    ...                 request.fail(ValueError("negative"))
    ...             else:
    ...                 request.reply(2 * request.body)
    >>> def main():
    ...     d = Doubler(); d.start()
    ...     answer = yield d.ask(21)
    ...     try:
    ...         yield d.ask(-1)
    ...     except ValueError as err:
    ...         failure = str(err)
    ...     d.close()
    ...     return answer, failure
    >>> coop.run(main())
    (42, 'negative')
    """

    __slots__ = ("_asker", "_mb", "_state", "_thread", "_timeout", "body")

    def __init__(self, mb: _Mailbox, body: Any, timeout: float | None) -> None:
        self.body = body
        self._mb = mb
        self._timeout = timeout
        self._asker: Task[Any] | None = None
        self._state = _NEW
        self._thread: int  # set when asked; read only while _asker is set

    def _coop_apply(self, kernel: Scheduler, task: Task[Any]) -> Any:
        if self._state != _NEW:
            raise CoopUsageError(
                f"{self!r} was yielded again: a Request is yielded once, by the asker; "
                f"the actor answers it with request.reply(value)")
        mb = self._mb
        if task is mb.task:
            raise CoopUsageError(
                f"{mb.name} asked itself ({_short(self.body)}): it would wait forever for a "
                f"reply only it could send; handle the request directly")
        ident = _get_ident()
        local = mb.fast == ident
        if not local:
            mb.check_open()
        # Everything the replier looks at is set before delivery: a reply may come from
        # another thread before this method returns.
        self._state = _WAITING
        self._asker = task
        self._thread = ident
        task._parked_on = self
        kernel.note_owned_wait(task)  # the actor must reply: a possible wait-for edge
        mb.asks[self] = None
        if local:
            waiter = mb.waiter
            if waiter is None:
                mb.queue.append(self)
            elif mb.match is None:
                mb.waiter = None
                waiter._scheduler.wake(waiter, self, mb.revoke)
            else:
                mb.deliver(self)
        elif mb.thread == ident:
            mb.deliver(self)  # in line if the mailbox is full: its asker waits anyway
        else:
            mb.hand_in(self)
        if self._timeout is not None:
            kernel.set_deadline(task, kernel.clock.now() + self._timeout, self._timed_out)
        return SUSPENDED

    def reply(self, value: Any = None) -> None:
        """Answer the request: the asker's ``yield actor.ask(...)`` returns ``value``.

        Safe to call from any OS thread. A second reply is an error; a reply to an asker that
        has given up is ignored.
        """
        asker = self._asker
        if asker is None:
            self._refuse("reply")
            return
        self._asker = None
        self._state = _ANSWERED
        # pop, not del: from another thread this can race with the asker giving up.
        self._mb.asks.pop(self, None)
        if _get_ident() == self._thread:
            asker._scheduler.wake(asker, value)
        else:
            asker._scheduler.call_soon_threadsafe(self._wake_from_afar, asker, value)

    def fail(self, exc: BaseException | type[BaseException]) -> None:
        """Answer with an error: ``exc`` is raised in the asker at its ``yield``."""
        if isinstance(exc, type) and issubclass(exc, BaseException):
            exc = exc()
        if not isinstance(exc, BaseException):
            raise TypeError(f"Request.fail takes an exception, got {exc!r}")
        if self._asker is None:
            self._refuse("fail")
            return
        self._mb.asks.pop(self, None)
        self._finish(Throw(exc), _ANSWERED)

    def _finish(self, value: Any, state: int) -> None:
        asker = self._asker
        if asker is None:
            return
        self._asker = None
        self._state = state
        if _get_ident() == self._thread:
            asker._scheduler.wake(asker, value)
        else:
            asker._scheduler.call_soon_threadsafe(self._wake_from_afar, asker, value)

    def _wake_from_afar(self, asker: Task[Any], value: Any) -> None:
        if asker._parked_on is self:  # not cancelled while the answer travelled
            asker._scheduler.wake(asker, value)

    def _refuse(self, what: str) -> None:
        state = self._state
        if state == _NEW:
            raise CoopUsageError(f"{what}() on a request nobody has asked yet: {self!r}")
        if state == _ANSWERED:
            raise CoopUsageError(f"{self!r} was already answered; a request is answered once")
        # _ABANDONED or _FAILED_REQ: the asker is gone or has its error; nothing to do.

    def _timed_out(self) -> BaseException:
        return Timeout(f"no reply from {self._mb.name} to ask({_short(self.body)}) "
                       f"within {self._timeout}s")

    @property
    def answered(self) -> bool:
        """True once the request was replied to or failed (or its asker gave up)."""
        return self._state not in (_NEW, _WAITING)

    # Parkable: the asker waits on its request.
    def unpark(self, task: Task[Any]) -> None:
        """Kernel hook: the asker gave up (timed out or cancelled); withdraw the request."""
        if self._state != _WAITING:
            return
        self._state = _ABANDONED
        self._asker = None
        mb = self._mb
        mb.asks.pop(self, None)
        mb.remove(self)  # withdrawn if the actor has not received it yet

    def describe(self) -> str:
        """Kernel hook: what the asker waits for, for deadlock reports."""
        return f"a reply from {self._mb.name} to ask({_short(self.body, 40)})"

    def holders(self) -> list[Task[Any]]:
        """Kernel hook: the actor's task, which must reply (for wait-for cycles)."""
        task = self._mb.task
        return [] if task is None or task._outcome != _PENDING else [task]

    def __repr__(self) -> str:
        state = ("new", "waiting", "answered", "abandoned", "failed")[self._state]
        return f"<Request ask({_short(self.body, 40)}) to {self._mb.name} {state}>"


# --------------------------------------------------------------------------- actors


class Actor:
    """A generator with a mailbox. Subclass it and write ``run()`` as a generator.

    The lecture's Actor, rewritten for coop, differs from it only by ``yield``:

    >>> class PrintActor(coop.Actor):
    ...     def run(self):
    ...         while True:
    ...             msg = yield self.recv()
    ...             print('Print Actor Task Got:', msg)
    >>> def main():
    ...     p = PrintActor(); p.start(); p.send('Hello'); p.send('World'); p.close()
    ...     yield p.join()
    >>> coop.run(main())
    Print Actor Task Got: Hello
    Print Actor Task Got: World

    Options, as keyword arguments or class attributes of a subclass: ``maxsize`` (0, no bound)
    bounds the mailbox (see :meth:`send`); ``daemon`` (False) lets ``coop.run`` return without
    waiting for the actor, which is then cancelled; ``name`` (the class name and task id,
    ``PrintActor-3``) names it in errors and deadlock reports.

    A subclass that defines ``__init__`` must call ``super().__init__()``.
    """

    maxsize: int = 0
    daemon: bool = False

    def __init__(self, *, maxsize: int | None = None, name: str | None = None,
                 daemon: bool | None = None) -> None:
        size = type(self).maxsize if maxsize is None else maxsize
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"maxsize must be an int >= 0 (0: no bound), got {size!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {name!r}")
        self._mb = _Mailbox(self, size)
        self._recv_any = self._mb.recv_any
        self._task: Task[Any] | None = None
        self._name = name
        self._daemon = bool(type(self).daemon if daemon is None else daemon)
        self._links: list[Actor] = []
        self._monitors: list[Monitor] = []

    # -- what subclasses write

    def run(self) -> Generator[Any, Any, Any]:
        """The actor's body, a generator: ``msg = yield self.recv()`` in a loop.

        The default, like the lecture's, takes messages and drops them.
        """
        while True:
            yield self.recv()

    # -- messages

    def send(self, msg: Any, timeout: float | None = None) -> Effect[None]:
        """Put ``msg`` in the mailbox; safe to call from any OS thread.

        In the scheduler's thread it never blocks. It returns an effect that a task may
        yield: with a bounded mailbox (``maxsize``) that is over its bound,
        ``yield actor.send(msg)`` waits until the message fits (the message is already
        queued, so it is never lost, nor reordered, even if the result is not yielded).

        From another OS thread, a send to a started actor's bounded mailbox that is full
        blocks that thread until there is room: back-pressure on thread producers. With
        ``timeout`` (seconds) it raises :class:`coop.QueueFull` (a :class:`queue.Full`) if
        no room came in time, and the message is not sent; ``timeout`` bounds only this
        wait. A thread that runs a scheduler of its own is not blocked (that would stall
        its tasks), nor is a send before ``start()``.

        Raises :class:`ActorStopped` once the actor is closed or has ended (also to a thread
        blocked waiting for room).

        >>> class Sink(coop.Actor):
        ...     maxsize = 2
        ...     def run(self):
        ...         while True:
        ...             msg = yield self.recv()
        ...             print("got", msg)
        ...             yield coop.sleep(1)          # a slow consumer
        >>> def main():
        ...     sink = Sink(); sink.start()
        ...     for i in range(4):
        ...         yield sink.send(i)               # waits whenever the mailbox is full
        ...         print("sent", i, "at", (yield coop.now()))
        ...     sink.close()
        >>> coop.run(main(), clock=coop.VirtualClock())
        sent 0 at 0.0
        sent 1 at 0.0
        got 0
        sent 2 at 0.0
        got 1
        sent 3 at 1.0
        got 2
        got 3
        """
        mb = self._mb
        if mb.fast == _get_ident() and msg is not ActorExit:
            waiter = mb.waiter
            if waiter is None:
                mb.queue.append(msg)
                return _SENT
            if mb.match is None:
                mb.waiter = None
                waiter._scheduler.wake(waiter, msg, mb.revoke)
            else:
                mb.deliver(msg)
            return _SENT
        return mb.send_slow(msg, timeout)

    def try_send(self, msg: Any) -> bool:
        """Send ``msg`` if the mailbox has room; False (and nothing sent) if it is full.

        An unbounded mailbox always has room; never blocks, from any thread. Raises
        :class:`ActorStopped` once the actor is closed or has ended.

        >>> def main():
        ...     a = coop.Actor(maxsize=1).start()
        ...     results = [a.try_send("first"), a.try_send("second")]
        ...     yield                              # the actor takes "first"
        ...     results.append(a.try_send("third"))
        ...     a.close()
        ...     return results
        >>> coop.run(main())
        [True, False, True]
        """
        mb = self._mb
        if msg is not ActorExit:
            mb.check_open()
            if mb.thread != _get_ident() and mb.pushes_back():
                # The look and the take are one step: other threads send meanwhile.
                if not mb.reserve_room(0):
                    return False
                mb.send_reserved(msg)
                return True
            if mb.full():
                return False
        self.send(msg)
        return True

    def recv(self, match: Callable[[Any], object] | None = None,
             timeout: float | None = None) -> Effect[Any]:
        """Receive the next message: ``msg = yield self.recv()``.

        ``match``: selective receive, the first message for which ``match(msg)`` is true;
        the others stay queued, in order. ``timeout``: seconds to wait before
        :class:`coop.Timeout` is raised (0: only look). Raises :class:`ActorExit` when the
        ``close()`` sentinel is reached (a match that can no longer come raises it too).

        >>> class Picky(coop.Actor):
        ...     def run(self):
        ...         urgent = yield self.recv(match=lambda m: m.startswith("!"))
        ...         rest = [(yield self.recv()), (yield self.recv())]
        ...         try:
        ...             yield self.recv(timeout=5)
        ...         except coop.Timeout:
        ...             return urgent, rest
        >>> def main():
        ...     p = Picky(); p.start()
        ...     for msg in ["a", "b", "!now"]:
        ...         p.send(msg)
        ...     return (yield p.join())
        >>> coop.run(main(), clock=coop.VirtualClock())
        ('!now', ['a', 'b'])
        """
        if match is None and timeout is None:
            return self._recv_any
        if match is not None and not callable(match):
            raise TypeError(f"recv(match=...) takes a predicate (msg -> bool), got {match!r}")
        if timeout is not None:
            timeout = _check_seconds(timeout, "recv(timeout=...)")
        return _Recv(self._mb, match, timeout)

    def ask(self, body: Any, timeout: float | None = None) -> Request:
        """Send ``body`` as a :class:`Request` and wait for the reply: ``yield a.ask(x)``.

        The actor receives the Request and answers with ``request.reply(value)``. Raises
        :class:`ActorStopped` if the actor is closed, or ends before replying;
        :class:`coop.Timeout` after ``timeout`` seconds; :class:`coop.CoopUsageError` if an
        actor asks itself (which could never be answered).

        >>> class Echo(coop.Actor):
        ...     def run(self):
        ...         while True:
        ...             request = yield self.recv()
        ...             request.reply(request.body)
        >>> def main():
        ...     echo = Echo(); echo.start()
        ...     answer = yield echo.ask("ping")
        ...     echo.close()
        ...     return answer
        >>> coop.run(main())
        'ping'
        """
        if timeout is not None:
            timeout = _check_seconds(timeout, "ask(timeout=...)")
        return Request(self._mb, body, timeout)

    def close(self) -> None:
        """Send the :class:`ActorExit` sentinel: messages sent before it are handled first,
        then ``recv`` raises ActorExit and the actor ends normally. Later sends raise
        :class:`ActorStopped`. Closing twice, or closing an ended actor, does nothing.

        >>> def main():
        ...     a = coop.Actor(); a.start()
        ...     a.close()
        ...     yield a.join()
        ...     try:
        ...         a.send("late")
        ...     except coop.ActorStopped:
        ...         return "refused"
        >>> coop.run(main())
        'refused'
        """
        self._mb.close()

    # -- life cycle

    def start(self: A) -> A:
        """Spawn the actor on the running scheduler at once; returns the actor.

        Messages sent before ``start()`` wait in the mailbox. Raises
        :class:`coop.CoopUsageError` outside a running scheduler or when started twice,
        TypeError if ``run()`` is not a generator.

        >>> def main():
        ...     a = coop.Actor().start()           # spawned: its task exists at once
        ...     a.close()
        ...     yield a.join()
        ...     return a.task.state
        >>> coop.run(main())
        <TaskState.DONE: 'done'>
        >>> coop.Actor().start()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
          ...
        coop.errors.CoopUsageError: Actor.start() needs a running scheduler: ...
        """
        cls = type(self).__name__
        try:
            mb = self._mb
        except AttributeError:
            raise CoopUsageError(
                f"{cls}.__init__ did not call super().__init__(): an actor needs its "
                f"mailbox") from None
        if self._task is not None:
            raise CoopUsageError(
                f"{self.name} was already started; an actor runs once (make a new instance "
                f"to run it again)")
        sched = running_scheduler()
        if sched is None:
            raise CoopUsageError(
                f"{cls}.start() needs a running scheduler: call it from a task inside "
                f"coop.run(...), e.g. def main(): a = {cls}(); a.start(); ...; "
                f"coop.run(main())")
        body = self._body()
        task = sched._spawn(self._bootstrap(body), None, self._daemon)
        task._name = self._name if self._name is not None else f"{cls}-{task.id}"
        self._task = task
        with _prestart_lock:
            mb.owner = self
            mb.task = task
            mb.sched = sched
            mb.thread = _get_ident()
        mb.refresh()
        sched.add_done_callback(task, self._ended, observes=True)
        if mb.maxsize:
            sched.add_closer(mb.stranded)
        return self

    def join(self) -> Effect[Any]:
        """Wait for the actor to end: ``yield actor.join()`` returns what ``run()`` returned
        (None after ``close()``) or re-raises what it raised.

        >>> class Fails(coop.Actor):
        ...     def run(self):
        ...         yield self.recv()
        ...         raise KeyError("bad message")
        >>> def main():
        ...     a = Fails(); a.start(); a.send("x")
        ...     try:
        ...         yield a.join()
        ...     except KeyError as err:
        ...         return f"it failed: {err}"
        >>> coop.run(main())
        "it failed: 'bad message'"
        """
        task = self._task
        if task is None:
            raise CoopUsageError(f"{self.name} has not been started: call start() first")
        return Join(task)

    @property
    def name(self) -> str:
        """The actor's name: the one given, else its class name and task id (``Worker-4``)."""
        if self._name is not None:
            return self._name
        task = self._task
        return task.name if task is not None else type(self).__name__

    @property
    def task(self) -> Task[Any] | None:
        """The :class:`coop.Task` running the actor (None before ``start()``)."""
        return self._task

    @property
    def queued(self) -> int:
        """How many messages wait in the mailbox."""
        return sum(1 for m in self._mb.messages() if m is not ActorExit)

    def __repr__(self) -> str:
        task = self._task
        state = "not started" if task is None else str(task.state)
        return f"<{type(self).__name__} {self.name!r} {state}, {self.queued} queued>"

    # -- internals

    def _body(self) -> Any:
        cls = type(self).__name__
        run = inspect.unwrap(type(self).run)
        if not (inspect.isgeneratorfunction(run) or inspect.iscoroutinefunction(run)
                or getattr(run, "_coop_makes_generator", False)):
            # Calling it would run it to the end now, inside start(), blocking everything.
            raise TypeError(
                f"{cls}.run() must be a generator: receive with `msg = yield self.recv()` "
                f"(a run() without `yield` would block the scheduler)")
        body = self.run()
        if not (inspect.isgenerator(body) or inspect.iscoroutine(body)):
            raise TypeError(f"{cls}.run() returned {body!r}, not a generator")
        return body

    def _bootstrap(self, body: Any) -> Generator[Any, Any, Any]:
        try:
            if isinstance(body, Coroutine):
                return (yield from body.__await__())
            return (yield from body)
        except ActorExit:
            return None

    def _ended(self, task: Task[Any]) -> None:
        """Done callback of the actor's task: mailbox, links, monitors."""
        reason = None if task._outcome == _DONE else task._result
        mb = self._mb
        if mb.task is task:
            mb.task = None
            if mb.waiter is task:
                mb.waiter = mb.match = None
        responsible = False
        if mb.supervised and reason is not None:
            mb.orphan(reason)
            responsible = True
        else:
            mb.kill(reason)
        links, self._links = self._links, []
        for peer in links:
            if self in peer._links:
                peer._links.remove(self)
            if reason is not None:
                responsible = True
                peer_task = peer._task
                if peer_task is not None:
                    peer_task._scheduler.cancel(peer_task, Cancelled(
                        f"{peer.name} was linked to {self.name}, which ended with {reason!r}"))
        monitors, self._monitors = self._monitors, []
        for ref in monitors:
            responsible = True
            ref._fire(reason)
        if not responsible and reason is not None and not isinstance(reason, Cancelled):
            # Registering a done callback marks a failure as seen; nobody has seen this one,
            # so let the scheduler report it unless someone joins.
            task._observed = False

    def _adopt(self, old: Actor) -> None:
        """Take over ``old``'s mailbox (a supervisor restart): queued messages, waiters."""
        mine, theirs = self._mb, old._mb
        theirs.queue.extend(mine.queue)
        theirs.owner = self
        theirs.task = None
        theirs.waiter = theirs.match = None
        self._mb = theirs
        self._recv_any = theirs.recv_any


# ------------------------------------------------------------------- function form


@overload
def actor(fn: Callable[..., Any], /) -> type[Actor]: ...


@overload
def actor(*, maxsize: int = 0,
          daemon: bool = False) -> Callable[[Callable[..., Any]], type[Actor]]: ...


def actor(fn: Callable[..., Any] | None = None, /, *, maxsize: int = 0,
          daemon: bool = False) -> Any:
    """Turn a generator function into an actor class, for small actors.

    The function's first parameter is the actor itself (receive with
    ``yield inbox.recv()``); calling the class passes the remaining arguments on. Use
    ``@coop.actor(maxsize=..., daemon=...)`` for options.

    >>> @coop.actor
    ... def shouter(inbox, suffix):
    ...     while True:
    ...         msg = yield inbox.recv()
    ...         print(msg.upper() + suffix)
    >>> def main():
    ...     s = shouter("!"); s.start()
    ...     s.send("hello"); s.close()
    ...     yield s.join()
    >>> coop.run(main())
    HELLO!
    """

    def make(fn: Callable[..., Any]) -> type[Actor]:
        if not (inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn)):
            raise TypeError(
                f"@coop.actor takes a generator function (one that contains `yield`), got "
                f"{fn!r}")

        class FunctionActor(Actor):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(maxsize=maxsize, daemon=daemon)
                self._args = args
                self._kwargs = kwargs

            def run(self) -> Any:
                return fn(self, *self._args, **self._kwargs)

            run._coop_makes_generator = True  # type: ignore[attr-defined]

        FunctionActor.__name__ = fn.__name__
        FunctionActor.__qualname__ = fn.__qualname__
        FunctionActor.__module__ = fn.__module__
        FunctionActor.__doc__ = fn.__doc__
        return FunctionActor

    return make if fn is None else make(fn)


# ------------------------------------------------------------------ links, monitors


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
        if self in self.target._monitors:
            self.target._monitors.remove(self)

    def _fire(self, reason: BaseException | None) -> None:
        if self.active:
            self.active = False
            self.watcher._mb.deliver_anywhere(Down(self.target, reason))

    def __repr__(self) -> str:
        state = "active" if self.active else "inactive"
        return f"<Monitor {self.watcher.name} watches {self.target.name} {state}>"


def _current_actor() -> Actor | None:
    """The actor whose code is running now, found on the stack (its task's outer frame)."""
    code = Actor._bootstrap.__code__
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            found = frame.f_locals.get("self")
            return found if isinstance(found, Actor) else None
        frame = frame.f_back
    return None


def _reason_of(task: Task[Any]) -> BaseException | None:
    return None if task._outcome == _DONE else task._result


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
        watcher = _current_actor()
        if watcher is None:
            raise CoopUsageError(
                "coop.monitor(target) called outside an actor's code: pass the actor that "
                "should receive the Down, coop.monitor(target, watcher), or wait with "
                "`yield target.join()`")
    elif not isinstance(watcher, Actor):
        raise TypeError(f"the watcher must be an Actor (it receives a Down), got {watcher!r}")
    ref = Monitor(target, watcher)
    task = target._task
    if task is not None and task._outcome != _PENDING:
        ref._fire(_reason_of(task))
    else:
        target._monitors.append(ref)
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
        if x._task is None:
            raise CoopUsageError(f"coop.link: {x.name} has not been started; start it first")
    if a is b:
        raise CoopUsageError(f"coop.link: cannot link {a.name} to itself")
    for one, other in ((a, b), (b, a)):
        task = one._task
        assert task is not None
        if task._outcome != _PENDING:
            reason = _reason_of(task)
            other_task = other._task
            if reason is not None and other_task is not None:
                other_task._scheduler.cancel(other_task, Cancelled(
                    f"{other.name} was linked to {one.name}, which ended with {reason!r}"))
            return
    if b not in a._links:
        a._links.append(b)
        b._links.append(a)


# ---------------------------------------------------------------------- supervisor


class Strategy(enum.StrEnum):
    """Which children a :class:`Supervisor` restarts when one crashes (as in Erlang/OTP).

    >>> coop.one_for_one is coop.Strategy.ONE_FOR_ONE, str(coop.rest_for_one)
    (True, 'rest_for_one')
    """

    #: Restart only the child that crashed.
    ONE_FOR_ONE = "one_for_one"
    #: Stop every other child, then restart them all.
    ONE_FOR_ALL = "one_for_all"
    #: Stop the children started after the crashed one, then restart it and them.
    REST_FOR_ONE = "rest_for_one"


one_for_one = Strategy.ONE_FOR_ONE
one_for_all = Strategy.ONE_FOR_ALL
rest_for_one = Strategy.REST_FOR_ONE

ChildSpec: TypeAlias = "type[Actor] | Callable[[], Actor]"


class Supervisor(Actor):
    """An actor that starts child actors and restarts those that crash, as Erlang/OTP does.

    ``children``: actor classes or zero-argument factories (a restart needs a fresh
    instance). ``strategy``: :data:`one_for_one` (default), :data:`one_for_all` or
    :data:`rest_for_one`. More than ``max_restarts`` restarts within ``within`` seconds and
    the supervisor gives up: it stops its children and fails with :class:`TooManyRestarts`.

    A child that ends normally (closed, or its ``run()`` returned) is not restarted. A
    restarted child adopts its predecessor's mailbox: queued messages are kept, in order,
    and old references keep working; only the message being handled when it crashed is not
    delivered again. ``close()`` closes the children (last started first), waits for them,
    then ends the supervisor; ``yield sup.join()`` waits for that.

    >>> class Worker(coop.Actor):
    ...     def run(self):
    ...         while True:
    ...             msg = yield self.recv()
    ...             if msg == "crash":
    ...                 raise RuntimeError("crashed")
    ...             print(self.name, "handled", msg)
    >>> def main():
    ...     sup = coop.Supervisor([Worker], max_restarts=3, within=10).start()
    ...     worker = sup.children[0]
    ...     for msg in ["a", "crash", "b"]:
    ...         worker.send(msg)                # "b" waits for the restarted worker
    ...     yield coop.sleep(1)
    ...     sup.close()
    ...     yield sup.join()
    >>> coop.run(main(), clock=coop.VirtualClock())
    Worker-3 handled a
    Worker-4 handled b
    """

    def __init__(self, children: Iterable[ChildSpec], *,
                 strategy: Strategy | str = one_for_one, max_restarts: int = 3,
                 within: float = 5.0, name: str | None = None,
                 daemon: bool | None = None) -> None:
        super().__init__(name=name, daemon=daemon)
        specs = list(children)
        for spec in specs:
            if isinstance(spec, Actor):
                raise TypeError(
                    f"Supervisor children are actor classes or zero-argument factories, not "
                    f"instances ({spec!r}): a restart needs a fresh one; pass "
                    f"{type(spec).__name__} or lambda: {type(spec).__name__}(...)")
            if not callable(spec):
                raise TypeError(f"Supervisor child {spec!r} is not an actor class or factory")
        try:
            self.strategy = Strategy(strategy)
        except ValueError:
            raise ValueError(f"unknown strategy {strategy!r}; use one of "
                             f"{', '.join(s.value for s in Strategy)}") from None
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) \
                or max_restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {max_restarts!r}")
        self.max_restarts = max_restarts
        self.within = _check_seconds(within, "Supervisor(within=...)")
        self._specs: list[ChildSpec] = specs
        self._current: list[Actor | None] = []
        self._restarts: deque[float] = deque()

    @property
    def children(self) -> list[Actor]:
        """The live child actors, in start order (filled when ``start()`` returns)."""
        return [c for c in self._current
                if c is not None and c._task is not None and c._task._outcome == _PENDING]

    def start(self: A) -> A:
        """Spawn the supervisor and start its children, in order, at once.

        >>> def main():
        ...     sup = coop.Supervisor([coop.Actor, coop.Actor]).start()
        ...     names = [child.name for child in sup.children]
        ...     sup.close()
        ...     yield sup.join()
        ...     return names
        >>> coop.run(main())
        ['Actor-3', 'Actor-4']
        """
        Actor.start(self)
        assert isinstance(self, Supervisor)
        try:
            for spec in self._specs:
                child = self._make(spec)
                self._current.append(child)
                self._launch(child)
        except BaseException:
            for started in self._current:
                if started is not None and started._task is not None:
                    started._task._scheduler.cancel(started._task)
            if self._task is not None:
                self._task._scheduler.cancel(self._task)
            raise
        return self

    def run(self) -> Generator[Any, Any, Any]:
        """Restart crashed children until closed (not meant to be overridden)."""
        try:
            try:
                while True:
                    msg = yield self.recv()
                    if msg.__class__ is Down:
                        yield from self._on_down(msg)
                    elif msg.__class__ is Request:
                        msg.fail(CoopUsageError(f"{self.name} is a Supervisor; it answers no "
                                                f"requests: ask its children"))
                    else:
                        log.warning("coop: %s ignored a message: %r", self.name, msg)
            except ActorExit:
                yield from self._close_children()
                raise
        except ActorExit:
            raise
        except BaseException as exc:
            yield from self._stop_children(exc)
            raise

    # -- internals

    def _make(self, spec: ChildSpec) -> Actor:
        child = spec()
        if not isinstance(child, Actor):
            raise TypeError(f"Supervisor child factory {spec!r} returned {child!r}, "
                            f"not an Actor")
        return child

    def _launch(self, child: Actor) -> None:
        child._mb.supervised = True
        child.start()
        monitor(child, self)

    def _on_down(self, down: Down) -> Generator[Any, Any, None]:
        current = self._current
        index = next((i for i, c in enumerate(current) if c is down.actor), -1)
        if index < 0:
            return  # an instance already replaced, or stopped by us
        if down.reason is None:
            current[index] = None  # ended normally: not restarted
            return
        self._count_restart(down.actor, down.reason)
        strategy = self.strategy
        if strategy is Strategy.ONE_FOR_ONE:
            group = [index]
        elif strategy is Strategy.ONE_FOR_ALL:
            group = [i for i, c in enumerate(current) if c is not None]
        else:
            group = [i for i in range(index, len(current)) if current[i] is not None]
        for i in reversed(group):  # stop the others, last started first
            child = current[i]
            if i != index and child is not None and child._task is not None:
                yield Cancel(child._task, True)
        for i in group:
            old = current[i]
            if old is None:
                continue
            if old._mb.dead:  # it ended normally while we stopped the others
                current[i] = None
                continue
            self._replace(i)

    def _count_restart(self, child: Actor, reason: BaseException) -> None:
        now = self._now()
        restarts = self._restarts
        restarts.append(now)
        while restarts and restarts[0] <= now - self.within:
            restarts.popleft()
        if len(restarts) > self.max_restarts:
            raise TooManyRestarts(
                f"{self.name} gave up: more than {self.max_restarts} restart(s) within "
                f"{self.within:g}s; last: {child.name} failed with {reason!r}") from reason

    def _replace(self, index: int) -> Actor:
        old = self._current[index]
        assert old is not None
        new = self._make(self._specs[index])
        new._adopt(old)
        self._current[index] = new
        self._launch(new)
        return new

    def _now(self) -> float:
        task = self._task
        assert task is not None
        return task._scheduler.now()

    def _close_children(self) -> Generator[Any, Any, None]:
        # Last started first, each after it has handled every message sent before its
        # close; one that crashes on the way is restarted to finish the rest.
        for index in reversed(range(len(self._current))):
            while True:
                child = self._current[index]
                if child is None:
                    break
                child.close()
                task = child._task
                assert task is not None
                if task._outcome == _PENDING:
                    try:
                        yield Join(task)
                    except BaseException:
                        if task._outcome == _PENDING:
                            raise  # not the child's failure: this supervisor is cancelled
                reason = _reason_of(task)
                if reason is None or child._mb.dead:
                    break
                self._count_restart(child, reason)
                self._replace(index)

    def _stop_children(self, reason: BaseException) -> Generator[Any, Any, None]:
        for child in reversed(self._current):
            if child is not None and child._task is not None:
                yield Cancel(child._task, True)
        for child in self._current:
            if child is not None:
                mb = child._mb
                mb.kill(mb.reason if mb.reason is not None else reason)
