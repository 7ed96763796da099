"""Request: ask/reply. One object is the effect the asker yields, the message the actor
receives and the thing the asker is parked on, so a round trip allocates nothing else."""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING, Any, overload

from .. import tracing
from ..errors import CoopUsageError, Timeout
from ..lowlevel import SUSPENDED, Effect, Scheduler, Task, Throw
from .errors import short

if TYPE_CHECKING:
    # A default (PEP 696; typing's TypeVar takes one from Python 3.13, typing_extensions' is
    # known to type checkers at every version) keeps a bare `Request` meaning Request[Any],
    # valid under --strict as it was before the class was generic. At run time a TypeVar needs
    # no default, and typing_extensions need not be installed.
    from typing_extensions import TypeVar

    from .mailbox import Mailbox

    R = TypeVar("R", default=Any)
else:
    from typing import TypeVar

    R = TypeVar("R")

_get_ident = threading.get_ident


class RequestState(enum.Enum):
    """Where a :class:`Request` is in its life (its repr shows the value)."""

    NEW = "new"              # made by ask(), not yielded yet
    WAITING = "waiting"      # yielded: the asker waits for the answer
    ANSWERED = "answered"    # replied to, or failed with request.fail()
    ABANDONED = "abandoned"  # the asker gave up first (a timeout, a cancellation)
    FAILED = "failed"        # withdrawn: the actor ended without answering


# Module globals: the hot paths compare with them, a cheaper lookup than the enum's attributes.
_NEW = RequestState.NEW
_WAITING = RequestState.WAITING
_ANSWERED = RequestState.ANSWERED
_ABANDONED = RequestState.ABANDONED
_FAILED = RequestState.FAILED


class Request(Effect[R]):
    """A question put by :meth:`Actor.ask`: what the actor receives, to answer once.

    ``Request[R]`` is answered with an ``R``, what ``yield from actor.ask(body)`` gives the
    asker (``R`` is the reply type of an ``Actor[M, R]``).

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

    __slots__ = ("_asker", "_gave_up", "_mb", "_scheduler", "_state", "_thread", "_timeout",
                 "body")

    def __init__(self, mb: Mailbox, body: Any, timeout: float | None) -> None:
        self.body = body
        self._mb = mb
        self._timeout = timeout
        self._asker: Task[Any] | None = None
        self._state = _NEW
        # Set by unpark(): an answer sent from another thread must not wake an asker that was
        # cancelled (or timed out) while the answer travelled.
        self._gave_up = False
        # The asker's thread and scheduler, set when asked; read only while _asker is set.
        self._thread: int
        self._scheduler: Scheduler

    def _coop_apply(self, scheduler: Scheduler, task: Task[Any]) -> Any:
        if self._state is not _NEW:
            raise CoopUsageError(
                f"{self!r} was yielded again: a Request is yielded once, by the asker; "
                f"the actor answers it with request.reply(value)")
        mb = self._mb
        if task is mb.task:
            raise CoopUsageError(
                f"{mb.name} asked itself ({short(self.body)}): it would wait forever for a "
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
        self._scheduler = scheduler
        scheduler.park(task, self, True)  # owned: the actor must reply, a wait-for edge
        mb.asks[self] = None
        if tracing.active:
            tracing.message_sent(mb, self, ask=True)
        if local:
            waiter = mb.waiter
            if waiter is None:
                mb.queue.append(self)
            elif mb.match is None:
                mb.waiter = None
                mb.wake(waiter, self, mb.revoke)
            else:
                mb.deliver(self)
        elif mb.thread == ident:
            mb.deliver(self)  # in line if the mailbox is full: its asker waits anyway
        else:
            mb.hand_in(self)
        if self._timeout is not None:
            scheduler.set_deadline(task, scheduler.now() + self._timeout, self._timed_out)
        return SUSPENDED

    # Two spellings for the checker: reply() answers None, so only a Request[None] (or a bare
    # Request, Request[Any]) may leave the value out.
    @overload
    def reply(self: Request[None]) -> None: ...

    @overload
    def reply(self, value: R) -> None: ...

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
            self._scheduler.wake(asker, value)
        else:
            self._scheduler.call_soon_threadsafe(self._wake_from_afar, asker, value)

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

    def withdraw(self, exc: BaseException) -> None:
        """What coop does to a request whose actor ended (or crashed) without answering it:
        ``exc`` (an :class:`ActorStopped`) is raised in the asker, and a later ``reply`` or
        ``fail``, from whoever still holds the request, is ignored rather than refused."""
        self._mb.asks.pop(self, None)
        self._finish(Throw(exc), _FAILED)

    def _finish(self, value: Any, state: RequestState) -> None:
        asker = self._asker
        if asker is None:
            return
        self._asker = None
        self._state = state
        if _get_ident() == self._thread:
            self._scheduler.wake(asker, value)
        else:
            self._scheduler.call_soon_threadsafe(self._wake_from_afar, asker, value)

    def _wake_from_afar(self, asker: Task[Any], value: Any) -> None:
        if not self._gave_up:
            self._scheduler.wake(asker, value)

    def _refuse(self, what: str) -> None:
        state = self._state
        if state is _NEW:
            raise CoopUsageError(f"{what}() on a request nobody has asked yet: {self!r}")
        if state is _ANSWERED:
            raise CoopUsageError(f"{self!r} was already answered; a request is answered once")
        # ABANDONED or FAILED: the asker is gone or has its error; nothing to do.

    def _timed_out(self) -> BaseException:
        return Timeout(f"no reply from {self._mb.name} to ask({short(self.body)}) "
                       f"within {self._timeout}s")

    @property
    def answered(self) -> bool:
        """True once the request was replied to or failed (or its asker gave up)."""
        return self._state is not _NEW and self._state is not _WAITING

    # Parkable: the asker waits on its request.
    def unpark(self, task: Task[Any]) -> None:
        """Kernel hook: the asker gave up (timed out or cancelled); withdraw the request."""
        self._gave_up = True
        if self._state is not _WAITING:
            return
        self._state = _ABANDONED
        self._asker = None
        mb = self._mb
        mb.asks.pop(self, None)
        mb.remove(self)  # withdrawn if the actor has not received it yet

    def describe(self) -> str:
        """Kernel hook: what the asker waits for, for deadlock reports."""
        return f"a reply from {self._mb.name} to ask({short(self.body, 40)})"

    def holders(self) -> list[Task[Any]]:
        """Kernel hook: the actor's task, which must reply (for wait-for cycles)."""
        task = self._mb.task
        return [] if task is None or task.done() else [task]

    def __repr__(self) -> str:
        return f"<Request ask({short(self.body, 40)}) to {self._mb.name} {self._state.value}>"
