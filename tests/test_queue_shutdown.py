"""Queue.shutdown (asyncio's, Python 3.13): refused puts, gets that drain then end, the
immediate form's dropped items and join() accounting, the two loops that end at shutdown
(``async for`` and ``get_or_end``), gets inside race/gather/timeout, bad input, and a
hypothesis property over random producer/consumer programs."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coop
from coop.sync import END, QueueStatistics

KINDS = [coop.Queue, coop.LifoQueue, coop.PriorityQueue]


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


def spawn_all(gens):
    tasks = []
    for gen in gens:
        tasks.append((yield coop.spawn(gen)))
    return tasks


def outcome(task):
    """What a finished task ended with: its result, or its exception's type."""
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return type(exc) if exc is not None else task.result()


# ============================================================ puts and gets after shutdown


@pytest.mark.parametrize("kind", KINDS)
def test_after_shutdown_puts_are_refused_and_gets_drain_then_raise(kind):
    q = kind(name="q")
    for n in (2, 1, 3):
        q.put_nowait(n)
    q.shutdown()
    with pytest.raises(coop.QueueShutDown, match="q is shut down: it takes no more items"):
        q.put_nowait(4)

    def main():
        try:
            yield q.put(5)
        except coop.QueueShutDown:
            refused = True
        got = [(yield q.get()), q.get_nowait(), (yield q.get())]
        with pytest.raises(coop.QueueShutDown, match="q is shut down and has no item left"):
            yield q.get()
        return refused, got

    refused, got = coop.run(main())
    assert refused
    # The items left come out in the queue's own order, and no refused item is among them.
    assert got == {coop.Queue: [2, 1, 3], coop.LifoQueue: [3, 1, 2],
                   coop.PriorityQueue: [1, 2, 3]}[kind]
    with pytest.raises(coop.QueueShutDown):  # not QueueEmpty: the queue is over
        q.get_nowait()
    assert q.statistics() == QueueStatistics("q", 0, 0, 0, 0, 3, True)


def test_a_full_queue_refuses_puts_at_shutdown_with_queue_shut_down_not_queue_full():
    q = coop.Queue(1)
    q.put_nowait("a")
    q.shutdown()
    with pytest.raises(coop.QueueShutDown):
        q.put_nowait("b")

    def main():
        yield q.put("c", timeout=0)  # would time out at once if it were only full

    with pytest.raises(coop.QueueShutDown):
        coop.run(main())
    assert q.get_nowait() == "a" and q.full() is False


def test_waiting_putters_are_woken_with_queue_shut_down_and_their_items_are_not_put():
    q = coop.Queue(1, name="q")

    def putter(item, timeout):
        yield q.put(item, timeout=timeout)

    def main():
        q.put_nowait("in")
        tasks = yield from spawn_all([putter("x", None), putter("y", 5)])
        yield
        assert q.statistics().putters_waiting == 2
        q.shutdown()
        for task in tasks:
            try:
                yield coop.join(task)
            except coop.QueueShutDown:
                pass
        return [outcome(t) for t in tasks], (yield coop.now())

    outcomes, now = vrun(main())
    assert outcomes == [coop.QueueShutDown, coop.QueueShutDown]
    assert now == 0  # woken by the shutdown, not by the timed putter's deadline
    assert q.statistics() == QueueStatistics("q", 1, 1, 0, 0, 1, True)
    assert q.get_nowait() == "in"


def test_waiting_getters_are_woken_at_shutdown_each_as_its_get_says():
    q = coop.Queue()
    ends = []

    def plain():
        try:
            yield q.get()
        except coop.QueueShutDown as err:
            ends.append(("get", str(err)))

    def timed():
        try:
            yield q.get(timeout=5)
        except coop.QueueShutDown:
            ends.append(("get(timeout)", (yield coop.now())))

    def or_end():
        ends.append(("get_or_end", (yield q.get_or_end())))

    async def looping():
        async for item in q:
            ends.append(("async for got", item))
        ends.append(("async for", "ended"))

    def main():
        tasks = yield from spawn_all([plain(), timed(), or_end(), looping()])
        yield
        assert q.statistics().getters_waiting == 4
        q.shutdown()
        for task in tasks:
            yield coop.join(task)
        return (yield coop.now())

    assert vrun(main()) == 0
    assert ends == [("get", f"{q.name} is shut down and has no item left"),
                    ("get(timeout)", 0), ("get_or_end", END), ("async for", "ended")]
    assert q.statistics().getters_waiting == 0


def test_shutdown_does_not_end_a_get_while_items_are_left():
    q = coop.Queue()
    got = []

    def consumer():
        while (item := (yield q.get_or_end())) is not END:
            got.append(item)
            yield coop.sleep(1)

    def main():
        task = yield coop.spawn(consumer())
        for n in range(3):
            q.put_nowait(n)
        q.shutdown()
        yield coop.join(task)
        return (yield coop.now())

    assert vrun(main()) == 3
    assert got == [0, 1, 2]


def test_items_waiting_outside_a_full_queue_are_still_served_after_shutdown():
    # A given-back item pushes the youngest out of a full queue; it waits outside, is counted
    # as put, and a shutdown must not lose it.
    q = coop.Queue(2)

    def getter():
        yield q.get()

    def main():
        a = yield coop.spawn(getter())
        yield
        for item in ("first", "second", "third"):  # "first" handed to a, which has not run
            q.put_nowait(item)
        yield coop.cancel(a)
        q.shutdown()
        got = []
        while (item := (yield q.get_or_end())) is not END:
            got.append(item)
        return got

    assert coop.run(main()) == ["first", "second", "third"]


def test_shutting_down_twice_is_harmless():
    q = coop.Queue()
    q.put_nowait(1)
    q.shutdown()
    q.shutdown()
    assert q.get_nowait() == 1
    q.shutdown()
    with pytest.raises(coop.QueueShutDown):
        q.get_nowait()
    assert q.statistics().shut_down


# ================================================================= immediate, task_done, join


@pytest.mark.parametrize("kind", KINDS)
def test_immediate_shutdown_drops_the_items_and_counts_them_done(kind):
    q = kind(name="q")
    released = []

    def joiner():
        yield q.join()
        released.append((yield coop.now()))

    def main():
        for n in range(3):
            q.put_nowait(n)
        task = yield coop.spawn(joiner())
        yield coop.sleep(1)
        assert released == []
        q.shutdown(immediate=True)
        with pytest.raises(coop.QueueShutDown):
            yield q.get()
        yield coop.join(task)

    vrun(main())
    assert released == [1]
    assert q.statistics() == QueueStatistics("q", 0, 0, 0, 0, 0, True)
    with pytest.raises(ValueError, match="task_done"):  # the dropped items are done already
        q.task_done()


def test_join_after_immediate_shutdown_still_waits_for_items_taken_before_it():
    q = coop.Queue()
    log = []

    def worker():
        item = yield q.get()
        yield coop.sleep(5)
        log.append(("done", item, (yield coop.now())))
        q.task_done()

    def joiner():
        yield q.join()
        log.append(("joined", (yield coop.now())))

    def main():
        for n in range(3):
            q.put_nowait(n)
        yield coop.spawn(worker())
        yield coop.spawn(joiner())
        yield coop.sleep(1)
        q.shutdown(immediate=True)  # 1 and 2 dropped; 0 is still being worked on
        assert q.statistics().unfinished_tasks == 1

    vrun(main())
    assert log == [("done", 0, 5), ("joined", 5)]


def test_join_is_not_released_by_a_plain_shutdown_while_items_are_left():
    q = coop.Queue()
    log = []

    def joiner():
        yield q.join()
        log.append(("joined", (yield coop.now())))

    def main():
        q.put_nowait("a")
        yield coop.spawn(joiner())
        yield coop.sleep(1)
        q.shutdown()
        yield coop.sleep(1)
        log.append(("taken", q.get_nowait()))
        q.task_done()

    vrun(main())
    assert log == [("taken", "a"), ("joined", 2)]


def test_immediate_after_a_plain_shutdown_drops_what_is_left():
    q = coop.Queue()
    for n in range(3):
        q.put_nowait(n)
    q.shutdown()
    assert q.get_nowait() == 0
    q.shutdown(immediate=True)
    assert q.qsize() == 0 and q.statistics().unfinished_tasks == 1  # 0 is taken, not done
    with pytest.raises(coop.QueueShutDown):
        q.get_nowait()
    q.task_done()
    assert q.statistics().unfinished_tasks == 0


def test_item_of_a_getter_cancelled_before_it_runs_after_shutdown():
    # Plain shutdown: the item is served to the next get. Immediate: it is dropped like the
    # rest, and counted as done, so join() returns.
    def scenario(immediate):
        q = coop.Queue()

        def getter():
            yield q.get()

        def main():
            a = yield coop.spawn(getter())
            yield
            q.put_nowait("x")  # handed to a, which has not run
            q.shutdown(immediate=immediate)
            yield coop.cancel(a)
            stats = q.statistics()
            try:
                left = q.get_nowait()
            except coop.QueueShutDown:
                left = None
            return left, stats.unfinished_tasks

        return coop.run(main())

    assert scenario(False) == ("x", 1)
    assert scenario(True) == (None, 0)


# =================================================================== the loops that end


def test_async_for_ends_at_shutdown_and_a_typed_generator_loop_too():
    q = coop.Queue(1)

    async def async_consumer(out):
        async for item in q:
            out.append(item)
        return "ended"

    def gen_consumer(out):
        while (item := (yield from q.get_or_end())) is not END:
            out.append(item)
        return "ended"

    def main():
        a_got, g_got = [], []
        tasks = yield from spawn_all([async_consumer(a_got), gen_consumer(g_got)])
        for n in range(6):
            yield q.put(n)
        q.shutdown()
        results = []
        for task in tasks:
            results.append((yield coop.join(task)))
        return results, sorted(a_got + g_got), a_got, g_got

    results, everything, a_got, g_got = coop.run(main())
    assert results == ["ended", "ended"]
    assert everything == list(range(6))
    assert a_got and g_got  # both took turns


def test_break_out_of_async_for_leaves_the_rest_in_the_queue():
    q = coop.Queue()

    async def main():
        for n in range(3):
            q.put_nowait(n)
        async for item in q:
            if item == 1:
                break
        return q.qsize(), q.statistics().getters_waiting

    assert coop.run(main()) == (1, 0)


def test_end_is_a_named_singleton():
    assert repr(END) == str(END) == "coop.sync.END"
    assert coop.sync.End.END is END and END is not None
    assert "END" not in coop.__all__  # a bare coop.END would not say whose end it is


def test_a_plain_for_loop_over_a_queue_is_refused_with_the_spellings():
    q = coop.Queue()
    with pytest.raises(coop.CoopUsageError, match="async for item in queue") as caught:
        for _ in q:
            pass
    assert "get_or_end()" in str(caught.value)


def test_get_or_end_times_out_as_get_does():
    q = coop.Queue(name="q")

    def main():
        with pytest.raises(coop.Timeout, match="an item from q"):
            yield q.get_or_end(timeout=2)
        q.put_nowait("a")
        return (yield q.get_or_end(timeout=2)), (yield coop.now())

    assert vrun(main()) == ("a", 2)
    assert repr(q.get_or_end()) == "q.get_or_end()"


# ============================================================= race, gather and timeout


def test_a_get_in_race_gather_or_timeout_raises_queue_shut_down_like_a_bare_get():
    q = coop.Queue()
    caught = []

    def waits(work):
        try:
            yield work
        except coop.QueueShutDown:
            caught.append((yield coop.now()))

    def main():
        tasks = yield from spawn_all([waits(coop.race(q.get(), coop.sleep(5))),
                                      waits(coop.gather(q.get(), coop.sleep(5))),
                                      waits(coop.timeout(5, q.get()))])
        yield coop.sleep(1)
        q.shutdown()
        for task in tasks:
            yield coop.join(task)

    vrun(main())
    assert caught == [1, 1, 1]  # at the shutdown, none at the deadline
    assert q.statistics().getters_waiting == 0


def test_get_or_end_in_race_and_gather_resumes_with_end_and_gives_nothing_back():
    q = coop.Queue()
    q.shutdown()

    def fails():
        raise ValueError("boom")
        yield  # a generator

    def main():
        raced = yield coop.race(q.get_or_end(), coop.sleep(5))
        gathered = yield coop.gather(q.get_or_end(), q.get_or_end())
        # The first child's END is taken, then the gather fails and gives it back: END is no
        # item, so nothing goes into the queue.
        with pytest.raises(ValueError, match="boom"):
            yield coop.gather(q.get_or_end(), fails())
        return raced, gathered

    assert vrun(main()) == ((0, END), [END, END])
    assert q.qsize() == 0
    with pytest.raises(coop.QueueShutDown):
        q.get_nowait()


@pytest.mark.parametrize("immediate", [False, True])
def test_an_item_taken_by_a_failed_gather_goes_back_or_is_dropped(immediate):
    # gather(get, get) with one item: one child takes it, the other meets the shutdown, the
    # gather fails and gives the item back: served later, or dropped if immediate.
    q = coop.Queue()

    def shut_later():
        yield coop.sleep(1)  # the first get has its item, the second waits
        q.shutdown(immediate=immediate)

    def main():
        q.put_nowait("x")
        yield coop.spawn(shut_later())
        with pytest.raises(coop.QueueShutDown):
            yield coop.gather(q.get(), q.get())
        return q.qsize(), q.statistics().unfinished_tasks

    assert vrun(main()) == ((1, 1) if not immediate else (0, 0))
    if not immediate:
        assert q.get_nowait() == "x"


@pytest.mark.parametrize("immediate", [False, True])
def test_a_race_won_by_a_get_whose_caller_is_cancelled_gives_the_item_back_or_drops_it(
        immediate):
    # The race's get wins the item and the race wakes its caller with it; the caller is
    # cancelled before it runs, after a shutdown: the item is served later, or dropped.
    q = coop.Queue()

    def racer():
        return (yield coop.race(q.get(), coop.sleep(5)))

    def main():
        task = yield coop.spawn(racer())
        yield coop.sleep(1)  # the race's get waits
        q.put_nowait("x")
        for _ in range(10):  # until the race has handed "x" to the racer, not yet run
            if task.state is coop.TaskState.READY:
                break
            yield
        assert task.state is coop.TaskState.READY
        q.shutdown(immediate=immediate)
        yield coop.cancel(task)
        return task.cancelled(), q.qsize(), q.statistics().unfinished_tasks

    assert vrun(main()) == ((True, 1, 1) if not immediate else (True, 0, 0))
    if not immediate:
        assert q.get_nowait() == "x"


# ======================================================================== bad input, views


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_shutdown_immediate_must_be_a_bool(bad):
    q = coop.Queue(name="q")
    with pytest.raises(TypeError, match=r"q.shutdown\(immediate\) takes a bool"):
        q.shutdown(bad)
    assert not q.statistics().shut_down


def test_get_or_end_refuses_a_bad_timeout():
    q = coop.Queue(name="q")
    with pytest.raises(ValueError, match=r"q\.get_or_end"):
        q.get_or_end(timeout=-1)
    with pytest.raises(TypeError, match=r"q\.get_or_end"):
        q.get_or_end(timeout="1")


def test_repr_and_statistics_say_shut_down():
    q = coop.Queue(2, name="jobs")
    q.put_nowait("a")
    assert q.statistics().shut_down is False
    q.shutdown()
    assert repr(q) == "<jobs 1/2 items, 0 getters, 0 putters waiting, shut down>"
    assert q.statistics() == QueueStatistics("jobs", 1, 2, 0, 0, 1, True)


def test_queue_shut_down_is_exported_next_to_queue_empty_and_queue_full():
    assert {"QueueEmpty", "QueueFull", "QueueShutDown"} <= set(coop.__all__)
    assert coop.QueueShutDown is coop.sync.QueueShutDown
    assert issubclass(coop.QueueShutDown, Exception)


# ============================================================================ property


STYLES = ["get", "get_or_end", "async", "timed", "timeout", "race", "gather"]


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS),
       maxsize=st.integers(0, 3), per_producer=st.lists(st.integers(0, 6), min_size=1,
                                                        max_size=3),
       styles=st.lists(st.sampled_from(STYLES), min_size=1, max_size=4),
       shutdown_after=st.integers(0, 12), immediate=st.booleans(),
       cancels=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6)), max_size=3))
def test_property_shutdown_loses_and_duplicates_nothing_and_every_task_ends(
        seed, kind, maxsize, per_producer, styles, shutdown_after, immediate, cancels):
    q = kind(maxsize)
    put_done, refused, received = [], [], []
    shut = []

    def producer(p, count):
        for k in range(count):
            try:
                yield q.put((p, k))
            except coop.QueueShutDown:
                refused.append((p, k))
                return
            put_done.append((p, k))
            if k % 2:
                yield

    def take(item):
        received.append(item)
        q.task_done()

    def consumer(style):
        if style == "get_or_end":
            while (item := (yield q.get_or_end())) is not END:
                take(item)
                yield
            return
        try:
            while True:
                if style == "get":
                    take((yield q.get()))
                elif style in ("timed", "timeout"):
                    try:
                        take((yield (q.get(timeout=0.5) if style == "timed"
                                     else coop.timeout(0.5, q.get()))))
                    except coop.Timeout:
                        pass
                elif style == "race":
                    index, value = yield coop.race(q.get(), coop.sleep(0.7))
                    if index == 0:
                        take(value)
                else:
                    for item in (yield coop.gather(q.get(), q.get())):
                        take(item)
                yield
        except coop.QueueShutDown:
            return

    async def async_consumer():
        async for item in q:
            take(item)

    def shutter():
        for _ in range(shutdown_after):
            yield
        shut.append(True)
        q.shutdown(immediate=immediate)

    def canceller(tasks):
        # Cancels consumers only: a producer cancelled once its item is in would leave
        # "was it put?" unanswerable, and the property is about what was put.
        for victim, delay in cancels:
            for _ in range(delay):
                yield
            yield coop.cancel(tasks[victim % len(tasks)], wait=False)

    def joins():
        yield q.join()

    def main():
        producers = yield from spawn_all([producer(p, n) for p, n in enumerate(per_producer)])
        consumers = yield from spawn_all([async_consumer() if s == "async" else consumer(s)
                                          for s in styles])
        joiner = yield coop.spawn(joins())
        yield coop.spawn(canceller(consumers))
        shutting = yield coop.spawn(shutter())
        # Every task ends: one that hung would make the run raise coop.Deadlock.
        for task in [shutting, *producers, *consumers]:
            try:
                yield coop.join(task)
            except coop.Cancelled:
                pass
        left = []
        while True:
            try:
                left.append(q.get_nowait())
            except coop.QueueShutDown:
                break
            q.task_done()
        yield coop.join(joiner)  # join() is released: every item done or dropped
        return left

    left = coop.run(main(), policy=coop.RandomPolicy(seed), clock=coop.VirtualClock())
    counts = Counter(received + left)
    assert all(n == 1 for n in counts.values()), "an item was received twice"
    assert set(counts) <= set(put_done), "an item that was never put was received"
    assert not set(refused) & set(put_done)
    # Nothing is lost: what is neither received nor left was dropped by an immediate shutdown,
    # and counted as done (join() returned, and unfinished_tasks is 0 below).
    assert shut, "the shutdown came"
    lost = set(put_done) - set(counts)
    if immediate:
        assert left == []
    else:
        assert lost == set()
        # An item can be left over only if it was given back (by a cancelled getter, or a
        # race or gather that did not need it) after every consumer had seen the end.
        if not cancels and not {"race", "gather"} & set(styles):
            assert left == []
    assert q.statistics() == QueueStatistics(q.name, 0, q.maxsize, 0, 0, 0, True)
