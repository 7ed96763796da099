"""Hypothesis: random programs never lose a task, keep FIFO order, fire timers in order."""

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

import coop

# A random program: each task is a list of steps. A step is a bare yield, a sleep, spawning a
# child (given by its own step list), joining the last child, or cancelling it.
leaf_steps = st.lists(
    st.one_of(st.just(("yield",)), st.tuples(st.just("sleep"), st.integers(0, 3))),
    max_size=5,
)
steps = st.recursive(
    leaf_steps,
    lambda children: st.lists(
        st.one_of(
            st.just(("yield",)),
            st.tuples(st.just("sleep"), st.integers(0, 3)),
            st.tuples(st.just("spawn"), children),
            st.just(("join",)),
            st.just(("cancel",)),
            st.just(("fail",)),
        ),
        max_size=6,
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(program=steps, seed=st.none() | st.integers(0, 2**32 - 1))
def test_random_programs_finish_with_every_task_accounted_for(program, seed):
    started, finished, tasks = [], [], []

    def body(task_steps):
        me = yield coop.current_task()
        started.append(me)
        tasks.append(me)
        children = []
        try:
            for step in task_steps:
                kind = step[0]
                if kind == "yield":
                    yield
                elif kind == "sleep":
                    yield coop.sleep(step[1])
                elif kind == "spawn":
                    children.append((yield coop.spawn(body(step[1]))))
                elif kind == "join" and children:
                    try:
                        yield coop.join(children[-1])
                    except (coop.Cancelled, ValueError):
                        pass
                elif kind == "cancel" and children:
                    yield coop.cancel(children[-1])
                elif kind == "fail":
                    raise ValueError("planned failure")
        finally:
            finished.append(me)

    policy = None if seed is None else coop.RandomPolicy(seed)
    sched = coop.Scheduler(clock=coop.VirtualClock(), policy=policy)
    root = sched.spawn(body(program))
    sched.run()
    assert sched.tasks() == []
    # Every task that started also ran its finally block, exactly once.
    assert sorted(t.id for t in finished) == sorted(t.id for t in started)
    assert all(t.done() for t in tasks)
    assert root.done()
    sched.close()


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=8),
    spawn_after=st.lists(st.integers(0, 4), min_size=8, max_size=8),
)
def test_ready_tasks_run_in_fifo_order(counts, spawn_after):
    """Compare the scheduler's trace with a model: a deque where a yield goes to the back."""
    trace = []

    def worker(name, n):
        for _ in range(n):
            trace.append(name)
            yield
        trace.append(name)

    def spawner():
        # Spawn the workers one by one, yielding some turns in between.
        for i, n in enumerate(counts):
            for _ in range(spawn_after[i]):
                trace.append("spawner")
                yield
            yield coop.spawn(worker(i, n))
        trace.append("spawner")

    coop.run(spawner())

    model = []
    ready = deque([("spawner", None)])
    spawn_plan = deque((i, spawn_after[i], n) for i, n in enumerate(counts))
    state = {"spawner": 0}
    remaining = {}
    while ready:
        name, _ = ready.popleft()
        if name == "spawner":
            # Run the spawner until its next bare yield (spawns resume it at once).
            while True:
                if not spawn_plan:
                    model.append("spawner")
                    break
                i, waits, n = spawn_plan[0]
                if state["spawner"] < waits:
                    state["spawner"] += 1
                    model.append("spawner")
                    ready.append(("spawner", None))
                    break
                spawn_plan.popleft()
                state["spawner"] = 0
                remaining[i] = n
                ready.append((i, None))
        else:
            model.append(name)
            if remaining[name] > 0:
                remaining[name] -= 1
                ready.append((name, None))
    assert trace == model


@settings(max_examples=100, deadline=None)
@given(delays=st.lists(st.floats(0, 100) | st.floats(0, 0.004), min_size=1, max_size=40))
def test_timers_fire_in_deadline_order_and_never_early(delays):
    woke = []

    def sleeper(i, delay):
        yield coop.sleep(delay)
        woke.append((i, delay, (yield coop.now())))

    def main():
        for i, delay in enumerate(delays):
            yield coop.spawn(sleeper(i, delay))

    coop.run(main(), clock=coop.VirtualClock())
    assert len(woke) == len(delays)
    # Deadline order, and equal deadlines in the order the sleeps began.
    assert [(d, i) for i, d, _ in woke] == sorted((d, i) for i, d in enumerate(delays))
    assert all(t >= d for _, d, t in woke)


def test_real_clock_timers_never_fire_early_and_keep_order():
    woke = []
    delays = [0.03, 0.01, 0.02, 0.0, 0.015, 0.01]

    def sleeper(i, delay):
        start = yield coop.now()
        yield coop.sleep(delay)
        woke.append((i, delay, (yield coop.now()) - start))

    def main():
        for i, delay in enumerate(delays):
            yield coop.spawn(sleeper(i, delay))

    coop.run(main())
    assert all(elapsed >= delay for _, delay, elapsed in woke)
    assert [d for _, d, _ in woke] == sorted(delays)
