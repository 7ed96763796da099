"""Container, PriorityResource, PreemptiveResource: SimPy's resources for simulations. Rules,
bad input, timeouts, cancellation, both spellings, and hypothesis properties."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop
from coop import lowlevel
from coop.sync import ContainerStatistics


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def spawn_all(gens):
    tasks = []
    for gen in gens:
        tasks.append((yield coop.spawn(gen)))
    return tasks


# =========================================================================== Container


def test_container_put_and_get_wait_for_room_and_for_enough_and_a_stuck_put_is_reported():
    tank = coop.Container(capacity=10, init=0, name="tank")
    log = []

    def getter():
        got = yield tank.get(6)
        log.append(("got", got, coop.current_time()))

    def putter(amount, at):
        yield coop.sleep(at)
        yield tank.put(amount)
        log.append(("put", amount, coop.current_time()))

    def main():
        tasks = yield from spawn_all([getter(), putter(4, 1), putter(4, 2), putter(9, 3)])
        for task in tasks:
            yield coop.join(task)
        return tank.level

    # 4 and 4 make 8 at t=2, and the getter takes 6; 2 + 9 never fits: nothing can wake it.
    # until=, not a Deadlock: with another test's OS thread still alive, the kernel waits to
    # see whether that thread wakes someone before it calls a stuck program a deadlock.
    with pytest.raises(coop.Timeout, match=r"room in tank \(level 2 of 10\)"):
        vrun(main(), until=50)
    assert log == [("put", 4, 1.0), ("put", 4, 2.0), ("got", 6, 2.0)]


def test_container_async_spelling():
    tank = coop.Container(100, init=50)

    async def car():
        got = await tank.get(30)
        await tank.put(5)
        return got, tank.level

    assert vrun(car()) == (30, 25)


def test_container_defaults_are_unbounded_and_empty():
    c = coop.Container()
    assert (c.capacity, c.level) == (math.inf, 0)

    def main():
        yield c.put(1e12)
        yield c.put(2.5)
        return (yield c.get(0.5)), c.level

    assert vrun(main()) == (0.5, 1e12 + 2.0)


def test_a_big_get_at_the_head_is_not_overtaken_by_a_small_one_behind_it():
    c = coop.Container(100, init=10)
    order = []

    def getter(amount):
        yield c.get(amount)
        order.append(amount)

    def main():
        yield from spawn_all([getter(50), getter(5)])
        yield coop.sleep(1)
        stuck = c.statistics()
        yield c.put(45)                 # 55: the 50 goes, then the 5
        yield coop.sleep(1)
        return stuck

    stuck = vrun(main())
    assert stuck.getters_waiting == (50, 5)   # the 5 waited although 10 were there
    assert order == [50, 5]
    assert c.level == 0


def test_a_big_put_at_the_head_is_not_overtaken_either():
    c = coop.Container(10, init=8)
    order = []

    def putter(amount):
        yield c.put(amount)
        order.append(amount)

    def main():
        yield from spawn_all([putter(5), putter(1)])
        yield coop.sleep(1)
        assert c.statistics().putters_waiting == (5, 1)
        yield c.get(4)                  # 4 left: the 5 fits, then the 1
        yield coop.sleep(1)
        return c.level

    assert vrun(main()) == 10
    assert order == [5, 1]


def test_a_head_that_leaves_lets_the_ones_behind_it_be_served():
    c = coop.Container(100, init=10)
    got = []

    def getter(amount):
        yield c.get(amount)
        got.append(amount)

    def main():
        big, _small = yield from spawn_all([getter(50), getter(5)])
        yield coop.sleep(1)
        assert got == []
        yield coop.cancel(big)
        yield coop.sleep(0)
        return c.level

    assert vrun(main()) == 5
    assert got == [5]


@pytest.mark.parametrize("kind", ["put", "get"])
def test_a_timed_out_waiter_adds_or_takes_nothing(kind):
    c = coop.Container(10, init=5, name="c")

    def main():
        op = c.put(6, timeout=2) if kind == "put" else c.get(6, timeout=2)
        with pytest.raises(coop.Timeout, match="after 2 s waiting for"):
            yield op
        return coop.current_time(), c.level, c.statistics()

    now, level, stats = vrun(main())
    assert (now, level) == (2.0, 5)
    assert stats.putters_waiting == stats.getters_waiting == ()


def test_timeout_zero_tries_once():
    c = coop.Container(10, init=5)

    def main():
        yield c.get(5, timeout=0)       # there: taken at once
        with pytest.raises(coop.Timeout, match="at once"):
            yield c.get(1, timeout=0)
        return c.level

    assert vrun(main()) == 0


def test_a_cancelled_waiter_adds_or_takes_nothing():
    c = coop.Container(10, init=5)

    def main():
        putter = yield coop.spawn(c.put(6).__iter__())
        getter = yield coop.spawn(c.get(6).__iter__())
        yield coop.sleep(1)
        yield coop.cancel(putter)
        yield coop.cancel(getter)
        return c.level, c.statistics()

    level, stats = vrun(main())
    assert level == 5
    assert stats.putters_waiting == stats.getters_waiting == ()


def test_a_getter_cancelled_after_it_was_served_gives_its_amount_back():
    c = coop.Container(10, init=0)

    def getter():
        yield c.get(4)
        raise AssertionError("never resumes")

    def main():
        task = yield coop.spawn(getter())
        yield coop.sleep(1)
        yield c.put(4)                  # hands 4 to the getter, which has not run yet
        assert c.level == 0
        yield coop.cancel(task, wait=False)
        return c.level

    assert vrun(main()) == 4


def test_an_amount_given_back_to_a_refilled_container_waits_ahead_of_the_putters():
    c = coop.Container(10, init=0)
    done = []

    def getter():
        yield c.get(5)

    def putter(amount):
        yield c.put(amount)
        done.append(amount)

    def main():
        task = yield coop.spawn(getter())
        yield coop.sleep(1)
        yield c.put(10)                 # the getter is handed 5: level 5
        yield c.put(5)                  # full again, before the getter ran
        yield coop.cancel(task, wait=False)
        back = c.statistics()
        late = yield coop.spawn(putter(1))
        yield coop.sleep(1)
        assert c.statistics().putters_waiting == (1,)
        yield c.get(3)                  # 3 of room: the 5 held back goes in first
        mid = c.statistics()
        yield c.get(3)
        yield coop.join(late)
        return back, mid

    back, mid = vrun(main())
    assert (back.level, back.held_back) == (10, 5)
    assert (mid.level, mid.held_back, mid.putters_waiting) == (10, 2, (1,))
    assert done == [1]
    # 10 + 10 + 5 put by main... level = everything put minus what was kept
    assert c.level == 10 and c.statistics().held_back == 0


def test_a_get_that_loses_a_race_gives_its_amount_back():
    c = coop.Container(10, init=6)

    def main():
        # Both children get 3 in the same round; the first wins, the other's 3 goes back.
        winner = yield coop.race(c.get(3), c.get(3))
        return winner, c.level

    assert vrun(main()) == ((0, 3), 3)


def test_container_statistics_and_repr():
    c = coop.Container(10, init=2, name="silo")

    def main():
        yield coop.spawn(c.get(5).__iter__(), daemon=True)
        yield coop.sleep(1)
        return c.statistics(), repr(c)

    stats, text = vrun(main())
    assert stats == ContainerStatistics("silo", 2, 10, (), (5,), 0)
    assert text == "<silo level=2/10, 0 putters, 1 getters waiting>"
    with pytest.raises(AttributeError):
        stats.level = 3
    assert repr(c.put(1)) == "silo.put(1)"


@pytest.mark.parametrize(("args", "error", "match"), [
    ((True,), TypeError, r"Container\(capacity\) must be a number .*got True \(bool\)"),
    (("10",), TypeError, r"Container\(capacity\) must be a number"),
    ((math.nan,), ValueError, r"Container\(capacity\) must be a number, got NaN"),
    ((0,), ValueError, r"Container\(capacity\) must be > 0 \(math.inf for no limit\)"),
    ((-1,), ValueError, r"must be > 0"),
    ((10, -1), ValueError, r"Container\(init\) must be finite and between 0 and the capacity"),
    ((10, 11), ValueError, r"between 0 and the capacity 10, got 11"),
    ((10, math.nan), ValueError, r"Container\(init\) must be a number, got NaN"),
    ((math.inf, math.inf), ValueError, r"Container\(init\) must be finite"),
    ((10, False), TypeError, r"Container\(init\) must be a number"),
])
def test_container_refuses_bad_construction(args, error, match):
    with pytest.raises(error, match=match):
        coop.Container(*args)


@pytest.mark.parametrize("op", ["put", "get"])
@pytest.mark.parametrize(("amount", "error", "match"), [
    (True, TypeError, r"c\.{op}\(amount\) must be a number .*got True \(bool\)"),
    ("5", TypeError, r"must be a number \(an int or a float\), got '5' \(str\)"),
    (None, TypeError, r"must be a number"),
    (math.nan, ValueError, r"must be a number, got NaN"),
    (0, ValueError, r"c\.{op}\(amount\) must be positive and finite, got 0"),
    (-2.5, ValueError, r"must be positive and finite, got -2.5"),
    (math.inf, ValueError, r"must be positive and finite, got inf"),
    (11, ValueError, r"c\.{op}\(amount\) is 11, above c's capacity 10: it could never be"),
])
def test_container_refuses_bad_amounts_at_the_call(op, amount, error, match):
    c = coop.Container(10, name="c")
    with pytest.raises(error, match=match.format(op=op)):
        getattr(c, op)(amount)


def test_container_refuses_a_bad_timeout_and_name():
    c = coop.Container(10, name="c")
    with pytest.raises((TypeError, ValueError), match=r"c\.put"):
        c.put(1, timeout=-1)
    with pytest.raises((TypeError, ValueError), match=r"c\.get"):
        c.get(1, timeout="soon")
    with pytest.raises(TypeError, match=r"Container\(name=...\) takes a str"):
        coop.Container(name=3)


class _Served:
    """Records, in order, each worker woken with a value (served) while it waited."""

    def __init__(self, workers, arrived, served):
        self.workers, self.arrived, self.served = workers, arrived, served

    def task_woken(self, task, value):
        i = self.workers.get(task)
        # Only once it asked: before that it is woken from its sleep.
        if i in self.arrived and not isinstance(value, lowlevel.Throw) \
                and i not in self.served:
            self.served.append(self.workers[task])


class _LevelWatch:
    def __init__(self, c):
        self.c, self.bad = c, []

    def before_step(self, task):
        s = self.c.statistics()
        if not 0 <= s.level <= s.capacity or (s.held_back and s.level != s.capacity):
            self.bad.append(s)


_op = st.tuples(st.sampled_from(["put", "get"]), st.integers(1, 6), st.integers(0, 8),
                st.one_of(st.none(), st.integers(0, 4)), st.one_of(st.none(), st.integers(0, 8)))


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(6, 12), init=st.integers(0, 6), ops=st.lists(_op, max_size=14))
def test_container_property_level_bounds_accounting_and_fifo(capacity, init, ops):
    """Random programs of puts, gets, timeouts and cancels: the level stays in [0, capacity],
    equals init + done puts - done gets, and each line is served in arrival order."""
    c = coop.Container(capacity, init)
    arrived, served, got, left = [], [], [], set()
    workers = {}
    watch = _LevelWatch(c)

    def worker(i, kind, amount, start, timeout):
        yield coop.sleep(start)
        arrived.append(i)
        op = (c.put if kind == "put" else c.get)(
            amount, timeout=None if timeout is None else timeout + 0.5)
        try:
            value = yield op
        except coop.Timeout:
            left.add(i)
            return
        if i not in served:
            served.append(i)            # done at once, never parked
        if kind == "get":
            assert value == amount
            got.append(i)

    def canceller(task, i, kind, at):
        yield coop.sleep(at + 0.25)
        # Woken with its amount and not run yet: a putter has put it; a getter gives it back.
        if i in arrived and task.state == coop.TaskState.READY and kind == "get" \
                and i in served:
            served.remove(i)
        if i in arrived and i not in served:
            left.add(i)
        yield coop.cancel(task, wait=False)

    def main():
        lowlevel.add_instrument(_Served(workers, arrived, served))
        lowlevel.add_instrument(watch)
        for i, (kind, amount, start, timeout, cancel_at) in enumerate(ops):
            task = yield coop.spawn(worker(i, kind, amount, start, timeout), daemon=True)
            workers[task] = i
            if cancel_at is not None:
                yield coop.spawn(canceller(task, i, kind, cancel_at), daemon=True)
        yield coop.sleep(20)
        # A snapshot: the cancellation of the daemons at the end serves some more.
        return c.statistics(), list(served), list(got), set(left)

    stats, served, got, left = vrun(main())
    assert watch.bad == []
    puts = sum(ops[i][1] for i in served if ops[i][0] == "put")
    gets = sum(ops[i][1] for i in got)
    assert stats.level + stats.held_back == init + puts - gets
    for kind in ("put", "get"):
        order = [arrived.index(i) for i in served if ops[i][0] == kind]
        assert order == sorted(order), (kind, served, arrived)
        # Nobody still waiting was overtaken by a later arrival.
        waiting = [arrived.index(i) for i in arrived
                   if ops[i][0] == kind and i not in served and i not in left]
        if waiting and order:
            assert min(waiting) > max(order)


# =========================================================================== PriorityResource


def test_priority_resource_serves_lower_numbers_first_and_fifo_among_equals():
    res = coop.PriorityResource(name="desk")
    order = []

    def user(name, priority):
        with (yield res.acquire(priority=priority)) as use:
            order.append((name, use.priority, use.usage_since))
            yield coop.sleep(1)

    def main():
        yield coop.spawn(user("first", 9))
        yield coop.sleep(0.5)
        for name, priority in [("a", 2), ("b", 1), ("c", 2), ("d", 1), ("e", 0)]:
            yield coop.spawn(user(name, priority))
        yield coop.sleep(0.1)
        stats = res.statistics()
        yield coop.sleep(10)
        return stats

    stats = vrun(main())
    assert stats.waiting == (0, 1, 1, 2, 2)
    assert (stats.count, stats.capacity, [t.name for t in stats.holders]) == (1, 1, ["user-2"])
    assert order == [("first", 9, 0), ("e", 0, 1), ("b", 1, 2), ("d", 1, 3), ("a", 2, 4),
                     ("c", 2, 5)]
    assert res.count == 0


def test_priority_resource_async_spellings():
    res = coop.PriorityResource(2)

    async def main():
        async with res.acquire(priority=3) as use:
            inner = res.count, use.priority
            async with res:
                both = res.count
            after_inner = res.count
        return inner, both, after_inner, res.count

    assert vrun(main()) == ((1, 3), 2, 1, 0)


@pytest.mark.parametrize("how", ["return", "raise", "cancel"])
def test_priority_resource_is_released_on_every_way_out(how):
    res = coop.PriorityResource()

    def holder():
        with (yield res.acquire()):
            if how == "raise":
                raise KeyError("boom")
            if how == "return":
                return "left"
            yield coop.sleep(100)
        return None

    def main():
        task = yield coop.spawn(holder())
        yield coop.sleep(1)
        if how == "cancel":
            yield coop.cancel(task)
        else:
            try:
                yield coop.join(task)
            except KeyError:
                pass
        with (yield res.acquire(timeout=0)):
            return res.count

    assert vrun(main()) == 1


def test_priority_resource_timeout_leaves_the_line_and_takes_nothing():
    res = coop.PriorityResource(name="desk")

    def holder():
        with (yield res.acquire()):
            yield coop.sleep(5)

    def main():
        yield coop.spawn(holder())
        yield coop.sleep(0)
        with pytest.raises(coop.Timeout, match=r"after 2 s waiting for desk \(1 of 1 in use, "
                                               r"held by holder-\d+\)"):
            yield res.acquire(priority=-5, timeout=2)
        stats = res.statistics()
        with (yield res.acquire()) as use:
            return stats.waiting, use.usage_since

    assert vrun(main()) == ((), 5.0)


def test_a_unit_handed_to_a_waiter_cancelled_before_it_runs_goes_to_the_next():
    res = coop.PriorityResource()
    got = []

    def user(name):
        with (yield res.acquire()):
            got.append(name)

    def main():
        with (yield res.acquire()):
            first = yield coop.spawn(user("first"))
            yield coop.spawn(user("second"))
            yield coop.sleep(1)
        yield coop.cancel(first, wait=False)     # woken with the unit, has not run
        yield coop.sleep(1)
        return res.count

    assert vrun(main()) == 0
    assert got == ["second"]


def test_a_deadlock_through_a_priority_resource_names_the_holder():
    res = coop.PriorityResource(name="crane")

    def other(parent):
        with (yield res.acquire()):
            pass

    def main():
        with (yield res.acquire()):
            yield coop.join((yield coop.spawn(other(None), name="loader")))

    with pytest.raises(coop.Deadlock, match="wait-for cycle") as info:
        vrun(main())
    assert "loader waits for crane (1 of 1 in use, held by main)" in str(info.value)


def test_only_the_holder_gives_a_unit_back():
    res = coop.PriorityResource(name="desk")

    def main():
        use = yield res.acquire()
        thief = yield coop.spawn(_release(use))
        with pytest.raises(coop.CoopUsageError, match=r"held by 'main' was released by "
                                                      r"'_release-\d+'; only its holder"):
            yield coop.join(thief)
        use.release()
        use.release()                            # given back already: nothing
        return res.count, repr(use).endswith("given back>")

    assert vrun(main()) == (0, True)


def _release(use):
    use.release()
    yield


def test_an_acquire_in_a_race_hands_its_unit_to_the_waiting_task():
    res = coop.PriorityResource()

    def main():
        index, use = yield coop.race(res.acquire(priority=1), coop.sleep(5))
        with use:
            held = res.statistics().holders
        return index, [t.name for t in held], res.count

    assert vrun(main()) == (0, ["main"], 0)


def test_priority_resource_spelling_mistakes_are_refused():
    res = coop.PriorityResource()

    def forgot_yield():
        with res.acquire():
            yield

    def plain_with():
        with res:
            yield

    for body in (forgot_yield, plain_with):
        with pytest.raises(coop.CoopUsageError, match="missing its yield"):
            vrun(body())


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: coop.PriorityResource(0), ValueError, r"PriorityResource\(capacity\) must be >= 1"),
    (lambda: coop.PriorityResource(True), TypeError, r"capacity\) must be an int"),
    (lambda: coop.PriorityResource(1.5), TypeError, r"capacity\) must be an int"),
    (lambda: coop.PriorityResource(name=1), TypeError, r"takes a str"),
    (lambda: coop.PriorityResource(name="r").acquire(priority=True), TypeError,
     r"r\.acquire\(priority\) must be a number .*got True \(bool\)"),
    (lambda: coop.PriorityResource(name="r").acquire(priority="high"), TypeError,
     r"must be a number \(an int or a float; lower is served first\), got 'high'"),
    (lambda: coop.PriorityResource(name="r").acquire(priority=math.nan), ValueError,
     r"r\.acquire\(priority\) must be a number, got NaN"),
    (lambda: coop.PriorityResource(name="r").acquire(timeout=-1), ValueError, r"r\.acquire"),
    (lambda: coop.PreemptiveResource(name="p").acquire(preempt=1), TypeError,
     r"p\.acquire\(preempt\) must be True or False, got 1"),
    (lambda: coop.PreemptiveResource(-1), ValueError, r"PreemptiveResource\(capacity\)"),
])
def test_resources_refuse_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


@settings(max_examples=100, deadline=None)
@given(capacity=st.integers(1, 3),
       users=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(1, 3)),
                      min_size=1, max_size=12))
def test_priority_resource_property_best_waiter_first_and_never_over_capacity(capacity, users):
    """Random arrivals: never more than capacity units in use, and a unit that comes free
    goes to the waiter with the lowest (priority, arrival)."""
    res = coop.PriorityResource(capacity)
    waiting, bad = {}, []
    arrivals = iter(range(10**6))

    def user(priority, start, hold):
        yield coop.sleep(start)
        me = (priority, next(arrivals))
        if res.count == capacity:
            waiting[me] = True
        with (yield res.acquire(priority=priority)):
            if me in waiting:
                if me != min(waiting):
                    bad.append((me, sorted(waiting)))
                del waiting[me]
            if res.count > capacity:
                bad.append(("over", res.count))
            yield coop.sleep(hold)

    def main():
        for args in users:
            yield coop.spawn(user(*args))

    vrun(main())
    assert bad == []
    assert res.count == 0


# =========================================================================== PreemptiveResource


def test_preemption_takes_the_unit_of_the_worst_holder_that_asked_last():
    res = coop.PreemptiveResource(3, name="crew")
    log = []

    def holder(name, priority):
        try:
            with (yield res.acquire(priority=priority)):
                yield coop.sleep(100)
        except coop.Preempted as err:
            log.append((name, err.by.name, err.usage_since, coop.current_time()))

    def main():
        yield coop.spawn(holder("good", 2), name="good")
        yield coop.spawn(holder("bad-early", 5), name="bad-early")
        yield coop.sleep(1)
        yield coop.spawn(holder("bad-late", 5), name="bad-late")
        yield coop.sleep(1)
        with (yield res.acquire(priority=1)) as use:
            yield coop.sleep(0)
            return [t.name for t in res.statistics().holders], use.usage_since, res.count

    holders, since, count = vrun(main())
    assert log == [("bad-late", "main", 1.0, 2.0)]
    assert holders == ["good", "bad-early", "main"]
    assert (since, count) == (2.0, 3)


def test_a_preempted_holder_gives_nothing_back_and_can_acquire_again():
    res = coop.PreemptiveResource(name="repairman")
    log = []

    def other_job():
        left = 10.0
        while left:
            with (yield res.acquire(priority=2)):
                start = coop.current_time()
                try:
                    yield coop.sleep(left)
                    left = 0
                except coop.Preempted as err:
                    left -= coop.current_time() - start
                    log.append(f"t={coop.current_time():g} job preempted by {err.by.name} "
                               f"(since {err.usage_since:g}), count {res.count}")
        log.append(f"t={coop.current_time():g} job done")

    def repair(at):
        yield coop.sleep(at)
        with (yield res.acquire(priority=1)):
            log.append(f"t={coop.current_time():g} repair starts, count {res.count}")
            yield coop.sleep(3)

    def main():
        yield coop.spawn(other_job())
        yield coop.spawn(repair(2), name="repair-a")
        yield coop.spawn(repair(4), name="repair-b")   # waits for repair-a: same priority

    vrun(main())
    # The repair has the unit at once, before the job even sees its Preempted; at t=5 the
    # second repair (priority 1) goes before the job waiting again (priority 2).
    assert log == [
        "t=2 repair starts, count 1",
        "t=2 job preempted by repair-a (since 0), count 1",
        "t=5 repair starts, count 1",
        "t=16 job done",
    ]
    assert res.count == 0


def test_no_preemption_with_preempt_false_an_equal_priority_or_a_better_waiter_ahead():
    res = coop.PreemptiveResource()
    preempted = []

    def holder():
        try:
            with (yield res.acquire(priority=5)):
                yield coop.sleep(10)
        except coop.Preempted:
            preempted.append(coop.current_time())

    def asker(priority, preempt, at):
        yield coop.sleep(at)
        with (yield res.acquire(priority=priority, preempt=preempt)):
            yield coop.sleep(1)

    def main():
        yield coop.spawn(holder())
        yield coop.spawn(asker(1, False, 1))       # better, but does not preempt: waits
        yield coop.spawn(asker(3, True, 2))        # would preempt, but the 1 waits ahead
        yield coop.spawn(asker(5, True, 3))        # equal to the holder: waits
        yield coop.sleep(4)
        return res.statistics().waiting

    assert vrun(main()) == (1, 3, 5)
    assert preempted == []


def test_a_task_never_preempts_itself():
    res = coop.PreemptiveResource()

    def main():
        with (yield res.acquire(priority=5)):
            with pytest.raises(coop.Timeout):
                yield res.acquire(priority=1, timeout=1)
            return res.count

    assert vrun(main()) == 1


def test_preempting_a_holder_woken_with_the_unit_before_it_ran():
    res = coop.PreemptiveResource()
    log = []

    def low():
        try:
            yield res.acquire(priority=5)
            log.append("low got it")
        except coop.Preempted as err:
            log.append(f"low preempted, since {err.usage_since:g}")

    def main():
        first = yield res.acquire(priority=0)
        yield coop.spawn(low())
        yield coop.sleep(1)
        first.release()                            # hands the unit to low, which has not run
        with (yield res.acquire(priority=1)):      # in the same step: low is preempted
            log.append(f"main got it again, count {res.count}")
            yield coop.sleep(1)
        return res.count

    assert vrun(main()) == 0
    assert log == ["main got it again, count 1", "low preempted, since 1"]


def test_preemptive_resource_async_spelling():
    res = coop.PreemptiveResource()
    log = []

    async def low():
        try:
            async with res.acquire(priority=2):
                await coop.sleep(10)
        except coop.Preempted as err:
            log.append(("preempted", err.by.name, res.count))

    async def high():
        async with res.acquire(priority=1):
            log.append(("high", res.count))

    async def main():
        await coop.spawn(low())
        await coop.sleep(1)
        await coop.join(await coop.spawn(high(), name="high"))
        return res.count

    assert vrun(main()) == 0
    # high's block has no yield: it is over before low sees its Preempted.
    assert log == [("high", 1), ("preempted", "high", 0)]
