"""coop.lowlevel, the kernel's public contract: what primitives and tools are built from."""

from __future__ import annotations

import logging
import os
import socket
import threading

import pytest

import coop
from coop import lowlevel


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


class Wait(coop.Effect):
    """Park the yielding task on ``on`` through the contract."""

    def __init__(self, on, tag=None):
        self.on, self.tag = on, tag

    def _coop_apply(self, scheduler, task):
        return lowlevel.park(task, self.on, self.tag)


# ------------------------------------------------------------ the running context


def test_current_task_is_the_running_task_in_its_code_and_in_its_effects():
    seen = []

    class Probe(coop.Effect):
        def _coop_apply(self, scheduler, task):
            seen.append(lowlevel.current_task() is task)
            return None

    def child():
        seen.append(lowlevel.current_task().name)
        yield Probe()
        yield
        seen.append(lowlevel.current_task().name)

    def main():
        yield coop.join((yield coop.spawn(child(), name="child")))
        seen.append(lowlevel.current_task().name)
        seen.append(lowlevel.current_scheduler() is main.scheduler)

    sched = coop.Scheduler()
    main.scheduler = sched
    sched.run_main(main())
    assert seen == ["child", True, "child", "main", True]


def test_current_task_outside_a_task_is_a_clear_error():
    with pytest.raises(coop.CoopUsageError, match="no coop scheduler is running"):
        lowlevel.current_task()
    errors = []

    def in_a_hand_in():
        try:
            lowlevel.current_task()
        except coop.CoopUsageError as err:
            errors.append(str(err))

    def main():
        lowlevel.call_soon_threadsafe(in_a_hand_in)
        yield coop.sleep(0.01)

    coop.run(main())
    assert errors and "no task is running" in errors[0]


# -------------------------------------------------------------- parking and waking


def test_park_reschedule_and_reschedule_throw_on_a_wait_queue():
    queue = lowlevel.WaitQueue("the test's queue")

    def waiter():
        return (yield Wait(queue, tag="mine"))

    def main():
        first = yield coop.spawn(waiter())
        second = yield coop.spawn(waiter())
        yield
        assert queue.tag(first) == "mine" and first in queue
        assert [t for t, _ in queue.items()] == [first, second]
        lowlevel.reschedule(queue.pop()[0], "woken")
        task = queue.pop()[0]
        lowlevel.reschedule_throw(task, KeyError("thrown"))
        with pytest.raises(KeyError):
            yield coop.join(second)
        return (yield coop.join(first))

    assert coop.run(main()) == "woken"


def test_a_parkable_of_ones_own_is_unparked_on_cancel_and_named_in_deadlocks():
    class Slot:
        def __init__(self):
            self.unparked = []

        def unpark(self, task):
            self.unparked.append(task.name)

        def describe(self):
            return "the slot of the test"

        def holders(self):
            return []

    slot = Slot()

    def waiter():
        yield Wait(slot)

    def main():
        task = yield coop.spawn(waiter(), name="w")
        yield
        assert task.waiting_for == "the slot of the test"
        yield coop.cancel(task)
        yield Wait(slot)

    with pytest.raises(coop.Deadlock, match="main waits for the slot of the test"):
        coop.run(main())
    assert slot.unparked == ["w"]


def test_a_revoke_gives_a_handed_over_value_back_when_the_task_is_cancelled_first():
    queue = lowlevel.WaitQueue("a resource")
    returned = []

    def waiter():
        yield Wait(queue)

    def main():
        task = yield coop.spawn(waiter())
        yield
        lowlevel.reschedule(queue.pop()[0], "the resource", revoke=returned.append)
        yield coop.cancel(task)  # before it ran
        return returned

    assert coop.run(main()) == ["the resource"]


def test_set_deadline_raises_in_a_parked_task_and_inf_is_none():
    queue = lowlevel.WaitQueue("never")

    class Timed(coop.Effect):
        def __init__(self, seconds):
            self.seconds = seconds

        def _coop_apply(self, scheduler, task):
            lowlevel.set_deadline(task, scheduler.now() + self.seconds,
                                  lambda: coop.Timeout("too late"))
            return lowlevel.park(task, queue)

    def main():
        with pytest.raises(coop.Timeout, match="too late"):
            yield Timed(5)
        return (yield coop.now())

    assert vrun(main()) == 5.0


def test_spawn_system_task_and_done_callbacks_that_observe():
    ended = []

    def fails():
        yield
        raise ValueError("seen by the callback")

    def main():
        task = lowlevel.spawn_system_task(fails(), name="system")
        assert task.daemon
        lowlevel.add_done_callback(task, lambda t: ended.append((t.name, t.outcome)),
                                   observes=True)
        yield coop.sleep(1)
        assert task.outcome == coop.TaskState.FAILED

    vrun(main())
    assert ended == [("system", coop.TaskState.FAILED)]


def test_a_done_callback_that_does_not_observe_leaves_the_failure_reported(caplog):
    def fails():
        yield
        raise ValueError("nobody joined this")

    def main():
        task = yield coop.spawn(fails(), name="lonely")
        lowlevel.add_done_callback(task, lambda t: None)
        yield coop.sleep(1)

    with caplog.at_level(logging.ERROR, logger="coop"):
        vrun(main())
    assert "task 'lonely' failed and nobody joined it" in caplog.text


# ------------------------------------------------------------------- instruments


class Recorder:
    def __init__(self):
        self.events = []

    def task_spawned(self, task):
        self.events.append(("spawned", task.name))

    def before_step(self, task):
        self.events.append(("before", task.name))

    def after_step(self, task, effect):
        self.events.append(("after", task.name, type(effect).__name__))

    def task_parked(self, task, on):
        self.events.append(("parked", task.name))

    def task_woken(self, task, value):
        self.events.append(("woken", task.name))

    def task_exited(self, task):
        self.events.append(("exited", task.name, str(task.state)))

    def before_idle(self, timeout):
        self.events.append(("idle", timeout))

    def after_idle(self):
        self.events.append(("awake",))


def test_every_hook_of_an_instrument_is_called_in_order():
    recorder = Recorder()

    def child():
        yield coop.sleep(1)
        return 1

    def main():
        yield coop.join((yield coop.spawn(child(), name="child")))

    sched = coop.Scheduler(clock=coop.VirtualClock())
    sched.add_instrument(recorder)
    sched.run_main(main())
    events = recorder.events
    assert events[0] == ("spawned", "main")
    assert ("spawned", "child") in events
    child_events = [e for e in events if e[1:2] == ("child",)]
    assert child_events == [("spawned", "child"), ("before", "child"),
                            ("after", "child", "Sleep"), ("parked", "child"),
                            ("woken", "child"), ("before", "child"),
                            ("after", "child", "NoneType"), ("exited", "child", "done")]
    assert events[-1] == ("exited", "main", "done")


def test_external_calls_are_seen_by_instruments():
    calls = []

    class Calls:
        def external_begin(self, call):
            calls.append("begin")

        def external_end(self, call):
            calls.append("end")

    def main():
        lowlevel.add_instrument(Calls())
        return (yield coop.to_thread(sum, [1, 2]))

    assert coop.run(main()) == 3
    assert calls == ["begin", "end"]


def test_an_instrument_that_raises_is_removed_and_logged(caplog):
    class Broken:
        def __init__(self):
            self.calls = 0

        def before_step(self, task):
            self.calls += 1
            raise RuntimeError("instrument bug")

    broken = Broken()

    def main():
        for _ in range(5):
            yield
        return "the run went on"

    sched = coop.Scheduler()
    sched.add_instrument(broken)
    with caplog.at_level(logging.ERROR, logger="coop"):
        assert sched.run_main(main()) == "the run went on"
    assert broken.calls == 1
    assert "failed in before_step and has been removed" in caplog.text


def test_bad_instruments_are_refused():
    sched = coop.Scheduler()
    with pytest.raises(TypeError, match="defines none of the instrument hooks"):
        sched.add_instrument(object())
    with pytest.raises(ValueError, match="is not an instrument"):
        sched.remove_instrument(Recorder())


def test_removing_an_instrument_stops_its_hooks():
    recorder = Recorder()

    def main():
        lowlevel.add_instrument(recorder)
        yield
        lowlevel.remove_instrument(recorder)
        seen = len(recorder.events)
        for _ in range(3):
            yield
        return seen

    seen = coop.run(main())
    assert len(recorder.events) == seen


# ---------------------------------------------------------------- the choice point


def test_a_policy_chooses_the_order_of_hand_ins():
    class Reversed(coop.FifoPolicy):
        def pick_handin(self, count):
            return count - 1  # the last handed in first

    order = []

    def main():
        sched = lowlevel.current_scheduler()
        for i in range(5):
            sched.call_soon_threadsafe(order.append, i)
        yield
        yield

    coop.run(main(), policy=Reversed())
    assert order == [4, 3, 2, 1, 0]
    order.clear()
    coop.run(main(), policy=coop.FifoPolicy())
    assert order == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------------- the I/O seam


def test_wait_readable_and_writable_on_a_socket_pair():
    left, right = socket.socketpair()

    def reader():
        yield lowlevel.wait_readable(left)
        return left.recv(100)

    def main():
        task = yield coop.spawn(reader())
        yield coop.sleep(0.01)
        assert task.waiting_for == f"file descriptor {left.fileno()} to be readable"
        yield lowlevel.wait_writable(right.fileno())
        right.send(b"hello")
        return (yield coop.join(task))

    try:
        assert coop.run(main()) == b"hello"
    finally:
        left.close()
        right.close()


def test_a_cancelled_or_timed_out_descriptor_wait_is_unregistered():
    read_end, write_end = os.pipe()

    def main():
        with pytest.raises(coop.Timeout):
            yield coop.timeout(0.01, lowlevel.wait_readable(read_end))
        sched = lowlevel.current_scheduler()
        registered = read_end in sched._selector.get_map()
        # and the descriptor can be waited on again
        os.write(write_end, b"x")
        yield lowlevel.wait_readable(read_end)
        return registered, os.read(read_end, 1)

    try:
        assert coop.run(main()) == (False, b"x")
    finally:
        os.close(read_end)
        os.close(write_end)


def test_two_tasks_waiting_on_one_descriptor_and_direction_is_a_clear_error():
    read_end, write_end = os.pipe()

    def reader():
        yield lowlevel.wait_readable(read_end)

    def main():
        first = yield coop.spawn(reader(), name="first")
        yield
        with pytest.raises(coop.CoopUsageError, match="'first' already waits for file desc"):
            yield lowlevel.wait_readable(read_end)
        os.write(write_end, b"x")
        yield coop.join(first)
        return "ok"

    try:
        assert coop.run(main()) == "ok"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_descriptor_wait_is_not_a_deadlock_and_a_virtual_clock_still_jumps():
    read_end, write_end = os.pipe()

    def writer_thread():
        os.write(write_end, b"late")

    def sleeper():
        yield coop.sleep(100)
        return (yield coop.now())

    def main():
        task = yield coop.spawn(sleeper())
        jumped = yield coop.join(task)           # the clock jumped while a task waits on I/O
        threading.Timer(0.05, writer_thread).start()
        yield lowlevel.wait_readable(read_end)  # nothing else to do: no Deadlock
        return jumped, os.read(read_end, 4)

    try:
        assert vrun(main()) == (100.0, b"late")
    finally:
        os.close(read_end)
        os.close(write_end)


def test_bad_descriptors_are_refused():
    with pytest.raises(TypeError, match="wait_readable takes a file descriptor"):
        lowlevel.wait_readable("3")

    def main():
        with pytest.raises((OSError, ValueError)):
            yield lowlevel.wait_readable(-5)
        return "the scheduler went on"

    assert coop.run(main()) == "the scheduler went on"
