"""The four kinds of concurrency bug that coop.testing.explore must find, as small programs
that pass in coop's default (FIFO) order. Shared by tests/test_explore.py and
benchmarks/bench_explore.py (plain Python: no pytest, no hypothesis)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import coop

Gen = Generator[Any, Any, Any]


def starvation() -> Gen:
    """A task that must be kept waiting for 20 of its peer's steps."""
    count = {"n": 0}

    def waiter() -> Gen:
        yield
        assert count["n"] < 20, "the waiter was starved: the peer finished first"

    def peer() -> Gen:
        for _ in range(20):
            count["n"] += 1
            yield

    def main() -> Gen:
        tasks = [(yield coop.spawn(waiter(), name="waiter")),
                 (yield coop.spawn(peer(), name="peer"))]
        for task in tasks:
            yield coop.join(task)
    return main()


def check_then_act() -> Gen:
    """Two ordered preemptions: the buyer must stop between its check and its act, and the
    restocker must then run before the other buyer checks."""
    stock = {"n": 1, "sold": 0}

    def buyer(pause: int) -> Gen:
        for _ in range(pause):
            yield
        if stock["n"] > 0:      # check
            yield               # (a database call)
            stock["n"] -= 1     # act
            stock["sold"] += 1

    def main() -> Gen:
        tasks = [(yield coop.spawn(buyer(0), name="first")),
                 (yield coop.spawn(buyer(3), name="second"))]
        for task in tasks:
            yield coop.join(task)
        assert stock["n"] >= 0, f"sold {stock['sold']} of 1 in stock"
    return main()


def cancel_leak() -> Gen:
    """A cancellation between acquiring the lock and the try that releases it leaks it."""
    lock = coop.Lock()

    def worker() -> Gen:
        yield lock.acquire()
        yield coop.sleep(0)          # a cancellation here leaks the lock
        try:
            yield coop.sleep(1)
        finally:
            lock.release()

    def main() -> Gen:
        yield coop.spawn(worker(), name="worker")
        yield coop.sleep(5)
        yield coop.timeout(10, lock.acquire())  # coop.Timeout if the lock leaked
        lock.release()
    return main()


def lost_wakeup() -> Gen:
    """notify() where notify_all() was needed: a consumer that waits too early is lost."""
    cond = coop.Condition()
    items: list[int] = []

    def consumer(pause: int) -> Gen:
        for _ in range(pause):
            yield
        with (yield cond.acquire()):
            while not items:
                yield cond.wait()
            items.pop()

    def producer() -> Gen:
        yield
        with (yield cond.acquire()):
            items.extend([1, 2])
            cond.notify()             # the bug: notify_all()

    def main() -> Gen:
        tasks = [(yield coop.spawn(consumer(0), name="early")),
                 (yield coop.spawn(producer(), name="producer")),
                 (yield coop.spawn(consumer(3), name="late"))]
        for task in tasks:
            yield coop.join(task)
    return main()
