"""The core scheduler's figures, coop and its peers side by side in one process.

    .venv/bin/python benchmarks/bench_core.py          # full run, ~3 min: results/core.json
    .venv/bin/python benchmarks/bench_core.py --quick  # smoke run: small sizes, writes nothing
    .venv/bin/python benchmarks/bench_core.py --only switch,spawn --no-write

Figures (see README.md for the exact definitions):

* switch cost, 10 and 10,000 tasks: ns per bare-yield switch, by difference of two runs with
  different numbers of yields (so spawning, starting and finishing cancel out).
* spawn-and-finish cost: us per task spawned from a running task and run to its end.
* memory per sleeping task: tracemalloc bytes per task with 100,000 tasks parked in a sleep.
* timers: 100,000 tasks sleeping random times in [0, 0.5] s: CPU per timed task, lateness,
  early and out-of-order wakes.

A peer that is not installed is reported as n/a.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import random
import statistics
import sys
import threading
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

from common import (
    collect,
    cpu_timer,
    ensure_repo_on_path,
    figure,
    interleaved,
    interleaved_samples,
    timer,
    write_results,
)

ensure_repo_on_path()

import coop  # noqa: E402

# The same coop, pure Python, loaded beside the compiled kernel: both are measured in one run.
PURE = "coop (pure Python)"
coop_pure: Any = coop._native.load_pure_copy() if coop.kernel_build() == "compiled" else None

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None
try:
    import trio
    import trio.testing
except ImportError:  # pragma: no cover
    trio = None
try:
    import curio
except ImportError:  # pragma: no cover
    curio = None
try:
    import simpy
except ImportError:  # pragma: no cover
    simpy = None
try:
    import greenlet
except ImportError:  # pragma: no cover
    greenlet = None

monotonic = time.monotonic

FLOOR = "floor (next() loop)"
# curio.Kernel's reschedule_task() starts with `assert task not in ready`, a scan of the ready
# deque, so under a normal (non -O) interpreter each switch and each spawn costs O(ready tasks).
# That is curio as shipped, and it is measured as such, but with fewer switches or tasks (the
# per-task figure does not depend on the count for the others) so a run stays short.
CURIO_NOTE = "curio: fewer tasks (its reschedule asserts scan the ready queue)"
DEQUE = "deque scheduler"


def run_asyncio(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


def run_uvloop(coro_fn: Callable[[], Any]) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro_fn())


def available(peers: dict[str, Callable[..., Any] | None]) -> dict[str, Callable[..., Any]]:
    return {name: fn for name, fn in peers.items() if fn is not None}


# =================================================================== switch cost
#
# Each function runs n tasks that each give up their turn k times and returns the seconds the
# switching part took (setup before the clock starts where the API allows it). The figure is
# (t(k2) - t(k1)) / (n * (k2 - k1)): what one more switch costs, with spawning, the first
# step and finishing cancelled out.


def sw_floor(n: int, k: int) -> float:
    def gen(k: int) -> Any:
        for _ in range(k):
            yield

    gens = [gen(k) for _ in range(n)]
    t0 = timer()
    for _ in range(k):
        for g in gens:
            next(g)
    return timer() - t0


def sw_deque(n: int, k: int) -> float:
    def gen(k: int) -> Any:
        for _ in range(k):
            yield

    def run(gens: list[Any]) -> None:
        ready = deque(gens)
        popleft = ready.popleft
        append = ready.append
        while ready:
            g = popleft()
            try:
                next(g)
            except StopIteration:
                continue
            append(g)

    gens = [gen(k) for _ in range(n)]
    t0 = timer()
    run(gens)
    return timer() - t0


def sw_coop(n: int, k: int, lib: Any = coop) -> float:
    def task(k: int) -> Any:
        for _ in range(k):
            yield

    sched = lib.Scheduler()
    try:
        for _ in range(n):
            sched.spawn(task(k))
        t0 = timer()
        sched.run()
        return timer() - t0
    finally:
        sched.close()


def sw_greenlet(n: int, k: int) -> float:
    hub = greenlet.getcurrent()

    def body(k: int) -> None:
        switch = hub.switch
        for _ in range(k):
            switch()

    # A round-robin of greenlets: the hub switches into each in turn, each switches back.
    gs = [greenlet.greenlet(functools.partial(body, k)) for _ in range(n)]
    t0 = timer()
    ready = deque(gs)
    popleft = ready.popleft
    append = ready.append
    while ready:
        g = popleft()
        g.switch()
        if not g.dead:
            append(g)
    return timer() - t0


def _asyncio_switch(n: int, k: int, runner: Callable[[Callable[[], Any]], Any]) -> float:
    async def task(k: int) -> None:
        sleep = asyncio.sleep
        for _ in range(k):
            await sleep(0)

    result: list[float] = []

    async def main() -> None:
        tasks = [asyncio.create_task(task(k)) for _ in range(n)]
        t0 = timer()
        await asyncio.gather(*tasks)
        result.append(timer() - t0)

    runner(main)
    return result[0]


def sw_asyncio(n: int, k: int) -> float:
    return _asyncio_switch(n, k, run_asyncio)


def sw_uvloop(n: int, k: int) -> float:
    return _asyncio_switch(n, k, run_uvloop)


def sw_trio(n: int, k: int) -> float:
    async def task(k: int) -> None:
        checkpoint = trio.lowlevel.checkpoint
        for _ in range(k):
            await checkpoint()

    result: list[float] = []

    async def main() -> None:
        t0 = timer()
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(task, k)
        result.append(timer() - t0)

    trio.run(main)
    return result[0]


def sw_curio(n: int, k: int) -> float:
    async def task(k: int) -> None:
        sleep = curio.sleep
        for _ in range(k):
            await sleep(0)

    result: list[float] = []

    async def main() -> None:
        tasks = [await curio.spawn(task, k) for _ in range(n)]
        t0 = timer()
        for t in tasks:
            await t.join()
        result.append(timer() - t0)

    curio.run(main)
    return result[0]


def sw_simpy(n: int, k: int) -> float:
    def proc(env: Any, k: int) -> Any:
        timeout = env.timeout
        for _ in range(k):
            yield timeout(0)

    env = simpy.Environment()
    for _ in range(n):
        env.process(proc(env, k))
    t0 = timer()
    env.run()
    return timer() - t0


SWITCH_PEERS: dict[str, Any] = {
    FLOOR: sw_floor,
    DEQUE: sw_deque,
    "coop": sw_coop,
    PURE: functools.partial(sw_coop, lib=coop_pure) if coop_pure else None,
    "greenlet": sw_greenlet if greenlet else None,
    "asyncio": sw_asyncio,
    "uvloop": sw_uvloop if uvloop else None,
    "trio": sw_trio if trio else None,
    "curio": sw_curio if curio else None,
    "SimPy": sw_simpy if simpy else None,
}
# Peers fast enough to be given five times more switches per measurement.
FAST = {FLOOR, DEQUE, "coop", PURE}


def switch_cost(n: int, switches: int, repeats: int) -> dict[str, float | None]:
    def per_switch(fn: Callable[[int, int], float], total: int) -> Callable[[], float]:
        dk = max(1, total // n)
        k1 = max(1, dk // 10)
        k2 = k1 + dk

        def measure() -> float:
            t1 = fn(n, k1)
            collect()
            t2 = fn(n, k2)
            return (t2 - t1) / (n * (k2 - k1)) * 1e9

        return measure

    def budget(name: str) -> int:
        if name in FAST:
            return switches * 5
        if name == "curio" and n >= 1000:
            return switches // 20  # its switch is O(ready tasks): see CURIO_NOTE
        return switches

    peers = {name: per_switch(fn, budget(name)) for name, fn in available(SWITCH_PEERS).items()}
    limits = {"curio": 1} if n >= 1000 else {}  # ~5 s a measurement
    return interleaved(peers, repeats, label=f"switch n={n}: ", limits=limits)


# =============================================================== spawn-and-finish
#
# A running task spawns n children that end at once (their body is empty), then gives up its
# turn so that they all run; the clock runs from the first spawn until every child has
# finished. Result: microseconds per task. Threads: Thread(...).start() then join() each.


def sp_coop(n: int, lib: Any = coop) -> float:
    def child() -> Any:
        return
        yield

    result: list[float] = []

    def main() -> Any:
        spawn = lib.spawn
        tasks = []
        append = tasks.append
        t0 = timer()
        for _ in range(n):
            append((yield spawn(child())))
        yield  # every child is ahead of us in the ready queue: they all run and end
        result.append(timer() - t0)
        assert all(t.done() for t in tasks)

    lib.run(main())
    return result[0] / n * 1e6


def _asyncio_spawn(n: int, runner: Callable[[Callable[[], Any]], Any]) -> float:
    async def child() -> None:
        pass

    result: list[float] = []

    async def main() -> None:
        create_task = asyncio.create_task
        tasks = []
        append = tasks.append
        t0 = timer()
        for _ in range(n):
            append(create_task(child()))
        await asyncio.sleep(0)  # the children's first steps are queued ahead of ours
        result.append(timer() - t0)
        assert all(t.done() for t in tasks)

    runner(main)
    return result[0] / n * 1e6


def sp_asyncio(n: int) -> float:
    return _asyncio_spawn(n, run_asyncio)


def sp_uvloop(n: int) -> float:
    return _asyncio_spawn(n, run_uvloop)


def sp_trio(n: int) -> float:
    async def child() -> None:
        pass

    result: list[float] = []

    async def main() -> None:
        t0 = timer()
        async with trio.open_nursery() as nursery:
            start_soon = nursery.start_soon
            for _ in range(n):
                start_soon(child)
        result.append(timer() - t0)

    trio.run(main)
    return result[0] / n * 1e6


def sp_curio(n: int) -> float:
    async def child() -> None:
        pass

    result: list[float] = []

    async def main() -> None:
        spawn = curio.spawn
        tasks = []
        append = tasks.append
        t0 = timer()
        for _ in range(n):
            append(await spawn(child, daemon=True))
        await curio.sleep(0)
        result.append(timer() - t0)
        assert all(t.terminated for t in tasks)

    curio.run(main)
    return result[0] / n * 1e6


def sp_simpy(n: int) -> float:
    def child(env: Any) -> Any:
        return
        yield

    result: list[float] = []

    def main(env: Any) -> Any:
        process = env.process
        procs = []
        append = procs.append
        t0 = timer()
        for _ in range(n):
            append(process(child(env)))
        yield env.timeout(0)  # initialisations are urgent events: all children ran first
        result.append(timer() - t0)
        assert not any(p.is_alive for p in procs)

    env = simpy.Environment()
    env.process(main(env))
    env.run()
    return result[0] / n * 1e6


def sp_greenlet(n: int) -> float:
    def child() -> None:
        pass

    new = greenlet.greenlet
    gs = []
    append = gs.append
    t0 = timer()
    for _ in range(n):
        g = new(child)
        g.switch()  # no scheduler: run it to its end at once
        append(g)
    elapsed = timer() - t0
    assert all(g.dead for g in gs)
    return elapsed / n * 1e6


def sp_threads(n: int) -> float:
    def child() -> None:
        pass

    threads = []
    t0 = timer()
    for _ in range(n):
        t = threading.Thread(target=child)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return (timer() - t0) / n * 1e6


SPAWN_PEERS: dict[str, Any] = {
    "coop": sp_coop,
    PURE: functools.partial(sp_coop, lib=coop_pure) if coop_pure else None,
    "asyncio": sp_asyncio,
    "uvloop": sp_uvloop if uvloop else None,
    "trio": sp_trio if trio else None,
    "curio": sp_curio if curio else None,
    "SimPy": sp_simpy if simpy else None,
    "greenlet (no scheduler)": sp_greenlet if greenlet else None,
    "threads": sp_threads,
}


def spawn_cost(n: int, n_threads: int, repeats: int) -> dict[str, float | None]:
    sizes = {"threads": n_threads, "curio": n // 10}
    peers = {name: functools.partial(fn, sizes.get(name, n))
             for name, fn in available(SPAWN_PEERS).items()}
    return interleaved(peers, repeats, label="spawn: ", limits={"curio": 3})


# ========================================================== memory per sleeping task
#
# tracemalloc's traced memory with n tasks all parked in a long sleep, minus the same before
# they were spawned, divided by n. Lists that keep handles are allocated before the baseline.
# gc.collect() runs before both readings. tracemalloc stops before the tasks are cleaned up.


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def mem_coop(n: int, lib: Any = coop) -> float:
    result: list[float] = []

    def sleeper() -> Any:
        yield lib.sleep(3600)

    def main() -> Any:
        tasks: list[Any] = [None] * n
        spawn = lib.spawn
        base = _traced()
        for i in range(n):
            tasks[i] = yield spawn(sleeper())
        yield  # every sleeper runs to its sleep
        result.append((_traced() - base) / n)
        tracemalloc.stop()
        assert all(t.waiting_for is not None for t in tasks[:10])
        for t in tasks:
            yield lib.cancel(t, wait=False)

    tracemalloc.start()
    try:
        lib.run(main())
    finally:
        tracemalloc.stop()
    return result[0]


def _asyncio_mem(n: int, runner: Callable[[Callable[[], Any]], Any]) -> float:
    result: list[float] = []

    async def sleeper() -> None:
        await asyncio.sleep(3600)

    async def main() -> None:
        tasks: list[Any] = [None] * n
        create_task = asyncio.create_task
        base = _traced()
        for i in range(n):
            tasks[i] = create_task(sleeper())
        await asyncio.sleep(0)
        result.append((_traced() - base) / n)
        tracemalloc.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    tracemalloc.start()
    try:
        runner(main)
    finally:
        tracemalloc.stop()
    return result[0]


def mem_asyncio(n: int) -> float:
    return _asyncio_mem(n, run_asyncio)


def mem_uvloop(n: int) -> float:
    return _asyncio_mem(n, run_uvloop)


def mem_trio(n: int) -> float:
    result: list[float] = []

    async def sleeper() -> None:
        await trio.sleep(3600)

    async def main() -> None:
        base = _traced()
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(sleeper)
            await trio.testing.wait_all_tasks_blocked()
            result.append((_traced() - base) / n)
            tracemalloc.stop()
            nursery.cancel_scope.cancel()

    tracemalloc.start()
    try:
        trio.run(main)
    finally:
        tracemalloc.stop()
    return result[0]


def mem_curio(n: int) -> float:
    result: list[float] = []

    async def sleeper() -> None:
        await curio.sleep(3600)

    async def main() -> None:
        tasks: list[Any] = [None] * n
        spawn = curio.spawn
        base = _traced()
        for i in range(n):
            tasks[i] = await spawn(sleeper, daemon=True)
        await curio.sleep(0)
        result.append((_traced() - base) / n)
        tracemalloc.stop()
        for t in tasks:
            await t.cancel(blocking=False)
        await curio.sleep(0)

    tracemalloc.start()
    try:
        curio.run(main)
    finally:
        tracemalloc.stop()
    return result[0]


def mem_simpy(n: int) -> float:
    def sleeper(env: Any) -> Any:
        yield env.timeout(3600)

    env = simpy.Environment()
    tracemalloc.start()
    try:
        base = _traced()
        for _ in range(n):
            env.process(sleeper(env))
        env.run(until=1)  # every process starts and waits on its timeout
        return (_traced() - base) / n
    finally:
        tracemalloc.stop()


def mem_greenlet(n: int) -> float:
    hub = greenlet.getcurrent()

    def sleeper() -> None:
        hub.switch()  # parked: suspended until someone switches back (no timer involved)

    gs: list[Any] = [None] * n
    tracemalloc.start()
    try:
        base = _traced()
        for i in range(n):
            g = greenlet.greenlet(sleeper)
            g.switch()
            gs[i] = g
        return (_traced() - base) / n
    finally:
        tracemalloc.stop()
        for g in gs:
            if g is not None:
                g.throw(greenlet.GreenletExit)


MEMORY_PEERS: dict[str, Any] = {
    "coop": mem_coop,
    PURE: functools.partial(mem_coop, lib=coop_pure) if coop_pure else None,
    "asyncio": mem_asyncio,
    "uvloop": mem_uvloop if uvloop else None,
    "trio": mem_trio if trio else None,
    "curio": mem_curio if curio else None,
    "SimPy": mem_simpy if simpy else None,
    "greenlet (no timer)": mem_greenlet if greenlet else None,
}


def memory_per_task(n: int, repeats: int) -> dict[str, float | None]:
    sizes = {"curio": n // 10}
    peers = {name: functools.partial(fn, sizes.get(name, n))
             for name, fn in available(MEMORY_PEERS).items()}
    return interleaved(peers, repeats, label="memory: ")


# =========================================================================== timers
#
# n tasks, each sleeping a random duration in [0, 0.5] s (the same durations for every peer).
# Each task records t0 = time.monotonic() just before it asks to sleep d and the time it runs
# again; the scheduler reads its own clock for the deadline between that t0 and the next task's
# t0, so its deadline lies in [lo, hi] = [t0 + d, t0(next task started) + d]. Then:
#   lateness  = woke - lo (an upper bound on the real lateness, by at most a few us)
#   early     = woke < lo (certainly before the deadline)
#   out of order: a task B that woke before some task A with hi(A) < lo(B): A was certainly
#                 due first.
# CPU per timer = time.process_time() over the whole run (start, spawn, sleep, wake, finish)
# divided by n: the scheduling overhead, since waiting in the selector costs no CPU.


class TimerRun:
    def __init__(self, durations: list[float]) -> None:
        n = len(durations)
        self.n = n
        self.durations = durations
        self.t0 = [0.0] * n
        self.woke = [0.0] * n
        self.starts: list[int] = []
        self.wakes: list[int] = []

    def stats(self, cpu: float, wall: float) -> dict[str, float]:
        n, ds, t0, woke = self.n, self.durations, self.t0, self.woke
        assert len(self.starts) == n and len(self.wakes) == n, "not every task ran"
        lo = [t0[i] + ds[i] for i in range(n)]
        hi = [float("inf")] * n
        order = self.starts
        for p in range(n - 1):
            i = order[p]
            hi[i] = t0[order[p + 1]] + ds[i]
        late = sorted(woke[i] - lo[i] for i in range(n))
        early = sum(1 for i in range(n) if woke[i] < lo[i])
        out_of_order = 0
        min_hi_after = float("inf")
        for i in reversed(self.wakes):
            if min_hi_after < lo[i]:
                out_of_order += 1
            if hi[i] < min_hi_after:
                min_hi_after = hi[i]
        return {
            "cpu_us": cpu / n * 1e6,
            "median_ms": statistics.median(late) * 1e3,
            "p99_ms": late[int(0.99 * (n - 1))] * 1e3,
            "max_ms": late[-1] * 1e3,
            "early": early,
            "out_of_order": out_of_order,
            "wall_over_s": wall - max(ds),
        }


def _measure(run: Callable[[], None]) -> tuple[float, float]:
    collect()
    c0, w0 = cpu_timer(), timer()
    run()
    return cpu_timer() - c0, timer() - w0


def tm_coop(durations: list[float], lib: Any = coop) -> dict[str, float]:
    r = TimerRun(durations)
    t0, woke, starts, wakes = r.t0, r.woke, r.starts.append, r.wakes.append
    sleep = lib.sleep

    def sleeper(i: int, d: float) -> Any:
        t0[i] = monotonic()
        starts(i)
        yield sleep(d)
        woke[i] = monotonic()
        wakes(i)

    def main() -> Any:
        spawn = lib.spawn
        for i, d in enumerate(durations):
            yield spawn(sleeper(i, d))

    cpu, wall = _measure(lambda: lib.run(main()))
    return r.stats(cpu, wall)


def _asyncio_timers(durations: list[float],
                    runner: Callable[[Callable[[], Any]], Any]) -> dict[str, float]:
    r = TimerRun(durations)
    t0, woke, starts, wakes = r.t0, r.woke, r.starts.append, r.wakes.append
    sleep = asyncio.sleep

    async def sleeper(i: int, d: float) -> None:
        t0[i] = monotonic()
        starts(i)
        await sleep(d)
        woke[i] = monotonic()
        wakes(i)

    async def main() -> None:
        create_task = asyncio.create_task
        tasks = [create_task(sleeper(i, d)) for i, d in enumerate(durations)]
        await asyncio.gather(*tasks)

    cpu, wall = _measure(lambda: runner(main))
    return r.stats(cpu, wall)


def tm_asyncio(durations: list[float]) -> dict[str, float]:
    return _asyncio_timers(durations, run_asyncio)


def tm_uvloop(durations: list[float]) -> dict[str, float]:
    return _asyncio_timers(durations, run_uvloop)


def tm_trio(durations: list[float]) -> dict[str, float]:
    r = TimerRun(durations)
    t0, woke, starts, wakes = r.t0, r.woke, r.starts.append, r.wakes.append
    sleep = trio.sleep

    async def sleeper(i: int, d: float) -> None:
        t0[i] = monotonic()
        starts(i)
        await sleep(d)
        woke[i] = monotonic()
        wakes(i)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for i, d in enumerate(durations):
                nursery.start_soon(sleeper, i, d)

    cpu, wall = _measure(lambda: trio.run(main))
    return r.stats(cpu, wall)


def tm_curio(durations: list[float]) -> dict[str, float]:
    r = TimerRun(durations)
    t0, woke, starts, wakes = r.t0, r.woke, r.starts.append, r.wakes.append
    sleep = curio.sleep

    async def sleeper(i: int, d: float) -> None:
        t0[i] = monotonic()
        starts(i)
        await sleep(d)
        woke[i] = monotonic()
        wakes(i)

    async def main() -> None:
        tasks = [await curio.spawn(sleeper, i, d) for i, d in enumerate(durations)]
        for t in tasks:
            await t.join()

    cpu, wall = _measure(lambda: curio.run(main))
    return r.stats(cpu, wall)


TIMER_PEERS: dict[str, Any] = {
    "coop": tm_coop,
    PURE: (lambda durations: tm_coop(durations, coop_pure)) if coop_pure else None,
    "asyncio": tm_asyncio,
    "uvloop": tm_uvloop if uvloop else None,
    "trio": tm_trio if trio else None,
    # curio is left out: 100,000 spawns are quadratic in it (CURIO_NOTE), minutes per run.
}


def timers(n: int, repeats: int, seed: int = 1) -> dict[str, dict[str, float] | None]:
    rng = random.Random(seed)
    durations = [rng.uniform(0.0, 0.5) for _ in range(n)]
    peers = {name: functools.partial(fn, durations) for name, fn in available(TIMER_PEERS).items()}
    # trio takes ~15 s a run here: one run of it.
    samples = interleaved_samples(peers, repeats, label="timers: ", limits={"trio": 1})
    out: dict[str, dict[str, float] | None] = {}
    for name, runs in samples.items():
        if not runs:
            out[name] = None
            continue
        agg = {key: statistics.median(run[key] for run in runs)
               for key in ("cpu_us", "median_ms", "p99_ms", "max_ms", "wall_over_s")}
        # Correctness counts: the worst run, not the median.
        agg["early"] = max(run["early"] for run in runs)
        agg["out_of_order"] = max(run["out_of_order"] for run in runs)
        out[name] = agg
        print(f"  timers: {name:<10} cpu {agg['cpu_us']:.2f} us/timer, lateness median "
              f"{agg['median_ms']:.3f} ms p99 {agg['p99_ms']:.1f} ms max {agg['max_ms']:.1f} ms, "
              f"early {agg['early']:.0f}, out of order {agg['out_of_order']:.0f}, "
              f"wall beyond longest sleep {agg['wall_over_s']:.2f} s", flush=True)
    return out


# =========================================================================== main

SWITCH_GOAL = "coop <= 2.5x floor, >= 12x faster than asyncio"
# The goal, under 3 us per timer, was set against asyncio's 17 us on its reference
# machine and is to be met "as ratios in one run": 17 / 3.
TIMER_CPU_GOAL = ">= 5.7x faster than asyncio"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one repeat, for a smoke test (writes nothing)")
    parser.add_argument("--only", default="switch,spawn,memory,timers",
                        help="comma-separated parts to run (default: all)")
    parser.add_argument("--repeats", type=int, default=None, help="override repeats per part")
    parser.add_argument("--no-write", action="store_true", help="do not write results/core.json")
    parser.add_argument("--out", default=None, help="write core.json into this directory instead")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    quick = args.quick
    scale = 10 if quick else 1

    def reps(default: int) -> int:
        return args.repeats if args.repeats is not None else (1 if quick else default)

    print(f"coop core benchmarks; coop kernel: {coop.kernel_build()}; "
          f"python {sys.version.split()[0]}; gc enabled "
          f"(collected before each repeat)", flush=True)
    t_start = timer()
    figures: list[dict[str, Any]] = []

    def lap(part: str) -> None:
        print(f"[{part} done at {timer() - t_start:.0f} s]", flush=True)

    if "switch" in parts:
        for n, label in ((10, "10 tasks"), (10_000, "10,000 tasks")):
            res = switch_cost(n, 200_000 // scale, reps(5))
            figures.append(figure(f"switch cost, {label}", "ns per switch", res,
                                  goal=SWITCH_GOAL))
        lap("switch")

    if "spawn" in parts:
        res = spawn_cost(100_000 // scale, 2_000 // scale, reps(5))
        figures.append(figure("spawn-and-finish cost (100,000 tasks; curio 10,000; "
                              "threads 2,000)", "us per task", res,
                              goal=">= 3x faster than asyncio"))
        lap("spawn")

    if "memory" in parts:
        res = memory_per_task(100_000 // scale, reps(1))
        figures.append(figure("memory per sleeping task (100,000 live; curio 10,000)",
                              "bytes per task", res, goal="coop <= 600 B"))
        lap("memory")

    if "timers" in parts:
        r = reps(3)
        tm = timers(100_000 // scale, r)

        def pick(key: str) -> dict[str, float | None]:
            return {name: (None if s is None else s[key]) for name, s in tm.items()}

        title = "timers (100,000 sleeps in [0, 0.5] s)"
        figures += [
            figure(f"{title}: CPU per timed task", "us per timer", pick("cpu_us"),
                   goal=TIMER_CPU_GOAL),
            figure(f"{title}: median lateness", "ms", pick("median_ms"), goal="coop < 1 ms"),
            figure(f"{title}: p99 lateness", "ms", pick("p99_ms")),
            figure(f"{title}: wall time beyond the longest sleep", "s", pick("wall_over_s")),
            figure(f"{title}: early wakes (worst run)", "tasks", pick("early"),
                   goal="coop == 0"),
            figure(f"{title}: out-of-order wakes (worst run)", "tasks",
                   pick("out_of_order"), goal="coop == 0"),
        ]

    print(f"total {timer() - t_start:.0f} s", flush=True)
    if not (quick or args.no_write):
        path = write_results("core", figures, args.out)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
