"""The mailbox: the queue of messages, the receiver parked on it, the line of messages waiting
for room in a bounded one, the open asks; and the effects that send and receive.

How it is built, and what a supervisor restart does with it, is told in
:mod:`coop.actors`. It is the kernel ``Parkable`` a waiting receiver is parked on, so that
deadlock reports can say "a message in PrintActor-3's mailbox".
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import tracing
from ..errors import Cancelled, CoopUsageError, Timeout
from ..lowlevel import (
    SUSPENDED,
    Effect,
    Scheduler,
    Task,
    check_seconds,
    reschedule,
    reschedule_throw,
    running_scheduler,
)
from ..sync import QueueFull
from .errors import ActorExit, ActorStopped, short
from .request import Request

if TYPE_CHECKING:
    from .base import Actor

log = logging.getLogger("coop")

_get_ident = threading.get_ident

# Guards the hand-over of a mailbox from "not started" (messages go straight into the deque,
# from any thread) to "started" (messages from other threads go through the scheduler).
_prestart_lock = threading.Lock()


# ------------------------------------------------------------------------ effects


class _Sent(Effect[None]):
    """What ``send`` returns when the message fits: yielding it resumes at once."""

    __slots__ = ()

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        return None

    def __repr__(self) -> str:
        return "<sent>"


SENT = _Sent()


class RecvAny(Effect[Any]):
    """``recv()`` with no arguments: one per mailbox, reused, so receiving allocates nothing.

    Its ``_coop_apply`` is a closure over the mailbox, stored on the instance: the kernel's
    lookup then finds it without binding a method, and the closure reads its variables
    without attribute lookups. This is the one hot path of every message.
    """

    __slots__ = ("_coop_apply", "mb")

    def __init__(self, mb: Mailbox) -> None:
        self.mb = mb
        queue = mb.queue
        popleft = queue.popleft
        bounded = bool(mb.maxsize)

        def apply(scheduler: Scheduler, task: Task[Any]) -> Any:
            if mb.scheduler is not scheduler:
                mb.check_scheduler(task)
            if queue:
                msg = popleft()
                if msg is ActorExit or bounded or tracing.active:
                    return mb.took(msg)
                return msg
            if mb.waiter is None:
                mb.waiter = task
                return scheduler.park(task, mb)
            return mb.park(scheduler, task, None, None)

        self._coop_apply = apply  # type: ignore[method-assign]

    # Inside race/gather: a message taken for a contender that lost goes back to the front.
    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        pass

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        self.mb.give_back(value)

    def __repr__(self) -> str:
        return f"<recv from {self.mb.name}'s mailbox>"


class Recv(Effect[Any]):
    """``recv(match=..., timeout=...)``."""

    __slots__ = ("match", "mb", "timeout")

    def __init__(self, mb: Mailbox, match: Callable[[Any], object] | None,
                 timeout: float | None) -> None:
        self.mb = mb
        self.match = match
        self.timeout = timeout

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        mb = self.mb
        if mb.scheduler is not scheduler:
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
                        if tracing.active:
                            tracing.message_received(mb, msg)
                        return msg
        if self.timeout == 0:
            raise Timeout(f"no message{mb.matching(match)} in {mb.name}'s mailbox")
        return mb.park(scheduler, task, match, self.timeout)

    def _coop_hand_over(self, value: Any, holder: Task[Any], to: Task[Any]) -> None:
        pass

    def _coop_give_back(self, value: Any, holder: Task[Any]) -> None:
        self.mb.give_back(value)

    def __repr__(self) -> str:
        return f"<recv from {self.mb.name}'s mailbox{self.mb.matching(self.match)}>"


class _Admission(enum.Enum):
    """What a line entry's second item becomes instead of its sender, once settled."""

    IN = "in the mailbox"    # its message got in: a later yield of the send resumes at once
    GONE = "dropped"         # the actor ended first: a later yield raises ActorStopped


_IN = _Admission.IN
_GONE = _Admission.GONE


class _Line:
    """The messages waiting for room in a bounded mailbox, in order, as ``[msg, sender]``
    entries; ``sender`` is the task waiting for that message to get in, if any.

    It is the kernel ``Parkable`` those senders are parked on.
    """

    __slots__ = ("entries", "mb")

    def __init__(self, mb: Mailbox) -> None:
        self.entries: deque[list[Any]] = deque()
        self.mb = mb

    def admitted(self, entry: list[Any]) -> None:
        sender = entry[1]
        entry[1] = _IN
        if sender is not None and sender is not _IN:
            reschedule(sender)

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

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
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
        return scheduler.park(task, self.line)

    def __repr__(self) -> str:
        return f"<wait for room in {self.line.mb.name}'s mailbox>"


def _not_started(task: Task[Any], value: Any = None,
                 revoke: Callable[[Any], None] | None = None) -> None:
    raise AssertionError("a mailbox woke a receiver before its actor started")


# ------------------------------------------------------------------------ mailbox


class Mailbox:
    """The queue, the parked receiver, the line of messages waiting for room, the open asks.

    It outlives the instance that made it when a supervisor restarts that instance (see
    :mod:`coop.actors`): ``owner`` and ``task`` are the instance receiving from it now.
    """

    __slots__ = ("asks", "blocked", "closed", "dead", "fast", "inflight", "line", "match",
                 "maxsize", "owner", "queue", "reason", "recv_any", "revoke", "room",
                 "scheduler", "supervised", "task", "thread", "waiter", "wake")

    def __init__(self, owner: Actor, maxsize: int) -> None:
        self.queue: deque[Any] = deque()
        self.waiter: Task[Any] | None = None
        self.match: Callable[[Any], object] | None = None
        self.owner = owner
        self.task: Task[Any] | None = None
        self.scheduler: Scheduler | None = None
        # The scheduler's wake, bound once at start: the fast paths hand a message to the
        # parked receiver with it (that receiver is always a task of this scheduler).
        self.wake: Callable[..., None] = _not_started
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
        self.recv_any = RecvAny(self)
        self.revoke = self.queue.appendleft
        # The scheduler thread's id while a send from that thread needs no other check
        # (started, open, unbounded), else 0: one comparison on the hot path.
        self.fast = 0

    @property
    def name(self) -> str:
        return self.owner.name

    def bind(self, owner: Actor, task: Task[Any], scheduler: Scheduler) -> None:
        """``owner`` has started as ``task``: messages from other threads now go through
        ``scheduler``, and its own thread's sends may take the fast path."""
        with _prestart_lock:
            self.owner = owner
            self.task = task
            self.scheduler = scheduler
            self.wake = scheduler.wake
            self.thread = _get_ident()
        self.refresh()

    def refresh(self) -> None:
        waiter = self.waiter
        # A receiver that parked before the actor started may belong to another scheduler:
        # the fast paths, which wake with this one's, stay off for such a mailbox.
        fast = (self.scheduler is not None and not self.closed and not self.dead
                and not self.maxsize
                and (waiter is None or waiter.scheduler is self.scheduler))
        self.fast = self.thread if fast and self.thread is not None else 0

    def take_over(self, fresh: Mailbox, owner: Actor) -> None:
        """A supervisor restart: ``owner``, the new instance, receives from this mailbox from
        now on; what was sent to its own ``fresh`` one meanwhile comes after the rest."""
        self.queue.extend(fresh.queue)
        self.owner = owner
        self.task = None
        self.waiter = self.match = None

    def detach(self, task: Task[Any]) -> None:
        """``task``, the receiving instance's, has ended."""
        if self.task is task:
            self.task = None
            if self.waiter is task:
                self.waiter = self.match = None

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
            reschedule_throw(waiter, ActorExit())
            return self.enqueue(msg)
        revoke: Callable[[Any], None] | None
        if match is None:
            revoke = self.revoke
        else:
            try:
                matched = match(msg)
            except Exception as exc:  # the receiver's predicate: its error is the receiver's
                self.waiter = self.match = None
                reschedule_throw(waiter, exc)
                return self.enqueue(msg)
            if not matched:
                return self.enqueue(msg)
            position = len(self.queue)

            def revoke(value: Any) -> None:
                self.queue.insert(position, value)

        self.waiter = self.match = None
        reschedule(waiter, msg, revoke=revoke)
        return None

    def deliver_handed_in(self, msg: Any) -> None:
        if self.dead:
            log.debug("coop: %r reached %s after it ended; dropped", msg, self.name)
            return
        self.deliver(msg)

    def hand_in(self, msg: Any) -> None:
        """Deliver from a thread that is not the scheduler's (or before the actor started)."""
        scheduler = self.scheduler
        if scheduler is None:
            with _prestart_lock:
                if self.scheduler is None:
                    self.enqueue(msg)
                    return
                scheduler = self.scheduler
        scheduler.call_soon_threadsafe(self.deliver_handed_in, msg)

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
            return SENT
        self.check_open()
        if self.thread != _get_ident():
            if self.pushes_back():
                if timeout is not None:
                    timeout = check_seconds(timeout, "send(timeout=...)")
                if not self.reserve_room(timeout):
                    raise QueueFull(
                        f"{self.name}'s mailbox stayed full ({self.maxsize} messages) for "
                        f"{timeout:g} s; {short(msg)} was not sent")
                self.send_reserved(msg)
            else:
                self.hand_in(msg)
            return SENT
        entry = self.deliver(msg)
        if entry is not None:
            assert self.line is not None
            return _PutWait(self.line, entry)
        return SENT

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
        return bool(self.maxsize) and self.scheduler is not None and running_scheduler() is None

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
        scheduler = self.scheduler
        assert scheduler is not None
        scheduler.call_soon_threadsafe(self.deliver_reserved, msg)

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
        if tracing.active:
            tracing.message_received(self, msg)
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
        if self.scheduler is None:
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

    def park(self, scheduler: Scheduler, task: Task[Any],
             match: Callable[[Any], object] | None, timeout: float | None) -> Any:
        if self.waiter is not None:
            raise CoopUsageError(
                f"{task.name} tried to receive from {self.name}'s mailbox while "
                f"{self.waiter.name} is already waiting on it; one task receives at a time "
                f"(normally the actor itself)")
        self.waiter = task
        self.match = match
        scheduler.park(task, self)
        if timeout is not None:
            name, wanted = self.name, self.matching(match)
            scheduler.set_deadline(task, scheduler.now() + timeout, lambda: Timeout(
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
                    reschedule_throw(sender, ActorStopped(
                        f"{self.name} ended before taking the message", self.owner, reason))
        if self.blocked:
            self.room_freed()  # blocked thread senders now get ActorStopped

    def stranded(self) -> None:
        """The scheduler's run is over: if the actor's task was closed with it (run()
        failed) rather than ended, nothing will ever make room; let thread senders go."""
        task = self.task
        if task is not None and task.done() and not self.dead:
            self.kill(task.exception())

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
            request.withdraw(ActorStopped(
                f"{self.name} {how} before replying to ask({short(request.body)})",
                self.owner, reason))

    # -- Parkable (a receiver waiting for a message)

    def unpark(self, task: Task[Any]) -> None:
        if self.waiter is task:
            self.waiter = self.match = None

    def describe(self) -> str:
        return f"a message{self.matching(self.match)} in {self.name}'s mailbox"

    def holders(self) -> list[Task[Any]]:
        return []  # anyone may send
