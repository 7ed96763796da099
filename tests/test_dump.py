"""Task dumps: coop.dump_tasks(), Scheduler.dump(), the stacks in a Deadlock report, and
coop.run(dump_signal=...)."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop
from coop.dump import TaskDump, TaskTree

Gen = Generator[Any, Any, Any]
HERE = __file__
SHOWN = os.path.relpath(HERE) if HERE.startswith(os.getcwd() + os.sep) else HERE


def line_of(fn: Callable[..., Any], text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def dump_after(setup: Callable[[], Gen], *, steps: int = 1, debug: bool = False) -> TaskTree:
    """Run ``setup()`` as a task, let everything park (``steps`` virtual seconds), dump."""
    def main() -> Gen:
        yield coop.spawn(setup(), name="setup", daemon=True)
        yield coop.sleep(steps)
        return coop.dump_tasks()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", coop.DebugWarning)
        tree: TaskTree = coop.run(main(), clock=coop.VirtualClock(), debug=debug)
    return tree


def by_name(tree: TaskTree) -> dict[str, TaskDump]:
    return {node.name: node for node in tree.walk()}


# ------------------------------------------------------------------- stacks


def inner_helper() -> Gen:
    yield coop.sleep(100)


def middle_helper() -> Gen:
    yield from inner_helper()


def nested_task() -> Gen:
    yield from middle_helper()


def test_a_stack_follows_yield_from_down_to_the_parked_line() -> None:
    def setup() -> Gen:
        yield coop.spawn(nested_task(), name="nested", daemon=True)

    node = by_name(dump_after(setup))["nested"]
    assert [f.function for f in node.stack] == ["nested_task", "middle_helper", "inner_helper"]
    assert all(f.filename == HERE for f in node.stack)
    assert node.stack[0].lineno == line_of(nested_task, "yield from middle_helper()")
    assert node.stack[1].lineno == line_of(middle_helper, "yield from inner_helper()")
    assert node.where is not None
    assert node.where.lineno == line_of(inner_helper, "coop.sleep(100)")
    assert node.where.line == "yield coop.sleep(100)"
    assert node.state is coop.TaskState.WAITING
    assert node.waiting_for is not None and node.waiting_for.startswith("a timer")


async def inner_coro() -> None:
    await coop.sleep(100)


async def outer_coro() -> None:
    await inner_coro()


def test_a_stack_follows_await_chains() -> None:
    def setup() -> Gen:
        yield coop.spawn(outer_coro(), name="coro", daemon=True)

    node = by_name(dump_after(setup))["coro"]
    assert [f.function for f in node.stack] == ["outer_coro", "inner_coro"]
    assert node.stack[-1].lineno == line_of(inner_coro, "await coop.sleep(100)")
    text = str(node)
    assert f'File "{SHOWN}", line {node.stack[0].lineno}, in outer_coro' in text
    assert "await inner_coro()" in text


def test_the_running_task_shows_the_line_that_asked_for_the_dump() -> None:
    def helper() -> Gen:
        yield
        return coop.dump_tasks()

    def main() -> Gen:
        return (yield from helper())

    tree = coop.run(main())
    node = tree.find("main")
    assert node is not None and node.state is coop.TaskState.RUNNING
    assert [f.function for f in node.stack] == ["main", "helper"]
    assert node.stack[-1].lineno == line_of(helper, "return coop.dump_tasks()")


def test_a_task_parked_on_a_lock_says_who_holds_it() -> None:
    lock = coop.Lock()

    def holder() -> Gen:
        with (yield lock.acquire()):
            yield coop.sleep(100)

    def waiter() -> Gen:
        with (yield lock.acquire()):
            pass

    def setup() -> Gen:
        yield coop.spawn(holder(), name="holder", daemon=True)
        yield coop.spawn(waiter(), name="waiter", daemon=True)

    tree = dump_after(setup)
    node = by_name(tree)["waiter"]
    assert node.waiting_for is not None
    assert node.waiting_for.startswith("Lock#") and node.waiting_for.endswith("held by holder")
    assert node.where is not None and node.where.lineno == line_of(waiter, "lock.acquire()")
    assert f"waiter (task {node.id}, daemon) waiting for {node.waiting_for}" in str(tree)


def test_a_task_not_started_yet_is_ready_at_its_first_line() -> None:
    def later() -> Gen:
        yield

    def main() -> Gen:
        yield coop.spawn(later(), name="later")
        return coop.dump_tasks()

    node = coop.run(main()).find("later")
    assert node is not None and node.state is coop.TaskState.READY
    assert node.waiting_for is None and [f.function for f in node.stack] == ["later"]


# ------------------------------------------------------------------ parents


def sleeper(seconds: float = 100) -> Gen:
    yield coop.sleep(seconds)


def test_gather_children_are_under_the_task_waiting_in_it() -> None:
    def parent() -> Gen:
        yield coop.gather(sleeper(), sleeper(), coop.race(sleeper(), sleeper()))

    def setup() -> Gen:
        yield coop.spawn(parent(), name="parent", daemon=True)

    tree = dump_after(setup)
    node = by_name(tree)["parent"]
    assert node.waiting_for is not None and node.waiting_for.startswith("gather of")
    assert len(node.children) == 3
    assert all(c.parent_id == node.id and c.parent_name == "parent" for c in node.children)
    racer = node.children[2]  # the race's child task, waiting in the race
    assert racer.waiting_for is not None and racer.waiting_for.startswith("race of")
    assert len(racer.children) == 2
    text = str(tree)
    assert "├── sleeper-" in text and "└── _run_effect-" in text


def test_taskgroup_members_are_under_the_owner_both_spellings() -> None:
    async def owner() -> None:
        async with coop.TaskGroup() as group:
            group.spawn(sleeper())
            group.spawn(sleeper())
            await coop.sleep(50)  # the block itself: the owner is not parked on the group

    def body(group: coop.TaskGroup) -> Gen:
        group.spawn(sleeper())
        yield coop.sleep(50)

    def gen_owner() -> Gen:
        yield coop.TaskGroup.run(body)

    def setup() -> Gen:
        yield coop.spawn(owner(), name="owner", daemon=True)
        yield coop.spawn(gen_owner(), name="gen-owner", daemon=True)

    nodes = by_name(dump_after(setup))
    assert [c.name.split("-")[0] for c in nodes["owner"].children] == ["sleeper", "sleeper"]
    # The run spelling: the body and the child it spawned are both members of the group.
    assert sorted(c.name.split("-")[0] for c in nodes["gen-owner"].children) == ["body",
                                                                                 "sleeper"]


def test_plain_spawns_are_roots_unless_debug_mode_records_them() -> None:
    def child() -> Gen:
        yield coop.spawn(sleeper(), name="grandchild", daemon=True)
        yield coop.sleep(100)

    def setup() -> Gen:
        yield coop.spawn(child(), name="child", daemon=True)

    plain = dump_after(setup)
    assert {r.name for r in plain.roots} == {"main", "child", "grandchild"}
    assert all(r.parent_id is None for r in plain.roots)
    debug = dump_after(setup, debug=True)
    nodes = by_name(debug)
    assert nodes["grandchild"].parent_name == "child"
    assert [c.name for c in nodes["child"].children] == ["grandchild"]
    # setup has ended: child is a root, and still names the task that spawned it.
    assert nodes["child"] in debug.roots and nodes["child"].parent_name == "setup"


def test_a_task_whose_parent_ended_is_a_root_that_names_it() -> None:
    def parent() -> Gen:
        yield coop.spawn(sleeper(), name="orphan", daemon=True)

    def main() -> Gen:
        yield coop.join((yield coop.spawn(parent(), name="parent")))
        return coop.dump_tasks()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", coop.DebugWarning)
        tree = coop.run(main(), clock=coop.VirtualClock(), debug=True)
    orphan = tree.find("orphan")
    assert orphan is not None and orphan in tree.roots and orphan.parent_name == "parent"
    assert "[spawned by parent]" in str(tree)
    assert coop.lowlevel.task_parent is not None


def test_an_inferred_cycle_is_cut_and_every_task_still_appears_once() -> None:
    # a and b gather each other: each is "under" the other by inference; one link goes.
    tasks: dict[str, coop.Task[Any]] = {}

    def a() -> Gen:
        yield coop.sleep(1)
        yield coop.gather(tasks["b"])

    def b() -> Gen:
        yield coop.sleep(1)
        yield coop.gather(tasks["a"])

    trees: list[TaskTree] = []

    def main() -> Gen:
        tasks["a"] = yield coop.spawn(a(), name="a", daemon=True)
        tasks["b"] = yield coop.spawn(b(), name="b", daemon=True)
        yield coop.sleep(2)
        trees.append(coop.dump_tasks())

    # Each gather waits for the other's cleanup once run() cancels the daemons: stuck.
    with pytest.raises(coop.Deadlock, match="a waits for gather of b"):
        coop.run(main(), clock=coop.VirtualClock())
    (tree,) = trees
    assert sorted(n.name for n in tree.walk()) == ["a", "b", "main"]
    assert len(tree.roots) == 2


# -------------------------------------------------------- random spawn trees


def check_tree(tree: TaskTree, pending: list[coop.Task[Any]]) -> None:
    nodes = list(tree.walk())
    assert sorted(n.id for n in nodes) == sorted(t.id for t in pending)  # each exactly once
    parent_of = {child.id: node.id for node in nodes for child in node.children}
    for node in nodes:
        seen = {node.id}
        up = parent_of.get(node.id)
        while up is not None:  # following parents up ends at a root: no cycle
            assert up not in seen
            seen.add(up)
            up = parent_of.get(up)
    roots = {r.id for r in tree.roots}
    assert roots == {n.id for n in nodes} - set(parent_of)


spawn_trees = st.lists(st.tuples(st.integers(min_value=0), st.booleans()), max_size=25)


@settings(max_examples=60, deadline=None)
@given(spawn_trees)
def test_random_spawn_trees_dump_every_task_once_under_its_spawner(
        shape: list[tuple[int, bool]]) -> None:
    # Node i + 1 is spawned by node parent % (i + 1) (0 is the root), with coop.spawn.
    kids: dict[int, list[int]] = {}
    for i, (parent, _) in enumerate(shape):
        kids.setdefault(parent % (i + 1), []).append(i + 1)
    gate = coop.Event()
    spawned: dict[int, coop.Task[Any]] = {}

    def node(n: int) -> Gen:
        for k in kids.get(n, []):
            spawned[k] = yield coop.spawn(node(k), name=f"n{k}")
        yield gate.wait()

    def main() -> Gen:
        spawned[0] = yield coop.spawn(node(0), name="n0")
        yield coop.sleep(1)
        tree = coop.dump_tasks()
        pending = (yield coop.current_task()).scheduler.tasks()
        gate.set()
        return tree, pending

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", coop.DebugWarning)
        tree, pending = coop.run(main(), clock=coop.VirtualClock(), debug=True)
    check_tree(tree, pending)
    nodes = by_name(tree)
    for parent, children in kids.items():
        assert [c.name for c in nodes[f"n{parent}"].children] == [f"n{k}" for k in children]


@settings(max_examples=60, deadline=None)
@given(spawn_trees)
def test_random_gather_and_spawn_trees_without_debug_mode(
        shape: list[tuple[int, bool]]) -> None:
    # As above, but a node's children are gathered (True) or plainly spawned (False): only
    # the gathered ones have a known parent outside debug mode.
    kids: dict[int, list[int]] = {}
    gathered: dict[int, bool] = {}
    for i, (parent, in_gather) in enumerate(shape):
        kids.setdefault(parent % (i + 1), []).append(i + 1)
        gathered[i + 1] = in_gather
    gate = coop.Event()

    def node(n: int) -> Gen:
        mine = kids.get(n, [])
        for k in mine:
            if not gathered[k]:
                yield coop.spawn(node(k), name=f"n{k}")
        together = [node(k) for k in mine if gathered[k]]
        if together:
            yield coop.gather(gate.wait(), *together)
        else:
            yield gate.wait()

    def main() -> Gen:
        yield coop.spawn(node(0), name="n0")
        yield coop.sleep(1)
        tree = coop.dump_tasks()
        pending = (yield coop.current_task()).scheduler.tasks()
        gate.set()
        return tree, pending

    tree, pending = coop.run(main(), clock=coop.VirtualClock())
    check_tree(tree, pending)
    for dumped in tree.walk():
        for child in dumped.children:
            assert child.parent_id == dumped.id


# ------------------------------------------------------------ where it works


def test_dump_tasks_outside_a_run_is_a_usage_error() -> None:
    with pytest.raises(coop.CoopUsageError, match=r"coop.dump_tasks\(\) dumps the scheduler"):
        coop.dump_tasks()


def test_dump_tasks_works_in_a_callback_and_scheduler_dump_between_runs() -> None:
    seen: list[TaskTree] = []

    def main() -> Gen:
        scheduler = (yield coop.current_task()).scheduler
        scheduler.call_at(scheduler.now() + 1, lambda: seen.append(coop.dump_tasks()))
        yield coop.sleep(2)

    coop.run(main(), clock=coop.VirtualClock())
    (tree,) = seen
    assert [n.name for n in tree.walk()] == ["main"]
    assert tree.time == 1.0 and "coop: 1 pending task(s) at t=1" in str(tree)

    scheduler = coop.Scheduler(clock=coop.VirtualClock())
    scheduler.spawn(sleeper(), name="queued")
    queued = scheduler.dump().find("queued")
    assert queued is not None and queued.state is coop.TaskState.READY
    scheduler.close()
    assert str(scheduler.dump()) == "coop: no pending tasks at t=0"


# ---------------------------------------------------------------- deadlocks


def fork_user(left: coop.Lock, right: coop.Lock) -> Gen:
    with (yield left.acquire()):
        yield coop.sleep(1)
        with (yield right.acquire()):
            pass


def test_a_deadlock_report_shows_where_each_stuck_task_is_parked() -> None:
    def main() -> Gen:
        forks = [coop.Lock(name=f"fork-{i}") for i in range(2)]
        yield coop.gather(fork_user(forks[0], forks[1]), fork_user(forks[1], forks[0]))

    with pytest.raises(coop.Deadlock) as info:
        coop.run(main(), clock=coop.VirtualClock())
    lines = str(info.value).splitlines()
    assert lines[0] == "deadlock: 3 task(s) wait: a wait-for cycle among the first 2, and 1 more:"
    assert lines[1].startswith("  fork_user-2 waits for fork-1 held by fork_user-3")
    assert lines[4] == "where they wait (innermost last):"
    parked = line_of(fork_user, "right.acquire()")
    assert lines[5:8] == [
        "  fork_user-2 (task 2):",
        f'    File "{SHOWN}", line {parked}, in fork_user',
        "      with (yield right.acquire()):"]
    assert f'File "{SHOWN}", line {line_of(main, "coop.gather")}, in main' in str(info.value)
    assert [t.name for t, _ in info.value.waits] == ["fork_user-2", "fork_user-3", "main"]


# -------------------------------------------------------------- dump_signal


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="Unix signals")
def test_dump_signal_prints_a_dump_to_stderr_and_the_run_goes_on() -> None:
    program = textwrap.dedent("""
        import signal, sys, coop

        def napper():
            yield coop.sleep(1.5)

        def main():
            task = yield coop.spawn(napper(), name="napper")
            yield  # napper parks in its sleep before the signal can come (under load the
            # signal once came before napper's first step, and the dump said it was ready)
            print("ready", flush=True)
            yield coop.join(task)
            print("finished", flush=True)
            return signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL

        print(coop.run(main(), dump_signal=signal.SIGUSR1), flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGUSR1)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines() == ["finished", "False"]  # the handler is still coop's in main
    assert "coop: 2 pending task(s)" in err
    assert "napper (task 2) waiting for a timer" in err
    assert "in napper" in err and "yield coop.sleep(1.5)" not in err  # -c: no source lines
    assert "(dumped on SIGUSR1; the run goes on)" in err


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="Unix signals")
def test_dump_signal_restores_the_previous_handler_and_works_in_process() -> None:
    def previous(signum: int, frame: Any) -> None:
        pass

    old = signal.signal(signal.SIGUSR2, previous)
    try:
        def main() -> Gen:
            assert signal.getsignal(signal.SIGUSR2) is not previous
            os.kill(os.getpid(), signal.SIGUSR2)
            yield coop.sleep(0.01)
            return "done"

        assert coop.run(main(), dump_signal="SIGUSR2") == "done"
        assert signal.getsignal(signal.SIGUSR2) is previous
    finally:
        signal.signal(signal.SIGUSR2, old)


@pytest.mark.parametrize(("value", "error", "message"), [
    (signal.SIGINT, ValueError, "cannot be SIGINT"),
    ("SIGNOPE", ValueError, "this platform has no SIGNOPE"),
    (10**6, ValueError, "is not a signal of this platform"),
    (1.5, TypeError, "takes a signal"),
    (True, TypeError, "takes a signal"),
    *([(signal.SIGKILL, ValueError, "cannot be caught")] if hasattr(signal, "SIGKILL") else []),
])
def test_dump_signal_refuses_what_it_cannot_use(value: object, error: type[Exception],
                                                message: str) -> None:
    def main() -> Gen:
        yield

    with pytest.raises(error, match=message):
        coop.run(main(), dump_signal=value)  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="Unix signals")
def test_dump_signal_outside_the_main_thread_is_a_usage_error() -> None:
    errors: list[BaseException] = []

    def main() -> Gen:
        yield

    def in_thread() -> None:
        try:
            coop.run(main(), dump_signal=signal.SIGUSR1)
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    (err,) = errors
    assert isinstance(err, coop.CoopUsageError) and "main thread" in str(err)
