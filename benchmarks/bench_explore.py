"""coop.testing.explore against detangle (asyncio): runs per second, and runs to the first bug.

    .venv/bin/python benchmarks/bench_explore.py           # full run (~1 min): results/explore.json
    .venv/bin/python benchmarks/bench_explore.py --quick   # smoke run: small counts, writes nothing
    .venv/bin/python benchmarks/bench_explore.py --only speed   # or --only bugs

Figures:

* **explore runs per second** on three small correct programs, each written twice, once for
  coop (generators) and once for asyncio (detangle explores asyncio programs), doing the same
  steps:

  - *locked counter*: 3 tasks each add 1 to a shared counter 10 times, holding a lock across
    a read, a yield and a write (about 20 steps per task);
  - *producer/consumer queue*: 2 producers put 10 items each into a queue of maxsize 2, 2
    consumers take 10 each (about 10-20 steps per task, most of them blocking);
  - *ping-pong through events*: 2 tasks hand a turn back and forth through one event per
    turn, 15 turns each (about 30 steps per task).

  A sample is one ``explore`` call of many runs (no failure, so no shrinking), timed with
  ``perf_counter``; the figure is runs / second, the median of the samples, coop's and
  detangle's interleaved. Both run with their random strategy (every choice uniform) and, as
  a second entry, with their default portfolio ("auto"). detangle runs with ``shrink=False``
  and ``database=False`` (no files), coop with no database (its default). A third coop entry,
  *plain runs*, runs the program as often with a fresh ``Scheduler`` and ``VirtualClock`` and
  no policy: what one run costs before exploring adds anything, the ceiling of explore's rate.

* **runs to the first failure** for the four kinds of bug of ``tests/test_explore.py``
  (starvation, check-then-act, a cancellation that leaks a lock, a lost wake-up), for each
  of coop's strategies (random, PCT(depth=1..3), DFS(max_preemptions=2), auto) and for
  detangle's (random, pct depth 1..3, dfs max_delays=2, auto) on asyncio versions of the same
  programs: the run number at which the failure was found (shrinking not counted), the median
  over 5 seeds (DFS has no seed: one search). A search that finds nothing within the cap counts
  as the cap (the figure says so). The cancellation bug runs with ``cancellations=True`` in coop
  and with ``detangle.inject_cancellation`` on the worker in detangle.

Every program passes in its scheduler's default order (checked before measuring).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from pathlib import Path
from typing import Any

import report
from common import ensure_repo_on_path, figure, interleaved, median, write_results

HERE = Path(__file__).resolve().parent
ensure_repo_on_path()

import coop  # noqa: E402
from coop.testing import DFS, PCT, explore  # noqa: E402

try:
    import detangle
except ImportError:  # pragma: no cover
    detangle = None

Gen = Generator[Any, Any, Any]
Async = Coroutine[Any, Any, Any]
CAP = 2_000          # runs before a search for a bug gives up
SEEDS = 5


# ==================================================================== correct programs (a)


def coop_counter() -> Gen:
    lock = coop.Lock()
    state = {"n": 0}

    def adder() -> Gen:
        for _ in range(10):
            with (yield lock.acquire()):
                seen = state["n"]
                yield
                state["n"] = seen + 1

    def main() -> Gen:
        tasks = []
        for _ in range(3):
            tasks.append((yield coop.spawn(adder())))
        for task in tasks:
            yield coop.join(task)
        assert state["n"] == 30
    return main()


async def asyncio_counter() -> None:
    lock = asyncio.Lock()
    state = {"n": 0}

    async def adder() -> None:
        for _ in range(10):
            async with lock:
                seen = state["n"]
                await asyncio.sleep(0)
                state["n"] = seen + 1

    tasks = [asyncio.ensure_future(adder()) for _ in range(3)]
    for task in tasks:
        await task
    assert state["n"] == 30


def coop_queue() -> Gen:
    q: coop.Queue[int] = coop.Queue(maxsize=2)
    got: list[int] = []

    def producer(base: int) -> Gen:
        for i in range(10):
            yield q.put(base + i)

    def consumer() -> Gen:
        for _ in range(10):
            got.append((yield q.get()))

    def main() -> Gen:
        tasks = [(yield coop.spawn(producer(0))), (yield coop.spawn(producer(100))),
                 (yield coop.spawn(consumer())), (yield coop.spawn(consumer()))]
        for task in tasks:
            yield coop.join(task)
        assert sorted(got) == [*range(10), *range(100, 110)]
    return main()


async def asyncio_queue() -> None:
    q: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
    got: list[int] = []

    async def producer(base: int) -> None:
        for i in range(10):
            await q.put(base + i)

    async def consumer() -> None:
        for _ in range(10):
            got.append(await q.get())

    tasks = [asyncio.ensure_future(c) for c in
             (producer(0), producer(100), consumer(), consumer())]
    for task in tasks:
        await task
    assert sorted(got) == [*range(10), *range(100, 110)]


TURNS = 15


def coop_ping_pong() -> Gen:
    turns = [coop.Event() for _ in range(2 * TURNS + 1)]
    log: list[int] = []

    def player(first: int) -> Gen:
        for turn in range(first, 2 * TURNS, 2):
            yield turns[turn].wait()
            log.append(turn)
            turns[turn + 1].set()

    def main() -> Gen:
        tasks = [(yield coop.spawn(player(0))), (yield coop.spawn(player(1)))]
        turns[0].set()
        for task in tasks:
            yield coop.join(task)
        assert log == list(range(2 * TURNS))
    return main()


async def asyncio_ping_pong() -> None:
    turns = [asyncio.Event() for _ in range(2 * TURNS + 1)]
    log: list[int] = []

    async def player(first: int) -> None:
        for turn in range(first, 2 * TURNS, 2):
            await turns[turn].wait()
            log.append(turn)
            turns[turn + 1].set()

    tasks = [asyncio.ensure_future(player(0)), asyncio.ensure_future(player(1))]
    turns[0].set()
    for task in tasks:
        await task
    assert log == list(range(2 * TURNS))


PROGRAMS: dict[str, tuple[Callable[[], Gen], Callable[[], Async]]] = {
    "locked counter (3 tasks x 10 rounds)": (coop_counter, asyncio_counter),
    "producer/consumer queue (2 + 2 tasks, 20 items)": (coop_queue, asyncio_queue),
    "ping-pong through events (2 tasks x 15 turns)": (coop_ping_pong, asyncio_ping_pong),
}


# ==================================================================== the four bugs (b)
# coop's versions live in tests/explore_bugs.py, shared with tests/test_explore.py; the
# asyncio versions further down do the same steps.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from explore_bugs import cancel_leak, check_then_act, lost_wakeup, starvation  # noqa: E402

COOP_BUGS: dict[str, tuple[Callable[[], Gen], bool]] = {
    "starvation": (starvation, False), "check-then-act": (check_then_act, False),
    "cancellation": (cancel_leak, True), "lost wake-up": (lost_wakeup, False),
}


async def asyncio_starvation() -> None:
    count = {"n": 0}

    async def waiter() -> None:
        await asyncio.sleep(0)
        assert count["n"] < 20, "the waiter was starved: the peer finished first"

    async def peer() -> None:
        for _ in range(20):
            count["n"] += 1
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(waiter()), asyncio.ensure_future(peer())]
    for task in tasks:
        await task


async def asyncio_check_then_act() -> None:
    stock = {"n": 1, "sold": 0}

    async def buyer(pause: int) -> None:
        for _ in range(pause):
            await asyncio.sleep(0)
        if stock["n"] > 0:
            await asyncio.sleep(0)
            stock["n"] -= 1
            stock["sold"] += 1

    tasks = [asyncio.ensure_future(buyer(0)), asyncio.ensure_future(buyer(3))]
    for task in tasks:
        await task
    assert stock["n"] >= 0, f"sold {stock['sold']} of 1 in stock"


async def asyncio_cancel_leak() -> None:
    lock = asyncio.Lock()

    async def worker() -> None:
        await lock.acquire()
        await asyncio.sleep(0)          # a cancellation here leaks the lock
        try:
            await asyncio.sleep(1)
        finally:
            lock.release()

    task = asyncio.ensure_future(worker())
    if detangle is not None and detangle.in_simulation():
        detangle.inject_cancellation(task)
    await asyncio.sleep(5)
    await asyncio.wait_for(lock.acquire(), 10)  # TimeoutError if the lock leaked
    lock.release()


async def asyncio_lost_wakeup() -> None:
    cond = asyncio.Condition()
    items: list[int] = []

    async def consumer(pause: int) -> None:
        for _ in range(pause):
            await asyncio.sleep(0)
        async with cond:
            while not items:
                await cond.wait()
            items.pop()

    async def producer() -> None:
        await asyncio.sleep(0)
        async with cond:
            items.extend([1, 2])
            cond.notify()             # the bug: notify_all()

    tasks = [asyncio.ensure_future(consumer(0)), asyncio.ensure_future(producer()),
             asyncio.ensure_future(consumer(3))]
    for task in tasks:
        await task


ASYNCIO_BUGS: dict[str, Callable[[], Async]] = {
    "starvation": asyncio_starvation, "check-then-act": asyncio_check_then_act,
    "cancellation": asyncio_cancel_leak, "lost wake-up": asyncio_lost_wakeup,
}


# ==================================================================== measuring


def coop_rate(program: Callable[[], Gen], runs: int, strategy: object) -> float:
    t0 = time.perf_counter()
    found = explore(program, runs=runs, strategy=strategy)
    elapsed = time.perf_counter() - t0
    assert found.failure is None, found.failure
    return found.runs / elapsed


def plain_rate(program: Callable[[], Gen], runs: int) -> float:
    """The same program run by a fresh scheduler on a virtual clock, with no policy: what a
    run costs before exploration adds anything (the ceiling for explore's runs/s)."""
    t0 = time.perf_counter()
    for _ in range(runs):
        scheduler = coop.Scheduler(clock=coop.VirtualClock(), deadlock_warning=None)
        scheduler.run_main(program())
        scheduler.close()
    elapsed = time.perf_counter() - t0
    return runs / elapsed


def detangle_rate(program: Callable[[], Async], runs: int, strategy: str) -> float:
    t0 = time.perf_counter()
    stats = detangle.explore(program, runs=runs, strategy=strategy, seed=0, shrink=False,
                             database=False)
    elapsed = time.perf_counter() - t0
    return stats.runs / elapsed


def speed_figures(quick: bool, repeats: int) -> list[dict[str, Any]]:
    coop_runs = 100 if quick else 2_000
    detangle_runs = 20 if quick else 500
    figures = []
    for name, (gen_program, async_program) in PROGRAMS.items():
        peers: dict[str, Callable[[], float | None]] = {
            "coop": lambda p=gen_program: coop_rate(p, coop_runs, "random"),
            "coop (auto)": lambda p=gen_program: coop_rate(p, coop_runs, "auto"),
            "coop, plain runs (no exploration)": lambda p=gen_program: plain_rate(p, coop_runs),
        }
        if detangle is not None:
            peers["detangle"] = lambda p=async_program: detangle_rate(p, detangle_runs,
                                                                      "random")
            peers["detangle (auto)"] = lambda p=async_program: detangle_rate(p, detangle_runs,
                                                                             "auto")
        print(f"explore runs per second, {name}:", flush=True)
        results = interleaved(peers, repeats)
        if detangle is None:
            results.update({"detangle": None, "detangle (auto)": None})
        figures.append(figure(f"explore runs per second, {name}", "runs/s", results,
                              goal="at least 10x faster than detangle", lower_is_better=False))
    return figures


def coop_first_failure(program: Callable[[], Gen], cancellations: bool, strategy: object,
                       seed: int, cap: int) -> tuple[int, bool]:
    """The run that found the failure (cap if none did), and whether a bounded search ended
    without finding it."""
    found = explore(program, runs=cap, seed=seed, strategy=strategy,
                    cancellations=cancellations)
    if found.failure is None:
        return cap, found.exhausted
    return found.failure.run, False


def detangle_first_failure(program: Callable[[], Async], strategy: object, seed: int,
                           cap: int) -> tuple[int, bool]:
    try:
        stats = detangle.explore(program, runs=cap, strategy=strategy, seed=seed,
                                 shrink=False, database=False)
    except detangle.BugFound as found:
        return int(found.report.runs), False
    return cap, stats.exhausted


def coop_strategies() -> dict[str, Callable[[], object]]:
    return {"coop (auto)": lambda: "auto", "coop random": lambda: "random",
            "coop PCT(1)": lambda: PCT(1), "coop PCT(2)": lambda: PCT(2),
            "coop PCT(3)": lambda: PCT(3), "coop DFS(2)": lambda: DFS(2)}


def detangle_strategies() -> dict[str, Callable[[int], object]]:
    s = detangle.strategies
    return {"detangle auto": lambda seed: "auto",
            "detangle random": lambda seed: s.RandomWalk(seed),
            "detangle pct(1)": lambda seed: s.PCT(seed, depth=1),
            "detangle pct(2)": lambda seed: s.PCT(seed, depth=2),
            "detangle pct(3)": lambda seed: s.PCT(seed, depth=3),
            "detangle dfs(2)": lambda seed: s.DFS(max_delays=2)}


def _coop_search(program: Callable[[], Gen], cancellations: bool,
                 make: Callable[[], object], cap: int, seed: int) -> tuple[int, bool]:
    return coop_first_failure(program, cancellations, make(), seed, cap)


def _detangle_search(program: Callable[[], Async], make: Callable[[int], object], cap: int,
                     seed: int) -> tuple[int, bool]:
    return detangle_first_failure(program, make(seed), seed, cap)


def first_failure_figures(quick: bool) -> list[dict[str, Any]]:
    seeds = 2 if quick else SEEDS
    cap = 300 if quick else CAP
    figures = []
    for kind, (program, cancellations) in COOP_BUGS.items():
        print(f"runs to the first failure, {kind}:", flush=True)
        searches: dict[str, Callable[[int], tuple[int, bool]]] = {
            name: partial(_coop_search, program, cancellations, make, cap)
            for name, make in coop_strategies().items()}
        if detangle is not None:
            searches.update({name: partial(_detangle_search, ASYNCIO_BUGS[kind], make_d, cap)
                             for name, make_d in detangle_strategies().items()})
        results: dict[str, float | None] = {}
        missed: list[str] = []
        for name, search in searches.items():
            tries = 1 if "dfs" in name.lower() else seeds
            outcomes = [search(seed) for seed in range(tries)]
            value = results[name] = median(runs for runs, _ in outcomes)
            shown = f"{value:.6g}"
            if value >= cap:
                ended = any(done for _, done in outcomes)
                missed.append(f"{name} ({'its search ended' if ended else 'capped'})")
                shown += " (not found: " + ("the search ended)" if ended else "capped)")
            print(f"  {name:<28} {shown}", flush=True)
        if detangle is None:
            results.update({name: None for name in ("detangle auto", "detangle random")})
        fig = figure(f"runs to the first failure, {kind} (capped at {cap:,})", "runs", results,
                     goal="coop < 100 runs", lower_is_better=True)
        if missed:
            fig["caveat"] = (f"{ABOUT_CAVEAT} Not found in half the seeds or more: "
                             f"{', '.join(missed)}.")
        figures.append(fig)
    return figures


ABOUT_CAVEAT = next(caveat for prefix, _, caveat in report.ABOUT
                    if prefix == "runs to the first failure")


def check_default_order() -> None:
    """Every program passes in its scheduler's own order (else nothing here means much)."""
    for gen_program, async_program in PROGRAMS.values():
        coop.run(gen_program(), clock=coop.VirtualClock())
        asyncio.run(async_program())
    for program, _ in COOP_BUGS.values():
        coop.run(program(), clock=coop.VirtualClock())
    if detangle is not None:
        for async_program in ASYNCIO_BUGS.values():
            detangle.run(async_program)  # asyncio's FIFO order, virtual time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, write nothing")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--only", default="speed,bugs",
                        help="comma-separated parts: speed, bugs (default both)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 5)
    parts = set(args.only.split(","))
    if detangle is None:
        print("detangle is not installed: its entries are n/a "
              "(pip install -e '.[bench]')", file=sys.stderr)
    check_default_order()
    figures: list[dict[str, Any]] = []
    if "speed" in parts:
        figures += speed_figures(args.quick, repeats)
    if "bugs" in parts:
        figures += first_failure_figures(args.quick)
    for fig in figures:
        res = fig["results"]
        if "runs/s" in fig["unit"] and res.get("coop") and res.get("detangle"):
            print(f"{fig['name']}: coop / detangle = {res['coop'] / res['detangle']:.1f}x")
    if args.quick:
        return
    out = write_results("explore", figures)
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
