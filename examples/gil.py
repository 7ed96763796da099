"""The GIL in numbers: the same CPU-bound work on threads (no speedup) and processes (speedup).

Only one thread at a time runs Python bytecode in a process, so CPU-bound work offloaded to
threads takes as long as doing it in turn; offloaded to processes it runs on every core.
(Blocking I/O is different: it releases the GIL, which is why ``coop.to_thread`` suits it.)
Both pools are warmed up first, then each way is timed three times and the best time is
shown; other programs running on the machine at the same time eat into the speedup.
"""

import os
import time

import coop

JOBS = 4
N = 4_000_000


def count_down(n):
    while n > 0:
        n -= 1
    return n


def in_turn():
    for _ in range(JOBS):
        count_down(N)
    yield  # let other tasks run between two timings


def on(backend):
    def run_once():
        yield coop.pmap(count_down, [N] * JOBS, chunksize=1, backend=backend)
    return run_once


BASELINE = "in turn, in the task"
WAYS = {BASELINE: in_turn, "threads": on("threads"), "processes": on("processes")}


def main():
    cpus = coop.offload.cpu_count()
    print(f"{JOBS} x count_down({N:_}) on {cpus} CPUs, best of 3")
    # Warm both pools before timing: the first calls start the threads and the worker
    # processes (which import this module), and that start-up would count against them.
    for backend in ("threads", "processes"):
        yield coop.pmap(count_down, [N // 20] * max(JOBS, cpus), chunksize=1, backend=backend)
    best = dict.fromkeys(WAYS, float("inf"))
    for _ in range(3):  # the ways take turns, so a busy moment hits all of them alike
        for label, way in WAYS.items():
            started = time.perf_counter()
            yield from way()
            best[label] = min(best[label], time.perf_counter() - started)
    baseline = best[BASELINE]
    for label, took in best.items():
        speedup = "" if label == BASELINE else f"  speedup {baseline / took:4.2f}x"
        print(f"{label:<24} {took:5.2f} s{speedup}")
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > cpus / 2:
        print(f"(load average {os.getloadavg()[0]:.1f} on {cpus} CPUs: other programs were "
              "using the cores the processes need)")


if __name__ == "__main__":
    coop.run(main())
