"""gather, race and timeout: results, failures, cancellation, cleanup before return."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def after(seconds, value, log=None, fail=None):
    try:
        yield coop.sleep(seconds)
        if fail is not None:
            raise fail
        return value
    finally:
        if log is not None:
            log.append(("cleanup", value))


def test_gather_returns_results_in_argument_order():
    def main():
        return (yield coop.gather(after(3, "a"), after(1, "b"), after(2, "c")))

    assert vrun(main()) == ["a", "b", "c"]


def test_gather_of_nothing_is_an_empty_list():
    def main():
        return (yield coop.gather())

    assert coop.run(main()) == []


def test_gather_accepts_tasks_effects_and_coroutines():
    async def coro():
        await coop.sleep(1)
        return "coro"

    def main():
        task = yield coop.spawn(after(2, "task"))
        return (yield coop.gather(task, coop.sleep(1), coro()))

    assert vrun(main()) == ["task", None, "coro"]


def test_gather_first_failure_cancels_the_rest_after_their_cleanup():
    log = []

    def main():
        try:
            yield coop.gather(after(5, "slow", log), after(1, "bad", log, fail=KeyError("x")),
                              after(7, "slower", log))
        except KeyError:
            return list(log), (yield coop.now())

    seen, when = vrun(main())
    assert when == 1.0
    assert sorted(seen) == [("cleanup", "bad"), ("cleanup", "slow"), ("cleanup", "slower")]


def test_cancelling_a_task_inside_gather_cancels_its_children_first():
    log = []

    def inside():
        try:
            yield coop.gather(after(10, "a", log), after(20, "b", log))
        finally:
            log.append("caller finally")

    def main():
        task = yield coop.spawn(inside())
        yield coop.sleep(1)
        yield coop.cancel(task)
        return task.cancelled(), list(log)

    cancelled, seen = vrun(main())
    assert cancelled
    # The children's cleanup ran before the caller saw its Cancelled.
    assert seen == [("cleanup", "a"), ("cleanup", "b"), "caller finally"]


def test_children_cleanup_that_takes_time_finishes_before_gather_raises():
    log = []

    def slow_cleanup():
        try:
            yield coop.sleep(100)
        finally:
            yield coop.sleep(3)  # cleanup needs time
            log.append("slow cleanup done")

    def failing():
        yield coop.sleep(1)
        raise ValueError("boom")

    def main():
        try:
            yield coop.gather(slow_cleanup(), failing())
        except ValueError:
            return list(log), (yield coop.now())

    assert vrun(main()) == (["slow cleanup done"], 4.0)


def test_race_returns_the_first_to_finish_and_cancels_the_rest():
    log = []

    def main():
        winner = yield coop.race(after(5, "slow", log), after(1, "fast", log))
        return winner, list(log)

    winner, seen = vrun(main())
    assert winner == (1, "fast")
    assert sorted(seen) == [("cleanup", "fast"), ("cleanup", "slow")]


def test_race_raises_if_the_first_to_finish_failed():
    def main():
        try:
            yield coop.race(after(5, "slow"), after(1, "bad", fail=OSError("down")))
        except OSError as err:
            return str(err)

    assert vrun(main()) == "down"


def test_race_with_an_effect_as_a_timer():
    def main():
        return (yield coop.race(after(10, "work"), coop.sleep(2)))

    assert vrun(main()) == (1, None)


def test_race_needs_a_contender():
    with pytest.raises(ValueError, match="at least one"):
        coop.race()


def test_timeout_on_a_generator_cancels_it_and_raises_timeout():
    log = []

    def main():
        try:
            yield coop.timeout(2, after(10, "work", log))
        except coop.Timeout as err:
            return str(err), list(log), (yield coop.now())

    assert vrun(main()) == ("timed out after 2 s", [("cleanup", "work")], 2.0)


def test_timeout_returns_the_result_when_in_time():
    def main():
        return (yield coop.timeout(5, after(1, "in time")))

    assert vrun(main()) == "in time"


def test_timeout_on_an_effect_unparks_cleanly():
    def main():
        try:
            yield coop.timeout(1, coop.sleep(10))
        except coop.Timeout:
            pass
        # The stale sleep timer must not wake the task later in an unrelated wait.
        yield coop.sleep(20)
        return (yield coop.now())

    assert vrun(main()) == 21.0


def test_timeout_on_a_join_leaves_the_target_running():
    def main():
        task = yield coop.spawn(after(5, "target"))
        try:
            yield coop.timeout(1, coop.join(task))
        except coop.Timeout:
            pass
        return (yield coop.join(task))

    assert vrun(main()) == "target"


def test_timeout_none_waits_forever():
    def main():
        return (yield coop.timeout(None, after(1000, "eventually")))

    assert vrun(main()) == "eventually"


def test_nested_timeouts_the_earlier_one_fires():
    def main():
        try:
            yield coop.timeout(5, coop.timeout(2, after(10, "x")))
        except coop.Timeout:
            return (yield coop.now())

    assert vrun(main()) == 2.0


def test_timeout_of_a_gather_effect_cancels_all_children():
    log = []

    def main():
        try:
            yield coop.timeout(2, coop.gather(after(5, "a", log), after(6, "b", log)))
        except coop.Timeout:
            return sorted(log), (yield coop.now())

    assert vrun(main()) == ([("cleanup", "a"), ("cleanup", "b")], 2.0)


def test_bad_input_to_structured_effects():
    def gen():
        yield

    with pytest.raises(TypeError, match=r"coop\.gather.*call it"):
        coop.gather(gen)
    with pytest.raises(TypeError, match=r"coop\.timeout"):
        coop.timeout(1, 5)
    with pytest.raises(ValueError, match=r"coop\.timeout"):
        coop.timeout(-1, coop.sleep(1))


def test_a_task_from_gather_is_not_reported_as_unjoined(caplog):
    def main():
        try:
            yield coop.gather(after(1, "x", fail=ValueError("seen by gather")))
        except ValueError:
            return "ok"

    assert vrun(main()) == "ok"
    assert "nobody joined" not in caplog.text


@settings(max_examples=60, deadline=None)
@given(
    durations=st.lists(st.integers(0, 5), min_size=1, max_size=6),
    fail_at=st.none() | st.integers(0, 5),
    limit=st.none() | st.integers(0, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_child_outlives_its_gather_under_random_schedules(durations, fail_at, limit, seed):
    """Whatever happens (success, failure, timeout), when gather ends no child is running."""
    children = []

    def child(i, d):
        me = yield coop.current_task()
        children.append(me)
        for _ in range(d):
            yield coop.sleep(1)
            yield
        if fail_at == i:
            raise ValueError(i)
        return i

    def main():
        work = coop.gather(*(child(i, d) for i, d in enumerate(durations)))
        try:
            result = yield coop.timeout(limit, work)
        except (ValueError, coop.Timeout):
            result = None
        assert all(c.done() for c in children), [c for c in children if not c.done()]
        return result

    result = vrun(main(), policy=coop.RandomPolicy(seed))
    if result is not None:
        assert result == list(range(len(durations)))
