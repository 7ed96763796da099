"""Actor, the class every actor subclasses, and :func:`actor`, which makes one of a generator
function."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Generic, overload

from .. import tracing
from ..errors import CoopUsageError
from ..lowlevel import Effect, Join, Task, check_seconds, running_scheduler
from .cell import ActorCell
from .errors import ActorExit
from .mailbox import SENT, Mailbox, Recv
from .request import R, Request

if TYPE_CHECKING:
    # Defaults, as Request's (see there): a bare `Actor`, as in `class Worker(coop.Actor)`,
    # stays Actor[Any, Any], valid under --strict as before the class was generic.
    from typing_extensions import TypeVar

    M = TypeVar("M", default=Any)
else:
    from typing import TypeVar

    M = TypeVar("M")

_get_ident = threading.get_ident

A = TypeVar("A", bound="Actor")


class Actor(Generic[M, R]):
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

    For a type checker an actor is an ``Actor[M, R]``: ``send`` takes an ``M``,
    ``yield from self.recv()`` gives one, and ``yield from actor.ask(body)`` gives an ``R``
    (a bare ``Actor`` is ``Actor[Any, Any]``). ``M`` is a claim about everything that
    arrives: it must also cover the :class:`Request` objects of asks (``Request[R]``) and
    the :class:`Down` of monitors, which reach the mailbox without going through ``send``.
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
        mb = Mailbox(self, size)
        # All that coop knows of this instance (see .cell); _mb and _recv_any are copies for
        # the hot paths, send, recv and ask: one attribute lookup each.
        self._cell = ActorCell(self, mb, name,
                               bool(type(self).daemon if daemon is None else daemon))
        self._mb = mb
        self._recv_any = mb.recv_any

    # -- what subclasses write

    def run(self) -> Generator[Any, Any, Any]:
        """The actor's body, a generator: ``msg = yield self.recv()`` in a loop.

        The default, like the lecture's, takes messages and drops them.
        """
        while True:
            yield self.recv()

    # -- messages

    def send(self, msg: M, timeout: float | None = None) -> Effect[None]:
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
        if tracing.active and msg is not ActorExit:
            tracing.message_sent(mb, msg)
        if mb.fast == _get_ident() and msg is not ActorExit:
            waiter = mb.waiter
            if waiter is None:
                mb.queue.append(msg)
                return SENT
            if mb.match is None:
                mb.waiter = None
                mb.wake(waiter, msg, mb.revoke)
            else:
                mb.deliver(msg)
            return SENT
        return mb.send_slow(msg, timeout)

    def try_send(self, msg: M) -> bool:
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

    def recv(self, match: Callable[[M], object] | None = None,
             timeout: float | None = None) -> Effect[M]:
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
            timeout = check_seconds(timeout, "recv(timeout=...)")
        return Recv(self._mb, match, timeout)

    def ask(self, body: Any, timeout: float | None = None) -> Request[R]:
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
            timeout = check_seconds(timeout, "ask(timeout=...)")
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
            cell = self._cell
        except AttributeError:
            raise CoopUsageError(
                f"{cls}.__init__ did not call super().__init__(): an actor needs its "
                f"mailbox") from None
        if cell.task is not None:
            raise CoopUsageError(
                f"{self.name} was already started; an actor runs once (make a new instance "
                f"to run it again)")
        scheduler = running_scheduler()
        if scheduler is None:
            raise CoopUsageError(
                f"{cls}.start() needs a running scheduler: call it from a task inside "
                f"coop.run(...), e.g. def main(): a = {cls}(); a.start(); ...; "
                f"coop.run(main())")
        body = self._body()
        # A supervisor restart may have handed this instance its predecessor's mailbox.
        mb = cell.mailbox
        self._mb = mb
        self._recv_any = mb.recv_any
        cell.start(scheduler, self._bootstrap(body))
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
        task = self._cell.task
        if task is None:
            raise CoopUsageError(f"{self.name} has not been started: call start() first")
        return Join(task)

    @property
    def name(self) -> str:
        """The actor's name: the one given, else its class name and task id (``Worker-4``)."""
        cell = self._cell
        if cell.name is not None:
            return cell.name
        task = cell.task
        return task.name if task is not None else type(self).__name__

    @property
    def task(self) -> Task[Any] | None:
        """The :class:`coop.Task` running the actor (None before ``start()``)."""
        return self._cell.task

    @property
    def queued(self) -> int:
        """How many messages wait in the mailbox."""
        return sum(1 for m in self._mb.messages() if m is not ActorExit)

    def __repr__(self) -> str:
        task = self._cell.task
        state = "not started" if task is None else str(task.state)
        return f"<{type(self).__name__} {self.name!r} {state}, {self.queued} queued>"

    # -- internals

    def _body(self) -> Any:
        cls = type(self).__name__
        run = inspect.unwrap(type(self).run)
        if not (inspect.isgeneratorfunction(run) or inspect.iscoroutinefunction(run)):
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
        except BaseException as exc:
            self._cell.failure = exc  # see ActorCell.failure
            raise


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

            def _body(self) -> Any:
                # This run() is no generator function, but fn is one (make() checked).
                if inspect.unwrap(type(self).run) is FunctionActor.run:
                    return self.run()
                return super()._body()

        FunctionActor.__name__ = fn.__name__
        FunctionActor.__qualname__ = fn.__qualname__
        FunctionActor.__module__ = fn.__module__
        FunctionActor.__doc__ = fn.__doc__
        return FunctionActor

    return make if fn is None else make(fn)

