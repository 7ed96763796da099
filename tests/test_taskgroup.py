"""coop.TaskGroup: children never outlive the group; failures cancel the rest and are raised."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop

Gen = Generator[Any, Any, Any]


def run(main: Any) -> Any:
    return coop.run(main, clock=coop.VirtualClock())


async def sleeper(seconds: float, log: list[str], name: str, fail: bool = False) -> str:
    try:
        await coop.sleep(seconds)
        if fail:
            raise ValueError(name)
        return name
    finally:
        log.append(f"{name} ended at {coop.current_time():g}")


def gen_sleeper(seconds: float, log: list[str], name: str, fail: bool = False) -> Gen:
    try:
        yield coop.sleep(seconds)
        if fail:
            raise ValueError(name)
        return name
    finally:
        log.append(f"{name} ended at {coop.current_time():g}")


def test_the_async_block_waits_for_every_child() -> None:
    log: list[str] = []

    async def main() -> Any:
        async with coop.TaskGroup() as group:
            a = group.spawn(sleeper(2, log, "a"))
            b = group.spawn(sleeper(1, log, "b"))
        return a.result(), b.result(), coop.current_time()

    assert run(main()) == ("a", "b", 2.0)
    assert log == ["b ended at 1", "a ended at 2"]


def test_the_generator_spelling_returns_the_bodys_result_after_every_child() -> None:
    log: list[str] = []

    def body(group: coop.TaskGroup) -> Gen:
        group.spawn(gen_sleeper(3, log, "child"))
        yield coop.sleep(1)
        return "body done"

    def main() -> Gen:
        result = yield coop.TaskGroup.run(body)
        return result, coop.current_time(), log

    assert run(main()) == ("body done", 3.0, ["child ended at 3"])


def test_one_failure_cancels_the_rest_and_is_raised_as_itself_after_their_cleanup() -> None:
    log: list[str] = []

    async def main() -> Any:
        try:
            async with coop.TaskGroup() as group:
                group.spawn(sleeper(1, log, "bad", fail=True))
                group.spawn(sleeper(10, log, "slow"))
                await coop.sleep(100)
                log.append("not reached")
        except ValueError as err:
            log.append(f"owner caught {err} at {coop.current_time():g}")

    run(main())
    assert log == ["bad ended at 1", "slow ended at 1", "owner caught bad at 1"]


def test_several_failures_are_raised_together_as_an_exception_group() -> None:
    async def cleanup_fails() -> None:
        try:
            await coop.sleep(10)
        finally:
            raise OSError("cleanup failed")

    async def main() -> Any:
        async with coop.TaskGroup() as group:
            group.spawn(sleeper(1, [], "bad", fail=True))
            group.spawn(cleanup_fails())

    with pytest.raises(ExceptionGroup) as info:
        run(main())
    assert [type(e) for e in info.value.exceptions] == [ValueError, OSError]


def test_a_failing_async_body_cancels_the_children_and_is_raised_as_itself() -> None:
    log: list[str] = []

    async def main() -> Any:
        async with coop.TaskGroup() as group:
            group.spawn(sleeper(10, log, "child"))
            await coop.sleep(1)
            raise KeyError("body")

    with pytest.raises(KeyError, match="body"):
        run(main())
    assert log == ["child ended at 1"]


def test_a_failure_in_the_generator_body_or_a_child_reaches_the_owner() -> None:
    log: list[str] = []

    def body(group: coop.TaskGroup) -> Gen:
        group.spawn(gen_sleeper(2, log, "bad", fail=True))
        group.spawn(gen_sleeper(50, log, "slow"))
        yield coop.sleep(100)

    def main() -> Gen:
        try:
            yield coop.TaskGroup.run(body)
        except ValueError as err:
            return str(err), coop.current_time(), sorted(log)

    assert run(main()) == ("bad", 2.0, ["bad ended at 2", "slow ended at 2"])


@pytest.mark.parametrize("spelling", ["async", "generator"])
def test_cancelling_the_owner_cancels_the_children_first(spelling: str) -> None:
    log: list[str] = []

    async def async_owner() -> None:
        try:
            async with coop.TaskGroup() as group:
                group.spawn(sleeper(50, log, "child"))
                await coop.sleep(100)
        finally:
            log.append(f"owner ended at {coop.current_time():g}")

    def body(group: coop.TaskGroup) -> Gen:
        group.spawn(gen_sleeper(50, log, "child"))
        yield coop.sleep(100)

    def gen_owner() -> Gen:
        try:
            yield coop.TaskGroup.run(body)
        finally:
            log.append(f"owner ended at {coop.current_time():g}")

    def main() -> Gen:
        owner = yield coop.spawn(async_owner() if spelling == "async" else gen_owner())
        yield coop.sleep(1)
        yield coop.cancel(owner)
        return owner.state

    assert run(main()) is coop.TaskState.CANCELLED
    assert log == ["child ended at 1", "owner ended at 1"]


def test_interrupting_the_waiting_owner_ends_the_group_first() -> None:
    log: list[str] = []

    def body(group: coop.TaskGroup) -> Gen:
        group.spawn(gen_sleeper(50, log, "child"))
        yield coop.sleep(0)

    def owner() -> Gen:
        try:
            yield coop.TaskGroup.run(body)
        except coop.Interrupted as err:
            log.append(f"owner interrupted: {err.cause}")
        return "went on"

    def main() -> Gen:
        task = yield coop.spawn(owner())
        yield coop.sleep(1)
        coop.interrupt(task, "stop")
        return (yield coop.join(task))

    assert run(main()) == "went on"
    assert log == ["child ended at 1", "owner interrupted: stop"]


def test_cancel_from_the_body_ends_the_group_without_an_error() -> None:
    log: list[str] = []

    async def main() -> Any:
        async with coop.TaskGroup() as group:
            done = group.spawn(sleeper(1, log, "quick"))
            slow = group.spawn(sleeper(50, log, "slow"))
            await coop.sleep(2)
            group.cancel()
            await coop.sleep(100)  # cancelled here
            log.append("not reached")
        return done.result(), slow.state, coop.current_time()

    assert run(main()) == ("quick", coop.TaskState.CANCELLED, 2.0)
    assert "not reached" not in log


def test_a_child_that_cancels_the_group_may_still_return_its_result() -> None:
    async def finder(group: coop.TaskGroup) -> str:
        await coop.sleep(1)
        group.cancel()
        return "found it"

    async def main() -> Any:
        async with coop.TaskGroup() as group:
            winner = group.spawn(finder(group))
            other = group.spawn(sleeper(50, [], "other"))
        return winner.result(), other.state, coop.current_time()

    assert run(main()) == ("found it", coop.TaskState.CANCELLED, 1.0)


def test_cancel_in_the_generator_spelling_makes_run_return_none() -> None:
    def body(group: coop.TaskGroup) -> Gen:
        group.spawn(gen_sleeper(50, [], "child"))
        yield coop.sleep(1)
        group.cancel()
        yield coop.sleep(100)
        return "not reached"

    def main() -> Gen:
        return (yield coop.TaskGroup.run(body)), coop.current_time()

    assert run(main()) == (None, 1.0)


def test_children_are_daemons_when_the_owner_is_one() -> None:
    seen: list[bool] = []

    async def owner() -> None:
        async with coop.TaskGroup() as group:
            child = group.spawn(sleeper(1000, [], "child"))
            seen.append(child.daemon)
            await coop.sleep(1000)

    def main() -> Gen:
        yield coop.spawn(owner(), daemon=True)
        yield coop.sleep(1)

    run(main())
    assert seen == [True]


def test_nested_groups_end_inside_out() -> None:
    log: list[str] = []

    async def inner() -> None:
        async with coop.TaskGroup() as group:
            group.spawn(sleeper(3, log, "inner child"))

    async def main() -> None:
        async with coop.TaskGroup() as group:
            group.spawn(inner())
            group.spawn(sleeper(1, log, "outer child"))
        log.append(f"outer ended at {coop.current_time():g}")

    run(main())
    assert log == ["outer child ended at 1", "inner child ended at 3", "outer ended at 3"]


def test_a_wait_for_cycle_through_a_group_is_a_deadlock_naming_it() -> None:
    async def child(owner: coop.Task[Any]) -> None:
        await coop.join(owner)

    async def main() -> None:
        me = await coop.current_task()
        async with coop.TaskGroup(name="workers") as group:
            group.spawn(child(me), name="child")

    with pytest.raises(coop.Deadlock, match="workers to end"):
        run(main())


def test_misuse_gets_clear_errors() -> None:
    group = coop.TaskGroup()
    with pytest.raises(coop.CoopUsageError, match="not been entered"):
        group.spawn(gen_sleeper(1, [], "x"))
    with pytest.raises(TypeError, match="not a plain `with` block"), group:
        pass
    with pytest.raises(TypeError, match="takes a str"):
        coop.TaskGroup(name=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="function of the group"):
        coop.TaskGroup.run(gen_sleeper(1, [], "x"))  # type: ignore[arg-type]

    kept: list[coop.TaskGroup] = []

    async def main() -> Any:
        async with coop.TaskGroup() as g:
            kept.append(g)
            with pytest.raises(TypeError, match=r"TaskGroup\.spawn"):
                g.spawn(42)  # type: ignore[arg-type]
        with pytest.raises(coop.CoopUsageError, match="has ended"):
            g.spawn(sleeper(1, [], "late"))
        with pytest.raises(coop.CoopUsageError, match="entered already"):
            async with g:
                pass
        g.cancel()  # an ended group: nothing to do
        return "the owner went on"

    assert run(main()) == "the owner went on"


def test_a_body_that_is_not_a_generator_function_is_refused_at_its_yield() -> None:
    def not_a_generator(group: coop.TaskGroup) -> int:
        return 3

    def main() -> Gen:
        try:
            yield coop.TaskGroup.run(not_a_generator)  # type: ignore[arg-type]
        except TypeError as err:
            return str(err)

    assert "body(group) must return a generator" in run(main())


def test_spawning_into_a_group_that_is_ending_is_refused() -> None:
    errors: list[str] = []

    async def late(group: coop.TaskGroup) -> None:
        try:
            await coop.sleep(10)
        finally:
            try:
                group.spawn(sleeper(1, [], "too late"))
            except coop.CoopUsageError as err:
                errors.append(str(err))

    async def main() -> None:
        async with coop.TaskGroup() as group:
            group.spawn(late(group))
            group.spawn(sleeper(1, [], "bad", fail=True))

    with pytest.raises(ValueError):
        run(main())
    assert len(errors) == 1 and "is ending" in errors[0]


def test_statistics_and_repr() -> None:
    async def main() -> Any:
        async with coop.TaskGroup(name="pool") as group:
            group.spawn(sleeper(1, [], "a"))
            stats = group.statistics()
        return stats, repr(group)

    stats, text = run(main())
    assert (stats.name, stats.running, stats.failed, stats.phase) == ("pool", 1, 0, "open")
    assert text == "<pool ended, 0 running>"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans(), st.booleans()),
                min_size=0, max_size=8))
def test_no_child_outlives_its_group(children: list[tuple[int, bool, bool]]) -> None:
    """Property: when the owner goes on, every child has ended; the owner sees a failure
    exactly when some child failed (the first, or several only through failing cleanup)."""
    ended: list[int] = []
    started: list[coop.Task[Any]] = []

    async def child(index: int, seconds: int, fail: bool, cleanup_fails: bool) -> int:
        try:
            await coop.sleep(seconds)
            if fail:
                raise ValueError(index)
            return index
        finally:
            ended.append(index)
            if cleanup_fails and fail:
                raise OSError(index)

    async def main() -> Any:
        try:
            async with coop.TaskGroup() as group:
                for index, (seconds, fail, cleanup) in enumerate(children):
                    started.append(group.spawn(child(index, seconds, fail, cleanup)))
        except BaseException as err:
            outcome: Any = err
        else:
            outcome = None
        return outcome, all(t.done() for t in started)

    outcome, all_done = run(main())
    assert all_done and sorted(ended) == list(range(len(children)))
    failed = [t for t in started if t.state is coop.TaskState.FAILED]
    assert (outcome is None) == (not failed)
    if outcome is not None and not isinstance(outcome, BaseExceptionGroup):
        assert len(failed) == 1
