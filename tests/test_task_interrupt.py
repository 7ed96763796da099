"""coop.interrupt: Interrupted raised at the task's yield, wherever it waits; not a cancellation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop

Gen = Generator[Any, Any, Any]


def run(main: Gen) -> Any:
    return coop.run(main, clock=coop.VirtualClock())


def test_a_sleeping_task_handles_the_interruption_and_goes_on() -> None:
    log: list[Any] = []

    def machine() -> Gen:
        made = 0
        while made < 2:
            try:
                yield coop.sleep(10)
                made += 1
                log.append(("made", coop.current_time()))
            except coop.Interrupted as err:
                log.append(("broke", err.cause, coop.current_time()))
                yield coop.sleep(3)  # the repair

    def main() -> Gen:
        task = yield coop.spawn(machine())
        yield coop.sleep(4)
        assert coop.interrupt(task, "wear") is True
        yield coop.join(task)

    run(main())
    assert log == [("broke", "wear", 4.0), ("made", 17.0), ("made", 27.0)]


def test_the_async_spelling_is_interrupted_the_same_way() -> None:
    async def worker() -> str:
        try:
            await coop.sleep(10)
        except coop.Interrupted as err:
            return f"interrupted by {err.cause} at {coop.current_time():g}"
        return "slept"

    def main() -> Gen:
        task = yield coop.spawn(worker())
        yield coop.sleep(1)
        coop.interrupt(task, "main")
        return (yield coop.join(task))

    assert run(main()) == "interrupted by main at 1"


def test_several_interruptions_arrive_in_order_one_per_yield() -> None:
    seen: list[tuple[Any, float]] = []

    def target() -> Gen:
        while len(seen) < 3:
            try:
                yield coop.sleep(100)
            except coop.Interrupted as err:
                seen.append((err.cause, coop.current_time()))

    def main() -> Gen:
        task = yield coop.spawn(target())
        yield
        for cause in ("a", "b", "c"):
            assert coop.interrupt(task, cause)
        yield coop.join(task)

    run(main())
    assert seen == [("a", 0.0), ("b", 0.0), ("c", 0.0)]


def test_an_ended_or_cancelling_task_is_not_interrupted() -> None:
    cleanup_saw: list[str] = []

    def quick() -> Gen:
        yield

    def slow_cleanup() -> Gen:
        try:
            yield coop.sleep(100)
        finally:
            try:
                yield coop.sleep(1)  # cleanup that waits
                cleanup_saw.append("clean")
            except coop.Interrupted:
                cleanup_saw.append("interrupted in cleanup")

    def main() -> Gen:
        done = yield coop.spawn(quick())
        yield coop.join(done)
        assert coop.interrupt(done) is False
        task = yield coop.spawn(slow_cleanup())
        yield
        yield coop.cancel(task, wait=False)
        assert coop.interrupt(task, "late") is False  # the cancellation wins
        yield coop.sleep(2)
        return task.state

    assert run(main()) is coop.TaskState.CANCELLED
    assert cleanup_saw == ["clean"]


def test_interrupting_oneself_or_a_non_task_is_refused_with_a_hint() -> None:
    def main() -> Gen:
        me = yield coop.current_task()
        with pytest.raises(coop.CoopUsageError, match=r"raise coop\.Interrupted"):
            coop.interrupt(me)
        with pytest.raises(TypeError, match="expects a Task"):
            coop.interrupt("worker")  # type: ignore[arg-type]
        return "still running"

    assert run(main()) == "still running"


def test_interrupting_outside_a_scheduler_says_so() -> None:
    def child() -> Gen:
        yield coop.sleep(1)

    tasks: list[coop.Task[Any]] = []

    def main() -> Gen:
        tasks.append((yield coop.spawn(child())))

    run(main())
    with pytest.raises(coop.CoopUsageError, match="no coop scheduler is running"):
        coop.interrupt(tasks[0])


def test_run_still_ends_a_daemon_that_handles_every_interruption() -> None:
    def stubborn() -> Gen:
        while True:
            try:
                yield coop.sleep(1)
            except coop.Interrupted:
                pass

    def main() -> Gen:
        task = yield coop.spawn(stubborn(), daemon=True)
        yield coop.sleep(2.5)
        coop.interrupt(task)
        yield coop.sleep(1)
        return task

    task = run(main())
    assert task.state is coop.TaskState.CANCELLED


def test_a_callback_may_interrupt_a_task() -> None:
    def sleeper() -> Gen:
        try:
            yield coop.sleep(50)
        except coop.Interrupted as err:
            return err.cause

    def main() -> Gen:
        task = yield coop.spawn(sleeper())
        coop.lowlevel.call_at(coop.current_time() + 5, coop.interrupt, task, "timer")
        return (yield coop.join(task)), coop.current_time()

    assert run(main()) == ("timer", 5.0)


# Every kind of wait lets the task go, and what it waited for is not taken from anyone else.

def _prepare(kind: str) -> tuple[Callable[[], Any], Callable[[], Gen], Callable[[], Any], Any]:
    """(the wait effect maker, a setup run by main first, a check after, its expected value)"""
    if kind == "lock":
        lock = coop.Lock()

        def setup() -> Gen:
            yield lock.acquire()

        def check() -> Any:
            lock.release()
            return lock.locked()
        return lock.acquire, setup, check, False
    if kind == "semaphore":
        sem = coop.Semaphore(1)

        def setup() -> Gen:
            yield sem.acquire()

        def check() -> Any:
            sem.release()
            return sem.value
        return sem.acquire, setup, check, 1
    if kind == "queue":
        queue: coop.Queue[int] = coop.Queue()

        def setup() -> Gen:
            yield

        def check() -> Any:
            queue.put_nowait(7)  # not swallowed by the interrupted getter
            return queue.qsize()
        return queue.get, setup, check, 1
    if kind == "event":
        event = coop.Event()

        def setup() -> Gen:
            yield

        def check() -> Any:
            event.set()
            return event.statistics().waiting
        return event.wait, setup, check, 0
    if kind == "join":
        def forever() -> Gen:
            yield coop.sleep(1000)
        holder: list[Any] = []

        def setup() -> Gen:
            holder.append((yield coop.spawn(forever(), daemon=True)))

        def check() -> Any:
            return holder[0].done()
        return (lambda: coop.join(holder[0])), setup, check, False
    if kind == "gather":
        cleaned: list[str] = []

        def child() -> Gen:
            try:
                yield coop.sleep(1000)
            finally:
                cleaned.append("child")

        def setup() -> Gen:
            yield

        def check() -> Any:
            return cleaned
        return (lambda: coop.gather(child(), child())), setup, check, ["child", "child"]
    if kind == "thread":
        release = threading.Event()

        def setup() -> Gen:
            yield

        def check() -> Any:
            release.set()
            return "ok"
        return (lambda: coop.to_thread(release.wait, 5)), setup, check, "ok"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["lock", "semaphore", "queue", "event", "join", "gather",
                                  "thread"])
def test_every_kind_of_wait_is_left_when_interrupted(kind: str) -> None:
    wait, setup, check, expected = _prepare(kind)

    def waiter() -> Gen:
        try:
            yield wait()
        except coop.Interrupted as err:
            return f"left the {kind} wait: {err.cause}"
        return "the wait ended normally"

    def main() -> Gen:
        yield from setup()
        task = yield coop.spawn(waiter())
        yield coop.sleep(1)
        coop.interrupt(task, "now")
        result = yield coop.join(task)
        yield coop.sleep(0)
        return result, check()

    result, checked = coop.run(main(), clock=coop.RealClock() if kind == "thread"
                               else coop.VirtualClock())
    assert result == f"left the {kind} wait: now"
    assert checked == expected


def test_a_task_woken_with_a_lock_and_interrupted_before_it_ran_gives_the_lock_back() -> None:
    lock = coop.Lock()
    order: list[str] = []

    def waiter(name: str) -> Gen:
        try:
            with (yield lock.acquire()):
                order.append(name)
        except coop.Interrupted:
            order.append(f"{name} interrupted")

    def main() -> Gen:
        yield lock.acquire()
        first = yield coop.spawn(waiter("first"))
        yield coop.spawn(waiter("second"))
        yield
        lock.release()          # hands the lock to first, which has not run yet
        coop.interrupt(first)   # so it goes on to second
        yield coop.sleep(1)
        return lock.locked()

    assert run(main()) is False
    assert order == ["first interrupted", "second"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5)), min_size=1, max_size=25))
def test_every_interruption_is_delivered_once_and_in_order(
        sends: list[tuple[int, int]]) -> None:
    """Property: each task sees exactly the causes sent to it, in the order sent."""
    received: dict[int, list[int]] = {i: [] for i in range(4)}
    expected: dict[int, list[int]] = {i: [] for i in range(4)}

    def target(index: int) -> Gen:
        while True:
            try:
                yield coop.sleep(1000)
            except coop.Interrupted as err:
                received[index].append(err.cause)

    def main() -> Gen:
        tasks = []
        for i in range(4):
            tasks.append((yield coop.spawn(target(i), daemon=True)))
        yield
        for cause, (index, pause) in enumerate(sends):
            assert coop.interrupt(tasks[index], cause)
            expected[index].append(cause)
            for _ in range(pause):
                yield
        yield coop.sleep(1)

    run(main())
    assert received == expected
