"""coop.run(main, until=T): the run stops when the clock reaches T, before anything due at T."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def test_main_done_before_the_end_returns_its_result_and_the_rest_is_cancelled():
    log = []

    def tower():
        try:
            while True:
                yield coop.sleep(1)
                log.append(coop.current_time())
        finally:
            log.append("tower cleaned up")

    def main():
        yield coop.spawn(tower())
        yield coop.sleep(2.5)
        return "main is done"

    assert vrun(main(), until=3) == "main is done"
    assert log == [1.0, 2.0, "tower cleaned up"]  # the tick due at 3 did not run


def test_main_not_done_raises_timeout_naming_what_waited_and_its_cleanup_runs():
    log = []
    gate = coop.Event(name="the gate")

    def main():
        try:
            yield gate.wait()
        finally:
            log.append(("main cleaned up", coop.current_time()))

    with pytest.raises(coop.Timeout, match=r"until=") as caught:
        vrun(main(), until=5)
    assert "the gate" in str(caught.value) and "1 task(s) were waiting" in str(caught.value)
    assert log == [("main cleaned up", 5.0)]


def test_what_is_due_before_the_end_runs_and_what_is_due_at_it_does_not():
    log = []

    def sleeper(seconds):
        yield coop.sleep(seconds)
        log.append(seconds)

    def main():
        scheduler = coop.lowlevel.current_scheduler()
        scheduler.call_at(2.0, lambda: log.append("call_at 2"))
        for seconds in (1.999, 2.0, 1.0):
            yield coop.spawn(sleeper(seconds))
        yield coop.sleep(10)

    with pytest.raises(coop.Timeout):
        vrun(main(), until=2)
    assert log == [1.0, 1.999]


def test_cleanup_may_take_time_after_the_end():
    log = []

    def main():
        try:
            yield coop.sleep(100)
        finally:
            yield coop.sleep(1)
            log.append(coop.current_time())

    with pytest.raises(coop.Timeout):
        vrun(main(), until=10)
    assert log == [11.0]


def test_an_async_main_and_a_policy_give_the_same_stop():
    async def main():
        await coop.sleep(1)
        await coop.sleep(5)
        return "late"

    for policy in (None, coop.FifoPolicy()):
        with pytest.raises(coop.Timeout):
            vrun(main(), until=3, policy=policy)


def test_a_program_done_before_the_end_is_not_affected():
    def main():
        yield coop.sleep(1)
        return coop.current_time()

    assert vrun(main(), until=100) == 1.0
    assert vrun(main(), until=None) == 1.0


def test_a_program_stuck_for_good_stops_at_the_end_instead_of_raising_deadlock():
    def main():
        yield coop.Event().wait()

    with pytest.raises(coop.Timeout, match="were waiting"):
        vrun(main(), until=1)


def test_the_real_clock_stops_too():
    def main():
        yield coop.sleep(60)

    with pytest.raises(coop.Timeout):
        coop.run(main(), until=time.monotonic() + 0.05)


@pytest.mark.parametrize("bad, error", [("3", TypeError), (True, TypeError),
                                        (math.nan, TypeError), (-1, ValueError)])
def test_a_bad_end_time_is_refused_before_anything_runs(bad, error):
    ran = []

    def main():
        ran.append(True)
        yield

    with pytest.raises(error, match=r"until"):
        vrun(main(), until=bad)
    assert ran == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=12),
       st.integers(min_value=0, max_value=20))
def test_every_task_due_before_the_end_runs_none_at_or_after_it_and_none_is_lost(naps, end):
    started, woke, ended, tasks = [], [], [], []

    def sleeper(i, seconds):
        started.append(i)
        try:
            yield coop.sleep(seconds)
            woke.append(i)
        finally:
            ended.append(i)

    def main():
        for i, seconds in enumerate(naps):
            tasks.append((yield coop.spawn(sleeper(i, seconds))))
        return "spawned"

    assert vrun(main(), until=end) == "spawned"
    assert sorted(woke) == [i for i, seconds in enumerate(naps) if seconds < end]
    assert all(task.done() for task in tasks)  # none left behind
    assert sorted(ended) == sorted(started)  # every task that started ran its cleanup


def test_a_scheduler_run_again_after_an_end_time_runs_in_full():
    scheduler = coop.Scheduler(clock=coop.VirtualClock())

    def slow():
        try:
            yield coop.sleep(10)
        finally:
            raise SystemExit(3)  # run() raises this, not the Timeout, and never reads it

    def quick():
        yield coop.sleep(1)
        return "quick"

    with pytest.raises(SystemExit):
        scheduler.run_main(slow(), until=5)
    assert scheduler.run_main(quick()) == "quick"  # no end time left over from the first run
    scheduler.close()
