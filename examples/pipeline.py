"""A bounded producer/consumer pipeline: a producer, a queue of 3 jobs, two workers.

The producer makes jobs faster than the workers finish them, so the queue fills up and
``yield jobs.put(job)`` makes the producer wait for room: back-pressure, with no job dropped and
no unbounded pile-up. The workers mark each job done, and the producer waits for all of them
with ``yield jobs.join()``. A virtual clock makes the run instant and its output exact.

    python examples/pipeline.py
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import coop

JOBS = 8
WORKERS = 2
STOP = "stop"


def producer(jobs: coop.Queue[Any], results: list[int]) -> Generator[Any, Any, None]:
    largest = 0
    for job in range(JOBS):
        asked = yield coop.now()
        yield jobs.put(job)  # waits while the queue holds 3 jobs
        now = yield coop.now()
        largest = max(largest, jobs.qsize())
        waited = f"  (waited {now - asked:g} s for room)" if now > asked else ""
        print(f"t={now:3.1f}  producer  put job {job}, queue {jobs.qsize()}/{jobs.maxsize}"
              f"{waited}")
    yield jobs.join()  # until every job has been marked done
    now = yield coop.now()
    print(f"t={now:3.1f}  producer  all {JOBS} jobs done: {sorted(results)}")
    print(f"the queue never held more than {largest} jobs")
    for _ in range(WORKERS):
        yield jobs.put(STOP)


def worker(name: str, jobs: coop.Queue[Any], results: list[int]) -> Generator[Any, Any, None]:
    while True:
        job = yield jobs.get()
        if job == STOP:
            return
        yield coop.sleep(1.0)  # the work
        results.append(job * job)
        now = yield coop.now()
        print(f"t={now:3.1f}  {name}  finished job {job}")
        jobs.task_done()


def main() -> Generator[Any, Any, list[int]]:
    jobs: coop.Queue[Any] = coop.Queue(maxsize=3, name="jobs")
    results: list[int] = []
    for n in range(1, WORKERS + 1):
        yield coop.spawn(worker(f"worker-{n}", jobs, results), name=f"worker-{n}")
    yield coop.spawn(producer(jobs, results), name="producer")
    return results


if __name__ == "__main__":
    coop.run(main(), clock=coop.VirtualClock())
