"""Lock, Semaphore, Event, Condition, Queue, Barrier: rules, bad input, cancellation, timeouts,
deadlock reports, the examples, and hypothesis properties under random schedules."""

import importlib.util
import os
import queue as stdlib_queue
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop
from coop.sync import (
    BarrierStatistics,
    ConditionStatistics,
    EventStatistics,
    LockStatistics,
    QueueStatistics,
    SemaphoreStatistics,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def spawn_all(gens, names=None):
    """Spawn each generator in order (from inside a task); returns the tasks."""
    tasks = []
    for n, gen in enumerate(gens):
        tasks.append((yield coop.spawn(gen, name=None if names is None else names[n])))
    return tasks


def join_all(tasks):
    results = []
    for task in tasks:
        results.append((yield coop.join(task)))
    return results


# =========================================================================== Lock


def test_lock_gives_mutual_exclusion_across_yields():
    lock = coop.Lock()
    counter = [0]

    def add(n):
        for _ in range(n):
            with (yield lock.acquire()):
                value = counter[0]
                yield
                counter[0] = value + 1

    def main():
        tasks = yield from spawn_all([add(50) for _ in range(4)])
        yield from join_all(tasks)

    coop.run(main())
    assert counter[0] == 200
    assert not lock.locked()


def test_lock_waiters_are_served_in_fifo_order():
    lock = coop.Lock()
    order = []

    def waiter(name):
        with (yield lock.acquire()):
            order.append(name)

    def main():
        with (yield lock.acquire()):
            yield from spawn_all([waiter(n) for n in "abcde"])
            yield coop.sleep(1)  # every waiter is parked by now
            assert lock.statistics().waiting == 5

    vrun(main())
    assert order == list("abcde")


def test_release_hands_the_lock_to_the_first_waiter_with_no_barging():
    lock = coop.Lock()
    order = []

    def waiter():
        with (yield lock.acquire()):
            order.append("waiter")

    def main():
        me = yield coop.current_task()
        yield lock.acquire()
        task = yield coop.spawn(waiter())
        yield
        lock.release()
        # The lock already belongs to the waiter, though it has not run yet.
        assert lock.statistics().holder is task and lock.locked()
        with (yield lock.acquire()):  # so the releaser queues behind it
            order.append("releaser again")
        assert lock.statistics().holder is None
        return me

    coop.run(main())
    assert order == ["waiter", "releaser again"]


def test_with_releases_on_return_exception_and_cancellation():
    lock = coop.Lock()

    def returns():
        with (yield lock.acquire()):
            return "returned"

    def raises():
        with (yield lock.acquire()):
            raise KeyError("inside")

    def sleeps():
        with (yield lock.acquire()):
            yield coop.sleep(100)

    def main():
        assert (yield coop.join((yield coop.spawn(returns())))) == "returned"
        assert not lock.locked()
        with pytest.raises(KeyError):
            yield coop.join((yield coop.spawn(raises())))
        assert not lock.locked()
        task = yield coop.spawn(sleeps())
        yield coop.sleep(1)
        assert lock.statistics().holder is task
        yield coop.cancel(task)
        return lock.locked()

    assert vrun(main()) is False


def test_explicit_acquire_and_release():
    lock = coop.Lock()

    def main():
        held = yield lock.acquire()
        assert isinstance(held, coop.sync.Acquired)
        try:
            assert lock.locked()
        finally:
            lock.release()
        return lock.locked()

    assert coop.run(main()) is False


def test_yield_from_and_async_with_forms():
    lock = coop.Lock()

    def gen_task():
        with (yield from lock.acquire()):
            yield
            return lock.locked()

    async def async_task():
        async with lock:
            await coop.sleep(0)
            inside = lock.locked()
        return inside, lock.locked()

    def main():
        a = yield coop.spawn(gen_task())
        b = yield coop.spawn(async_task())
        return (yield coop.join(a)), (yield coop.join(b))

    assert coop.run(main()) == (True, (True, False))


def test_async_with_releases_when_the_body_raises():
    lock = coop.Lock()

    async def main():
        try:
            async with lock:
                raise ValueError("body failed")
        except ValueError:
            pass
        return lock.locked()

    assert coop.run(main()) is False


def test_release_of_an_unlocked_lock_is_a_clear_error():
    lock = coop.Lock(name="door")
    with pytest.raises(coop.CoopUsageError, match="release of door, which is not locked"):
        lock.release()

    def main():
        with pytest.raises(RuntimeError, match="not locked"):  # CoopUsageError is one
            lock.release()
        yield

    coop.run(main())


def test_release_by_a_task_that_is_not_the_holder_is_refused():
    lock = coop.Lock(name="door")

    def intruder():
        try:
            lock.release()
        except coop.CoopUsageError as err:
            return str(err)
        yield

    def main():
        with (yield lock.acquire()):
            message = yield coop.join((yield coop.spawn(intruder(), name="intruder")))
            assert lock.locked()
        return message

    message = coop.run(main())
    assert "door is held by 'main'" in message
    assert "only the task holding a lock may release it" in message


def test_release_from_outside_the_scheduler_is_refused():
    lock = coop.Lock()
    sched = coop.Scheduler()

    def holder():
        yield lock.acquire()
        yield coop.sleep(0.01)

    sched.spawn(holder())
    sched.run()
    sched.close()
    with pytest.raises(coop.CoopUsageError, match="only the task holding"):
        lock.release()


def test_release_from_a_callback_the_scheduler_runs_is_refused_and_in_a_helper_allowed():
    # The holder is the running task (lowlevel.current_task()), not whoever's generator runs:
    # a timer callback runs in no task, a helper generator of the holder's runs in it.
    lock, cond, sem = coop.Lock(name="door"), coop.Condition(name="cv"), coop.Semaphore(2)
    seen = []

    def from_callback():
        for call in (lock.release, cond.notify, sem.release):
            try:
                call()
                seen.append("released")
            except coop.CoopUsageError as err:
                seen.append(str(err))

    def helper():
        lock.release()
        yield

    def main():
        me = yield coop.current_task()
        yield lock.acquire()
        yield cond.acquire()
        yield sem.acquire()
        coop.lowlevel.call_at((yield coop.now()) + 1, from_callback)
        yield coop.sleep(2)
        assert lock.locked() and cond.locked()
        assert sem.statistics().holders == () and sem.value == 2  # counted against me
        yield from helper()
        cond.release()
        return me.name, lock.locked()

    assert vrun(main()) == ("main", False)
    assert seen[0].startswith("door is held by 'main'; only the task holding a lock")
    assert seen[1] == "cv.notify() needs the caller to hold cv.lock"
    assert seen[2] == "released"


def test_lock_is_not_reentrant_and_says_so():
    lock = coop.Lock()

    def main():
        with (yield lock.acquire()):
            try:
                yield lock.acquire()
            except coop.CoopUsageError as err:
                return str(err), lock.statistics().holder.name

    message, holder = coop.run(main())
    assert "already holds" in message and "not reentrant" in message
    assert holder == "main"


def test_with_lock_without_yield_is_a_clear_error():
    lock = coop.Lock()

    def main():
        with lock:
            pass
        yield

    with pytest.raises(coop.CoopUsageError, match=r"with \(yield lock\.acquire\(\)\)"):
        coop.run(main())


def test_acquire_timeout_raises_timeout_and_leaves_the_queue():
    lock = coop.Lock()

    def holder():
        with (yield lock.acquire()):
            yield coop.sleep(5)

    def main():
        yield coop.spawn(holder())
        yield
        try:
            yield lock.acquire(timeout=2)
        except coop.Timeout as err:
            timed_out_at, message = (yield coop.now()), str(err)
        waiting = lock.statistics().waiting
        with (yield lock.acquire(timeout=10)):
            got_at = yield coop.now()
        return timed_out_at, message, waiting, got_at

    timed_out_at, message, waiting, got_at = vrun(main())
    assert timed_out_at == 2.0 and waiting == 0 and got_at == 5.0
    assert "timed out after 2 s" in message and lock.name in message


def test_acquire_timeout_zero_tries_once():
    lock = coop.Lock()

    def main():
        with (yield lock.acquire(timeout=0)):  # free: taken at once
            other = yield coop.spawn(try_once())
            return (yield coop.join(other))

    def try_once():
        try:
            yield lock.acquire(timeout=0)
        except coop.Timeout:
            return "busy"

    assert coop.run(main()) == "busy"


@pytest.mark.parametrize("bad", [-1, float("nan"), "1", True])
def test_bad_timeouts_are_refused_at_the_call(bad):
    with pytest.raises((ValueError, TypeError)):
        coop.Lock().acquire(timeout=bad)
    with pytest.raises((ValueError, TypeError)):
        coop.Queue().get(timeout=bad)
    with pytest.raises((ValueError, TypeError)):
        coop.Event().wait(timeout=bad)


def test_coop_timeout_around_an_acquire():
    lock = coop.Lock()

    def holder():
        with (yield lock.acquire()):
            yield coop.sleep(5)

    def main():
        yield coop.spawn(holder())
        yield
        try:
            yield coop.timeout(1, lock.acquire())
        except coop.Timeout:
            return (yield coop.now()), lock.statistics().waiting

    assert vrun(main()) == (1.0, 0)


def test_a_waiter_cancelled_while_parked_leaves_the_queue():
    lock = coop.Lock()
    got = []

    def waiter(name):
        with (yield lock.acquire()):
            got.append(name)

    def main():
        with (yield lock.acquire()):
            a, b, c = yield from spawn_all([waiter("a"), waiter("b"), waiter("c")])
            yield
            yield coop.cancel(b)
            assert lock.statistics().waiting == 2
        yield from join_all([a, c])

    coop.run(main())
    assert got == ["a", "c"]


def test_lock_handed_to_a_waiter_cancelled_before_it_runs_goes_to_the_next():
    lock = coop.Lock()
    got = []

    def waiter(name):
        with (yield lock.acquire()):
            got.append(name)
            yield

    def main():
        yield lock.acquire()
        a, b = yield from spawn_all([waiter("a"), waiter("b")])
        yield
        lock.release()
        assert lock.statistics().holder is a  # handed over, a has not run yet
        yield coop.cancel(a, wait=False)
        assert lock.statistics().holder is b  # a keeps nothing
        yield coop.join(b)
        return a.cancelled(), lock.locked()

    assert coop.run(main()) == (True, False)
    assert got == ["b"]


def test_lock_handed_to_a_cancelled_waiter_with_nobody_behind_is_freed():
    lock = coop.Lock()

    def waiter():
        yield lock.acquire()

    def main():
        yield lock.acquire()
        a = yield coop.spawn(waiter())
        yield
        lock.release()
        yield coop.cancel(a)
        return lock.locked(), a.cancelled()

    assert coop.run(main()) == (False, True)


def test_lock_statistics_repr_and_names():
    lock = coop.Lock()
    assert re.fullmatch(r"Lock#\d+", lock.name)
    number = int(lock.name.split("#")[1])
    assert coop.Lock().name == f"Lock#{number + 1}"
    assert coop.Lock(name="fork-3").name == "fork-3"
    with pytest.raises(TypeError, match="takes a str"):
        coop.Lock(name=3)

    def waiter():
        yield lock.acquire()
        lock.release()

    def main():
        me = yield coop.current_task()
        with (yield lock.acquire()):
            w = yield coop.spawn(waiter(), name="w")
            yield
            stats = lock.statistics()
            text = repr(lock)
            waiting_for = w.waiting_for
        return me, stats, text, waiting_for

    me, stats, text, waiting_for = coop.run(main())
    assert stats == LockStatistics(lock.name, True, me, 1)
    assert text == f"<{lock.name} held by main, 1 waiting>"
    assert waiting_for == f"{lock.name} held by main"
    assert lock.statistics() == LockStatistics(lock.name, False, None, 0)


# ====================================================================== Semaphore


def test_semaphore_never_exceeds_its_count_and_serves_fifo():
    sem = coop.Semaphore(2)
    active, peak, order = [0], [0], []

    def user(name):
        with (yield sem.acquire()):
            order.append(name)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            yield coop.sleep(1)
            active[0] -= 1

    def main():
        yield from join_all((yield from spawn_all([user(n) for n in "abcdef"])))
        return (yield coop.now())

    assert vrun(main()) == 3.0
    assert peak[0] == 2 and order == list("abcdef") and sem.value == 2


def test_semaphore_release_hands_the_unit_to_the_first_waiter():
    sem = coop.Semaphore(1)

    def waiter():
        with (yield sem.acquire()):
            yield

    def main():
        yield sem.acquire()
        task = yield coop.spawn(waiter())
        yield
        sem.release()
        stats = sem.statistics()
        yield coop.join(task)
        return task, stats

    task, stats = coop.run(main())
    assert stats.value == 0 and stats.holders == (task,) and stats.waiting == 0


@pytest.mark.parametrize("cls", [coop.Semaphore, coop.BoundedSemaphore])
def test_bad_semaphore_values(cls):
    with pytest.raises(ValueError, match=r"value\) must be >= 0, got -1"):
        cls(-1)
    with pytest.raises(TypeError, match="must be an int"):
        cls(1.5)
    with pytest.raises(TypeError, match="must be an int"):
        cls(True)
    assert cls(0).locked()


def test_bounded_semaphore_refuses_too_many_releases_plain_one_counts_up():
    bounded = coop.BoundedSemaphore(1, name="pool")
    plain = coop.Semaphore(1)

    def main():
        yield bounded.acquire()
        bounded.release()
        with pytest.raises(ValueError, match="pool released more times than it was acquired"):
            bounded.release()
        plain.release()
        return bounded.value, plain.value

    assert coop.run(main()) == (1, 2)


def test_semaphore_can_be_released_by_another_task_as_a_signal():
    signal = coop.Semaphore(0)

    def waiter():
        yield signal.acquire()
        return "signalled"

    def main():
        task = yield coop.spawn(waiter())
        yield
        assert signal.statistics().waiting == 1
        signal.release()
        return (yield coop.join(task))

    assert coop.run(main()) == "signalled"


def test_semaphore_release_by_a_non_holder_is_counted_against_the_oldest_holder():
    sem = coop.Semaphore(2)

    def holder():
        yield sem.acquire()
        yield coop.sleep(10)

    def main():
        a, b = yield from spawn_all([holder(), holder()])
        yield
        yield
        assert sem.statistics().holders == (a, b)
        sem.release()  # main holds nothing
        holders = sem.statistics().holders
        yield coop.cancel(a)
        yield coop.cancel(b)
        return a, b, holders

    _, b, holders = vrun(main())
    assert holders == (b,)


def test_semaphore_unit_handed_to_a_cancelled_waiter_goes_to_the_next():
    sem = coop.Semaphore(1)
    got = []

    def waiter(name):
        with (yield sem.acquire()):
            got.append(name)

    def main():
        yield sem.acquire()
        a, b = yield from spawn_all([waiter("a"), waiter("b")])
        yield
        sem.release()
        assert sem.statistics().holders == (a,)
        yield coop.cancel(a, wait=False)
        assert sem.statistics().holders == (b,)
        yield coop.join(b)
        return sem.value

    assert coop.run(main()) == 1
    assert got == ["b"]


def test_semaphore_timeout_and_async_with_and_misuse():
    sem = coop.Semaphore(1, name="slot")

    async def holder():
        async with sem:
            await coop.sleep(3)

    def main():
        yield coop.spawn(holder())
        yield
        try:
            yield sem.acquire(timeout=1)
        except coop.Timeout as err:
            message = str(err)
        with pytest.raises(coop.CoopUsageError, match=r"with \(yield semaphore\.acquire"), sem:
            pass
        return message, (yield coop.now()), sem.statistics().waiting

    message, now, waiting = vrun(main())
    assert "slot (0 of 1 left, acquired by holder-2)" in message
    assert now == 1.0 and waiting == 0
    assert sem.value == 1
    assert sem.statistics() == SemaphoreStatistics("slot", 1, (), 0)


# ========================================================================== Event


def test_event_set_wakes_every_waiter_in_order_and_wait_returns_true():
    event = coop.Event()
    woke = []

    def waiter(name):
        woke.append((name, (yield event.wait())))

    def main():
        yield from spawn_all([waiter(n) for n in "abc"])
        yield coop.sleep(1)
        assert woke == [] and event.statistics().waiting == 3
        event.set()
        assert event.is_set()
        yield coop.sleep(1)

    vrun(main())
    assert woke == [("a", True), ("b", True), ("c", True)]


def test_event_wait_when_set_completes_at_once_and_clear_blocks_again():
    event = coop.Event(name="go")
    log = []

    def other():
        log.append("other ran")
        yield

    def main():
        event.set()
        yield coop.spawn(other())
        yield event.wait()
        assert log == []  # no trip through the ready queue
        event.clear()
        assert not event.is_set()
        try:
            yield event.wait(timeout=2)
        except coop.Timeout as err:
            return str(err), (yield coop.now())

    message, now = vrun(main())
    assert now == 2.0 and "go to be set" in message
    assert event.statistics() == EventStatistics("go", False, 0)


def test_event_from_an_async_task_and_repr():
    event = coop.Event(name="e")

    async def waiter():
        return await event.wait()

    def main():
        task = yield coop.spawn(waiter())
        yield
        text = repr(event)
        event.set()
        event.set()  # a second set is a no-op
        return (yield coop.join(task)), text

    assert coop.run(main()) == (True, "<e unset, 1 waiting>")


# ====================================================================== Condition


def test_condition_wait_notify_in_fifo_order():
    cond = coop.Condition()
    woke = []

    def waiter(name):
        with (yield cond.acquire()):
            result = yield cond.wait()
            assert cond.locked()
            woke.append((name, result))

    def main():
        yield from spawn_all([waiter(n) for n in "abcd"])
        yield coop.sleep(1)
        with (yield cond.acquire()):
            assert cond.statistics().waiting == 4
            cond.notify()
        yield coop.sleep(1)
        assert woke == [("a", True)]
        with (yield cond.acquire()):
            cond.notify(2)
        yield coop.sleep(1)
        assert [n for n, _ in woke] == ["a", "b", "c"]
        with (yield cond.acquire()):
            cond.notify_all()
        yield coop.sleep(1)

    vrun(main())
    assert [n for n, _ in woke] == list("abcd")


def test_notified_waiters_get_the_lock_only_after_the_notifier_releases_it():
    cond = coop.Condition()
    log = []

    def waiter():
        with (yield cond.acquire()):
            yield cond.wait()
            log.append("waiter has the lock")

    def main():
        yield coop.spawn(waiter())
        yield
        with (yield cond.acquire()):
            cond.notify()
            yield coop.sleep(1)
            log.append("notifier still holds it")
        yield coop.sleep(1)

    vrun(main())
    assert log == ["notifier still holds it", "waiter has the lock"]


def test_wait_for_returns_the_predicates_value_and_rechecks_after_each_notify():
    cond = coop.Condition()
    box = []
    checks = []

    def predicate():
        checks.append(len(box))
        return len(box) >= 2 and list(box)

    def consumer():
        with (yield cond.acquire()):
            return (yield cond.wait_for(predicate))

    def main():
        task = yield coop.spawn(consumer())
        for item in ("x", "y"):
            yield coop.sleep(1)
            with (yield cond.acquire()):
                box.append(item)
                cond.notify()
        return (yield coop.join(task))

    assert vrun(main()) == ["x", "y"]
    assert checks == [0, 1, 2]


def test_wait_for_already_true_does_not_wait_or_release():
    cond = coop.Condition()

    def main():
        with (yield cond.acquire()):
            value = yield cond.wait_for(lambda: 42)
            return value, cond.locked()

    assert coop.run(main()) == (42, True)


def test_a_wait_for_still_false_lets_other_lock_waiters_through():
    cond = coop.Condition()
    state = {"ready": False}
    log = []

    def picky():
        with (yield cond.acquire()):
            yield cond.wait_for(lambda: state["ready"])
            log.append("picky done")

    def other():
        with (yield cond.acquire()):
            log.append("other got the lock")
            state["ready"] = True
            cond.notify_all()

    def main():
        yield coop.spawn(picky())
        yield
        with (yield cond.acquire()):
            cond.notify_all()  # picky re-checks and goes back to waiting
            yield coop.spawn(other())
            yield
        yield coop.sleep(1)

    vrun(main())
    assert log == ["other got the lock", "picky done"]


def test_condition_wait_needs_the_lock_and_notify_too():
    cond = coop.Condition(name="cv")

    def main():
        with pytest.raises(coop.CoopUsageError, match=r"cv\.wait\(\) without holding cv\.lock"):
            yield cond.wait()
        with pytest.raises(coop.CoopUsageError, match=r"cv\.notify\(\) needs the caller"):
            cond.notify()
        with pytest.raises(coop.CoopUsageError, match=r"cv\.notify\(\) needs the caller"):
            cond.notify_all()
        with (yield cond.acquire()), pytest.raises(ValueError, match="must be >= 0"):
            cond.notify(-1)
        with pytest.raises(coop.CoopUsageError, match=r"with \(yield condition"), cond:
            pass
        return "checked"

    assert coop.run(main()) == "checked"


def test_condition_bad_arguments():
    with pytest.raises(TypeError, match=r"takes a coop\.Lock"):
        coop.Condition("lock")
    with pytest.raises(TypeError, match="takes a callable"):
        coop.Condition().wait_for(True)


def test_condition_wait_timeout_raises_with_the_lock_held():
    cond = coop.Condition()

    def main():
        with (yield cond.acquire()):
            try:
                yield cond.wait(timeout=3)
            except coop.Timeout as err:
                return str(err), cond.locked(), (yield coop.now())

    message, locked, now = vrun(main())
    assert "notify on" in message and locked and now == 3.0


def test_condition_timeout_waits_for_the_lock_before_raising():
    cond = coop.Condition()
    log = []

    def waiter():
        with (yield cond.acquire()):
            try:
                yield cond.wait_for(lambda: False, timeout=1)
            except coop.Timeout:
                log.append(("timeout", (yield coop.now()),
                            cond.statistics().lock.holder.name))

    def main():
        yield coop.spawn(waiter(), name="waiter")
        yield
        with (yield cond.acquire()):
            yield coop.sleep(5)  # holds the lock past the waiter's deadline
        yield coop.sleep(1)

    vrun(main())
    assert log == [("timeout", 5.0, "waiter")]


def test_a_notified_plain_wait_no_longer_times_out():
    cond = coop.Condition()

    def waiter():
        with (yield cond.acquire()):
            return (yield cond.wait(timeout=2))

    def main():
        task = yield coop.spawn(waiter())
        yield coop.sleep(1)
        with (yield cond.acquire()):
            cond.notify()
            yield coop.sleep(5)  # the deadline passes while it waits for the lock
        return (yield coop.join(task))

    assert vrun(main()) is True


def test_condition_waiter_cancelled_re_acquires_the_lock_before_unwinding():
    cond = coop.Condition()
    log = []

    def waiter():
        with (yield cond.acquire()):
            try:
                yield cond.wait()
            except coop.Cancelled:
                log.append(("cancelled, holding", cond.statistics().lock.holder.name,
                            (yield coop.now())))
                raise

    def main():
        task = yield coop.spawn(waiter(), name="waiter")
        yield
        with (yield cond.acquire()):
            yield coop.cancel(task, wait=False)
            yield coop.sleep(2)  # the waiter cannot unwind before the lock is free
            assert not task.done()
        yield coop.sleep(1)
        return task.cancelled(), cond.locked()

    assert vrun(main()) == (True, False)
    assert log == [("cancelled, holding", "waiter", 2.0)]


def test_condition_waiter_cancelled_while_lock_is_free_unwinds_at_once():
    cond = coop.Condition()

    def waiter():
        with (yield cond.acquire()):
            yield cond.wait()

    def main():
        task = yield coop.spawn(waiter())
        yield
        yield coop.cancel(task)
        return task.cancelled(), cond.locked(), cond.statistics().waiting

    assert coop.run(main()) == (True, False, 0)


def test_coop_timeout_around_a_condition_wait_keeps_the_lock_rule():
    cond = coop.Condition()

    def main():
        with (yield cond.acquire()):
            try:
                yield coop.timeout(2, cond.wait())
            except coop.Timeout:
                return cond.locked(), (yield coop.now())

    assert vrun(main()) == (True, 2.0)


def test_predicate_that_raises_reaches_the_waiter_with_the_lock_held():
    cond = coop.Condition()
    calls = [0]

    def predicate():
        calls[0] += 1
        if calls[0] > 1:
            raise KeyError("bad predicate")
        return False

    def waiter():
        with (yield cond.acquire()):
            try:
                yield cond.wait_for(predicate)
            except KeyError:
                return cond.locked()

    def main():
        task = yield coop.spawn(waiter())
        yield
        with (yield cond.acquire()):
            cond.notify()
        return (yield coop.join(task))

    assert coop.run(main()) is True


def test_conditions_sharing_a_lock_and_async_with():
    lock = coop.Lock(name="shared")
    first, second = coop.Condition(lock), coop.Condition(lock)
    assert first.lock is second.lock is lock

    async def waiter():
        async with second:
            return await second.wait()

    def main():
        task = yield coop.spawn(waiter())
        yield
        with (yield first.acquire()):
            assert second.locked()
            second.notify()
        return (yield coop.join(task))

    assert coop.run(main()) is True
    stats = second.statistics()
    assert stats == ConditionStatistics(second.name, LockStatistics("shared", False, None, 0), 0)


# ========================================================================== Queue


def test_queue_is_fifo_and_nowait_forms_raise_clear_errors():
    q = coop.Queue(2, name="q")
    q.put_nowait(1)
    q.put_nowait(2)
    assert q.full() and q.qsize() == 2 and not q.empty()
    with pytest.raises(coop.QueueFull, match="q is full"):
        q.put_nowait(3)
    with pytest.raises(stdlib_queue.Full):
        q.put_nowait(3)
    assert [q.get_nowait(), q.get_nowait()] == [1, 2]
    with pytest.raises(coop.QueueEmpty, match="q is empty"):
        q.get_nowait()
    with pytest.raises(stdlib_queue.Empty):
        q.get_nowait()
    assert q.empty()


@pytest.mark.parametrize("maxsize", [0, -1])
def test_maxsize_zero_or_less_is_unbounded(maxsize):
    q = coop.Queue(maxsize)
    for n in range(1000):
        q.put_nowait(n)
    assert q.maxsize == 0 and not q.full() and q.qsize() == 1000


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_bad_maxsize_is_refused(bad):
    with pytest.raises(TypeError, match="maxsize"):
        coop.Queue(bad)


def test_get_from_a_non_empty_queue_resumes_without_a_trip_through_the_ready_queue():
    log = []

    def other():
        log.append("other ran")
        yield

    def main():
        q = coop.Queue()
        q.put_nowait("item")
        yield coop.spawn(other())
        item = yield q.get()
        seen = list(log)
        yield q.put("again")  # room: completes at once too
        seen_after_put = list(log)
        yield
        return item, seen, seen_after_put, list(log)

    assert coop.run(main()) == ("item", [], [], ["other ran"])


def test_put_blocks_while_full_and_putters_and_getters_are_served_fifo():
    q = coop.Queue(1)
    got = []

    def putter(item):
        yield q.put(item)

    def getter(name):
        got.append((name, (yield q.get())))

    def main():
        yield from spawn_all([putter(n) for n in "abc"])
        yield coop.sleep(1)
        assert q.qsize() == 1 and q.statistics().putters_waiting == 2
        yield from spawn_all([getter(n) for n in range(4)])
        yield coop.sleep(1)
        assert q.statistics().getters_waiting == 1
        q.put_nowait("d")  # goes straight to the waiting getter
        yield coop.sleep(1)

    vrun(main())
    assert got == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]


def test_task_done_and_join():
    q = coop.Queue()
    done = []

    def worker():
        while True:
            item = yield q.get()
            yield coop.sleep(1)
            done.append(item)
            q.task_done()

    def main():
        yield coop.spawn(worker(), daemon=True)
        yield q.join()  # nothing put yet: returns at once
        for n in range(3):
            yield q.put(n)
        assert q.statistics().unfinished_tasks == 3
        yield q.join()
        return (yield coop.now()), list(done)

    assert vrun(main()) == (3.0, [0, 1, 2])
    with pytest.raises(ValueError, match="task_done"):
        q.task_done()


def test_get_and_put_timeouts():
    q = coop.Queue(1, name="box")

    def main():
        try:
            yield q.get(timeout=1.5)
        except coop.Timeout as err:
            get_message = str(err)
        yield q.put("first")
        try:
            yield q.put("second", timeout=2)
        except coop.Timeout as err:
            put_message = str(err)
        return get_message, put_message, (yield coop.now()), q.qsize(), q.get_nowait()

    get_message, put_message, now, size, item = vrun(main())
    assert "an item from box (empty)" in get_message
    assert "room in box (full, 1/1)" in put_message
    assert (now, size, item) == (3.5, 1, "first")  # the timed-out put put nothing


def test_a_putter_cancelled_while_blocked_puts_nothing():
    q = coop.Queue(1)

    def putter():
        yield q.put("never")

    def main():
        q.put_nowait("kept")
        task = yield coop.spawn(putter())
        yield
        yield coop.cancel(task)
        return q.get_nowait(), q.empty(), q.statistics().unfinished_tasks

    assert coop.run(main()) == ("kept", True, 1)


def test_item_handed_to_a_getter_cancelled_before_it_runs_goes_to_the_next_getter():
    q = coop.Queue()
    got = []

    def getter(name):
        got.append((name, (yield q.get())))

    def main():
        a, b = yield from spawn_all([getter("a"), getter("b")])
        yield
        q.put_nowait("x")  # handed to a
        yield coop.cancel(a, wait=False)
        yield coop.join(b)
        return a.cancelled()

    assert coop.run(main()) is True
    assert got == [("b", "x")]


def test_item_handed_to_a_cancelled_getter_goes_back_to_the_head_of_the_queue():
    q = coop.Queue()

    def getter():
        yield q.get()

    def main():
        a = yield coop.spawn(getter())
        yield
        q.put_nowait("first")  # handed to a
        q.put_nowait("second")
        yield coop.cancel(a)
        return [q.get_nowait(), q.get_nowait()]

    assert coop.run(main()) == ["first", "second"]


def test_given_back_item_never_makes_the_queue_exceed_maxsize():
    q = coop.Queue(2)
    sizes = []

    def getter():
        yield q.get()

    def main():
        a = yield coop.spawn(getter())
        yield
        q.put_nowait("first")  # handed to a, which has not run
        q.put_nowait("second")
        q.put_nowait("third")  # full again
        yield coop.cancel(a)  # "first" comes back: "third" waits outside
        sizes.append(q.qsize())
        assert q.full()
        with pytest.raises(coop.QueueFull):
            q.put_nowait("fourth")
        items = []
        while not q.empty():
            items.append(q.get_nowait())
            sizes.append(q.qsize())
        return items

    assert coop.run(main()) == ["first", "second", "third"]
    assert max(sizes) <= 2


@pytest.mark.parametrize("cls, expected", [(coop.LifoQueue, ["b", "a", "first"]),
                                           (coop.PriorityQueue, ["a", "b", "first"])])
def test_lifo_and_priority_queues_take_back_a_cancelled_getters_item(cls, expected):
    q = cls()

    def getter():
        yield q.get()

    def main():
        a = yield coop.spawn(getter())
        yield
        q.put_nowait("first")  # handed to a
        q.put_nowait("a")
        q.put_nowait("b")
        yield coop.cancel(a)
        return [q.get_nowait() for _ in range(3)]

    assert coop.run(main()) == expected


def test_lifo_and_priority_order():
    lifo, prio = coop.LifoQueue(), coop.PriorityQueue()
    for n in (2, 0, 3, 1):
        lifo.put_nowait(n)
        prio.put_nowait(n)
    assert [lifo.get_nowait() for _ in range(4)] == [1, 3, 0, 2]
    assert [prio.get_nowait() for _ in range(4)] == [0, 1, 2, 3]
    assert lifo.name.startswith("LifoQueue#") and prio.name.startswith("PriorityQueue#")


def test_bounded_priority_queue_blocks_and_admits_in_order():
    q = coop.PriorityQueue(2)

    def putter(item):
        yield q.put(item)

    def main():
        yield from spawn_all([putter(n) for n in (5, 4, 3, 2)])
        yield coop.sleep(1)
        got = []
        for _ in range(4):
            got.append((yield q.get()))
        return got

    # 5 and 4 fill it; each get admits the next blocked putter's item.
    assert vrun(main()) == [4, 3, 2, 5]


def test_none_items_flow_and_async_tasks_use_await():
    q = coop.Queue(1)

    async def producer():
        for item in (None, 1, None):
            await q.put(item)

    async def consumer():
        return [await q.get() for _ in range(3)]

    def main():
        yield coop.spawn(producer())
        return (yield coop.join((yield coop.spawn(consumer()))))

    assert coop.run(main()) == [None, 1, None]


def test_queue_statistics_and_repr():
    q = coop.Queue(3, name="jobs")
    q.put_nowait("a")
    assert q.statistics() == QueueStatistics("jobs", 1, 3, 0, 0, 1)
    assert repr(q) == "<jobs 1/3 items, 0 getters, 0 putters waiting>"


# ======================================================================== Barrier


def test_barrier_releases_whole_groups_with_arrival_indices():
    barrier = coop.Barrier(3)
    passed = []

    def runner(name, delay):
        yield coop.sleep(delay)
        index = yield barrier.wait()
        passed.append((name, index, (yield coop.now())))

    def main():
        yield from spawn_all([runner(n, d) for n, d in
                              [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)]])

    vrun(main())
    assert passed == [("c", 2, 3.0), ("a", 0, 3.0), ("b", 1, 3.0),
                      ("f", 2, 6.0), ("d", 0, 6.0), ("e", 1, 6.0)]
    assert barrier.statistics() == BarrierStatistics(barrier.name, 3, 0, 2)


def test_barrier_of_one_never_waits():
    barrier = coop.Barrier(1)

    def main():
        first = yield barrier.wait()
        second = yield barrier.wait()
        return [first, second]

    assert coop.run(main()) == [0, 0]
    assert barrier.statistics().generation == 2


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), ("3", TypeError),
                                        (2.0, TypeError)])
def test_bad_barrier_sizes(bad, error):
    with pytest.raises(error, match="parties"):
        coop.Barrier(bad)


def test_barrier_waiter_that_times_out_or_is_cancelled_leaves_the_group():
    barrier = coop.Barrier(2, name="gate")

    def impatient():
        try:
            yield barrier.wait(timeout=1)
        except coop.Timeout as err:
            return str(err)

    def cancelled():
        yield barrier.wait()

    def main():
        message = yield coop.join((yield coop.spawn(impatient())))
        assert barrier.n_waiting == 0
        task = yield coop.spawn(cancelled())
        yield
        yield coop.cancel(task)
        assert barrier.n_waiting == 0
        late = yield coop.spawn(cancelled())
        yield
        index = yield barrier.wait()  # pairs with `late`, not with a task that left
        yield coop.join(late)
        return message, index

    message, index = vrun(main())
    assert "gate (1 of 2 arrived)" in message and index == 1


# ======================================================================= Deadlock


def test_deadlock_report_names_each_task_the_lock_and_its_holder():
    first, second = coop.Lock(), coop.Lock()

    def grab(a, b):
        with (yield a.acquire()):
            yield coop.sleep(1)
            with (yield b.acquire()):
                pass

    def main():
        tasks = yield from spawn_all([grab(first, second), grab(second, first)],
                                     ["philosopher-2", "philosopher-3"])
        yield from join_all(tasks)

    with pytest.raises(coop.Deadlock) as info:
        vrun(main())
    message = str(info.value)
    assert "wait-for cycle" in message
    assert f"philosopher-3 waits for {first.name} held by philosopher-2" in message
    assert f"philosopher-2 waits for {second.name} held by philosopher-3" in message
    assert re.fullmatch(r"Lock#\d+", first.name)
    # The cycle first, then every other stuck task (main, joining them).
    names = [t.name for t, _ in info.value.waits]
    assert set(names[:2]) == {"philosopher-2", "philosopher-3"}
    assert names[2:] == ["main"]
    assert "a wait-for cycle among the first 2, and 1 more" in message


def _deadlock_report_in_a_fresh_interpreter(program):
    """Run ``program`` alone and return the Deadlock message it prints.

    A deadlock that is not a wait-for cycle is only reported when no other thread could still
    hand work in, and other tests leave threads (pool managers) alive in this process.
    """
    source = "import coop\n" + textwrap.dedent(program) + textwrap.dedent("""
        try:
            coop.run(main())
        except coop.Deadlock as err:
            print(err)
        """)
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_deadlock_report_for_queue_event_barrier_and_condition_waits():
    message = _deadlock_report_in_a_fresh_interpreter("""
        q, event = coop.Queue(name="inbox"), coop.Event(name="go")
        barrier, cond = coop.Barrier(2, name="gate"), coop.Condition(name="cv")

        def wait_for(effect):
            yield effect

        def wait_cond():
            with (yield cond.acquire()):
                yield cond.wait()

        def main():
            yield coop.spawn(wait_for(event.wait()), name="on-event")
            yield coop.spawn(wait_for(barrier.wait()), name="on-barrier")
            yield coop.spawn(wait_cond(), name="on-cond")
            yield q.get()
        """)
    assert "nothing can wake them" in message
    assert "main waits for an item from inbox (empty)" in message
    assert "on-event waits for go to be set" in message
    assert "on-barrier waits for gate (1 of 2 arrived)" in message
    assert "on-cond waits for a notify on cv" in message


def test_lock_held_by_a_task_that_ended_is_reported_as_such():
    message = _deadlock_report_in_a_fresh_interpreter("""
        lock = coop.Lock(name="leaked")

        def forgetful():
            yield lock.acquire()

        def main():
            yield coop.join((yield coop.spawn(forgetful(), name="forgetful")))
            yield lock.acquire()
        """)
    assert "main waits for leaked held by forgetful (ended without releasing)" in message


def test_a_semaphore_makes_no_wait_for_cycle_but_its_deadlock_is_still_reported():
    # A semaphore has no owner (any task or a thread may release it), so this is no cycle,
    # only "nothing can wake them": reported when no other thread could still hand work in.
    message = _deadlock_report_in_a_fresh_interpreter("""
        sem, lock = coop.Semaphore(1, name="sem"), coop.Lock(name="lk")

        def a():
            with (yield sem.acquire()):
                yield coop.sleep(0.01)
                yield lock.acquire()

        def b():
            with (yield lock.acquire()):
                yield coop.sleep(0.01)
                yield sem.acquire()

        def main():
            ta = yield coop.spawn(a(), name="a")
            tb = yield coop.spawn(b(), name="b")
            yield coop.join(ta)
            yield coop.join(tb)
        """)
    assert "3 task(s) wait and nothing can wake them" in message
    assert "a waits for lk held by b" in message
    assert "b waits for sem (0 of 1 left, acquired by a)" in message


# ======================================================================= Examples


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pipeline_example_applies_back_pressure_and_finishes_every_job(capsys):
    module = _load("pipeline")
    results = coop.run(module.main(), clock=coop.VirtualClock())
    out = capsys.readouterr().out.splitlines()
    assert sorted(results) == [n * n for n in range(8)]
    assert "t=1.0  producer  put job 5, queue 2/3  (waited 1 s for room)" in out
    assert "t=4.0  producer  all 8 jobs done: [0, 1, 4, 9, 16, 25, 36, 49]" in out
    assert out[-1] == "the queue never held more than 3 jobs"
    assert sum("finished job" in line for line in out) == 8


def test_philosophers_example_reports_the_deadlock_then_finishes(capsys):
    _load("philosophers").main()
    out = capsys.readouterr().out
    assert "deadlock: 6 task(s) wait: a wait-for cycle among the first 5, and 1 more:" in out
    for seat in range(5):
        assert (f"  philosopher-{seat} waits for fork-{(seat + 1) % 5} "
                f"held by philosopher-{(seat + 1) % 5}\n") in out
    assert "every philosopher ate 3 meals: [3, 3, 3, 3, 3]" in out


# ==================================================================== Properties

SEEDS = st.integers(0, 2**32 - 1)
CANCELS = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6)), max_size=8)


def _canceller(tasks, plan, only=None):
    """Cancel tasks as ``plan`` says: (victim, turns to wait first).

    Without ``only``, the victim is picked among the tasks that are ready to run when there are
    any: that is where a task woken with a resource it has not used yet is found, the case a
    hand-off must get right."""
    for victim, delay in plan:
        for _ in range(delay):
            yield
        if only is None:
            ready = [t for t in tasks if t.state is coop.TaskState.READY]
            task = (ready or tasks)[victim % len(ready or tasks)]
        else:
            task = tasks[victim % len(tasks)]
            if not only(task):
                continue
        yield coop.cancel(task, wait=False)


def _join_quietly(tasks):
    for task in tasks:
        try:
            yield coop.join(task)
        except coop.Cancelled:
            pass


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, workers=st.integers(2, 5), rounds=st.integers(1, 4),
       holds=st.lists(st.sampled_from(["yield", "sleep", "none"]), min_size=5, max_size=5),
       timeouts=st.lists(st.sampled_from([None, None, 0, 0.5, 2]), min_size=5, max_size=5),
       cancels=CANCELS)
def test_property_a_lock_never_has_two_holders(seed, workers, rounds, holds, timeouts,
                                                cancels):
    lock = coop.Lock()
    inside, violations, finished = [], [], []

    def worker(i):
        me = yield coop.current_task()
        for _ in range(rounds):
            try:
                held = yield lock.acquire(timeout=timeouts[i])
            except coop.Timeout:
                continue
            with held:
                inside.append(i)
                try:
                    if len(inside) != 1 or lock.statistics().holder is not me:
                        violations.append(list(inside))
                    if holds[i] == "yield":
                        yield
                    elif holds[i] == "sleep":
                        yield coop.sleep(1)
                    if len(inside) != 1:
                        violations.append(list(inside))
                finally:
                    inside.remove(i)
            yield
        finished.append(i)

    def main():
        tasks = yield from spawn_all([worker(i) for i in range(workers)])
        yield coop.spawn(_canceller(tasks, cancels))
        yield from _join_quietly(tasks)
        return tasks

    tasks = coop.run(main(), policy=coop.RandomPolicy(seed), clock=coop.VirtualClock())
    assert violations == []
    assert lock.statistics() == LockStatistics(lock.name, False, None, 0)
    assert sorted(finished) == [i for i, t in enumerate(tasks) if not t.cancelled()]


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, value=st.integers(1, 3), extra=st.integers(1, 4), rounds=st.integers(1, 4),
       timeouts=st.lists(st.sampled_from([None, None, 0, 1.5]), min_size=7, max_size=7),
       cancels=CANCELS)
def test_property_a_semaphore_never_exceeds_its_count(seed, value, extra, rounds, timeouts,
                                                      cancels):
    sem = coop.Semaphore(value)
    workers = value + extra  # more workers than units, so some always wait
    inside, peak = [0], [0]

    def worker(i):
        for r in range(rounds):
            try:
                held = yield sem.acquire(timeout=timeouts[i])
            except coop.Timeout:
                continue
            with held:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
                try:
                    if (i + r) % 2:
                        yield coop.sleep(1)
                    else:
                        yield
                finally:
                    inside[0] -= 1

    def main():
        tasks = yield from spawn_all([worker(i) for i in range(workers)])
        yield coop.spawn(_canceller(tasks, cancels))
        yield from _join_quietly(tasks)

    coop.run(main(), policy=coop.RandomPolicy(seed), clock=coop.VirtualClock())
    assert peak[0] <= value
    assert sem.statistics() == SemaphoreStatistics(sem.name, value, (), 0)


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, maxsize=st.integers(1, 3), producers=st.integers(1, 3),
       per_producer=st.integers(1, 6), consumers=st.integers(1, 3),
       get_timeout=st.sampled_from([None, 0.5, 2]), cancels=CANCELS,
       kind=st.sampled_from([coop.Queue, coop.LifoQueue, coop.PriorityQueue]))
def test_property_a_bounded_queue_respects_maxsize_and_delivers_each_item_once(
        seed, maxsize, producers, per_producer, consumers, get_timeout, cancels, kind):
    q = kind(maxsize)
    attempted, put_done, delivered, too_big = set(), [], [], []

    def check():
        if q.qsize() > maxsize:
            too_big.append(q.qsize())

    def producer(p):
        for k in range(per_producer):
            item = (p, k)
            attempted.add(item)
            yield q.put(item)
            put_done.append(item)
            check()
            if k % 2:
                yield

    def consumer(cancellable):
        while True:
            try:
                item = yield q.get(timeout=get_timeout if cancellable else None)
            except coop.Timeout:
                check()
                continue
            delivered.append(item)
            check()
            yield

    def main():
        prods = yield from spawn_all([producer(p) for p in range(producers)])
        cons = yield from spawn_all([consumer(True) for _ in range(consumers)])
        steady = yield coop.spawn(consumer(False))  # never cancelled: producers always finish
        canceller = yield coop.spawn(_canceller(prods + cons, cancels))
        yield from _join_quietly(prods)
        for task in [*cons, steady, canceller]:
            yield coop.cancel(task)
        while not q.empty():
            delivered.append(q.get_nowait())
            check()

    coop.run(main(), policy=coop.RandomPolicy(seed), clock=coop.VirtualClock())
    assert too_big == []
    assert len(delivered) == len(set(delivered)), "an item was delivered twice"
    assert set(put_done) <= set(delivered), "an item that was put got lost"
    assert set(delivered) <= attempted
    assert q.statistics().putters_waiting == 0 and q.statistics().getters_waiting == 0


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, parties=st.integers(1, 4), extra=st.integers(0, 3), rounds=st.integers(1, 4),
       cancels=CANCELS)
def test_property_a_barrier_releases_in_whole_generations(seed, parties, extra, rounds, cancels):
    barrier = coop.Barrier(parties)
    passes = defaultdict(list)

    def worker(i):
        for r in range(rounds):
            generation = barrier.statistics().generation
            index = yield barrier.wait()
            passes[generation].append((index, i))
            yield coop.sleep((i + r) % 3)

    def at_the_barrier(task):
        # Only waiters are cancelled: a task released but not yet resumed has passed, and
        # its cancellation would hide that from this test's own record.
        return task.waiting_for is not None and barrier.name in task.waiting_for

    def main():
        tasks = yield from spawn_all([worker(i) for i in range(parties + extra)])
        canceller = yield coop.spawn(_canceller(tasks, cancels, at_the_barrier))
        yield coop.sleep(100)  # long after everyone has either finished or is stuck
        for task in [*tasks, canceller]:
            yield coop.cancel(task)

    coop.run(main(), policy=coop.RandomPolicy(seed), clock=coop.VirtualClock())
    assert sorted(passes) == list(range(len(passes)))
    assert barrier.statistics().generation == len(passes)
    for entries in passes.values():
        assert sorted(index for index, _ in entries) == list(range(parties))
        assert len({task for _, task in entries}) == parties
    assert barrier.n_waiting == 0
