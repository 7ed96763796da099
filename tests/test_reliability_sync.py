"""Issue 10, the primitives' side: true wait-for edges, one scheduler per primitive, resources
handed over by race/gather, back-pressure on thread senders, daemons' helpers, messages."""

import asyncio
import os
import queue as stdlib_queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coop

REPO = Path(__file__).resolve().parent.parent


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def run_alone(program, timeout=60):
    """Run ``program`` in a fresh interpreter (no other thread alive), with a time limit, so a
    hang fails the test instead of stalling the suite; returns the finished process."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(program)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    return done


# ============================================================ 1. wait-for edges


def test_a_semaphore_released_by_a_thread_fed_actor_is_no_false_cycle():
    # r1: the agent waits for a unit of a semaphore it acquired itself; a thread makes an
    # actor release it. Before: Deadlock "a wait-for cycle ... held by agent".
    done = run_alone("""
        import threading, time, coop
        sem = coop.Semaphore(1, name="agentSem")
        class Releaser(coop.Actor):
            def run(self):
                yield self.recv()
                sem.release()
        def agent():
            yield sem.acquire()
            yield sem.acquire()
            print("agent got the semaphore twice")
        def main():
            r = Releaser().start()
            threading.Thread(target=lambda: (time.sleep(.2), r.send("go"))).start()
            yield coop.join((yield coop.spawn(agent(), name="agent")))
        coop.run(main())
        """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "agent got the semaphore twice\n"


def _parked_edges(make_wait):
    """Park one task in ``make_wait(me)`` after it has taken what it can; the wait-for edges
    (holders) that its wait reports."""
    seen = []

    def waiter():
        me = yield coop.current_task()
        yield from make_wait(me)

    def main():
        task = yield coop.spawn(waiter())
        for _ in range(5):
            yield
        seen.extend(task._parked_on.holders())
        yield coop.cancel(task)

    vrun(main())
    return seen


def _twice(primitive):
    def wait(me):
        yield primitive.acquire()
        yield primitive.acquire()
    return wait


def _one(effect_factory):
    def wait(me):
        yield effect_factory()
    return wait


@pytest.mark.parametrize("make_wait", [
    _twice(coop.Semaphore(1)),
    _twice(coop.BoundedSemaphore(1)),
    _one(coop.Event().wait),
    _one(coop.Queue().get),
    _one(coop.Barrier(2).wait),
], ids=["Semaphore", "BoundedSemaphore", "Event", "Queue.get", "Barrier"])
def test_waits_on_unowned_primitives_make_no_wait_for_edge(make_wait):
    assert _parked_edges(make_wait) == []


def test_queue_put_condition_wait_and_mailbox_room_make_no_wait_for_edge():
    full = coop.Queue(1)
    full.put_nowait("x")
    assert _parked_edges(_one(lambda: full.put("y"))) == []

    cond = coop.Condition()

    def wait_cond(me):
        with (yield cond.acquire()):
            yield cond.wait()
    assert _parked_edges(wait_cond) == []

    def wait_room(me):
        class Slow(coop.Actor):
            maxsize = 1

            def run(self):
                yield coop.sleep(100)
        slow = Slow().start()
        slow.send(1)
        yield slow.send(2)
    assert _parked_edges(wait_room) == []


def test_a_lock_still_makes_a_wait_for_edge_to_its_holder():
    lock = coop.Lock()

    def wait(me):
        holder = yield coop.spawn(hold(lock))
        yield
        yield lock.acquire()
        del holder

    def hold(lock):
        with (yield lock.acquire()):
            yield coop.sleep(100)

    assert [t.name for t in _parked_edges(wait)] == ["hold-3"]


# ============================================================ 2. the report


def test_the_deadlock_report_names_every_stuck_task_of_a_semaphore_program():
    # r2: before, only "agent ... held by agent" (a false one-task cycle).
    done = run_alone("""
        import coop
        agent_sem = coop.Semaphore(1, name="agentSem")
        tobacco = coop.Semaphore(0, name="tobacco")
        def agent():
            yield agent_sem.acquire()
            yield agent_sem.acquire()
        def smoker():
            yield tobacco.acquire()
            agent_sem.release()
        def main():
            yield coop.spawn(smoker(), name="smoker")
            yield coop.join((yield coop.spawn(agent(), name="agent")))
        try:
            coop.run(main())
        except coop.Deadlock as err:
            print(err)
            print(sorted(task.name for task, _ in err.waits))
        """)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "3 task(s) wait and nothing can wake them" in out
    assert "main waits for join(agent)" in out
    assert "smoker waits for tobacco (0 of 0 left)" in out
    assert "agent waits for agentSem (0 of 1 left, acquired by agent)" in out
    assert "['agent', 'main', 'smoker']" in out


# ============================================================ 3. one scheduler each


class _Other:
    """A scheduler running in another thread, with a task that used ``use`` and is now
    parked (so that scheduler is still busy with the primitive)."""

    def __init__(self, use):
        self.ready = threading.Event()
        self.finish = threading.Event()
        self.error = None

        def main():
            yield from use()
            self.ready.set()
            yield coop.to_thread(self.finish.wait)

        def body():
            try:
                coop.run(main())
            except BaseException as exc:
                self.error = exc
                self.ready.set()

        self.thread = threading.Thread(target=body, name="other-scheduler")

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(30)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc):
        self.finish.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def _used(*effects):
    def use():
        for effect in effects:  # noqa: UP028 - a tuple's iterator cannot take send()
            yield effect
    return use


def _uses_from_here(effect_factory):
    def main():
        yield effect_factory()
    with pytest.raises(coop.CoopUsageError) as info:
        vrun(main())
    message = str(info.value)
    assert "belongs to the scheduler running in thread other-scheduler" in message
    assert "send" in message and "call_soon_threadsafe" in message
    return message


def test_a_lock_used_by_a_second_scheduler_raises_instead_of_hanging():
    # b06, in a subprocess with a time limit: before, the second run never got the lock.
    done = run_alone("""
        import threading, time, coop
        def hold(secs, who):
            with (yield lock.acquire()):
                print(who, "acquired", flush=True)
                yield coop.sleep(secs)
        lock = coop.Lock()
        th = threading.Thread(target=coop.run, args=(hold(0.5, "thread"),)); th.start()
        time.sleep(0.1)
        try:
            coop.run(hold(0, "main"))
        except coop.CoopUsageError as err:
            print("refused:", err)
        th.join()
        """)
    assert done.returncode == 0, done.stderr
    assert "thread acquired" in done.stdout
    assert "refused: Lock#1 belongs to the scheduler running in thread" in done.stdout


@pytest.mark.parametrize("kind", ["Lock", "Semaphore", "BoundedSemaphore"])
def test_acquire_from_a_second_scheduler_raises(kind):
    primitive = getattr(coop, kind)(name="shared")
    with _Other(_used(primitive.acquire())):
        message = _uses_from_here(primitive.acquire)
    assert message.startswith("shared belongs to")
    assert f"coop.{kind} serves the tasks of one scheduler" in message


def test_event_wait_and_set_from_a_second_scheduler_or_thread_raise():
    event = coop.Event(name="go")
    with _Other(lambda: _wait_briefly(event)):
        _uses_from_here(event.wait)
        with pytest.raises(coop.CoopUsageError, match="set\\(\\) from another thread"):
            event.set()


def _wait_briefly(event):
    try:
        yield event.wait(timeout=0.001)
    except coop.Timeout:
        pass


def test_condition_from_a_second_scheduler_raises():
    cond = coop.Condition(name="cv")
    with _Other(_used(cond.acquire())):  # the other scheduler's task holds it
        _uses_from_here(cond.acquire)
    cond2 = coop.Condition(name="cv2")

    def hold():
        yield cond2.acquire()
    with _Other(hold):
        def waits():
            yield cond2.wait()
        with pytest.raises(coop.CoopUsageError, match="belongs to the scheduler"):
            vrun(waits())


def test_queue_from_a_second_scheduler_or_thread_raises():
    q = coop.Queue(name="jobs")
    q.put_nowait(1)  # before any scheduler: fine
    with _Other(_used(q.get())):
        _uses_from_here(q.get)
        _uses_from_here(lambda: q.put(2))
        _uses_from_here(q.join)
        _uses_from_here(q.get_or_end)
        for call in (lambda: q.put_nowait(2), q.get_nowait, q.task_done, q.shutdown):
            with pytest.raises(coop.CoopUsageError, match="from another thread"):
                call()


def test_barrier_from_a_second_scheduler_raises():
    barrier = coop.Barrier(1, name="gate")
    with _Other(_used(barrier.wait())):
        _uses_from_here(barrier.wait)


def test_semaphore_release_from_a_plain_thread_raises():
    sem = coop.Semaphore(1, name="units")
    with _Other(_used(sem.acquire())):
        errors = []

        def release():
            try:
                sem.release()
            except coop.CoopUsageError as err:
                errors.append(str(err))
        thread = threading.Thread(target=release)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "release() from another thread" in errors[0]


def test_receiving_from_an_actor_of_another_scheduler_raises():
    started = []

    def use():
        started.append(coop.Actor(name="remote").start())
        yield

    with _Other(use):
        remote = started[0]

        def main():
            yield remote.recv()
        with pytest.raises(coop.CoopUsageError, match="remote runs on another scheduler"):
            vrun(main())

        def selective():
            yield remote.recv(match=lambda m: True, timeout=1)
        with pytest.raises(coop.CoopUsageError, match="send\\(\\) and ask\\(\\) work"):
            vrun(selective())
        remote.close()  # send/close from another thread are fine


def test_a_primitive_serves_successive_runs_in_any_thread():
    lock, sem, event, q = coop.Lock(), coop.Semaphore(1), coop.Event(), coop.Queue()
    barrier, cond = coop.Barrier(1), coop.Condition()

    def main():
        with (yield lock.acquire()):
            pass
        with (yield sem.acquire()):
            pass
        with (yield cond.acquire()):
            cond.notify()
        yield q.put(1)
        yield q.get()
        q.task_done()
        yield q.join()
        yield barrier.wait()
        event.set()
        yield event.wait()
        event.clear()
        return "ok"

    assert vrun(main()) == "ok"
    assert vrun(main()) == "ok"
    other = []
    thread = threading.Thread(target=lambda: other.append(vrun(main())))
    thread.start()
    thread.join()
    assert other == ["ok"]
    q.put_nowait(2)  # that scheduler is done with it: free for anyone
    assert q.get_nowait() == 2


# ============================================================ 4. back-pressure


class _Gate(coop.Actor):
    """Receives only once its ``gate`` (a threading.Event) is set."""

    maxsize = 2

    def __init__(self, gate, **kw):
        super().__init__(**kw)
        self.gate = gate
        self.got = []

    def run(self):
        yield coop.to_thread(self.gate.wait)
        while True:
            self.got.append((yield self.recv()))


def test_a_thread_sending_to_a_full_bounded_mailbox_waits_then_times_out():
    gate = threading.Event()
    outcome = []

    def sender(actor):
        actor.send(1)
        actor.send(2)
        outcome.append(actor.try_send(3))
        try:
            actor.send(3, timeout=0.05)
        except stdlib_queue.Full as err:
            outcome.append(type(err).__name__ + ": " + str(err))
        gate.set()
        actor.send(4)  # blocks until the actor has made room
        outcome.append("sent 4")

    def main():
        actor = _Gate(gate, name="slow").start()
        yield coop.to_thread(sender, actor)
        for _ in range(10):
            yield
        actor.close()
        yield actor.join()
        return actor.got

    got = coop.run(main())
    assert got == [1, 2, 4]
    assert outcome == [False, "QueueFull: slow's mailbox stayed full (2 messages) for "
                              "0.05 s; 3 was not sent", "sent 4"]


def test_a_thread_blocked_on_a_full_mailbox_gets_actorstopped_when_the_actor_ends():
    gate = threading.Event()
    blocked = threading.Event()
    outcome = []

    class Stuck(coop.Actor):
        maxsize = 1

        def run(self):
            yield coop.to_thread(gate.wait)

    def sender(actor):
        actor.send(1)
        blocked.set()
        try:
            actor.send(2)
        except coop.ActorStopped as err:
            outcome.append(str(err))

    def main():
        actor = Stuck(name="stuck").start()
        thread = threading.Thread(target=sender, args=(actor,))
        thread.start()
        yield coop.to_thread(blocked.wait)
        gate.set()  # the actor ends without receiving
        yield actor.join()
        yield coop.to_thread(thread.join)

    coop.run(main())
    assert outcome == ["stuck has ended: it takes no more messages"]


def test_bounded_mailbox_send_in_the_scheduler_thread_keeps_its_semantics():
    class Sink(coop.Actor):
        maxsize = 1

        def run(self):
            yield coop.sleep(1)
            while True:
                yield self.recv()

    def main():
        sink = Sink().start()
        for i in range(5):
            sink.send(i)  # never blocks here; over the bound they wait in line
        assert sink.queued == 5 and not sink.try_send(5)
        yield sink.send(5)
        sink.close()
        yield sink.join()

    vrun(main())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(senders=st.integers(1, 4), per_sender=st.integers(1, 60), maxsize=st.integers(1, 4),
       pauses=st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_property_thread_senders_to_a_bounded_mailbox_lose_nothing_in_order(
        senders, per_sender, maxsize, pauses):
    got = []
    peak = [0]

    class Sink(coop.Actor):
        def run(self):
            n = 0
            while True:
                peak[0] = max(peak[0], len(self._mb.queue))
                got.append((yield self.recv()))
                for _ in range(pauses[n % len(pauses)]):
                    yield
                n += 1

    def produce(actor, k):
        for i in range(per_sender):
            if i % 3 == 2:
                while not actor.try_send((k, i)):
                    time.sleep(0.0005)
            else:
                actor.send((k, i), timeout=None if i % 2 else 30)

    def main():
        actor = Sink(maxsize=maxsize).start()
        threads = [threading.Thread(target=produce, args=(actor, k)) for k in range(senders)]
        for thread in threads:
            thread.start()
        yield coop.to_thread(lambda: [thread.join() for thread in threads])
        actor.close()
        yield actor.join()

    coop.run(main())
    assert sorted(got) == sorted((k, i) for k in range(senders) for i in range(per_sender))
    for k in range(senders):
        assert [i for kk, i in got if kk == k] == list(range(per_sender))
    assert peak[0] <= maxsize


# ============================================================ 5. daemons


@pytest.mark.parametrize("wait", [
    lambda: coop.race(coop.sleep(1000), coop.sleep(2000)),
    lambda: coop.gather(coop.sleep(1000), coop.sleep(2000)),
    lambda: coop.timeout(5000, _nap(1000)),
], ids=["race", "gather", "timeout"])
def test_a_daemon_waiting_in_a_structured_wait_does_not_keep_run_going(wait):
    def watcher():
        yield wait()

    def main():
        yield coop.spawn(watcher(), daemon=True)
        yield coop.sleep(1)
        return (yield coop.now())

    clock = coop.VirtualClock()
    assert coop.run(main(), clock=clock) == 1.0
    assert clock.now() == 1.0


def _nap(seconds):
    yield coop.sleep(seconds)


def test_the_helpers_of_a_daemon_are_daemons_and_of_others_not():
    seen = {}

    def probe(label):
        me = yield coop.current_task()
        seen[label] = me.daemon

    def parent(label):
        yield coop.gather(probe(label))

    def main():
        yield coop.spawn(parent("daemon"), daemon=True)
        yield coop.join((yield coop.spawn(parent("plain"))))
        yield coop.sleep(1)

    vrun(main())
    assert seen == {"daemon": True, "plain": False}


# ============================================================ 6. hand-over


def test_race_over_an_acquire_gives_the_lock_to_the_caller():
    counter = coop.Lock(name="counter")
    sold_out = coop.Event(name="sold out")

    def main():
        idx, held = yield coop.race(counter.acquire(), sold_out.wait())
        me = yield coop.current_task()
        owner = counter.statistics().holder
        with held:
            pass
        return idx, owner is me, counter.locked()

    assert vrun(main()) == (0, True, False)


@pytest.mark.parametrize("spelling", ["yield", "yield from", "async"])
def test_gather_and_race_hand_over_every_acquire_like_result(spelling):
    lock, sem, cond = coop.Lock(), coop.BoundedSemaphore(2), coop.Condition()
    q = coop.Queue()
    q.put_nowait("item")

    def body(me):
        held = yield coop.gather(lock.acquire(), sem.acquire(), cond.acquire(), q.get())
        assert lock.statistics().holder is me and cond.lock.statistics().holder is me
        assert sem.statistics().holders == (me,)
        with held[0], held[1], held[2]:
            pass
        index, inner = yield coop.race(coop.race(lock.acquire(), coop.sleep(5)),
                                       coop.sleep(10))
        assert index == 0 and inner[0] == 0 and lock.statistics().holder is me
        lock.release()
        held = yield coop.timeout(5, coop.gather(sem.acquire()))
        assert sem.statistics().holders == (me,)
        sem.release()
        return held[0] is not None

    def gen():
        me = yield coop.current_task()
        return (yield from body(me))

    def gen_from():
        me = yield from coop.current_task()
        return (yield from body(me))

    async def coro():
        me = await coop.current_task()
        held = await coop.race(lock.acquire(), coop.sleep(1))
        assert lock.statistics().holder is me
        with held[1]:
            pass
        return True

    main = {"yield": gen, "yield from": gen_from, "async": coro}[spelling]
    assert vrun(main()) is True
    assert not lock.locked() and not cond.locked() and sem.value == 2


def test_a_gather_that_fails_gives_back_what_its_other_children_acquired():
    lock, sem, q = coop.Lock(), coop.Semaphore(1), coop.Queue()
    q.put_nowait("first")
    q.put_nowait("second")

    def fails():
        yield
        yield
        raise ValueError("boom")

    def main():
        with pytest.raises(ValueError):
            yield coop.gather(lock.acquire(), sem.acquire(), q.get(), fails())
        return lock.locked(), sem.value, q.get_nowait()

    assert vrun(main()) == (False, 1, "first")


def test_a_caller_cancelled_after_its_gather_finished_keeps_nothing():
    lock = coop.Lock()
    log = []

    def worker():
        try:
            yield coop.gather(lock.acquire())
        except coop.Cancelled:
            log.append("cancelled")
            raise

    def main():
        task = yield coop.spawn(worker())
        yield  # worker parks on its gather; its child runs next
        yield  # the child took the lock: worker is woken, not yet run
        yield coop.cancel(task)
        return lock.locked()

    assert vrun(main()) is False


def test_a_message_received_for_a_gather_that_failed_goes_back_to_the_front():
    def boom():
        yield
        raise ValueError("boom")

    class Picky(coop.Actor):
        def run(self):
            try:
                yield coop.gather(self.recv(), boom())
            except ValueError:
                pass
            first = yield coop.race(self.recv(match=lambda m: m == "b"), coop.sleep(1))
            rest = []
            for _ in range(2):
                rest.append((yield self.recv()))
            return first, rest

    def main():
        p = Picky().start()
        for msg in "abc":
            p.send(msg)
        return (yield p.join())

    assert vrun(main()) == ((0, "b"), ["a", "c"])


_OPS = st.sampled_from(["race", "gather", "gather-sem", "timeout", "race-twice", "nested",
                        "gather-fail", "race-get", "plain"])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       plans=st.lists(st.lists(st.tuples(_OPS, st.integers(0, 3)), min_size=1, max_size=6),
                      min_size=2, max_size=5),
       cancels=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), max_size=3))
def test_property_random_races_and_gathers_of_acquires_never_lose_the_lock(seed, plans,
                                                                         cancels):
    lock, sem = coop.Lock(name="L"), coop.Semaphore(2, name="S")
    q = coop.Queue(name="Q")
    for n in range(3):
        q.put_nowait(n)
    inside = [0]
    peak = [0]
    taken = []

    def critical(me):
        assert lock.statistics().holder is me
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        try:
            yield coop.sleep(0.5)
        finally:
            inside[0] -= 1

    def fails_after(d):
        yield coop.sleep(d)
        raise KeyError("planned")

    def worker(plan):
        me = yield coop.current_task()
        for op, d in plan:
            held = None
            if op == "race":
                index, value = yield coop.race(lock.acquire(), coop.sleep(d))
                held = value if index == 0 else None
            elif op == "race-twice":
                _, held = yield coop.race(lock.acquire(), lock.acquire())
            elif op == "gather":
                held, _ = yield coop.gather(lock.acquire(), coop.sleep(d))
            elif op == "gather-sem":
                # Not with the lock: waiting for both in any order could deadlock for real.
                unit, _ = yield coop.gather(sem.acquire(), coop.sleep(d))
                with unit:
                    yield coop.sleep(d)
            elif op == "timeout":
                try:
                    held = yield coop.timeout(d, lock.acquire())
                except coop.Timeout:
                    pass
            elif op == "nested":
                index, value = yield coop.race(
                    coop.race(lock.acquire(), coop.sleep(d + 1)), coop.sleep(d))
                if index == 0 and value[0] == 0:
                    held = value[1]
            elif op == "gather-fail":
                try:
                    yield coop.gather(lock.acquire(), sem.acquire(), fails_after(d))
                except KeyError:
                    pass
            elif op == "race-get":
                index, value = yield coop.race(q.get(), coop.sleep(d))
                if index == 0:
                    taken.append(value)
                    yield coop.sleep(d)
                    yield q.put(taken.pop())
            else:
                held = yield lock.acquire()
            if held is not None:
                with held:
                    yield from critical(me)
            else:
                assert lock.statistics().holder is not me

    def main():
        tasks = []
        for plan in plans:
            tasks.append((yield coop.spawn(worker(plan))))
        for who, when in cancels:
            yield coop.sleep(when * 0.25)
            yield coop.cancel(tasks[who % len(tasks)])
        for task in tasks:
            try:
                yield coop.join(task)
            except coop.Cancelled:
                pass

    coop.run(main(), clock=coop.VirtualClock(), policy=coop.RandomPolicy(seed))
    assert peak[0] <= 1
    assert not lock.locked() and lock.statistics().waiting == 0
    assert sem.value == 2 and sem.statistics().holders == ()
    assert sorted([q.get_nowait() for _ in range(q.qsize())] + taken) == [0, 1, 2]


# ============================================================ 7. messages


_ACQUIRERS = {
    "Lock": (coop.Lock, "lock"),
    "Semaphore": (coop.Semaphore, "semaphore"),
    "BoundedSemaphore": (coop.BoundedSemaphore, "semaphore"),
    "Condition": (coop.Condition, "lock"),
}


@pytest.mark.parametrize("kind", list(_ACQUIRERS))
def test_with_acquire_without_yield_says_how_to_spell_it(kind):
    make, shown = _ACQUIRERS[kind]
    primitive = make()

    def main():
        with primitive.acquire():
            pass
        yield

    with pytest.raises(coop.CoopUsageError) as info:
        vrun(main())
    message = str(info.value)
    assert f"`with {shown}.acquire():` is missing its yield" in message
    assert f"`with (yield {shown}.acquire()):`" in message
    assert f"`async with {shown}:`" in message
    assert "context manager protocol" not in message


@pytest.mark.parametrize("kind", list(_ACQUIRERS))
def test_async_with_acquire_without_await_says_how_to_spell_it(kind):
    make, shown = _ACQUIRERS[kind]
    primitive = make()

    async def main():
        async with primitive.acquire():
            pass

    with pytest.raises(coop.CoopUsageError, match=f"`async with {shown}:`"):
        vrun(main())
    assert not primitive.locked()
    # And the right spellings work.

    async def right():
        async with primitive:
            return primitive.locked()

    assert vrun(right()) is True
    assert asyncio  # (asyncio itself is not involved: coop runs the coroutine)
