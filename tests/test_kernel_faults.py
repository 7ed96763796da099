"""The kernel keeps its promises under hostile input: nothing hangs, nothing is lost.

One section per class of fault found by the reliability campaign (issue 10); each test failed
on the kernel before the fix. Where the failure was a hang, the program runs in a subprocess
with a timeout and the test asserts that it ended.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop
from coop.lowlevel import Scheduler

INF = math.inf


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def run_program(source: str, timeout: float = 60, env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
    """Run ``source`` in a fresh interpreter; a hang fails the test instead of stalling it."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


# ------------------------------------------------------- an infinite deadline is none


def test_a_timeout_around_an_infinite_sleep_times_out():
    def main():
        with pytest.raises(coop.Timeout):
            yield coop.timeout(0.01, coop.sleep(INF))
        return "survived"

    assert coop.run(main()) == "survived"
    assert vrun(main()) == "survived"


def _setter(event, after):
    yield coop.sleep(after)
    event.set()


def _waits_with_an_infinite_timeout():
    """One wait per primitive that takes timeout=, each given timeout=inf."""
    def event_wait():
        event = coop.Event()
        yield coop.spawn(_setter(event, 5))
        return (yield event.wait(timeout=INF))

    def queue_get():
        queue = coop.Queue()

        def put_later():
            yield coop.sleep(5)
            yield queue.put("item")
        yield coop.spawn(put_later())
        return (yield queue.get(timeout=INF))

    def lock_acquire():
        lock = coop.Lock()

        def holder():
            with (yield lock.acquire()):
                yield coop.sleep(5)
        yield coop.spawn(holder())
        yield
        with (yield lock.acquire(timeout=INF)):
            return True

    def actor_recv():
        class Echo(coop.Actor):
            def run(self):
                return (yield self.recv(timeout=INF))
        actor = Echo().start()

        def send_later():
            yield coop.sleep(5)
            actor.send("hello")
        yield coop.spawn(send_later())
        return (yield actor.join())

    def infinite_timeout():
        return (yield coop.timeout(INF, coop.sleep(5)))

    return {"Event.wait": (event_wait, True), "Queue.get": (queue_get, "item"),
            "Lock.acquire": (lock_acquire, True), "Actor.recv": (actor_recv, "hello"),
            "coop.timeout": (infinite_timeout, None)}


@pytest.mark.parametrize("name", sorted(_waits_with_an_infinite_timeout()))
def test_an_infinite_timeout_means_no_timeout(name):
    program, expected = _waits_with_an_infinite_timeout()[name]

    def main():
        result = yield from program()
        return result, (yield coop.now())

    assert vrun(main()) == (expected, 5.0)


def test_an_infinite_sleep_alone_is_a_deadlock_that_says_so():
    def main():
        yield coop.sleep(INF)

    with pytest.raises(coop.Deadlock, match=r"main waits for a sleep that never ends"):
        coop.run(main())


def test_an_infinite_sleep_ends_by_cancellation():
    def sleeper(log):
        try:
            yield coop.sleep(INF)
        finally:
            log.append("cancelled")

    def main():
        log = []
        task = yield coop.spawn(sleeper(log))
        yield
        yield coop.cancel(task)
        return log

    assert coop.run(main()) == ["cancelled"]


def test_call_at_an_infinite_deadline_never_runs_and_does_not_hold_the_clock():
    ran = []

    def main():
        sched = main.scheduler
        sched.call_at(INF, ran.append, "never")
        yield coop.sleep(3)
        return (yield coop.now())

    sched = Scheduler(clock=coop.VirtualClock())
    main.scheduler = sched
    assert sched.run_main(main()) == 3.0
    assert ran == []
    with pytest.raises(ValueError, match="NaN"):
        sched.call_at(math.nan, ran.append, "never")
    sched.close()


def test_a_far_but_finite_deadline_does_not_overflow_the_selector():
    # select() refuses timeouts beyond a platform limit; a sleep of 1e300 s while a thread
    # hands in the result must not crash the loop.
    sched = Scheduler()
    gate = coop.WaitQueue("a thread")

    def sleeper():
        yield coop.sleep(1e300)

    def waiter():
        me = yield coop.current_task()
        return (yield _Park(gate, me))

    sched.spawn(sleeper(), daemon=True)
    task = sched.spawn(waiter())
    timer = threading.Timer(0.05, sched.call_soon_threadsafe, (gate.wake_one, "woken"))
    timer.start()
    sched.run_main(_join(task))
    timer.join()
    assert task.result() == "woken"
    sched.close()


def _join(task):
    return (yield coop.join(task))


class _Park(coop.Effect):
    def __init__(self, queue, task):
        self.queue = queue

    def _coop_apply(self, kernel, task):
        return self.queue.park(task)


# ------------------------------------------------- threads cannot starve the tasks


def test_hand_ins_that_keep_coming_do_not_starve_the_tasks():
    # A hand-in that hands in another, forever (what three threads calling send() in a loop
    # amount to): each poll runs only what was there when it began, so tasks get turns.
    def main():
        sched = main.scheduler
        count = [0]

        def again():
            count[0] += 1
            sched.call_soon_threadsafe(again)
        sched.call_soon_threadsafe(again)
        for _ in range(100):
            yield
        return count[0]

    sched = Scheduler()
    main.scheduler = sched
    handled = sched.run_main(main())
    assert 1 <= handled <= 200
    sched.close()


@pytest.mark.slow
def test_threads_that_flood_the_inbox_do_not_stop_the_tasks():
    result = run_program("""
        import threading, coop
        stop = threading.Event()
        def flood(sched):
            while not stop.is_set():
                sched.call_soon_threadsafe(len, ())
        def main():
            for _ in range(3):
                threading.Thread(target=flood, args=(main.sched,), daemon=True).start()
            for _ in range(300):
                yield coop.sleep(0)
            stop.set()
            return "300 turns"
        sched = coop.Scheduler()
        main.sched = sched
        print(sched.run_main(main()))
    """, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "300 turns"


# -------------------------------------------- the default loop is FifoPolicy, exactly


def _traced(policy, plan):
    """Run a program built from ``plan`` and return what it logged, in order."""
    log = []

    def worker(name, steps):
        for i, (kind, amount) in enumerate(steps):
            log.append(f"{name}.{i}@{(yield coop.now())}")
            if kind == "sleep":
                yield coop.sleep(amount)
            elif kind == "yield":
                yield
            else:
                yield coop.spawn(worker(f"{name}/{i}", [("yield", 0)] * amount), daemon=True)

    def main():
        for index, (daemon, steps) in enumerate(plan):
            yield coop.spawn(worker(f"w{index}", steps), daemon=daemon)
        yield coop.sleep(3)
        log.append("main ends")

    coop.run(main(), clock=coop.VirtualClock(), policy=policy)
    return log


def test_a_daemon_gets_no_step_once_main_has_ended():
    # A daemon due at the same time as main's end, after it: the program is over.
    plan = [(True, [("sleep", 1)] * 10)]
    assert _traced(None, plan) == _traced(coop.FifoPolicy(), plan)
    assert _traced(None, plan)[-1] == "main ends"


step = st.tuples(st.sampled_from(["sleep", "yield", "spawn"]), st.integers(0, 3))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(step, max_size=8)), max_size=5))
def test_the_default_loop_and_fifo_policy_give_the_same_trace(plan):
    assert _traced(None, plan) == _traced(coop.FifoPolicy(), plan)


# ------------------------------------------------------ one generator, one task


def test_spawning_one_generator_twice_is_refused_and_the_first_task_runs():
    def nap(log):
        yield coop.sleep(10)
        log.append("woke")

    def main():
        log = []
        gen = nap(log)
        first = yield coop.spawn(gen, name="a")
        with pytest.raises(ValueError, match=r"nap was already spawned as a task"):
            yield coop.spawn(gen, name="b")
        yield coop.join(first)
        return log

    assert vrun(main()) == ["woke"]


def test_spawning_one_generator_twice_before_run_is_refused():
    def nap():
        yield

    sched = Scheduler()
    gen = nap()
    sched.spawn(gen)
    with pytest.raises(ValueError, match="already spawned"):
        sched.spawn(gen)
    sched.run()
    sched.close()


def test_a_generator_cancelled_before_it_started_is_refused_and_not_kept():
    import weakref

    def nap():
        yield

    def main():
        gen = nap()
        task = yield coop.spawn(gen)
        yield coop.cancel(task)
        with pytest.raises(ValueError, match="already finished"):
            yield coop.spawn(gen)
        return weakref.ref(gen)

    sched = Scheduler()
    gone = sched.run_main(main())
    gc.collect()
    assert gone() is None  # the double-spawn guard holds no generator once its task ended
    sched.close()


def test_a_started_generator_cannot_be_spawned_again():
    def nap():
        yield coop.sleep(1)

    def main():
        gen = nap()
        yield coop.spawn(gen)
        yield  # the first task starts and sleeps
        with pytest.raises(ValueError, match="already started"):
            yield coop.spawn(gen)
        return "ok"

    assert vrun(main()) == "ok"


def test_a_finished_tasks_generator_is_refused_as_finished():
    def nap():
        yield

    def main():
        gen = nap()
        yield coop.join((yield coop.spawn(gen)))
        with pytest.raises(ValueError, match="already finished"):
            yield coop.spawn(gen)
        return "ok"

    assert coop.run(main()) == "ok"


# ---------------------------------------------- cancellation: errors and obstinacy


def test_a_cleanup_error_reaches_the_canceller():
    def worker():
        try:
            yield coop.sleep(10)
        finally:
            raise ValueError("cleanup failed")

    def main():
        task = yield coop.spawn(worker())
        yield
        with pytest.raises(ValueError, match="cleanup failed"):
            yield coop.cancel(task)
        return task.state

    assert vrun(main()) == coop.TaskState.FAILED


def test_a_cleanup_error_of_a_task_cancelled_without_waiting_is_logged(caplog):
    def worker():
        try:
            yield coop.sleep(10)
        finally:
            raise ValueError("cleanup failed")

    def main():
        task = yield coop.spawn(worker(), name="worker")
        yield
        yield coop.cancel(task, wait=False)

    with caplog.at_level(logging.ERROR, logger="coop"):
        vrun(main())
    assert "task 'worker' failed and nobody joined it" in caplog.text
    assert "cleanup failed" in caplog.text


def _obstinate(log):
    while True:
        try:
            yield coop.sleep(1)
        except coop.Cancelled:
            log.append("ignored")


def test_a_task_that_ignores_cancellation_is_closed_after_three(caplog):
    def main():
        log = []
        task = yield coop.spawn(_obstinate(log), name="obstinate")
        yield
        yield coop.cancel(task)
        return log, task.state

    with caplog.at_level(logging.ERROR, logger="coop"):
        log, state = vrun(main())
    assert log == ["ignored"] * 3
    assert state == coop.TaskState.CANCELLED
    assert "task 'obstinate' caught coop.Cancelled and went on 3 times" in caplog.text
    assert f"{__file__}:" in caplog.text  # the line it was at


def test_a_daemon_that_ignores_cancellation_does_not_keep_run_going(caplog):
    def main():
        yield coop.spawn(_obstinate([]), daemon=True, name="obstinate daemon")
        yield coop.sleep(5)
        return "main done"

    with caplog.at_level(logging.ERROR, logger="coop"):
        assert vrun(main()) == "main done"
    assert "'obstinate daemon' caught coop.Cancelled" in caplog.text


def test_cleanup_that_yields_inside_the_handler_is_not_cut_short():
    def careful(log):
        try:
            yield coop.sleep(10)
        except coop.Cancelled:
            yield coop.sleep(1)        # cleanup that takes a while
            log.append("flushed")
            yield coop.sleep(1)
            log.append("closed")
            raise
        finally:
            yield coop.sleep(1)
            log.append("finally")

    def main():
        log = []
        task = yield coop.spawn(careful(log))
        yield
        yield coop.cancel(task)
        return log, task.state, (yield coop.now())

    assert vrun(main()) == (["flushed", "closed", "finally"], coop.TaskState.CANCELLED, 3.0)


def test_cleanup_that_yields_then_goes_on_is_cancelled_again():
    def sly(log):
        while True:
            try:
                yield coop.sleep(10)
            except coop.Cancelled:
                yield coop.sleep(1)    # looks like cleanup...
                log.append("cleaned")
            # ... and then it goes on

    def main():
        log = []
        task = yield coop.spawn(sly(log))
        yield
        yield coop.cancel(task)
        return task.state

    assert vrun(main()) == coop.TaskState.CANCELLED


def test_a_task_that_ignores_cancellation_cannot_hang_run():
    result = run_program("""
        import coop
        def stubborn():
            while True:
                try:
                    yield coop.sleep(0.01)
                except coop.Cancelled:
                    pass
        def main():
            t = yield coop.spawn(stubborn(), name="stubborn")
            yield coop.sleep(0.05)
            yield coop.cancel(t)
            yield coop.spawn(stubborn(), daemon=True)
            print("main ends")
        coop.run(main())
        print("run() returned")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["main ends", "run() returned"]
    assert "caught coop.Cancelled and went on 3 times" in result.stderr


# ------------------------------------------------ SystemExit, KeyboardInterrupt


def test_sys_exit_in_a_task_exits_with_its_status_after_cleanup():
    result = run_program("""
        import sys, coop
        def other():
            try:
                yield coop.sleep(100)
            finally:
                print("other cleaned up")
        def quitter():
            yield coop.sleep(0.01)
            sys.exit(3)
        def main():
            yield coop.spawn(other())
            yield coop.spawn(quitter())     # nobody joins it: it ends the program anyway
            yield coop.sleep(100)
            print("never")
        coop.run(main())
        print("never either")
    """)
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["other cleaned up"]
    assert "nobody joined" not in result.stderr


@pytest.mark.parametrize("spelling", ["generator", "async def"])
def test_keyboard_interrupt_in_a_task_stops_the_run_and_propagates(spelling):
    log = []

    def sleeper():
        try:
            yield coop.sleep(100)
        finally:
            log.append("sleeper cleaned up")

    def breaker():
        yield coop.sleep(1)
        raise KeyboardInterrupt

    async def async_breaker():
        await coop.sleep(1)
        raise KeyboardInterrupt

    def main():
        yield coop.spawn(sleeper(), daemon=True)
        yield coop.spawn(breaker() if spelling == "generator" else async_breaker())
        yield coop.sleep(100)
        log.append("main went on")

    with pytest.raises(KeyboardInterrupt):
        vrun(main())
    assert log == ["sleeper cleaned up"]


# ------------------------------------------------------------- asyncio's objects


def test_yielding_an_asyncio_coroutine_says_coop_does_not_run_asyncio():
    def main():
        coro = asyncio.sleep(1)
        try:
            yield coro
        except TypeError as err:
            return str(err)
        finally:
            coro.close()

    message = coop.run(main())
    assert "coop does not run asyncio coroutines" in message
    assert "coop.spawn" not in message


def test_spawning_an_asyncio_coroutine_gets_the_same_explanation():
    coro = asyncio.sleep(1)
    with pytest.raises(TypeError, match="coop does not run asyncio coroutines"):
        coop.spawn(coro)
    coro.close()


def test_an_async_task_awaiting_asyncio_gets_the_explanation_as_a_note():
    async def main():
        await asyncio.sleep(1)

    with pytest.raises(RuntimeError, match="no running event loop") as info:
        coop.run(main())
    assert any("coop does not run asyncio" in note for note in info.value.__notes__)


# --------------------------------------------------- deadlocks: true both ways


def test_a_deadlock_is_reported_once_an_unrelated_thread_has_ended():
    result = run_program("""
        import threading, time, coop
        def main():
            yield coop.Event(name="never-set").wait()
        threading.Thread(target=time.sleep, args=(0.3,)).start()
        try:
            coop.run(main())
        except coop.Deadlock as err:
            print(err)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "deadlock: 1 task(s) wait and nothing can wake them:",
        "  main waits for never-set to be set",
        "where they wait (innermost last):",
        "  main (task 1):"]


def test_a_deadlock_is_reported_once_the_last_of_several_threads_has_ended():
    result = run_program("""
        import threading, time, coop
        def main():
            for delay in (0.1, 0.3, 0.2):
                threading.Thread(target=time.sleep, args=(delay,)).start()
            yield coop.Event(name="never-set").wait()
        try:
            coop.run(main())
        except coop.Deadlock as err:
            print(str(err).splitlines()[0])
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deadlock: 1 task(s) wait and nothing can wake them:"


def test_a_quiet_spell_kept_from_being_a_deadlock_by_a_thread_is_warned_about():
    release = threading.Event()
    sched = Scheduler(deadlock_warning=0.05)
    event = coop.Event(name="the thread's answer")
    warnings = []

    class Catch(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())
            release.set()  # the thread answers once the warning is out

    def helper():
        release.wait(30)
        sched.call_soon_threadsafe(event.set)

    def main():
        yield event.wait()
        return "answered"

    handler = Catch(level=logging.WARNING)
    logging.getLogger("coop").addHandler(handler)
    thread = threading.Thread(target=helper, name="the-helper")
    thread.start()
    try:
        assert sched.run_main(main()) == "answered"
    finally:
        logging.getLogger("coop").removeHandler(handler)
        release.set()
        thread.join()
        sched.close()
    assert len(warnings) == 1
    assert "main waits for the thread's answer to be set" in warnings[0]
    assert "'the-helper'" in warnings[0]


@pytest.mark.parametrize("bad", [-1, "10", True, math.nan])
def test_a_bad_deadlock_warning_is_refused(bad):
    def main():
        yield

    with pytest.raises(ValueError, match="deadlock_warning takes a number of seconds"):
        coop.run(main(), deadlock_warning=bad)


def test_a_wait_for_cycle_is_raised_while_a_thread_is_alive_after_many_idle_passes():
    # Cycles are looked for only from waits made since the last look: one formed after
    # many idle passes (each hand-in is followed by one) must still be found.
    release, holding = threading.Event(), threading.Event()
    sched = Scheduler()
    first, second = coop.Lock(name="first"), coop.Lock(name="second")
    go = coop.Event(name="go")
    held = []

    def feeder():
        holding.wait(30)
        for _ in range(50):
            handled = threading.Event()
            sched.call_soon_threadsafe(handled.set)
            while not handled.wait(0.01):
                if release.is_set():
                    return  # the run is over
        sched.call_soon_threadsafe(go.set)
        release.wait(30)

    def grab(a, b):
        with (yield a.acquire()):
            held.append(a)
            if len(held) == 2:
                holding.set()
            yield go.wait()
            with (yield b.acquire()):
                pass

    def main():
        one = yield coop.spawn(grab(first, second), name="one")
        two = yield coop.spawn(grab(second, first), name="two")
        yield coop.join(one)
        yield coop.join(two)

    thread = threading.Thread(target=feeder)
    thread.start()
    try:
        with pytest.raises(coop.Deadlock, match="wait-for cycle") as info:
            sched.run_main(main())
    finally:
        release.set()
        holding.set()
        thread.join()
        sched.close()
    assert sorted(t.name for t, _ in info.value.waits[:2]) == ["one", "two"]


# ------------------------------------------------------------------- signals


def test_a_task_waiting_for_a_signal_is_not_a_deadlock():
    result = run_program("""
        import os, signal, subprocess, coop
        def main():
            subprocess.Popen(["sh", "-c", f"sleep 0.3; kill -TERM {os.getpid()}"])
            before = signal.getsignal(signal.SIGTERM)
            got = yield coop.wait_signal(signal.SIGTERM)
            print("clean shutdown on", got.name)
            print("handler put back:", signal.getsignal(signal.SIGTERM) is before)
        coop.run(main())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["clean shutdown on SIGTERM", "handler put back: True"]


def test_every_task_waiting_for_a_signal_gets_it_and_the_handler_goes_back():
    before = signal.getsignal(signal.SIGUSR1)

    def waiter():
        return (yield coop.wait_signal(signal.SIGUSR2, signal.SIGUSR1))

    def main():
        tasks = []
        for _ in range(3):
            tasks.append((yield coop.spawn(waiter())))
        yield
        installed = signal.getsignal(signal.SIGUSR1) is not before
        os.kill(os.getpid(), signal.SIGUSR1)
        results = []
        for task in tasks:
            results.append((yield coop.join(task)))
        return installed, results

    installed, results = vrun(main())
    assert installed
    assert results == [signal.SIGUSR1] * 3
    assert signal.getsignal(signal.SIGUSR1) is before
    assert signal.getsignal(signal.SIGUSR2) is not None


def test_a_signal_wait_that_times_out_puts_the_handler_back():
    before = signal.getsignal(signal.SIGUSR1)

    def main():
        with pytest.raises(coop.Timeout):
            yield coop.timeout(2, coop.wait_signal(signal.SIGUSR1))
        return signal.getsignal(signal.SIGUSR1)

    assert vrun(main()) is before


def test_waiting_for_a_signal_outside_the_main_thread_is_a_clear_error():
    errors = []

    def main():
        try:
            yield coop.wait_signal(signal.SIGUSR1)
        except coop.CoopUsageError as err:
            errors.append(str(err))

    thread = threading.Thread(target=vrun, args=(main(),))
    thread.start()
    thread.join()
    assert errors and "only in a scheduler running in the main thread" in errors[0]


@pytest.mark.parametrize("bad, error", [((), TypeError), (("SIGTERM",), TypeError),
                                        ((10_000,), ValueError), ((signal.SIGKILL,), ValueError)])
def test_bad_signals_are_refused_at_the_call(bad, error):
    with pytest.raises(error, match="wait_signal"):
        coop.wait_signal(*bad)


def test_a_task_closed_after_a_deadlock_releases_what_its_with_block_holds():
    # When run() stops on an error, the remaining tasks are closed; their `finally` blocks run
    # as those tasks, so a lock held in a `with` is released by its owner, not refused.
    lock = coop.Lock()
    gate = coop.Event()

    def holder():
        with (yield lock.acquire()):
            yield gate.wait()  # never set: a deadlock

    def main():
        yield coop.join((yield coop.spawn(holder())))

    with pytest.raises(coop.Deadlock):
        coop.run(main())
    assert not lock.locked()
