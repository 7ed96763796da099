"""Debug mode: each mistake it exists for is warned of at the user's line; correct programs
get no warning; off, it says nothing."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop

Gen = Generator[Any, Any, Any]


def debug_warnings(main: Callable[[], Any], **kwargs: Any) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coop.run(main(), clock=coop.VirtualClock(), debug=kwargs.pop("debug", True), **kwargs)
    return [w for w in caught if issubclass(w.category, coop.DebugWarning)]


def line_of(fn: Callable[..., Any], text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_an_effect_never_yielded_is_warned_of_at_its_line() -> None:
    queue: coop.Queue[int] = coop.Queue()

    def main() -> Gen:
        coop.sleep(1)
        queue.put(1)
        yield coop.sleep(0)

    found = debug_warnings(main)
    assert [(w.lineno, "never yielded" in str(w.message)) for w in found] == [
        (line_of(main, "coop.sleep(1)"), True), (line_of(main, "queue.put(1)"), True)]
    assert all(w.filename == __file__ for w in found)
    assert "yield coop.sleep(1.0)" in str(found[0].message)


def test_a_spawn_never_yielded_is_warned_of() -> None:
    def child() -> Gen:
        yield

    def main() -> Gen:
        coop.spawn(child())
        yield

    found = debug_warnings(main)
    assert len(found) == 1 and "coop.spawn(" in str(found[0].message)


def test_an_async_def_that_forgets_await_is_warned_of() -> None:
    queue: coop.Queue[int] = coop.Queue()

    async def main() -> None:
        coop.sleep(1)
        queue.put(2)
        await coop.sleep(0)

    found = debug_warnings(main)
    assert [w.lineno for w in found] == [line_of(main, "coop.sleep(1)"),
                                         line_of(main, "queue.put(2)")]


def test_effects_used_in_every_correct_way_give_no_warning() -> None:
    lock = coop.Lock()
    queue: coop.Queue[int] = coop.Queue()
    event = coop.Event()

    def child() -> Gen:
        yield coop.sleep(1)
        return 1

    async def async_child() -> int:
        async with lock:
            await coop.sleep(1)
        return 2

    def body(group: coop.TaskGroup) -> Gen:
        group.spawn(child())
        yield coop.sleep(0)

    def main() -> Gen:
        later = coop.sleep(2)           # kept, and yielded later
        yield queue.put(1)
        yield coop.sleep(0)
        # A race that one effect wins at once: the other child never gets to yield its own.
        yield coop.race(queue.get(), event.wait())
        yield coop.gather(child(), async_child(), coop.sleep(1))
        yield coop.timeout(5, lock.acquire())
        lock.release()
        yield coop.TaskGroup.run(body)
        yield later
        task = yield coop.spawn(child())
        return (yield coop.join(task))

    assert debug_warnings(main) == []


def test_a_step_that_blocks_the_scheduler_is_warned_of_with_the_hint() -> None:
    def main() -> Gen:
        yield
        time.sleep(0.06)
        yield

    found = debug_warnings(main, debug=0.02)  # the threshold, in seconds
    assert len(found) == 1
    assert "held the scheduler" in str(found[0].message)
    assert "coop.to_thread" in str(found[0].message)
    assert found[0].lineno == line_of(main, "time.sleep(0.06)") + 1  # where it yielded next


def test_a_task_that_ignores_its_cancellation_is_warned_of_once() -> None:
    def stubborn() -> Gen:
        try:
            yield coop.sleep(10)
        except coop.Cancelled:
            pass
        yield coop.sleep(1)

    def main() -> Gen:
        task = yield coop.spawn(stubborn())
        yield
        yield coop.cancel(task)

    found = debug_warnings(main)
    assert len(found) == 1
    assert "caught coop.Cancelled and went on" in str(found[0].message)
    assert found[0].lineno == line_of(stubborn, "yield coop.sleep(1)")


def test_cleanup_that_yields_inside_its_handler_is_not_warned_of() -> None:
    def tidy() -> Gen:
        try:
            yield coop.sleep(10)
        finally:
            yield coop.sleep(1)  # cleanup may wait

    def main() -> Gen:
        task = yield coop.spawn(tidy())
        yield
        yield coop.cancel(task)

    assert debug_warnings(main) == []


def test_a_failure_nobody_waits_for_is_warned_of_when_it_happens() -> None:
    seen_at: list[float] = []

    def fails() -> Gen:
        yield
        raise ValueError("lost")

    def joined() -> Gen:
        yield
        raise KeyError("seen")

    def main() -> Gen:
        yield coop.spawn(fails())
        task = yield coop.spawn(joined())
        try:
            yield coop.join(task)
        except KeyError:
            pass
        yield coop.sleep(5)
        seen_at.append(coop.current_time())

    found = debug_warnings(main)
    assert len(found) == 1
    assert "ValueError('lost')" in str(found[0].message)
    assert found[0].lineno == line_of(fails, 'raise ValueError("lost")')


def test_off_it_says_nothing() -> None:
    def main() -> Gen:
        coop.sleep(1)
        yield

    assert debug_warnings(main, debug=False) == []


def test_the_effect_classes_are_unwrapped_after_a_debug_run() -> None:
    from coop.sync.queue import QueuePut  # an interpreted effect class

    def main() -> Gen:
        yield coop.sleep(0)

    before = QueuePut.__init__
    debug_warnings(main)
    assert QueuePut.__init__ is before
    assert not hasattr(QueuePut.__init__, "__wrapped__")


def test_a_bad_debug_argument_is_refused() -> None:
    def main() -> Gen:
        yield

    for bad in ("yes", -1, 0):
        with pytest.raises(TypeError, match="debug= takes"):
            coop.run(main(), debug=bad)  # type: ignore[arg-type]
    assert coop.Scheduler(debug=True).debug is True
    assert coop.Scheduler().debug is False


@pytest.mark.parametrize("env", [{"COOP_DEBUG": "1"}, {"PYTHONDEVMODE": "1"}])
def test_the_environment_turns_it_on(env: dict[str, str]) -> None:
    program = textwrap.dedent("""
        import coop

        def main():
            coop.sleep(1)
            yield

        coop.run(main())
    """)
    clean = {k: v for k, v in os.environ.items() if k not in ("COOP_DEBUG", "PYTHONDEVMODE")}
    done = subprocess.run([sys.executable, "-c", program], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "DebugWarning: coop debug: coop.sleep(1.0) was made in task 'main'" in done.stderr
    quiet = subprocess.run([sys.executable, "-c", program], env=clean, capture_output=True,
                           text=True, timeout=60)
    assert "DebugWarning" not in quiet.stderr


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["sleep", "put", "get", "spawn", "bare"]), min_size=1,
                max_size=12), st.data())
def test_exactly_the_forgotten_effect_is_reported(ops: list[str], data: st.DataObject) -> None:
    """Property: in a random program whose effects are all yielded but one, exactly that one
    (at its index) is reported."""
    forgotten = data.draw(st.integers(0, len(ops) - 1))
    reported: list[int] = []
    queue: coop.Queue[int] = coop.Queue()

    def child() -> Gen:
        yield

    def make(op: str) -> Any:
        if op == "sleep":
            return coop.sleep(0)
        if op == "put":
            return queue.put(1)
        if op == "get":
            return coop.race(queue.get(), coop.sleep(0))
        if op == "spawn":
            return coop.spawn(child())
        return None

    def main() -> Gen:
        for index, op in enumerate(ops):
            effect = make(op)
            if index == forgotten and effect is not None:
                reported.append(index)
                del effect  # dropped, not yielded
                yield
            else:
                yield effect

    found = debug_warnings(main)
    assert len(found) == len(reported)
