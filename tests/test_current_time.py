"""coop.current_time(): the running scheduler's clock as a plain call."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop


def test_it_reads_the_virtual_clock_in_a_generator_and_in_a_coroutine():
    async def coroutine_task():
        await coop.sleep(2)
        return coop.current_time()

    def main():
        yield coop.sleep(1.5)
        first = coop.current_time()
        second = yield coop.join((yield coop.spawn(coroutine_task())))
        return first, second, (yield coop.now())

    assert coop.run(main(), clock=coop.VirtualClock()) == (1.5, 3.5, 3.5)


def test_it_fits_in_an_f_string():
    def main():
        yield coop.sleep(0.25)
        return f"{coop.current_time():.2f} arrived"

    assert coop.run(main(), clock=coop.VirtualClock()) == "0.25 arrived"


def test_it_works_in_a_callback_the_scheduler_runs():
    seen = []

    def main():
        scheduler = coop.lowlevel.current_scheduler()
        scheduler.call_at(4.0, lambda: seen.append(coop.current_time()))
        yield coop.sleep(5)

    coop.run(main(), clock=coop.VirtualClock())
    assert seen == [4.0]


def test_the_real_clock_is_monotonic_time():
    import time

    def main():
        yield
        before = time.monotonic()
        now = coop.current_time()
        return before <= now <= time.monotonic()

    assert coop.run(main())


def test_outside_a_scheduler_it_says_what_to_do():
    with pytest.raises(coop.CoopUsageError, match=r"call it from a task"):
        coop.current_time()


def test_from_another_thread_it_refuses_and_the_run_goes_on():
    errors = []

    def other_thread():
        try:
            coop.current_time()
        except coop.CoopUsageError as err:
            errors.append(err)

    def main():
        thread = threading.Thread(target=other_thread)
        thread.start()
        yield coop.to_thread(thread.join)
        return "still running"

    assert coop.run(main()) == "still running"
    assert len(errors) == 1 and "scheduler.now()" in str(errors[0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=8))
def test_it_is_the_sum_of_the_sleeps_under_a_virtual_clock(pauses):
    def main():
        readings = []
        for pause in pauses:
            yield coop.sleep(pause)
            readings.append(coop.current_time())
        return readings

    readings = coop.run(main(), clock=coop.VirtualClock())
    assert readings == sorted(readings)
    if pauses:
        assert readings[-1] == pytest.approx(sum(pauses))
