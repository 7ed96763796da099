"""The GIL in numbers: the same CPU-bound work on threads (no speedup) and processes (speedup).

Only one thread at a time runs Python bytecode in a process, so CPU-bound work offloaded to
threads takes as long as doing it in turn; offloaded to processes it runs on every core.
(Blocking I/O is different: it releases the GIL, which is why ``coop.to_thread`` suits it.)
Each way is timed three times and the best time is shown; other programs running on the
machine at the same time eat into the speedup.
"""

import time

import coop

JOBS = 4
N = 4_000_000


def count_down(n):
    while n > 0:
        n -= 1
    return n


def best_of_three(run_once):
    times = []
    for _ in range(3):
        started = time.perf_counter()
        yield from run_once()
        times.append(time.perf_counter() - started)
    return min(times)


def in_turn():
    for _ in range(JOBS):
        count_down(N)
    yield  # let other tasks run between two timings


def on(backend):
    def run_once():
        yield coop.pmap(count_down, [N] * JOBS, chunksize=1, backend=backend)
    return run_once


def main():
    cpus = coop.offload.cpu_count()
    print(f"{JOBS} x count_down({N:_}) on {cpus} CPUs, best of 3")
    yield coop.pmap(count_down, [10] * cpus, chunksize=1)  # start the workers before timing
    baseline = yield from best_of_three(in_turn)
    print(f"{'in turn, in the task':<24} {baseline:5.2f} s")
    for label, backend in (("threads", "threads"), ("processes", "processes")):
        took = yield from best_of_three(on(backend))
        print(f"{label:<24} {took:5.2f} s  speedup {baseline / took:4.2f}x")


if __name__ == "__main__":
    coop.run(main())
