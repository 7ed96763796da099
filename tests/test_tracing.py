"""coop.run(trace=...) and coop.tracing: the trace of real programs is well formed Chrome JSON
(checked here on its own, not only by coop.tracing.check), with the tracks, slices, instants
and arrows the docs promise."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coop
from coop import lowlevel, tracing
from coop.tracing import Tracer, check


def well_formed(trace):
    """The brief's checks, written apart from coop.tracing.check."""
    events = trace["traceEvents"]
    json.loads(json.dumps(trace))  # plain JSON all the way down
    named = {(e["pid"], e["tid"]) for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    timed = [e for e in events if e["ph"] != "M"]
    last = {}
    depth = Counter()
    flows = defaultdict(list)
    asyncs = defaultdict(list)
    for e in timed:
        track = (e["pid"], e["tid"])
        assert track in named, f"track {track} is not named"
        assert e["pid"] in processes
        assert e["ts"] >= last.get(track, float("-inf")), f"time goes back on {track}: {e}"
        last[track] = e["ts"]
        if e["ph"] == "B":
            depth[track] += 1
        elif e["ph"] == "E":
            depth[track] -= 1
            assert depth[track] >= 0
        elif e["ph"] == "X":
            assert e["dur"] >= 0
        elif e["ph"] in "sf":
            flows[(e["cat"], e["id"])].append(e)
        elif e["ph"] in "be":
            asyncs[(e["cat"], e["id"])].append(e)
    assert not +depth, f"B without E: {depth}"
    for pair in flows.values():
        assert [e["ph"] for e in pair] == ["s", "f"], pair
        assert pair[1]["bp"] == "e" and pair[0]["name"] == pair[1]["name"]
        assert pair[0]["ts"] <= pair[1]["ts"]
    for pair in asyncs.values():
        assert [e["ph"] for e in pair] == ["b", "e"], pair
        assert pair[0]["ts"] <= pair[1]["ts"] and pair[0]["name"] == pair[1]["name"]
    assert check(trace) == []
    return trace


def traced(main, **options):
    out = io.StringIO()
    result = coop.run(main, trace=out, **options)
    return result, well_formed(json.loads(out.getvalue()))


def tracks(trace):
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}


def flows(trace, name):
    """(from track name, to track name) of each arrow called ``name``."""
    names = tracks(trace)
    starts = {e["id"]: e for e in trace["traceEvents"] if e["ph"] == "s"}
    return [(names[(starts[e["id"]]["pid"], starts[e["id"]]["tid"])],
             names[(e["pid"], e["tid"])])
            for e in trace["traceEvents"] if e["ph"] == "f" and e["name"] == name]


def of(trace, ph, name=None):
    return [e for e in trace["traceEvents"]
            if e["ph"] == ph and (name is None or e["name"] == name)]


# ----------------------------------------------------------------- real programs


def test_tasks_get_a_track_each_with_steps_parks_wakes_and_spawn_arrows():
    def child(n):
        yield coop.sleep(n)
        return n

    def main():
        a = yield coop.spawn(child(1), name="a")
        b = yield coop.spawn(child(2), name="b")
        return (yield coop.join(a)) + (yield coop.join(b))

    result, trace = traced(main(), clock=coop.VirtualClock())
    assert result == 3
    names = tracks(trace)
    assert {"main", "a", "b", "scheduler"} <= set(names.values())
    assert sorted(flows(trace, "spawn")) == [("main", "a"), ("main", "b")]
    assert ("a", "main") in flows(trace, "wake")  # a's end wakes main's join
    steps = Counter(names[(e["pid"], e["tid"])] for e in of(trace, "X"))
    assert steps["a"] == 2 and steps["b"] == 2
    parks = [e["args"]["waiting for"] for e in of(trace, "i", "park")]
    assert any("timer" in p for p in parks) and "join(a)" in parks
    assert {e["args"]["state"] for e in of(trace, "i", "exit")} == {"DONE"}
    assert trace["otherData"]["clock"] == "virtual"


def test_virtual_time_is_the_time_axis():
    def main():
        yield coop.sleep(2.5)
        yield coop.sleep(1)

    _, trace = traced(main(), clock=coop.VirtualClock())
    woken = [e["ts"] for e in of(trace, "i", "woken")]
    assert woken == [2.5e6, 3.5e6]
    # Steps at one virtual instant stay in order, a nanosecond apart.
    steps = [e["ts"] for e in of(trace, "X")]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)


class Doubler(coop.Actor):
    def run(self):
        while True:
            request = yield self.recv()
            request.reply(2 * request.body)


class Printer(coop.Actor):
    def __init__(self, downstream=None, **kw):
        super().__init__(**kw)
        self.downstream = downstream
        self.seen = []

    def run(self):
        try:
            while True:
                msg = yield self.recv()
                self.seen.append(msg)
                if self.downstream is not None:
                    self.downstream.send(msg)
        except coop.ActorExit:
            if self.downstream is not None:
                self.downstream.close()


def test_an_actor_ask_has_an_arrow_there_and_the_reply_one_back():
    def main():
        doubler = Doubler(name="doubler").start()
        answers = [(yield doubler.ask(21)), (yield doubler.ask(1))]
        doubler.close()
        yield doubler.join()
        return answers

    answers, trace = traced(main())
    assert answers == [42, 2]
    assert flows(trace, "ask") == [("main", "doubler")] * 2
    assert flows(trace, "reply") == [("doubler", "main")] * 2
    assert not flows(trace, "message")
    woken = [e["args"] for e in of(trace, "i", "woken") if e["args"]["by"] == "doubler"]
    assert [w.get("value") for w in woken] == ["42", "2", None]  # the last: main's join


@pytest.mark.parametrize("maxsize", [0, 1])
def test_each_message_has_an_arrow_from_its_send_to_its_receive(maxsize):
    def main():
        last = Printer(name="last", maxsize=maxsize).start()
        first = Printer(last, name="first", maxsize=maxsize).start()
        for n in range(3):
            yield first.send(n)
        yield coop.sleep(0)
        first.send("late")  # to a receiver already waiting
        first.close()
        yield last.join()
        return last.seen

    seen, trace = traced(main())
    assert seen == [0, 1, 2, "late"]
    arrows = flows(trace, "message")
    assert Counter(arrows) == {("main", "first"): 4, ("first", "last"): 4}


def test_a_selective_receive_pairs_the_message_it_took():
    class Picky(coop.Actor):
        def run(self):
            got = [(yield self.recv(match=lambda m: m == "b")), (yield self.recv())]
            return got

    def main():
        picky = Picky(name="picky").start()
        picky.send("a")
        picky.send("b")
        return (yield picky.join())

    got, trace = traced(main())
    assert got == ["b", "a"]
    assert flows(trace, "message") == [("main", "picky")] * 2


def test_to_thread_is_an_async_slice_on_the_worker_threads_track():
    def main():
        yield coop.gather(coop.to_thread(time.sleep, 0.01), coop.to_thread(time.sleep, 0.01))
        return threading.get_native_id()

    _, trace = traced(main(), threads=2)
    names = tracks(trace)
    begins = of(trace, "b")
    assert len(begins) == 2 and len(of(trace, "e")) == 2
    for b in begins:
        assert b["name"] == "to_thread(sleep)" and b["cat"] == "offload"
        assert b["pid"] == os.getpid()
        assert names[(b["pid"], b["tid"])].startswith("coop-thread-")
        assert b["args"]["on"].startswith("coop's thread pool")
    assert len({b["tid"] for b in begins}) == 2  # the two calls ran on two threads at once
    idle = of(trace, "X", "idle")
    assert idle and idle[0]["args"]["timeout"] == "none"  # waiting for the threads


def test_to_process_is_an_async_slice_on_the_worker_process():
    def main():
        return (yield coop.to_process(pow, 2, 10))

    result, trace = traced(main(), processes=1)
    assert result == 1024
    (begin,) = of(trace, "b")
    assert begin["name"] == "to_process(pow)"
    assert begin["pid"] != os.getpid() and begin["tid"] == begin["pid"]
    processes = {e["pid"]: e["args"]["name"] for e in of(trace, "M", "process_name")}
    assert processes[begin["pid"]] == f"coop-worker (pid {begin['pid']})"


def test_pmap_and_calls_with_no_known_worker_go_on_the_pools_track():
    def main():
        return (yield coop.pmap(abs, [-1, -2, 3], chunksize=2, backend="threads"))

    result, trace = traced(main(), threads=1)
    assert result == [1, 2, 3]
    (begin,) = of(trace, "b")
    assert tracks(trace)[(begin["pid"], begin["tid"])].startswith("coop's thread pool")


def test_offload_under_a_virtual_clock():
    def main():
        yield coop.sleep(5)
        return (yield coop.to_thread(sum, [1, 2]))

    result, trace = traced(main(), clock=coop.VirtualClock())
    assert result == 3
    (begin,) = of(trace, "b")
    assert begin["ts"] >= 5e6


def test_the_file_can_be_a_path_a_pathlib_path_or_an_open_file(tmp_path: Path):
    def main():
        yield coop.sleep(0)

    coop.run(main(), trace=str(tmp_path / "a.json"))
    coop.run(main(), trace=tmp_path / "b.json")
    with open(tmp_path / "c.json", "w") as out:
        coop.run(main(), trace=out)
    for name in "abc":
        well_formed(tracing.load(tmp_path / f"{name}.json"))


def test_a_failed_run_still_writes_its_trace(tmp_path: Path):
    def main():
        yield coop.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        coop.run(main(), trace=tmp_path / "t.json")
    trace = well_formed(tracing.load(tmp_path / "t.json"))
    assert [e["args"]["state"] for e in of(trace, "i", "exit")] == ["FAILED"]


def test_a_deadlock_still_writes_its_trace(tmp_path: Path):
    # A wait-for cycle: raised at once, even while threads of earlier tests are alive.
    a, b = coop.Lock(), coop.Lock()

    def other():
        yield b.acquire()
        yield coop.sleep(0)
        yield a.acquire()

    def main():
        yield a.acquire()
        yield coop.spawn(other())
        yield coop.sleep(0)
        yield b.acquire()

    with pytest.raises(coop.Deadlock):
        coop.run(main(), trace=tmp_path / "t.json")
    well_formed(tracing.load(tmp_path / "t.json"))


def test_off_costs_nothing_no_instrument_and_no_message_hooks():
    seen = []

    def main():
        scheduler = lowlevel.current_scheduler()
        seen.append(scheduler._instruments)
        yield coop.sleep(0)

    coop.run(main())
    assert seen == [None]
    assert tracing.active is False

    def traced_main():
        seen.append(tracing.active)
        yield coop.sleep(0)

    coop.run(traced_main(), trace=io.StringIO())
    assert seen[-1] is True and tracing.active is False


def test_a_tracer_added_by_hand_and_closed():
    tracer = Tracer(wakes=False)

    def child():
        yield coop.sleep(1)

    def main():
        lowlevel.add_instrument(tracer)
        yield coop.sleep(0)
        yield coop.join((yield coop.spawn(child(), name="child")))

    coop.run(main(), clock=coop.VirtualClock())
    assert tracing.active  # until it is closed
    tracer.close()
    tracer.close()  # once is enough; a second does nothing
    assert not tracing.active
    trace = well_formed(tracer.trace())
    assert flows(trace, "spawn") == [("main", "child")]
    assert not flows(trace, "wake")
    buffer = io.StringIO()
    tracer.dump(buffer)
    assert json.loads(buffer.getvalue()) == json.loads(json.dumps(trace))


def test_message_hooks_of_ones_own():
    calls = []

    class Hooks:
        def message_sent(self, sender, mailbox, message, ask):
            calls.append(("sent", sender.name, mailbox.name, message, ask))

        def message_received(self, receiver, mailbox, message):
            calls.append(("received", receiver.name, mailbox.name, message))

    hooks = Hooks()

    def main():
        tracing.add_message_hooks(hooks)
        try:
            p = Printer(name="p").start()
            p.send("x")
            yield coop.sleep(0)
            p.send("y")  # to a receiver waiting: seen by a tracer when the receiver wakes
            p.close()
            yield p.join()
        finally:
            tracing.remove_message_hooks(hooks)

    coop.run(main())
    assert calls == [("sent", "main", "p", "x", False), ("received", "p", "p", "x"),
                     ("sent", "main", "p", "y", False)]
    assert not tracing.active


def test_a_task_that_ignores_cancellation_still_gives_a_well_formed_trace():
    def stubborn():
        for _ in range(5):
            try:
                yield coop.sleep(10)
            except coop.Cancelled:
                pass

    def main():
        task = yield coop.spawn(stubborn())
        yield coop.sleep(1)
        yield coop.cancel(task)

    traced(main(), clock=coop.VirtualClock())


def test_the_traces_of_the_examples_are_well_formed(tmp_path: Path):
    import runpy

    examples = Path(__file__).resolve().parent.parent / "examples"
    for name in ("actor_pipeline", "pipeline", "philosophers", "rwlock"):
        calls = []

        def defaults(name=name, calls=calls):
            calls.append(None)
            return {"trace": tmp_path / f"{name}-{len(calls)}.json"}

        coop.runner.DEFAULTS = defaults
        try:
            runpy.run_path(str(examples / f"{name}.py"), run_name="__main__")
        finally:
            coop.runner.DEFAULTS = None
        assert calls, name
        for n in range(1, len(calls) + 1):
            well_formed(tracing.load(tmp_path / f"{name}-{n}.json"))


# ----------------------------------------------------------------- check() itself


def _named(*events):
    meta = [{"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "p"}},
            {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "t"}}]
    return {"traceEvents": meta + list(events)}


@pytest.mark.parametrize(("events", "problem"), [
    ([{"ph": "B", "pid": 1, "tid": 1, "ts": 0, "name": "x"}], "B without E"),
    ([{"ph": "E", "pid": 1, "tid": 1, "ts": 0}], "no B open"),
    ([{"ph": "s", "pid": 1, "tid": 1, "ts": 0, "id": 1, "cat": "c"}], "one s then one f"),
    ([{"ph": "f", "pid": 1, "tid": 1, "ts": 0, "id": 1, "cat": "c"},
      {"ph": "s", "pid": 1, "tid": 1, "ts": 1, "id": 1, "cat": "c"}], "one s then one f"),
    ([{"ph": "b", "pid": 1, "tid": 1, "ts": 0, "id": 1, "cat": "c"}], "one b then one e"),
    ([{"ph": "X", "pid": 1, "tid": 2, "ts": 0, "dur": 1}], "no thread_name"),
    ([{"ph": "X", "pid": 3, "tid": 1, "ts": 0, "dur": 1}], "no process_name"),
    ([{"ph": "i", "pid": 1, "tid": 1, "ts": 5}, {"ph": "i", "pid": 1, "tid": 1, "ts": 4}],
     "back in time"),
    ([{"ph": "X", "pid": 1, "tid": 1, "ts": 0, "dur": 2},
      {"ph": "X", "pid": 1, "tid": 1, "ts": 1, "dur": 2}], "without nesting"),
    ([{"ph": "X", "pid": 1, "tid": 1, "ts": 0}], "dur"),
    ([{"ph": "i", "pid": 1, "tid": 1}], "numeric ts"),
    ([{"pid": 1, "tid": 1, "ts": 0}], "lacks ph"),
])
def test_check_finds_what_is_wrong(events, problem):
    problems = check(_named(*events))
    assert any(problem in p for p in problems), problems


def test_check_passes_nested_slices_and_load_reads_a_bare_list(tmp_path: Path):
    events = [{"ph": "X", "pid": 1, "tid": 1, "ts": 0, "dur": 4},
              {"ph": "X", "pid": 1, "tid": 1, "ts": 1, "dur": 2},
              {"ph": "X", "pid": 1, "tid": 1, "ts": 4, "dur": 1}]
    assert check(_named(*events)) == []
    (tmp_path / "list.json").write_text(json.dumps(_named(*events)["traceEvents"]))
    assert check(tracing.load(tmp_path / "list.json")) == []
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="traceEvents"):
        tracing.load(tmp_path / "bad.json")


# ----------------------------------------------------------------- random programs

_op = st.one_of(
    st.tuples(st.just("sleep"), st.integers(0, 3)),
    st.tuples(st.just("yield")),
    st.tuples(st.just("put"), st.integers(0, 1)),
    st.tuples(st.just("spawn"), st.integers(0, 2)),
    st.tuples(st.just("lock"), st.integers(0, 2)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs=st.lists(st.lists(_op, max_size=6), min_size=1, max_size=4),
       seed=st.integers(0, 2**16), virtual=st.booleans())
def test_random_programs_always_give_a_well_formed_trace(programs, seed, virtual):
    queues = [coop.Queue(), coop.Queue(maxsize=1)]
    lock = coop.Lock()
    puts = [0, 0]

    def helper(n):
        for _ in range(n):
            yield coop.sleep(0.001 * n)

    def worker(ops):
        children = []
        for op in ops:
            if op[0] == "sleep":
                yield coop.sleep(op[1] * (1 if virtual else 0.001))
            elif op[0] == "yield":
                yield
            elif op[0] == "put":
                puts[op[1]] += 1
                yield queues[op[1]].put(op)
            elif op[0] == "spawn":
                children.append((yield coop.spawn(helper(op[1]))))
            else:
                yield lock.acquire()
                try:
                    for _ in range(op[1]):
                        yield
                finally:
                    lock.release()
        for child in children:
            yield coop.join(child)

    def consumer(q, count):
        for _ in range(count):
            yield q.get()

    def main():
        for ops in programs:
            puts[0] += sum(1 for op in ops if op == ("put", 0))
            puts[1] += sum(1 for op in ops if op == ("put", 1))
        expected = list(puts)
        puts[:] = [0, 0]
        tasks = []
        for q, n in zip(queues, expected, strict=True):
            tasks.append((yield coop.spawn(consumer(q, n))))
        for ops in programs:
            tasks.append((yield coop.spawn(worker(ops))))
        for task in tasks:
            yield coop.join(task)

    traced(main(), policy=coop.RandomPolicy(seed),
           clock=coop.VirtualClock() if virtual else None)


# ----------------------------------------------------------------- the picture


def test_draw_makes_a_png(tmp_path: Path):
    pytest.importorskip("matplotlib")
    from coop.tracing.plot import draw

    def main():
        doubler = Doubler().start()
        yield doubler.ask(1)
        yield coop.to_thread(time.sleep, 0.001)
        doubler.close()

    _, trace = traced(main())
    draw(trace, tmp_path / "t.png", title="a run")
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    draw({"traceEvents": []}, tmp_path / "empty.png", arrows=False)


def test_draw_without_matplotlib_says_what_to_install(monkeypatch, tmp_path: Path):
    import sys

    from coop.tracing.plot import PlotUnavailable, draw

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotUnavailable, match=r"pip install coop-scheduler\[plot\]"):
        draw({"traceEvents": []}, tmp_path / "t.png")
