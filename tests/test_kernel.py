"""The core scheduler: turns, sleeps, spawn, join, cancel, failures, clocks, bad input."""

import functools
import logging
import threading

import pytest

import coop
from coop.lowlevel import Scheduler


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


# --------------------------------------------------------------- turns and order


def test_bare_yield_is_fifo_round_robin():
    order = []

    def worker(name, n):
        for i in range(n):
            order.append((name, i))
            yield

    def main():
        for name in "abc":
            yield coop.spawn(worker(name, 2))

    coop.run(main())
    assert order == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)]


def test_spawn_resumes_the_spawner_at_once_and_queues_the_child():
    order = []

    def child():
        order.append("child")
        yield

    def main():
        task = yield coop.spawn(child())
        order.append("spawner")
        assert isinstance(task, coop.Task)
        yield
        order.append("spawner again")

    coop.run(main())
    assert order == ["spawner", "child", "spawner again"]


def test_run_returns_mains_result_and_waits_for_non_daemon_tasks():
    finished = []

    def child():
        yield coop.sleep(5)
        finished.append("child")

    def main():
        yield coop.spawn(child())
        return "main result"

    clock = coop.VirtualClock()
    assert coop.run(main(), clock=clock) == "main result"
    assert finished == ["child"]
    assert clock.now() == 5


def test_daemon_tasks_are_cancelled_when_the_program_ends_and_their_cleanup_runs():
    log = []

    def daemon():
        try:
            while True:
                yield coop.sleep(1)
        finally:
            log.append("daemon cleaned up")

    def main():
        yield coop.spawn(daemon(), daemon=True)
        yield coop.sleep(3.5)
        return "ok"

    assert vrun(main()) == "ok"
    assert log == ["daemon cleaned up"]


def test_scheduler_spawn_from_outside_and_tasks_listing():
    sched = Scheduler(clock=coop.VirtualClock())

    def napper(s):
        yield coop.sleep(s)
        return s

    tasks = [sched.spawn(napper(s), name=f"n{s}") for s in (3, 1, 2)]
    assert [t.name for t in sched.tasks()] == ["n3", "n1", "n2"]
    assert all(t.state is coop.TaskState.READY for t in tasks)
    sched.run()
    assert sched.tasks() == []
    assert [t.result() for t in tasks] == [3, 1, 2]
    sched.close()


# ------------------------------------------------------------------ sleep, clocks


def test_sleeps_wake_in_deadline_order_under_the_virtual_clock():
    woke = []

    def napper(s):
        yield coop.sleep(s)
        woke.append((s, (yield coop.now())))

    def main():
        for s in (5, 1, 3, 0, 2):
            yield coop.spawn(napper(s))

    vrun(main())
    assert woke == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0), (5, 5.0)]


def test_virtual_clock_makes_an_hour_instant():
    def main():
        yield coop.sleep(3600)
        return (yield coop.now())

    assert vrun(main()) == 3600.0


def test_real_clock_sleep_really_waits_and_never_wakes_early():
    def main():
        start = yield coop.now()
        yield coop.sleep(0.02)
        return (yield coop.now()) - start

    assert coop.run(main()) >= 0.02


def test_sleep_zero_gives_up_the_turn():
    order = []

    def other():
        order.append("other")
        yield

    def main():
        yield coop.spawn(other())
        yield coop.sleep(0)
        order.append("main")

    coop.run(main())
    assert order == ["other", "main"]


# ------------------------------------------------------------------------ join


def test_join_returns_the_result():
    def child():
        yield coop.sleep(1)
        return 7

    def main():
        return (yield coop.join((yield coop.spawn(child()))))

    assert vrun(main()) == 7


def test_join_reraises_the_tasks_own_exception_with_its_traceback():
    def failing_child():
        yield
        raise KeyError("lost")

    def main():
        task = yield coop.spawn(failing_child())
        try:
            yield coop.join(task)
        except KeyError as err:
            return err

    err = coop.run(main())
    assert isinstance(err, KeyError) and err.args == ("lost",)
    frames = []
    tb = err.__traceback__
    while tb:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "failing_child" in frames


def test_join_of_a_finished_task_completes_at_once():
    def child():
        return 5
        yield

    def main():
        task = yield coop.spawn(child())
        yield coop.sleep(1)
        assert task.done()
        return (yield coop.join(task))

    assert vrun(main()) == 5


def test_many_joiners_all_get_the_result():
    def child():
        yield coop.sleep(1)
        return "r"

    def joiner(task):
        return (yield coop.join(task))

    def main():
        task = yield coop.spawn(child())
        joiners = []
        for _ in range(3):
            joiners.append((yield coop.spawn(joiner(task))))
        results = []
        for j in joiners:
            results.append((yield coop.join(j)))
        return results

    assert vrun(main()) == ["r", "r", "r"]


def test_async_def_tasks_work_with_await():
    async def child(x):
        await coop.sleep(1)
        return x + 1

    async def main():
        task = await coop.spawn(child(1))
        return await coop.join(task)

    assert vrun(main()) == 2


def test_yield_from_gives_the_typed_result():
    def child():
        yield
        return "typed"

    def main():
        task = yield from coop.spawn(child())
        value = yield from coop.join(task)
        return value

    assert coop.run(main()) == "typed"


# ---------------------------------------------------------------------- cancel


def test_cancel_throws_cancelled_at_the_yield_and_finally_runs():
    log = []

    def worker():
        try:
            yield coop.sleep(100)
        except coop.Cancelled:
            log.append("cancelled")
            raise
        finally:
            log.append("finally")

    def main():
        task = yield coop.spawn(worker())
        yield coop.sleep(1)
        yield coop.cancel(task)
        return task.state, task.cancelled(), (yield coop.now())

    assert vrun(main()) == (coop.TaskState.CANCELLED, True, 1.0)
    assert log == ["cancelled", "finally"]


def test_cancel_unparks_a_joiner_cleanly_and_the_target_goes_on():
    def target():
        yield coop.sleep(2)
        return "target done"

    def joiner(task):
        yield coop.join(task)

    def main():
        t = yield coop.spawn(target())
        j = yield coop.spawn(joiner(t))
        yield
        yield coop.cancel(j)
        assert j.cancelled()
        return (yield coop.join(t))

    assert vrun(main()) == "target done"


def test_cancel_wait_false_returns_at_once():
    def worker():
        try:
            yield coop.sleep(10)
        finally:
            yield coop.sleep(1)  # cleanup that takes time

    def main():
        task = yield coop.spawn(worker())
        yield
        yield coop.cancel(task, wait=False)
        before = task.done()
        yield coop.cancel(task)  # already cancelling: waits for the end
        return before, task.done(), (yield coop.now())

    assert vrun(main()) == (False, True, 1.0)


def test_cancel_of_a_task_that_never_ran():
    ran = []

    def worker():
        ran.append(1)
        yield

    def main():
        task = yield coop.spawn(worker())
        yield coop.cancel(task)
        return task.cancelled()

    assert coop.run(main()) is True
    assert ran == []


def test_cancelling_yourself_raises_cancelled_at_once():
    def main():
        me = yield coop.current_task()
        try:
            yield coop.cancel(me)
        except coop.Cancelled:
            return "self-cancelled"

    assert coop.run(main()) == "self-cancelled"


def test_cancelled_is_not_caught_by_except_exception():
    assert not issubclass(coop.Cancelled, Exception)
    log = []

    def worker():
        try:
            yield coop.sleep(10)
        except Exception:
            log.append("swallowed")

    def main():
        task = yield coop.spawn(worker())
        yield
        yield coop.cancel(task)
        return task.cancelled()

    assert vrun(main()) is True
    assert log == []


def test_join_of_a_cancelled_task_raises_cancelled():
    def worker():
        yield coop.sleep(10)

    def main():
        task = yield coop.spawn(worker())
        yield coop.cancel(task, wait=False)
        try:
            yield coop.join(task)
        except coop.Cancelled:
            return "joined a cancelled task"

    assert vrun(main()) == "joined a cancelled task"


# --------------------------------------------------------------------- failures


def test_a_failing_task_does_not_stop_the_scheduler():
    def bad():
        yield
        raise ValueError("bad")

    def good():
        for _ in range(3):
            yield
        return "good"

    def main():
        b = yield coop.spawn(bad())
        g = yield coop.spawn(good())
        result = yield coop.join(g)
        return result, type(b.exception())

    assert coop.run(main()) == ("good", ValueError)


def test_run_raises_what_main_raised_and_cancels_the_rest():
    log = []

    def worker():
        try:
            yield coop.sleep(100)
        finally:
            log.append("worker cleaned up")

    def main():
        yield coop.spawn(worker())
        yield
        raise RuntimeError("main failed")

    with pytest.raises(RuntimeError, match="main failed"):
        vrun(main())
    assert log == ["worker cleaned up"]


def test_an_unjoined_failed_task_is_reported_once(caplog):
    def bad():
        yield
        raise ValueError("nobody saw me")

    def main():
        yield coop.spawn(bad(), name="lonely")
        yield coop.sleep(1)

    with caplog.at_level(logging.ERROR, logger="coop"):
        vrun(main())
    reports = [r for r in caplog.records if "lonely" in r.getMessage()]
    assert len(reports) == 1
    assert "nobody saw me" in caplog.text


def test_a_joined_failure_and_a_daemon_failure_are_not_reported(caplog):
    def bad():
        yield
        raise ValueError("seen")

    def main():
        task = yield coop.spawn(bad())
        yield coop.spawn(bad(), daemon=True)
        try:
            yield coop.join(task)
        except ValueError:
            pass
        yield coop.sleep(1)

    with caplog.at_level(logging.ERROR, logger="coop"):
        vrun(main())
    assert caplog.records == []


def test_task_result_before_it_finished_is_a_clear_error():
    def main():
        task = yield coop.spawn(iter([]))
        return task

    with pytest.raises(TypeError, match="cannot run"):
        coop.run(main())

    def child():
        yield

    def main2():
        task = yield coop.spawn(child())
        with pytest.raises(coop.CoopUsageError, match="has not finished"):
            task.result()
        yield coop.join(task)
        return task.result()

    assert coop.run(main2()) is None


# ------------------------------------------------------------------- bad input


def test_yielding_a_non_effect_throws_a_clear_typeerror_into_the_task():
    def main():
        try:
            yield 42
        except TypeError as err:
            return str(err)

    message = coop.run(main())
    assert "yielded 42 (int)" in message and "coop.sleep" in message


def test_yielding_a_generator_suggests_yield_from_or_spawn():
    def child():
        yield

    def main():
        try:
            yield child()
        except TypeError as err:
            return str(err)

    message = coop.run(main())
    assert "yield from" in message and "coop.spawn" in message


def test_yielding_a_task_suggests_join():
    def child():
        yield

    def main():
        task = yield coop.spawn(child())
        try:
            yield task
        except TypeError as err:
            return str(err)

    assert "coop.join(task)" in coop.run(main())


def test_unhandled_bad_yield_fails_only_that_task():
    def bad():
        yield "oops"

    def main():
        task = yield coop.spawn(bad())
        try:
            yield coop.join(task)
        except TypeError:
            return "main survived"

    assert coop.run(main()) == "main survived"


def test_spawning_a_generator_function_says_call_it():
    def counter(n):
        yield n

    with pytest.raises(TypeError, match=r"call it.*coop\.spawn\(counter\(\.\.\.\)\)"):
        coop.spawn(counter)
    with pytest.raises(TypeError, match="call it"):
        coop.run(counter)


def test_spawning_a_partial_of_a_generator_function_names_that_function():
    def ticker(n, label):
        yield n

    with pytest.raises(TypeError, match=r"ticker is a generator function.*spawn\(ticker\("):
        coop.spawn(functools.partial(functools.partial(ticker, 1), label="x"))


def test_spawning_a_non_generator_is_refused():
    with pytest.raises(TypeError, match="cannot run 42"):
        coop.spawn(42)
    with pytest.raises(TypeError, match="cannot run"):
        Scheduler().spawn(lambda: None)


def test_spawning_a_started_or_finished_generator_is_refused():
    def gen():
        yield 1
        yield 2

    started = gen()
    next(started)
    with pytest.raises(ValueError, match="already started"):
        coop.spawn(started)
    finished = gen()
    list(finished)
    with pytest.raises(ValueError, match="already finished"):
        coop.spawn(finished)


def test_joining_a_task_from_another_scheduler_is_refused():
    other = Scheduler()

    def idle():
        yield

    foreign = other.spawn(idle())

    def main():
        try:
            yield coop.join(foreign)
        except coop.CoopUsageError as err:
            return str(err)

    assert "another scheduler" in coop.run(main())
    other.run()


def test_joining_yourself_is_refused():
    def main():
        me = yield coop.current_task()
        try:
            yield coop.join(me)
        except coop.CoopUsageError as err:
            return str(err)

    assert "join itself" in coop.run(main())


def test_run_inside_a_running_task_is_refused():
    def inner():
        yield

    def main():
        try:
            coop.run(inner())
        except coop.CoopUsageError as err:
            return str(err)
        yield

    assert "inside a running task" in coop.run(main())


@pytest.mark.parametrize("bad", [-1, float("nan"), "1", None, True])
def test_bad_sleep_values_are_refused_at_the_call(bad):
    with pytest.raises((ValueError, TypeError), match=r"coop\.sleep"):
        coop.sleep(bad)


def test_join_of_a_non_task_is_refused():
    with pytest.raises(TypeError, match="expects a Task"):
        coop.join("task")


# -------------------------------------------------------------------- deadlock


def test_deadlock_names_each_stuck_task_and_what_it_waits_for():
    def waiter(parent):
        yield coop.join(parent)

    def main():
        me = yield coop.current_task()
        child = yield coop.spawn(waiter(me), name="child")
        yield coop.join(child)

    with pytest.raises(coop.Deadlock) as info:
        coop.run(main())
    message = str(info.value)
    assert "main waits for join(child)" in message
    assert "child waits for join(main)" in message
    assert {t.name for t, _ in info.value.waits} == {"main", "child"}


def test_a_deadlock_among_many_tasks_lists_a_few_and_counts_the_rest():
    gates = [coop.WaitQueue("gate A")] * 30 + [coop.WaitQueue("gate B")] * 5

    def waiter(gate):
        me = yield coop.current_task()
        yield _Park(gate, me)

    def main():
        for i, gate in enumerate(gates):
            yield coop.spawn(waiter(gate), name=f"w{i}")

    with pytest.raises(coop.Deadlock) as info:
        coop.run(main())
    lines = str(info.value).splitlines()
    assert lines[0] == "deadlock: 35 task(s) wait and nothing can wake them:"
    assert lines[1] == "  w0 waits for gate A"
    assert lines[21] == "  ... and 15 more (10 on gate A, 5 on gate B); Deadlock.waits has them all"
    # Then where the reported ones are parked: 20 tasks, each a header and one frame.
    assert lines[22] == "where they wait (innermost last):"
    assert lines[23] == "  w0 (task 2):"
    assert lines[24].endswith(", in waiter")
    assert len(lines) == 1 + 20 + 1 + 1 + 20 * 3
    assert len(info.value.waits) == 35


def test_stuck_tasks_have_their_finally_blocks_run_after_a_deadlock():
    log = []

    def waiter(parent):
        try:
            yield coop.join(parent)
        finally:
            log.append("child cleanup")

    def main():
        me = yield coop.current_task()
        child = yield coop.spawn(waiter(me))
        yield coop.join(child)

    with pytest.raises(coop.Deadlock):
        coop.run(main())
    assert log == ["child cleanup"]


def _waiting_at_a_gate() -> tuple[Scheduler, coop.WaitQueue, coop.Task]:
    """A scheduler with one task that will park on a gate only another thread opens."""
    sched = Scheduler()
    gate = coop.WaitQueue("a hand-in from a thread")

    def waiter():
        me = yield coop.current_task()
        return (yield _Park(gate, me))

    return sched, gate, sched.spawn(waiter())


def test_no_deadlock_while_another_thread_may_still_hand_work_in():
    sched, gate, task = _waiting_at_a_gate()

    def hand_in():
        sched.call_soon_threadsafe(gate.wake_one, "from the thread")

    timer = threading.Timer(0.05, hand_in)
    timer.start()
    sched.run()
    timer.join()
    assert task.result() == "from the thread"
    sched.close()


def test_a_hand_in_left_by_a_thread_that_has_since_ended_is_not_a_deadlock():
    # The race seen once: the loop finds the inbox empty, a thread hands in its last call and
    # ends, then the deadlock check finds no thread alive. The check must see the hand-in.
    sched, gate, task = _waiting_at_a_gate()
    sched._step(sched._ready.popleft())  # runs it until it parks on the gate
    assert task.state == coop.TaskState.WAITING
    ended = threading.Thread(target=sched.call_soon_threadsafe, args=(gate.wake_one, "late"))
    ended.start()
    ended.join()
    sched._deadlock.check(sched)  # no thread is alive, but its hand-in is waiting: no Deadlock
    sched.run()
    assert task.result() == "late"
    sched.close()


class _Park(coop.Effect):
    def __init__(self, queue, task):
        self.queue = queue

    def _coop_apply(self, kernel, task):
        return self.queue.park(task)


def test_call_soon_threadsafe_wakes_a_blocked_scheduler():
    sched = Scheduler()
    results = []

    def sleeper():
        yield coop.sleep(0.5)

    sched.spawn(sleeper())
    thread = threading.Timer(0.01, sched.call_soon_threadsafe, args=(results.append, "hi"))
    thread.start()
    sched.run()
    thread.join()
    assert results == ["hi"]
    sched.close()


# ----------------------------------------------------------------- task object


def test_task_fields_and_states():
    seen = {}

    def child():
        me = yield coop.current_task()
        seen["inside"] = me.state
        yield coop.sleep(1)

    def main():
        task = yield coop.spawn(child(), name="kid")
        seen["before"] = task.state
        yield
        yield
        seen["sleeping"] = task.state
        seen["waiting_for"] = task.waiting_for
        yield coop.join(task)
        return task

    task = vrun(main())
    assert task.name == "kid" and task.id == 2 and "kid" in repr(task)
    assert seen["before"] is coop.TaskState.READY
    assert seen["inside"] is coop.TaskState.RUNNING
    assert seen["sleeping"] is coop.TaskState.WAITING
    assert "timer" in seen["waiting_for"]
    assert task.done() and task.result() is None and task.exception() is None
    assert str(task.state) == "done"


def test_default_task_name_is_function_and_id():
    def worker():
        yield

    def main():
        task = yield coop.spawn(worker())
        return task.name

    assert coop.run(main()) == "worker-2"


def test_done_callbacks_run_when_a_task_ends_and_a_failing_callback_is_contained(caplog):
    seen = []

    def child():
        yield coop.sleep(1)
        raise ValueError("child failed")

    def broken_callback(task):
        raise RuntimeError("callback bug")

    def main():
        task = yield coop.spawn(child())
        sched = task._scheduler
        sched.add_done_callback(task, broken_callback)
        sched.add_done_callback(task, lambda t: seen.append((t.name, type(t.exception()))))
        removed = []
        sched.add_done_callback(task, removed.append)
        sched.remove_done_callback(task, removed.append)
        yield coop.sleep(2)
        sched.add_done_callback(task, lambda t: seen.append("late"))
        return removed

    with caplog.at_level(logging.ERROR, logger="coop"):
        assert vrun(main()) == []
    assert seen == [("child-2", ValueError), "late"]
    assert "callback bug" in caplog.text
    # The monitor saw the failure, so it is not also reported as unjoined.
    assert "nobody joined" not in caplog.text


def test_a_timeout_that_was_not_needed_does_not_move_the_virtual_clock():
    def quick():
        yield coop.sleep(1)
        return "quick"

    def main():
        result = yield coop.timeout(100, coop.join((yield coop.spawn(quick()))))
        return result

    clock = coop.VirtualClock()
    assert coop.run(main(), clock=clock) == "quick"
    assert clock.now() == 1.0


def test_a_dead_timer_does_not_hide_a_deadlock():
    def waiter(parent):
        yield coop.join(parent)

    def main():
        me = yield coop.current_task()
        child = yield coop.spawn(waiter(me), name="child")
        try:
            yield coop.timeout(100, coop.sleep(1))  # leaves a cancelled deadline behind
        except coop.Timeout:
            pass
        yield coop.join(child)

    with pytest.raises(coop.Deadlock):
        coop.run(main(), clock=coop.VirtualClock())


def test_a_none_handed_over_with_a_revoke_is_given_back_on_cancel():
    sched = Scheduler()
    gate = coop.WaitQueue("gate")
    given_back = []

    def waiter():
        me = yield coop.current_task()
        return (yield _Park(gate, me))

    def main():
        task = yield coop.spawn(waiter())
        yield  # it parks
        gate.wake_one(None, revoke=given_back.append)
        yield coop.cancel(task)
        return task.cancelled()

    assert sched.run_main(main()) is True
    assert given_back == [None]
    sched.close()


@pytest.mark.parametrize("policy", [None, coop.RandomPolicy(3)], ids=["fifo", "random"])
def test_a_none_handed_over_with_a_revoke_arrives_as_none_under_every_policy(policy):
    gate = coop.WaitQueue("gate")

    def waiter():
        me = yield coop.current_task()
        return (yield _Park(gate, me))

    def main():
        task = yield coop.spawn(waiter())
        while not gate:
            yield  # until it has parked
        gate.wake_one(None, revoke=lambda value: None)
        return (yield coop.join(task))

    assert coop.run(main(), policy=policy) is None


def test_timeouts_that_were_not_needed_do_not_pile_up_in_the_timer_storage():
    sched = Scheduler(clock=coop.VirtualClock())
    fired = []

    def main():
        # A long-lived timer that must survive every compaction, in order.
        sched.call_at(10_000.0, fired.append, "late timer")
        for _ in range(5000):
            yield coop.timeout(3600, coop.sleep(0.001))  # each leaves a dead deadline behind
        stored = sched._wheel.stored()
        yield coop.sleep(20_000)
        return stored

    stored = sched.run_main(main())
    assert stored < 1100  # without compaction: 5,001 entries
    assert fired == ["late timer"]
    sched.close()


def test_compacting_the_timers_keeps_every_live_timer_in_deadline_order():
    import random

    rng = random.Random(5)
    delays = [rng.uniform(0, 100) for _ in range(3000)]
    woke = []

    def sleeper(i, delay):
        yield coop.sleep(delay)
        woke.append((delay, i))

    def main():
        tasks = []
        for i, delay in enumerate(delays):
            tasks.append((yield coop.spawn(sleeper(i, delay))))
        yield  # every sleeper is parked now
        for task in tasks[::2]:  # 1,500 dead sleep entries: compaction runs on the way
            yield coop.cancel(task, wait=False)

    vrun(main())
    expected = sorted((d, i) for i, d in enumerate(delays) if i % 2)
    assert woke == expected


# ------------------------------------------------- generator-like tasks (say, Cython's)


class _Countdown:
    """Not a generator: an object with send/throw, as Cython compiles a generator."""

    def __init__(self, n):
        self.n = n
        self.sent = []

    def send(self, value):
        self.sent.append(value)
        if self.n == 0:
            raise StopIteration("lift-off")
        self.n -= 1
        return coop.sleep(1) if self.n % 2 else None

    def throw(self, exc):
        raise exc

    def close(self):
        pass


def test_a_generator_like_object_runs_as_a_task_and_its_return_value_is_kept():
    countdown = _Countdown(3)

    def main():
        task = yield coop.spawn(countdown)
        return (yield coop.join(task)), (yield coop.now())

    assert coop.run(main(), clock=coop.VirtualClock()) == ("lift-off", 1.0)
    assert countdown.sent == [None, None, None, None]


def test_a_sleeping_task_adds_no_long_lived_object_for_the_cyclic_gc_to_traverse():
    # The timer entry names the task by id, so it holds numbers only and the GC stops tracking
    # it: 100,000 sleepers must not make every full collection traverse 100,000 more objects.
    import gc

    sched = Scheduler(clock=coop.VirtualClock())

    def sleeper():
        yield coop.sleep(10)

    task = sched.spawn(sleeper())
    sched._step(sched._ready.popleft())
    entry = task._parked_on
    assert isinstance(entry, tuple) and entry[0] == 10.0
    gc.collect()
    assert not gc.is_tracked(entry)
    sched.run()
    assert task.done() and sched.now() == 10.0
    sched.close()


# ------------------------------------------ pending tasks and the cyclic garbage collector


def test_a_gc_collection_while_tasks_wait_loses_none_of_them():
    import gc

    results = []

    def worker(i):
        me = yield coop.current_task()  # a cycle: the task's frame holds the task
        yield coop.sleep(i % 3)
        results.append((i, me.name))

    def main():
        for i in range(50):
            yield coop.spawn(worker(i), name=f"w{i}")
        yield
        gc.collect()  # every worker is parked, held only by the scheduler
        yield coop.sleep(5)

    coop.run(main(), clock=coop.VirtualClock())
    assert sorted(results) == [(i, f"w{i}") for i in range(50)]


def test_tasks_are_hidden_from_the_gc_only_while_run_runs():
    import gc

    compiled = coop.kernel_build() == "compiled"
    seen = []

    def child():
        yield

    def main():
        task = yield coop.spawn(child())
        seen.append((gc.is_tracked(task), gc.is_tracked(task._coro)))
        yield coop.join(task)
        seen.append((gc.is_tracked(task), gc.is_tracked(task._coro)))  # ended: tracked again
        return task

    sched = Scheduler()
    pending = sched.spawn(child())
    assert gc.is_tracked(pending)  # outside run(): tracked
    task = sched.run_main(main())
    assert seen == [(not compiled, not compiled), (True, True)]
    assert gc.is_tracked(task) and gc.is_tracked(pending) and gc.is_tracked(pending._coro)
    sched.close()


def test_cycles_through_ended_tasks_and_dropped_schedulers_are_collected():
    import gc
    import weakref

    def fails():
        me = yield coop.current_task()
        raise ValueError(me)  # the traceback holds the frame, which holds the task

    def main():
        task = yield coop.spawn(fails(), daemon=True)
        yield coop.sleep(0)
        return weakref.ref(task)

    ended = coop.run(main())
    class Marker:
        pass

    sched = Scheduler()
    sched.spawn(fails())  # never run: the scheduler and its task form a cycle
    sched.services["marker"] = marker = Marker()  # freed with the scheduler
    dropped = weakref.ref(marker)
    del sched, marker
    gc.collect()
    assert ended() is None and dropped() is None
