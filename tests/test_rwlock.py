"""examples/rwlock.py: a primitive written on coop.lowlevel alone keeps its invariants."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop

_SPEC = importlib.util.spec_from_file_location(
    "rwlock", Path(__file__).resolve().parent.parent / "examples" / "rwlock.py")
rwlock = importlib.util.module_from_spec(_SPEC)
sys.modules["rwlock"] = rwlock  # dataclasses look their module up
_SPEC.loader.exec_module(rwlock)


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def test_readers_share_and_a_writer_waits_for_them_then_holds_alone():
    lock = rwlock.RWLock("table")
    log = []

    def reader(i):
        with (yield lock.read()):
            log.append((i, "r", lock.statistics().readers))
            yield coop.sleep(1)

    def writer():
        with (yield lock.write()):
            log.append(("w", lock.statistics()))
            yield coop.sleep(1)

    def main():
        tasks = [(yield coop.spawn(reader(0))), (yield coop.spawn(reader(1))),
                 (yield coop.spawn(writer())), (yield coop.spawn(reader(2)))]
        for task in tasks:
            yield coop.join(task)
        return (yield coop.now())

    assert vrun(main()) == 3.0
    assert log[:2] == [(0, "r", 1), (1, "r", 2)]
    assert log[2] == ("w", rwlock.RWLockStatistics(0, "writer-4", 1, 0))
    assert log[3] == (2, "r", 1)  # the late reader waited behind the writer


def test_a_deadlock_report_names_the_holder():
    lock = rwlock.RWLock("table")

    def writer():
        with (yield lock.write()):
            pass

    def main():
        with (yield lock.read()):
            yield coop.join((yield coop.spawn(writer(), name="writer")))

    with pytest.raises(coop.Deadlock, match="wait-for cycle") as info:
        vrun(main())
    assert "writer waits for table (held by main)" in str(info.value)


def test_a_woken_waiter_cancelled_before_it_runs_passes_the_lock_on():
    lock = rwlock.RWLock()
    got = []

    def writer(name):
        with (yield lock.write()):
            got.append(name)

    def main():
        with (yield lock.write()):
            first = yield coop.spawn(writer("first"))
            second = yield coop.spawn(writer("second"))
            yield
        yield coop.cancel(first)  # woken with the lock, cancelled before it ran
        yield coop.join(second)
        return got, lock.statistics()

    assert vrun(main()) == (["second"], rwlock.RWLockStatistics(0, None, 0, 0))


def test_reacquiring_is_a_clear_error():
    lock = rwlock.RWLock("table")

    def main():
        with (yield lock.write()), pytest.raises(coop.CoopUsageError,
                                                 match="already holds table"):
            yield lock.read()
        return "ok"

    assert vrun(main()) == "ok"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("rw"), st.integers(0, 3), st.integers(0, 2)),
                min_size=1, max_size=12),
       st.integers(0, 2**16))
def test_never_a_writer_beside_anyone_and_every_task_gets_its_turn(plan, seed):
    lock = rwlock.RWLock()
    violations, done = [], []

    def user(index, kind, hold, delay):
        yield coop.sleep(delay)
        with (yield (lock.read() if kind == "r" else lock.write())):
            if lock.writer is not None and lock.readers:
                violations.append(index)
            yield coop.sleep(hold)
        done.append(index)

    def main():
        tasks = []
        for index, (kind, hold, delay) in enumerate(plan):
            tasks.append((yield coop.spawn(user(index, kind, hold, delay))))
        for task in tasks:
            yield coop.join(task)

    vrun(main(), policy=coop.RandomPolicy(seed))
    assert violations == []
    assert sorted(done) == list(range(len(plan)))
    assert lock.statistics() == rwlock.RWLockStatistics(0, None, 0, 0)
