"""Offloading figures: coop.to_thread / to_process / pmap next to the bare pools and asyncio.

    .venv/bin/python benchmarks/bench_offload.py          # ~1.5 min: results/offload.json
    .venv/bin/python benchmarks/bench_offload.py --quick  # small sizes, writes nothing

Figures, all in one process, every peer measured interleaved, the median of the repeats:

* to_thread latency: us per call made one after the other (submit, wait, resume). "coop" is
  coop as a program gets it, on the thread pool it starts itself; the peers share one
  ThreadPoolExecutor: ``executor.submit(fn).result()``, asyncio's ``run_in_executor`` on it,
  and coop handed that executor (``threads=executor``), which pays the same future-and-callback
  hand-off as asyncio.
* to_process latency: the same with coop's own process pool of 2 (forkserver workers, one pipe
  each) and a ProcessPoolExecutor of 2 for the peers.
* 2,000 calls in flight: us per call when 2,000 calls are submitted at once and all awaited
  (coop: 2,000 tasks each waiting for one call), threads and processes.
* pmap speedup: CPU-bound work (64 items of ~25 ms) on every core, as a speedup over running
  it in turn in one process: coop.pmap on its own pool against multiprocessing.Pool.map, both
  with Pool.map's default chunking, both pools started and warm, repeats interleaved.
* pmap of 1,000,000 items: a trivial function over 1,000,000 ints at chunksize 10 and 100, so
  the figure is the cost of moving chunks: coop.pmap handed the same forkserver
  ``multiprocessing.Pool`` as ``Pool.map`` ("coop"), and on its own process pool, repeats
  interleaved inside one coop run (both pools warm). ``--only pmap-large`` runs just these.
* idle CPU: the CPU time the waiting side burns (``time.thread_time`` of the thread that waits)
  while a thread sleeps 1 s, as a percentage of one core.
* kill storm: 3,000 ``to_process`` calls of 10 ms (in rounds of 100, with 10 ms idle gaps)
  while a thread SIGKILLs 100 random worker processes (busy, idle or starting; about 0.15 s
  apart, so that most victims have started), on coop's own
  pool, a caller's forkserver ``multiprocessing.Pool`` and a ProcessPoolExecutor, each in a
  process of its own with a time limit: how many calls failed (``coop.WorkerCrashed``; the goal
  is no more than workers were killed) and how many never ended. ``--only storm`` runs just
  these.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from common import (
    collect,
    ensure_repo_on_path,
    figure,
    interleaved,
    median,
    timer,
    write_results,
)

ensure_repo_on_path()

import coop  # noqa: E402
from coop.offload import cpu_count  # noqa: E402


def noop(x: Any = None) -> Any:
    return x


def burn(n: int) -> int:
    while n > 0:
        n -= 1
    return n


# ------------------------------------------------------------------ latency


def coop_latency(calls: int, kind: str, pool: Any = None) -> float:
    def main() -> Any:
        make = coop.to_thread if kind == "threads" else coop.to_process
        for _ in range(20):  # warm: workers started, paths hot
            yield make(noop)
        started = timer()
        for _ in range(calls):
            yield make(noop)
        return (timer() - started) / calls * 1e6

    spec = {kind: pool} if pool is not None else {}
    return float(coop.run(main(), **spec))


def bare_latency(calls: int, executor: Any) -> float:
    for _ in range(20):
        executor.submit(noop).result()
    started = timer()
    for _ in range(calls):
        executor.submit(noop).result()
    return (timer() - started) / calls * 1e6


def asyncio_latency(calls: int, executor: Any) -> float:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            await loop.run_in_executor(executor, noop)
        started = timer()
        for _ in range(calls):
            await loop.run_in_executor(executor, noop)
        return (timer() - started) / calls * 1e6

    return asyncio.run(main())


# ------------------------------------------------------------------ throughput


def coop_in_flight(calls: int, kind: str, pool: Any = None) -> float:
    def one() -> Any:
        yield (coop.to_thread if kind == "threads" else coop.to_process)(noop)

    def main() -> Any:
        warm = []
        for _ in range(50):
            warm.append((yield coop.spawn(one())))
        for task in warm:
            yield coop.join(task)
        started = timer()
        tasks = []
        for _ in range(calls):
            tasks.append((yield coop.spawn(one())))
        for task in tasks:
            yield coop.join(task)
        return (timer() - started) / calls * 1e6

    spec = {kind: pool} if pool is not None else {}
    return float(coop.run(main(), **spec))


def bare_in_flight(calls: int, executor: Any) -> float:
    concurrent.futures.wait([executor.submit(noop) for _ in range(50)])
    started = timer()
    concurrent.futures.wait([executor.submit(noop) for _ in range(calls)])
    return (timer() - started) / calls * 1e6


def asyncio_in_flight(calls: int, executor: Any) -> float:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(executor, noop) for _ in range(50)))
        started = timer()
        await asyncio.gather(*(loop.run_in_executor(executor, noop) for _ in range(calls)))
        return (timer() - started) / calls * 1e6

    return asyncio.run(main())


# ------------------------------------------------------------------ pmap speedup


def sequential_time(items: list[int]) -> float:
    started = timer()
    for n in items:
        burn(n)
    return timer() - started


def pmap_times(items: list[int], workers: int, pool: Any, repeats: int) -> dict[str, float]:
    """Median seconds of each way, interleaved in one coop run so both pools stay warm."""
    samples: dict[str, list[float]] = {"in turn": [], "coop.pmap": [],
                                       "multiprocessing.Pool.map": []}

    def main() -> Any:
        # Every worker booted and idle before timing: each sleeps while the next one starts.
        yield coop.pmap(time.sleep, [0.2] * workers, chunksize=1)
        pool.map(time.sleep, [0.2] * workers, chunksize=1)
        for repeat in range(repeats):
            samples["in turn"].append(sequential_time(items))
            if repeat % 2:  # each goes first every other time: no edge from the order
                samples["multiprocessing.Pool.map"].append(pool_map_time(pool, items))
            started = timer()
            yield coop.pmap(burn, items)
            samples["coop.pmap"].append(timer() - started)
            if not repeat % 2:
                samples["multiprocessing.Pool.map"].append(pool_map_time(pool, items))

    coop.run(main(), processes=workers)
    for name, values in samples.items():
        print(f"  {name:<28} {median(values):.6g}  (min {min(values):.4g}, "
              f"max {max(values):.4g})")
    return {name: median(values) for name, values in samples.items()}


def pool_map_time(pool: Any, items: list[int]) -> float:
    started = timer()
    pool.map(burn, items)
    return timer() - started


def pmap_large_times(count: int, chunksize: int, workers: int, pool: Any,
                     repeats: int) -> dict[str, float | None]:
    """Median seconds for ``count`` trivial items at ``chunksize``, interleaved in one run."""
    items = list(range(count))
    samples: dict[str, list[float]] = {"coop": [], "coop, own pool": [],
                                       "multiprocessing.Pool.map": []}

    def main() -> Any:
        yield coop.pmap(time.sleep, [0.2] * workers, chunksize=1)
        yield coop.pmap(time.sleep, [0.2] * workers, chunksize=1, backend=pool)
        for repeat in range(repeats):
            order = list(samples)
            order = order[repeat % 3:] + order[:repeat % 3]  # each goes first in turn
            for name in order:
                collect()
                started = timer()
                if name == "multiprocessing.Pool.map":
                    out = pool.map(noop, items, chunksize=chunksize)
                elif name == "coop":
                    out = yield coop.pmap(noop, items, chunksize=chunksize, backend=pool)
                else:
                    out = yield coop.pmap(noop, items, chunksize=chunksize)
                samples[name].append(timer() - started)
                assert len(out) == count
                del out

    coop.run(main(), processes=workers)
    for name, values in samples.items():
        print(f"  {name:<28} {median(values):.6g}  (min {min(values):.4g}, "
              f"max {max(values):.4g})", flush=True)
    return {name: median(values) for name, values in samples.items()}


# ------------------------------------------------------------------ idle CPU


def idle_coop(seconds: float) -> float:
    def main() -> Any:
        yield coop.to_thread(noop)  # the thread exists
        cpu, wall = time.thread_time(), timer()
        yield coop.to_thread(time.sleep, seconds)
        return (time.thread_time() - cpu) / (timer() - wall) * 100

    return float(coop.run(main()))


def idle_asyncio(seconds: float, executor: Any) -> float:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, noop)
        cpu, wall = time.thread_time(), timer()
        await loop.run_in_executor(executor, time.sleep, seconds)
        return (time.thread_time() - cpu) / (timer() - wall) * 100

    return asyncio.run(main())


def idle_bare(seconds: float, executor: Any) -> float:
    executor.submit(noop).result()
    cpu, wall = time.thread_time(), timer()
    executor.submit(time.sleep, seconds).result()
    return (time.thread_time() - cpu) / (timer() - wall) * 100


# ------------------------------------------------------------------ the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; write nothing")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--storm-child", nargs=4, metavar=("BACKEND", "CALLS", "KILLS", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["pmap-large", "storm"],
                        help="run one group of figures (printed, and merged into the results "
                             "file unless --no-write)")
    args = parser.parse_args(argv)
    if args.storm_child:
        backend, calls, kills, out = args.storm_child
        storm_child(backend, int(calls), int(kills), out)
        return 0
    quick = args.quick
    if args.only == "storm":
        return finish(storm_figures(quick), quick or args.no_write, merge=True)
    repeats = 3 if quick else 7
    workers = min(2, cpu_count()) if quick else cpu_count()
    figures = []

    threads = concurrent.futures.ThreadPoolExecutor(4)
    processes = concurrent.futures.ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("forkserver"))
    pool = multiprocessing.get_context("forkserver").Pool(workers)
    try:
        if args.only == "pmap-large":
            figures.extend(pmap_large_figures(quick, workers, pool, repeats))
            return finish(figures, quick or args.no_write, merge=True)
        calls = 300 if quick else 2000
        print(f"to_thread latency, {calls} calls one after the other (us per call)")
        figures.append(figure("to_thread latency", "us per call", interleaved({
            "coop": lambda: coop_latency(calls, "threads"),
            "coop on the same executor": lambda: coop_latency(calls, "threads", threads),
            "bare executor": lambda: bare_latency(calls, threads),
            "asyncio run_in_executor": lambda: asyncio_latency(calls, threads),
        }, repeats), goal="coop <= 1.5x bare executor and coop <= 1x asyncio"))

        calls = 100 if quick else 500
        print(f"to_process latency, {calls} calls one after the other (us per call)")
        figures.append(figure("to_process latency", "us per call", interleaved({
            "coop": lambda: coop_latency(calls, "processes", 2),
            "coop on the same executor": lambda: coop_latency(calls, "processes", processes),
            "bare executor": lambda: bare_latency(calls, processes),
            "asyncio run_in_executor": lambda: asyncio_latency(calls, processes),
        }, repeats), goal="coop <= 1.5x bare executor and coop <= 1x asyncio"))

        calls = 300 if quick else 2000
        for kind, executor in (("threads", threads), ("processes", processes)):
            print(f"{calls} {kind} calls in flight at once (us per call)")
            figures.append(figure(f"{calls:,} calls in flight, {kind}", "us per call",
                                  interleaved({
                "coop": lambda k=kind: coop_in_flight(calls, k, None if k == "threads" else 2),
                "coop on the same executor":
                    lambda k=kind, e=executor: coop_in_flight(calls, k, e),
                "bare executor": lambda e=executor: bare_in_flight(calls, e),
                "asyncio run_in_executor": lambda e=executor: asyncio_in_flight(calls, e),
            }, repeats), goal="coop <= 1.5x bare executor and coop <= 1x asyncio"))

        items = [60_000 if quick else 1_000_000] * 64
        print(f"pmap of {len(items)} CPU-bound items on {workers} processes (seconds)")
        times = pmap_times(items, workers, pool, repeats)
        base = times["in turn"]
        speedups = {name: base / t for name, t in times.items() if name != "in turn"}
        print("  speedups: " + ", ".join(f"{k} {v:.2f}x" for k, v in speedups.items()
                                         if v is not None))
        figures.append(figure(
            f"pmap speedup on {workers} cores", "x faster than in turn", {
                "coop": speedups["coop.pmap"],
                "multiprocessing.Pool.map": speedups["multiprocessing.Pool.map"],
            }, lower_is_better=False,
            goal=f"coop >= 1x multiprocessing.Pool.map and coop >= "
                 f"{1.8 if workers >= 2 else 0.9}"))

        seconds = 0.2 if quick else 1.0
        print(f"CPU burnt by the waiting thread while a thread sleeps {seconds} s (% of a core)")
        figures.append(figure("idle CPU while waiting for a thread", "% of one core",
                              interleaved({
            "coop": lambda: idle_coop(seconds),
            "bare executor": lambda: idle_bare(seconds, threads),
            "asyncio run_in_executor": lambda: idle_asyncio(seconds, threads),
        }, 3), goal="coop < 0.5"))

        figures.extend(pmap_large_figures(quick, workers, pool, repeats))
        figures.extend(storm_figures(quick))
    finally:
        threads.shutdown()
        processes.shutdown()
        pool.terminate()
        pool.join()

    return finish(figures, quick or args.no_write, merge=False)


def pmap_large_figures(quick: bool, workers: int, pool: Any,
                       repeats: int) -> list[dict[str, Any]]:
    count = 100_000 if quick else 1_000_000
    figures = []
    for chunksize in (10, 100):
        print(f"pmap of {count:,} trivial items at chunksize {chunksize} on {workers} "
              f"processes (seconds)")
        figures.append(figure(
            f"pmap of {count:,} items, chunksize {chunksize}", "seconds",
            pmap_large_times(count, chunksize, workers, pool, min(repeats, 5)),
            goal="coop <= 1.2x multiprocessing.Pool.map"))
    return figures


# ------------------------------------------------------------------ kill storm

STORM_BACKENDS = {
    "coop": "coop's process pool",
    "pool": "a multiprocessing.Pool",
    "ppe": "a ProcessPoolExecutor",
}


def storm_work(x: int) -> int:
    time.sleep(0.01)
    return x


def storm_victims() -> list[int]:
    """This process's worker processes: not the fork server, not the resource tracker."""
    import psutil  # type: ignore[import-untyped]

    victims: list[int] = []
    for child in psutil.Process().children():
        try:
            line = " ".join(child.cmdline())
            if "forkserver" in line:
                victims.extend(p.pid for p in child.children())  # its workers
            elif "resource_tracker" not in line:
                victims.append(child.pid)
        except psutil.Error:
            pass
    return victims


def storm_child(backend: str, calls: int, kills: int, out_path: str) -> None:
    """One storm, in this process: counts go to ``out_path`` as they change."""
    counts = {"ok": 0, "failed": 0, "killed": 0, "over": 0}

    def save() -> None:
        with open(out_path + ".tmp", "w") as f:
            json.dump(counts, f)
        os.replace(out_path + ".tmp", out_path)

    def killer() -> None:
        rng = random.Random(10)
        while counts["killed"] < kills and not counts["over"]:
            victims = storm_victims()
            if victims:
                try:
                    os.kill(rng.choice(victims), signal.SIGKILL)
                    counts["killed"] += 1
                except ProcessLookupError:
                    pass
            # About 0.15 s apart, so that most victims are past their start (a worker takes
            # ~0.1 s to start) and hold a call, or idle, or sit in the pool's plumbing.
            time.sleep(rng.uniform(0.05, 0.25))

    def one(i: int) -> Any:
        try:
            assert (yield coop.to_process(storm_work, i)) == i
            counts["ok"] += 1
        except coop.WorkerCrashed:
            counts["failed"] += 1

    def main() -> Any:
        thread = threading.Thread(target=killer, daemon=True)
        coop.lowlevel.ignore_thread(thread)
        thread.start()
        for start in range(0, calls, 100):
            yield coop.gather(*[one(i) for i in range(start, min(calls, start + 100))])
            save()
            yield coop.sleep(0.01)  # idle workers too: one of them holds the task lock
        counts["over"] = 1
        thread.join()

    forkserver = multiprocessing.get_context("forkserver")
    pool: Any = 2
    if backend == "pool":
        pool = forkserver.Pool(2)
    elif backend == "ppe":
        pool = concurrent.futures.ProcessPoolExecutor(2, mp_context=forkserver)
    save()
    coop.run(main(), processes=pool)
    save()
    if backend == "pool":
        pool.terminate()
    elif backend == "ppe":
        pool.shutdown()
    counts["over"] = 2  # the pool stopped too
    save()


def storm(backend: str, calls: int, kills: int, limit: float) -> dict[str, float | None]:
    """Run one storm in a process group of its own; what became of the calls."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "counts.json")
        proc = subprocess.Popen([sys.executable, __file__, "--storm-child", backend,
                                 str(calls), str(kills), out], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            pass
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # a wedged pool's processes too
            except ProcessLookupError:
                pass
            proc.communicate()
        with open(out) as f:
            counts = json.load(f)
    ended = counts["ok"] + counts["failed"]
    return {"coop": counts["failed"], "workers killed": counts["killed"],
            "never ended": calls - ended, "succeeded": counts["ok"],
            "pool stopped": float(counts["over"] == 2)}


def storm_figures(quick: bool) -> list[dict[str, Any]]:
    calls, kills = (600, 20) if quick else (3000, 100)
    figures = []
    for backend, label in STORM_BACKENDS.items():
        print(f"kill storm on {label}: {calls} calls, {kills} SIGKILLs")
        results = storm(backend, calls, kills, limit=120.0)
        print("  " + ", ".join(f"{k} {v:g}" for k, v in results.items()))
        figures.append(figure(f"kill storm, {label}: {calls:,} calls, {kills} SIGKILLs",
                              "calls failed", results,
                              goal="coop <= 1x workers killed"))
    return figures


def finish(figures: list[dict[str, Any]], print_only: bool, merge: bool) -> int:
    print()
    print(f"{'figure':<40} {'unit':<22} results")
    for fig in figures:
        shown = ", ".join(f"{k} {'n/a' if v is None else f'{v:.4g}'}"
                          for k, v in fig["results"].items())
        print(f"{fig['name']:<40} {fig['unit']:<22} {shown}")
    if print_only:
        return 0
    if merge:  # keep the other figures of the last full run, replace these
        import json

        from common import RESULTS_DIR

        path = RESULTS_DIR / "offload.json"
        old = json.loads(path.read_text())["figures"] if path.exists() else []
        names = {fig["name"] for fig in figures}
        figures = [fig for fig in old if fig["name"] not in names] + figures
    print(f"written to {write_results('offload', figures)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
