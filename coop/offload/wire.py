"""What crosses a process boundary: calls, outcomes, and why something cannot cross.

A call bound for another process is pickled once, in the scheduler's thread, before it is
submitted. That is the early picklability check (a lambda fails here, in the task that asked,
with an error naming it) and also the payload itself: the pool only ever ships ``bytes``, so the
work is not pickled twice. The worker runs :func:`invoke`, which pickles the outcome itself,
so an unpicklable result or exception is reported as clearly as an unpicklable argument, and a
failure carries the worker's formatted traceback home.

This module is imported by worker processes: it needs nothing beyond the standard library.
"""

from __future__ import annotations

import enum
import io
import os
import pickle
import socket
import struct
import threading
import traceback
import types
from collections.abc import Callable, Iterable
from typing import Any

#: Outcome tags, the first item of a decoded outcome tuple (plain ints: they are pickled).
OK = 0
ERR = 1


class Completion(enum.IntEnum):
    """What a pool's completion callback ``done(kind, value)`` is told ``value`` is."""

    VALUE = 0  # the call's result itself
    ERROR = 1  # an exception raised in this process
    WIRE = 2  # a pickled outcome from a worker process (made by invoke)
    CRASH = 3  # the worker died: a sentence saying how
    OUTCOME = 4  # an outcome tuple that a backend's own serializer carried


VALUE = Completion.VALUE
ERROR = Completion.ERROR
WIRE = Completion.WIRE
CRASH = Completion.CRASH
OUTCOME = Completion.OUTCOME

#: A completion callback, ``done(kind, value)``, called once from whatever thread the pool
#: completes the call on.
Done = Callable[[Completion, Any], None]

# A call's payload says how to run it: call ``fn(*args, **kw)``, or map ``fn`` over items.
_CALL = 0
_MAP = 1

_PROTOCOL = pickle.HIGHEST_PROTOCOL


class RemoteTraceback(Exception):
    """The traceback of an exception raised in another process, as text.

    An exception raised by offloaded work is re-raised in the waiting task with one of these
    as its ``__cause__``, so Python prints where the call failed in the worker first, then
    where the task was waiting.

    >>> def main():
    ...     try:
    ...         yield coop.to_process(int, "not a number")
    ...     except ValueError as err:
    ...         return isinstance(err.__cause__, coop.RemoteTraceback)
    >>> coop.run(main())
    True
    """

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


# ------------------------------------------------------------------ the parent's side


def describe_callable(fn: Any) -> str:
    """A short name for ``fn`` for messages: ``square``, ``Worker.run``, ``partial(pow)``."""
    inner = getattr(fn, "func", None)  # functools.partial
    if inner is not None and not hasattr(fn, "__qualname__"):
        return f"partial({describe_callable(inner)})"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if isinstance(name, str):
        return name
    return type(fn).__name__


def dumps_call(what: str, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> bytes:
    """Pickle a call ``fn(*args, **kwargs)``; a TypeError that names the culprit if impossible."""
    try:
        return pickle.dumps((_CALL, fn, args, kwargs), _PROTOCOL)
    except Exception as exc:
        raise unpicklable_error(what, exc, [("the function", fn)]
                                + [(f"argument {i}", a) for i, a in enumerate(args)]
                                + [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
                                ) from exc


def dumps_map(what: str, fn: Callable[..., Any], items: list[Any], first: int) -> bytes:
    """Pickle a chunk of a map; ``first`` is the index of ``items[0]`` in the whole iterable."""
    try:
        return pickle.dumps((_MAP, fn, items, None), _PROTOCOL)
    except Exception as exc:
        raise unpicklable_error(what, exc, [("the function", fn)]
                                + [(f"item {first + i}", x) for i, x in enumerate(items)]
                                ) from exc


def unpicklable_error(what: str, exc: BaseException,
                      parts: list[tuple[str, Any]], direction: str = "to") -> TypeError:
    """The TypeError for ``what`` whose ``parts`` failed to pickle with ``exc``."""
    for label, obj in parts:
        found = find_unpicklable(obj)
        if found is not None:
            path, culprit, why = found
            where = label + path
            shown = _short_repr(culprit)
            tail = "" if culprit is obj else f" (inside {_short_repr(obj)})"
            return TypeError(
                f"{what}: {where}, {shown}{tail}, cannot be sent {direction} a worker process: "
                f"{why}"
            )
    return TypeError(f"{what}: cannot be sent {direction} a worker process: "
                     f"{type(exc).__name__}: {exc}")


def find_unpicklable(obj: Any, depth: int = 0) -> tuple[str, Any, str] | None:
    """``(path, culprit, why)`` for the innermost object inside ``obj`` that cannot be pickled,
    or None if ``obj`` pickles. The path reads like Python: ``[2]``, ``['key']``, ``.attr``."""
    try:
        pickle.dumps(obj, _PROTOCOL)
    except Exception as exc:
        error: BaseException = exc
    else:
        return None
    if depth < 6:
        for path, child in _children(obj):
            found = find_unpicklable(child, depth + 1)
            if found is not None:
                return path + found[0], found[1], found[2]
    return "", obj, _why(obj, error)


def _children(obj: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(obj, (list, tuple)):
        return ((f"[{i}]", x) for i, x in enumerate(obj))
    if isinstance(obj, dict):
        return ((f"[{k!r}]", v) for k, v in obj.items())
    if isinstance(obj, (set, frozenset)):
        return (("'s member", x) for x in obj)
    if isinstance(obj, types.MethodType):
        return ((".__self__", obj.__self__),)
    inner = getattr(obj, "func", None)
    if inner is not None and callable(obj):  # functools.partial
        return [(".func", inner), *((f".args[{i}]", a) for i, a in enumerate(obj.args)),
                *((f".keywords[{k!r}]", v) for k, v in obj.keywords.items())]
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and not isinstance(obj, (type, types.ModuleType,
                                                        types.FunctionType)):
        return ((f".{k}", v) for k, v in state.items())
    return ()


def _why(obj: Any, error: BaseException) -> str:
    """Why ``obj`` cannot be pickled, in words, with what to do instead."""
    if isinstance(obj, types.FunctionType):
        if obj.__name__ == "<lambda>":
            return ("it is a lambda, and pickle sends functions by name: define it with `def` "
                    "at the top level of a module")
        if "<locals>" in obj.__qualname__:
            return ("it is a function defined inside another function, and pickle sends "
                    "functions by name: move it to the top level of a module")
        return (f"pickle sends functions by name and cannot find "
                f"{obj.__module__}.{obj.__qualname__} there ({error}); define it at the top "
                f"level of an importable module")
    if isinstance(obj, type) and "<locals>" in getattr(obj, "__qualname__", ""):
        return "it is a class defined inside a function: move it to the top level of a module"
    if isinstance(obj, io.IOBase):
        return "it is an open file: pass its path and open it in the worker"
    if isinstance(obj, socket.socket):
        return "it is a socket: open the connection in the worker instead"
    if isinstance(obj, _LOCK_TYPES):
        return ("it is a lock, which only works inside one process: use a "
                "multiprocessing.Manager() lock, or keep the locking in the task")
    if isinstance(obj, (types.GeneratorType, types.CoroutineType)):
        return ("it is a running generator or coroutine, whose frame cannot be copied: pass "
                "the data it would produce (a list) instead")
    if isinstance(obj, types.ModuleType):
        return "it is a module: import it in the worker instead"
    return f"{type(error).__name__}: {error}"


_LOCK_TYPES: tuple[type, ...] = (type(threading.Lock()), type(threading.RLock()),
                                 threading.Condition, threading.Semaphore, threading.Event)


def _short_repr(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = f"<{type(obj).__name__} object>"
    return text if len(text) <= 70 else text[:67] + "..."


def decode(data: bytes) -> tuple[Any, ...]:
    """Unpickle an outcome made by :func:`invoke`: ``(OK, value)`` or ``(ERR, exc, tb)``."""
    outcome: tuple[Any, ...] = pickle.loads(data)
    return outcome


def attach_remote(exc: BaseException, tb: str | None) -> BaseException:
    """Make the worker's traceback text the ``__cause__`` of ``exc`` (when there is one)."""
    if tb:
        exc.__cause__ = RemoteTraceback(tb)
    return exc


def rebuild_exception(cls: type[BaseException], args: tuple[Any, ...],
                      state: dict[str, Any] | None) -> BaseException:
    """An instance of ``cls`` with ``args`` and ``state``, made without calling its __init__.

    An exception whose ``__init__`` takes other arguments than it passes to
    ``Exception.__init__`` (``QuotaError(user, limit)`` with one message) pickles but cannot
    be unpickled, because unpickling calls ``cls(*exc.args)``. The worker sends such an
    exception as its class, args and ``__dict__`` instead, so the task still gets a real
    ``QuotaError`` with its message and attributes.
    """
    exc = cls.__new__(cls, *args)
    exc.args = args
    if state:
        exc.__dict__.update(state)
    return exc


def outcome_error(what: str, outcome: tuple[Any, ...]) -> BaseException:
    """The exception an ERR outcome stands for, with the worker's traceback as its cause."""
    _, exc, tb = outcome[:3]
    if isinstance(exc, bytes):  # sent pickled apart, so that the outcome itself always loads
        try:
            exc = pickle.loads(exc)
        except Exception as why:
            described = outcome[3] if len(outcome) > 3 else "an exception"
            exc = RuntimeError(f"{what} raised {described} (the exception cannot be rebuilt "
                               f"in this process: {type(why).__name__}: {why})")
    return attach_remote(exc, tb)


# ------------------------------------------------------------------ the worker's side


def invoke(payload: bytes) -> bytes:
    """Run a pickled call in this (worker) process; return its pickled outcome.

    Never raises for the call's own failures: they come back as an ERR outcome with the
    traceback formatted here, so every backend brings them home the same way.
    """
    try:
        mode, fn, args, kwargs = pickle.loads(payload)
    except BaseException as exc:
        return _dump_error(exc, "the call could not be unpickled in the worker process")
    return run_call(mode, fn, args, kwargs)


def invoke_direct(fn: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The call for backends that pickle it themselves (loky, Dask, Ray).

    Returns the outcome tuple, not bytes: the backend's own serializer (cloudpickle) carries
    it home, so whatever the backend alone could return (an instance of a class defined in
    ``__main__``, a lambda) coop returns too.
    """
    return run_direct(_CALL, fn, args, kwargs)


def map_direct(fn: Callable[..., Any], items: list[Any]) -> tuple[Any, ...]:
    """A chunk of a map, for backends that pickle the call themselves (loky, Dask, Ray)."""
    return run_direct(_MAP, fn, items, None)


def map_local(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """A chunk of a map run in a thread of this process."""
    return [fn(x) for x in items]


def run_direct(mode: int, fn: Any, args: Any, kwargs: Any) -> tuple[Any, ...]:
    try:
        value = [fn(x) for x in args] if mode == _MAP else fn(*args, **kwargs)
    except BaseException as exc:
        tb = _format(exc, None)
        exc.__traceback__ = None
        return (ERR, _portable(exc), tb)
    return (OK, value)


def run_call(mode: int, fn: Any, args: Any, kwargs: Any) -> bytes:
    try:
        value = [fn(x) for x in args] if mode == _MAP else fn(*args, **kwargs)
    except BaseException as exc:
        return _dump_error(exc, None)
    try:
        return pickle.dumps((OK, value), _PROTOCOL)
    except Exception as exc:
        error = unpicklable_error(f"the result of {describe_callable(fn)}", exc,
                                  [("the result", value)], direction="back from")
        return _dump_error(error, None)


def _format(exc: BaseException, note: str | None) -> str:
    tb = "".join(traceback.format_exception(exc))
    tb = '\n"""\n' + tb + '"""'
    return f"{note}\n{tb}" if note else tb


class _Rebuilt:
    """Pickles as :func:`rebuild_exception` of the exception it wraps."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __reduce__(self) -> tuple[Any, ...]:
        exc = self.exc
        return rebuild_exception, (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))


def _portable(exc: BaseException) -> Any:
    """``exc``, or a stand-in that unpickles as it, when ``exc`` pickles but cannot be
    unpickled (see :func:`rebuild_exception`)."""
    try:
        pickle.loads(pickle.dumps(exc, _PROTOCOL))
    except Exception:
        return _Rebuilt(exc)
    return exc


def _dump_error(exc: BaseException, note: str | None) -> bytes:
    tb = _format(exc, note)
    exc.__traceback__ = None  # the frames are in the text; they are not picklable anyway
    described = f"{type(exc).__qualname__}: {exc}"
    try:
        data = pickle.dumps(_portable(exc), _PROTOCOL)
        pickle.loads(data)
    except Exception as why:
        substitute = RuntimeError(
            f"{type(exc).__name__}: {exc} (the exception itself cannot be pickled: {why})")
        data = pickle.dumps(substitute, _PROTOCOL)
    # Pickled apart from the outcome: if its class cannot be found in the parent (a class
    # only the worker has), the parent still learns what was raised, and where.
    return pickle.dumps((ERR, data, tb, described), _PROTOCOL)


# Pulled calls (multiprocessing.Pool). The pool is handed only an anonymous task, "run
# coop's next call": the worker connects to a watcher thread in the parent (over a socket it
# keeps open), asks for a call, runs it and sends the outcome back on the same socket. So the
# watcher knows exactly which worker holds which call: when a worker dies its socket closes
# and the call it held fails. A pool task lost in the pool's own plumbing (a worker killed
# while taking it) carries no call, so nothing is lost with it, and a call still waiting in
# the parent can be withdrawn, which a task in multiprocessing.Pool's queue cannot.

#: worker -> watcher: b"P"ull (its pid, length 0) or b"R"esult (call id, length, bytes);
#: watcher -> worker: b"C"all (call id, length, payload) or b"N"othing to run.
FRAME = struct.Struct("!cQQ")
_links: dict[Any, socket.socket | None] = {}


class LinkLost(Exception):
    """The worker lost its link to coop's watcher: the call it asked for never came."""


def invoke_pulled(address: Any, token: bytes) -> None:
    """A multiprocessing.Pool task: run the next call coop's watcher has for this pool."""
    link = _link(address, token)
    if link is None:
        raise LinkLost("the worker process could not reach coop's watcher")
    try:
        link.sendall(FRAME.pack(b"P", os.getpid(), 0))
        kind, call_id, size = FRAME.unpack(_recv_exact(link, FRAME.size))
        if kind != b"C":
            return  # the call this task was sent for was withdrawn, or another task ran it
        payload = _recv_exact(link, size)
    except OSError as exc:
        _links[(address, os.getpid())] = None
        raise LinkLost(f"the worker process lost coop's watcher: {exc}") from None
    data = invoke(payload)
    try:
        link.sendall(FRAME.pack(b"R", call_id, len(data)) + data)
    except OSError:
        _links[(address, os.getpid())] = None  # the watcher has gone: nobody waits for it


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    parts = []
    while size:
        part = sock.recv(min(size, 1 << 20))
        if not part:
            raise ConnectionResetError("coop's watcher closed the link")
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _link(address: Any, token: bytes) -> socket.socket | None:
    key = (address, os.getpid())  # a forked worker must not reuse its parent's socket
    sock = _links.get(key)
    if sock is not None:
        return sock
    family, where = address
    try:
        sock = socket.socket(socket.AF_UNIX if family == "unix" else socket.AF_INET)
        sock.connect(where)
        sock.sendall(token)
    except OSError:
        return None
    _links[key] = sock
    return sock
