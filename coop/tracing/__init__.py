"""coop.tracing: a run's timeline as a Chrome trace-event file, for Perfetto and chrome://tracing.

``coop.run(main, trace="run.json")`` writes one; so does a :class:`Tracer` added by hand with
:func:`coop.lowlevel.add_instrument`. The file holds:

* a track per task (``thread_name`` metadata names it after the task), and one for the
  scheduler itself, where it waits idle;
* a slice (``X``) per step: from the task's resume until it parks, yields again or the next
  task runs (the effect it yielded is in ``args``);
* instants (``i``) where a task parks (``args["waiting for"]``: what it waits for, in the words
  of deadlock reports), is woken (``args["by"]``, ``args["value"]``) and ends;
* flow arrows (``s`` and ``f``, bound to the slices at their ends): spawn to the child's first
  step, an actor's send to the step that received the message, ask to the actor's step that
  received the request and reply back to the asker, and any other wake (a lock released, an
  item put, a task joined) from the step that woke a task to the task's next step;
* offloaded calls (``to_thread``, ``to_process``, ``pmap``) as async slices (``b``/``e``) on
  the track of the worker thread or process where it is known (coop's own pools), else on a
  track named after the pool.

The time axis is the scheduler's clock, in microseconds: under a :class:`coop.VirtualClock`
its virtual seconds (one virtual second is one second on the axis), under the default clock
``time.monotonic()`` since the trace began. Each event is at least a nanosecond after the one
before, so that the steps a virtual clock runs at one instant stay in order, side by side.

>>> import json, io
>>> def child():
...     yield coop.sleep(1)
>>> def main():
...     yield coop.join((yield coop.spawn(child(), name="child")))
>>> out = io.StringIO()
>>> coop.run(main(), clock=coop.VirtualClock(), trace=out)
>>> trace = json.loads(out.getvalue())
>>> sorted({e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"})
['child', 'main', 'scheduler']
>>> coop.tracing.check(trace)
[]

With no tracer the scheduler pays nothing (no instrument is installed), and actors one test
of :data:`active` per send and receive.
"""

from __future__ import annotations

import json
import os
import reprlib
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ..lowlevel import Scheduler, Task, Throw, current_scheduler, running_scheduler

__all__ = [
    "Tracer",
    "active",
    "add_message_hooks",
    "check",
    "load",
    "message_received",
    "message_sent",
    "remove_message_hooks",
]

#: True while any scheduler has message hooks (a :class:`Tracer` has them): actors test it
#: before calling :func:`message_sent` and :func:`message_received`, and nothing else.
active = False

_hooks: dict[Scheduler, list[Any]] = {}
_hooks_lock = threading.Lock()

#: What each event is at least after the one before, in microseconds (a nanosecond).
_TICK = 0.001
#: What float sums of rounded microseconds may be off by, when slices are compared.
_SLACK = 1e-6
#: Tracks that are not a task nor a worker thread: the scheduler, pools whose workers are not
#: known. Above any task id or thread id a trace is likely to hold.
_SYNTHETIC_TID = 1 << 30

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4


def _text(obj: object) -> str:
    try:
        text = _short.repr(obj)
    except Exception as exc:  # a repr that fails must not lose the trace
        return f"<{type(obj).__name__}: repr failed with {type(exc).__name__}>"
    if text.startswith("<") and " object at 0x" in text:
        return type(obj).__name__  # object's own repr says no more, and differs each run
    return text


# ----------------------------------------------------------------- message hooks


def add_message_hooks(hooks: object, scheduler: Scheduler | None = None) -> None:
    """Call ``hooks.message_sent(sender, mailbox, message, ask)`` and
    ``hooks.message_received(receiver, mailbox, message)`` for the actors' messages of the
    running (or given) scheduler, from now on. A :class:`Tracer` adds itself.

    ``sender``/``receiver`` is the task that sent or took the message (None outside a task),
    ``mailbox`` the actor's mailbox (its ``name`` is the actor's), ``ask`` whether the message
    is the :class:`coop.Request` of an ``ask``. Called in the scheduler's thread only: a
    message sent from another OS thread is not reported.
    """
    global active
    scheduler = scheduler or current_scheduler()
    with _hooks_lock:
        _hooks.setdefault(scheduler, []).append(hooks)
        active = True


def remove_message_hooks(hooks: object, scheduler: Scheduler | None = None) -> None:
    """Stop calling ``hooks`` (no error if they were not added)."""
    global active
    with _hooks_lock:
        for key, listed in list(_hooks.items()):
            if scheduler is not None and key is not scheduler:
                continue
            if hooks in listed:
                listed.remove(hooks)
            if not listed:
                del _hooks[key]
        active = bool(_hooks)


def message_sent(mailbox: Any, message: Any, *, ask: bool = False) -> None:
    """What an actor's send (or ask) calls, when :data:`active`, before it delivers."""
    scheduler = running_scheduler()
    listed = _hooks.get(scheduler) if scheduler is not None else None
    if listed:
        sender = scheduler.current_task() if scheduler is not None else None
        for hooks in listed:
            hooks.message_sent(sender, mailbox, message, ask)


def message_received(mailbox: Any, message: Any) -> None:
    """What a receive calls, when :data:`active`, as it takes ``message`` from ``mailbox``
    (a receiver that waited is seen by the tracer when it is woken with the message)."""
    scheduler = running_scheduler()
    listed = _hooks.get(scheduler) if scheduler is not None else None
    if listed:
        receiver = scheduler.current_task() if scheduler is not None else None
        for hooks in listed:
            hooks.message_received(receiver, mailbox, message)


# ----------------------------------------------------------------- the tracer


class _Step:
    __slots__ = ("args", "start", "task", "tid")

    def __init__(self, task: Task[Any], tid: int, start: float) -> None:
        self.task = task
        self.tid = tid
        self.start = start
        self.args: dict[str, Any] | None = None


class Tracer:
    """An instrument that records a run as Chrome trace events (see :mod:`coop.tracing`).

    ``file``: where :meth:`close` writes the trace (a path, a :class:`pathlib.Path` or an open
    text file); None keeps it for :meth:`trace` and :meth:`dump`. ``wakes``: draw an arrow for
    every wake by another task (a released lock, a put, a join), not only for spawns, messages
    and replies.

    Used alone:

    >>> from coop import lowlevel
    >>> tracer = coop.tracing.Tracer()
    >>> def main():
    ...     lowlevel.add_instrument(tracer)
    ...     yield coop.sleep(0.5)
    >>> coop.run(main(), clock=coop.VirtualClock())
    >>> tracer.close()
    >>> [(e["name"], e["ts"]) for e in tracer.trace()["traceEvents"] if e["ph"] == "i"]
    [('woken', 500000.0), ('exit', 500000.002)]

    Added from inside a task, as here, it sees the run from the scheduler's next look at its
    instruments on (main's park at 0 came before it). :meth:`close` takes it off again.
    """

    def __init__(self, file: str | os.PathLike[str] | IO[str] | None = None, *,
                 wakes: bool = True) -> None:
        self.file = file
        self.wakes = wakes
        self._scheduler: Scheduler | None = None
        self._clock: Callable[[], float] | None = None
        self._origin = 0.0
        self._last = -_TICK
        self._virtual = False
        self._pid = os.getpid()
        self._events: list[dict[str, Any]] = []
        # (pid, tid) -> (name, sort index); pid -> name
        self._threads: dict[tuple[int, int], tuple[str, int]] = {}
        self._processes: dict[int, str] = {}
        self._tids: dict[Task[Any], int] = {}
        self._synthetic = 0
        self._labels: dict[str, int] = {}
        self._open: _Step | None = None
        self._idle: tuple[float, Any] | None = None
        self._incoming: dict[Task[Any], list[dict[str, Any]]] = {}
        self._parked: dict[Task[Any], Any] = {}
        self._pending: dict[Any, deque[tuple[Any, dict[str, Any]]]] = {}
        self._asks: dict[Any, None] = {}
        self._calls: dict[int, tuple[Any, float, str | None]] = {}
        self._anonymous: deque[tuple[float, str | None]] = deque()
        self._ids = 0
        self._closed = False

    # -- binding, time and tracks

    def _bind(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        clock = scheduler.clock
        self._virtual = bool(getattr(clock, "virtual", False))
        self._clock = scheduler.now
        self._origin = 0.0 if self._virtual else scheduler.now() * 1e6
        self._processes[self._pid] = f"coop scheduler (pid {self._pid})"
        self._threads[(self._pid, _SYNTHETIC_TID)] = ("scheduler", 0)
        add_message_hooks(self, scheduler)

    def _now(self) -> float:
        assert self._clock is not None
        ts = self._clock() * 1e6 - self._origin
        least = self._last + _TICK
        if ts < least:
            ts = least
        self._last = ts
        return ts

    def _tid(self, task: Task[Any]) -> int:
        tid = self._tids.get(task)
        if tid is None:
            if self._scheduler is None:
                self._bind(task.scheduler)
            tid = task.id
            if (self._pid, tid) in self._threads:  # a worker thread's id: keep them apart
                tid = self._new_synthetic()
            self._tids[task] = tid
            self._threads[(self._pid, tid)] = (task.name, task.id)
        return tid

    def _new_synthetic(self) -> int:
        self._synthetic += 1
        return _SYNTHETIC_TID + self._synthetic

    def _instant(self, name: str, tid: int, ts: float, args: dict[str, Any],
                 pid: int | None = None) -> None:
        self._events.append({"ph": "i", "s": "t", "name": name, "cat": "coop",
                             "pid": self._pid if pid is None else pid, "tid": tid, "ts": ts,
                             "args": args})

    def _close_step(self, ts: float) -> None:
        step = self._open
        if step is None:
            return
        self._open = None
        event: dict[str, Any] = {"ph": "X", "name": step.task.name, "cat": "step",
                                 "pid": self._pid, "tid": step.tid, "ts": step.start,
                                 "dur": ts - step.start}
        if step.args:
            event["args"] = step.args
        self._events.append(event)

    def _flow_from(self, name: str, task: Task[Any]) -> dict[str, Any]:
        """The start of an arrow from ``task``'s step now; kept until its end is known."""
        self._ids += 1
        return {"ph": "s", "id": self._ids, "name": name, "cat": "coop.flow",
                "pid": self._pid, "tid": self._tid(task), "ts": self._now()}

    def _arrive(self, task: Task[Any], start: dict[str, Any]) -> None:
        """The arrow ``start`` ends at ``task``'s next step."""
        self._incoming.setdefault(task, []).append(start)

    def _waker(self, woken: Task[Any]) -> Task[Any] | None:
        assert self._scheduler is not None
        waker = self._scheduler.current_task()
        if waker is None and self._open is not None and self._open.task.done():
            waker = self._open.task  # a task that just ended wakes its joiners
        return None if waker is woken else waker

    # -- instrument hooks

    def task_spawned(self, task: Task[Any]) -> None:
        self._tid(task)
        scheduler = task.scheduler
        parent = scheduler.current_task()
        if parent is not None and parent is not task:
            self._arrive(task, self._flow_from("spawn", parent))

    def before_step(self, task: Task[Any]) -> None:
        tid = self._tid(task)
        ts = self._now()
        self._close_step(ts)
        self._open = _Step(task, tid, ts)
        self._parked.pop(task, None)
        arrows = self._incoming.pop(task, None)
        if arrows:
            for start in arrows:
                self._events.append(start)
                self._events.append({"ph": "f", "bp": "e", "id": start["id"],
                                     "name": start["name"], "cat": start["cat"],
                                     "pid": self._pid, "tid": tid, "ts": ts})

    def after_step(self, task: Task[Any], effect: Any) -> None:
        step = self._open
        if step is not None and step.task is task and effect is not None:
            step.args = {"yielded": _text(effect)}

    def task_parked(self, task: Task[Any], on: Any) -> None:
        tid = self._tid(task)
        ts = self._now()
        if self._open is not None and self._open.task is task:
            self._close_step(ts)
        self._parked[task] = on
        try:
            what = task.waiting_for
        except Exception:
            what = _text(on)
        self._instant("park", tid, self._now(), {"waiting for": what})

    def task_woken(self, task: Task[Any], value: Any) -> None:
        tid = self._tid(task)
        on = self._parked.pop(task, None)
        waker = self._waker(task)
        args: dict[str, Any] = {"by": waker.name if waker is not None else "the scheduler"}
        if value.__class__ is Throw:
            args["raised"] = _text(value.exc)
        elif value is not None:
            args["value"] = _text(value)
        taken = False
        if on is not None and value.__class__ is not Throw:
            if on in self._asks:
                del self._asks[on]
                if waker is not None:
                    self._arrive(task, self._flow_from("reply", waker))
                taken = True
            elif on in self._pending:
                taken = self._take(task, on, value)
        if not taken and self.wakes and waker is not None:
            self._arrive(task, self._flow_from("wake", waker))
        self._instant("woken", tid, self._now(), args)

    def task_exited(self, task: Task[Any]) -> None:
        self._parked.pop(task, None)
        self._incoming.pop(task, None)
        self._instant("exit", self._tid(task), self._now(), {"state": task.state.name})

    def before_idle(self, timeout: float | None) -> None:
        if self._scheduler is None:
            self._bind(current_scheduler())
        ts = self._now()
        self._close_step(ts)
        self._idle = (ts, timeout)

    def after_idle(self) -> None:
        if self._idle is None:
            return
        start, timeout = self._idle
        self._idle = None
        self._events.append({"ph": "X", "name": "idle", "cat": "scheduler", "pid": self._pid,
                             "tid": _SYNTHETIC_TID, "ts": start, "dur": self._now() - start,
                             "args": {"timeout": "none" if timeout is None else timeout}})

    def external_begin(self, call: object) -> None:
        if self._scheduler is None:
            self._bind(current_scheduler())
        assert self._scheduler is not None
        task = self._scheduler.current_task()
        entry = (self._now(), None if task is None else task.name)
        if call is None:
            self._anonymous.append(entry)
        else:
            self._calls[id(call)] = (call, *entry)

    def external_end(self, call: object) -> None:
        if call is None:
            if not self._anonymous:
                return
            start, by = self._anonymous.popleft()
        else:
            found = self._calls.pop(id(call), None)
            if found is None:
                return
            _, start, by = found
        end = self._now()
        pid, tid = self._worker_track(call)
        self._ids += 1
        name = str(getattr(call, "what", None) or "external call")
        args: dict[str, Any] = {"by": by or "the scheduler"}
        backend = getattr(call, "backend", None)
        if backend is not None:
            args["on"] = str(getattr(backend, "label", backend))
        common = {"cat": "offload", "name": name, "id": self._ids, "pid": pid, "tid": tid}
        self._events.append({"ph": "b", "ts": start, "args": args, **common})
        self._events.append({"ph": "e", "ts": end, **common})

    def _worker_track(self, call: object) -> tuple[int, int]:
        where = getattr(call, "where", None)
        found = where() if callable(where) else None
        if found is not None:
            pid, tid, name = found
            if pid != self._pid:
                self._processes.setdefault(pid, f"{name} (pid {pid})")
            key = (pid, tid)
            known = self._threads.get(key)
            if known is None or known[0] == name:
                self._threads[key] = (name, 1 << 20)
                return key
        backend = getattr(call, "backend", None)
        label = str(getattr(backend, "label", None) or "elsewhere")
        tid = self._labels.get(label)
        if tid is None:
            tid = self._labels[label] = self._new_synthetic()
            self._threads[(self._pid, tid)] = (label, 1 << 21)
        return self._pid, tid

    # -- message hooks (see add_message_hooks)

    def message_sent(self, sender: Task[Any] | None, mailbox: Any, message: Any,
                     ask: bool) -> None:
        if sender is None:
            return
        start = self._flow_from("ask" if ask else "message", sender)
        self._pending.setdefault(mailbox, deque()).append((message, start))
        if ask:
            self._asks[message] = None

    def message_received(self, receiver: Task[Any] | None, mailbox: Any,
                         message: Any) -> None:
        if receiver is not None and mailbox in self._pending:
            self._take(receiver, mailbox, message)

    def _take(self, receiver: Task[Any], mailbox: Any, message: Any) -> bool:
        pending = self._pending[mailbox]
        for i, (sent, start) in enumerate(pending):
            if sent is message:
                del pending[i]
                if not pending:
                    del self._pending[mailbox]
                self._arrive(receiver, start)
                return True
        return False

    # -- the result

    def trace(self) -> dict[str, Any]:
        """The trace so far, as the JSON object the file holds (``traceEvents`` and all)."""
        meta: list[dict[str, Any]] = []
        for pid, name in sorted(self._processes.items()):
            meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                         "args": {"name": name}})
        for (pid, tid), (name, index) in sorted(self._threads.items()):
            meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                         "args": {"name": name}})
            meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                         "args": {"sort_index": index}})
        events = sorted(self._events, key=_ts)
        for event in events:
            ts = event["ts"]
            event["ts"] = round(ts, 3)  # to the nanosecond; rounding keeps the order
            if "dur" in event:
                event["dur"] = round(round(ts + event["dur"], 3) - event["ts"], 3)
        return {"traceEvents": meta + events, "displayTimeUnit": "ms",
                "otherData": {"producer": "coop.tracing",
                              "clock": "virtual" if self._virtual else "monotonic"}}

    def dump(self, file: str | os.PathLike[str] | IO[str]) -> None:
        """Write :meth:`trace` as JSON to a path or an open text file."""
        trace = self.trace()
        if isinstance(file, (str, os.PathLike)):
            with open(file, "w", encoding="utf-8") as out:
                json.dump(trace, out, separators=(",", ":"))
        else:
            json.dump(trace, file, separators=(",", ":"))

    def close(self) -> None:
        """Stop tracing: the open step ends now, the tracer leaves its scheduler, and the trace
        goes to ``file`` if one was given. Only the first call does anything."""
        if self._closed:
            return
        self._closed = True
        remove_message_hooks(self)
        scheduler = self._scheduler
        if scheduler is not None:
            self._close_step(self._last)  # at the last thing it did, not the shutdown after
            try:
                scheduler.remove_instrument(self)
            except ValueError:
                pass  # removed already (or never added by hand to this scheduler)
        if self.file is not None:
            self.dump(self.file)


def _ts(event: dict[str, Any]) -> float:
    return float(event["ts"])


# ----------------------------------------------------------------- reading and checking


def load(file: str | os.PathLike[str] | IO[str]) -> dict[str, Any]:
    """Read a trace file (the JSON object form, or a bare list of events)."""
    if isinstance(file, (str, os.PathLike)):
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    else:
        data = json.load(file)
    if isinstance(data, list):
        data = {"traceEvents": data}
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        raise ValueError("not a Chrome trace: expected a JSON object with a traceEvents list, "
                         "or a list of events")
    return data


def check(trace: dict[str, Any] | Iterable[dict[str, Any]]) -> list[str]:
    """What is wrong with a trace, in words (an empty list: nothing).

    Every event has a phase, a pid and a tid, and all but metadata a numeric ``ts``; per
    track (pid and tid) timestamps never go back, each ``B`` has its ``E`` and complete
    slices nest; each flow has one ``s`` and then one ``f``; each async ``b`` has its ``e``;
    every track used is named by a ``thread_name`` and every process by a ``process_name``.
    """
    events = list(trace["traceEvents"] if isinstance(trace, dict) else trace)
    problems: list[str] = []
    named_threads: set[tuple[Any, Any]] = set()
    named_processes: set[Any] = set()
    used: set[tuple[Any, Any]] = set()
    last: dict[tuple[Any, Any], float] = {}
    open_b: dict[tuple[Any, Any], list[str]] = {}
    slices: dict[tuple[Any, Any], list[float]] = {}  # ends of the enclosing X slices
    flows: dict[Any, list[tuple[str, float]]] = {}
    asyncs: dict[tuple[Any, Any], list[tuple[str, float]]] = {}
    for n, event in enumerate(events):
        ph = event.get("ph")
        if ph is None or "pid" not in event or ("tid" not in event and ph != "M"):
            problems.append(f"event {n} lacks ph, pid or tid: {event}")
            continue
        key = (event["pid"], event.get("tid"))
        if ph == "M":
            if event.get("name") == "thread_name":
                named_threads.add(key)
            elif event.get("name") == "process_name":
                named_processes.add(event["pid"])
            continue
        ts = event.get("ts")
        if not isinstance(ts, (int, float)):
            problems.append(f"event {n} has no numeric ts: {event}")
            continue
        used.add(key)
        if ts < last.get(key, float("-inf")):
            problems.append(f"event {n} goes back in time on track {key}: {ts} after "
                            f"{last[key]}")
        last[key] = ts
        if ph == "X":
            dur = event.get("dur")
            if not isinstance(dur, (int, float)) or dur < 0:
                problems.append(f"event {n}: a complete slice needs a dur >= 0: {event}")
                continue
            ends = slices.setdefault(key, [])
            while ends and ends[-1] <= ts + _SLACK:
                ends.pop()  # the slices that ended before this one began
            if ends and ts + dur > ends[-1] + _SLACK:
                problems.append(f"event {n}: slice {event.get('name')!r} on {key} overlaps "
                                f"the one it starts in without nesting")
            ends.append(ts + dur)
        elif ph == "B":
            open_b.setdefault(key, []).append(str(event.get("name")))
        elif ph == "E":
            if not open_b.get(key):
                problems.append(f"event {n}: an E on {key} with no B open")
            else:
                open_b[key].pop()
        elif ph in ("s", "f"):
            if "id" not in event:
                problems.append(f"event {n}: a flow event without an id")
                continue
            flows.setdefault((event.get("cat"), event["id"]), []).append((ph, ts))
        elif ph in ("b", "e"):
            if "id" not in event:
                problems.append(f"event {n}: an async event without an id")
                continue
            asyncs.setdefault((event.get("cat"), event["id"]), []).append((ph, ts))
    for key, names in open_b.items():
        if names:
            problems.append(f"track {key}: B without E: {names}")
    for fid, pair in flows.items():
        if [ph for ph, _ in pair] != ["s", "f"] or pair[0][1] > pair[1][1]:
            problems.append(f"flow {fid}: wants one s then one f, got {pair}")
    for aid, pair in asyncs.items():
        if [ph for ph, _ in pair] != ["b", "e"] or pair[0][1] > pair[1][1]:
            problems.append(f"async slice {aid}: wants one b then one e, got {pair}")
    for key in sorted(used - named_threads, key=str):
        problems.append(f"track {key} has no thread_name")
    for pid in sorted({pid for pid, _ in used} - named_processes, key=str):
        problems.append(f"process {pid} has no process_name")
    return problems
