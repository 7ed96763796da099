"""Actors: mailbox, recv/send/close/start/join, selective receive, ask, bounded mailboxes,
sends from OS threads, links, monitors, supervisors, the examples."""

import importlib.util
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coop

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def vrun(main, **kw):
    return coop.run(main, clock=coop.VirtualClock(), **kw)


class Collector(coop.Actor):
    """Records every message it receives until closed; returns the list."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.got = []

    def run(self):
        try:
            while True:
                self.got.append((yield self.recv()))
        except coop.ActorExit:
            return self.got


class Echo(coop.Actor):
    def run(self):
        while True:
            request = yield self.recv()
            request.reply(request.body)


class Crashes(coop.Actor):
    def run(self):
        yield self.recv()
        raise ValueError("boom")


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the lecture's API


def test_print_actor_prints_the_two_lines_of_the_lecture(capsys):
    class PrintActor(coop.Actor):
        def run(self):
            while True:
                msg = yield self.recv()
                print("Print Actor Task Got:", msg)

    def main():
        p = PrintActor()
        p.start()
        p.send("Hello")
        p.send("World")
        p.close()
        yield p.join()

    coop.run(main())
    assert capsys.readouterr().out == "Print Actor Task Got: Hello\nPrint Actor Task Got: World\n"


def test_messages_sent_before_close_are_all_handled_and_join_returns_runs_result():
    def main():
        c = Collector()
        for i in range(5):
            c.send(i)  # before start: they wait in the mailbox
        c.start()
        for i in range(5, 10):
            c.send(i)
        c.close()
        return (yield c.join())

    assert coop.run(main()) == list(range(10))


def test_recv_raises_actor_exit_at_the_sentinel_and_the_task_ends_normally():
    seen = []

    class Catcher(coop.Actor):
        def run(self):
            try:
                yield self.recv()
            except coop.ActorExit:
                seen.append("caught")
            try:
                yield self.recv()  # the sentinel stays: every later recv raises too
            except coop.ActorExit:
                seen.append("again")
            return "clean"

    def main():
        a = Catcher().start()
        a.close()
        result = yield a.join()
        return result, a.task.state

    assert coop.run(main()) == ("clean", coop.TaskState.DONE)
    assert seen == ["caught", "again"]


def test_an_uncaught_actor_exit_ends_the_actor_normally():
    def main():
        a = coop.Actor().start()  # the default run() drops messages until closed
        a.send("dropped")
        a.close()
        return (yield a.join()), a.task.state

    assert coop.run(main()) == (None, coop.TaskState.DONE)


def test_sending_the_actor_exit_class_is_close():
    def main():
        c = Collector().start()
        c.send(1)
        c.send(coop.ActorExit)
        with pytest.raises(coop.ActorStopped, match="closed"):
            c.send(2)
        return (yield c.join())

    assert coop.run(main()) == [1]


def test_recv_completes_at_once_when_a_message_is_queued():
    """Queued messages are taken without a trip through the ready queue: no other task runs
    in between."""
    log = []

    class Reader(coop.Actor):
        def run(self):
            for _ in range(3):
                log.append((yield self.recv()))

    def ticker():
        for _ in range(3):
            log.append("tick")
            yield

    def main():
        r = Reader()
        for i in range(3):
            r.send(i)
        r.start()
        yield coop.spawn(ticker())
        yield r.join()

    coop.run(main())
    assert log == [0, 1, 2, "tick", "tick", "tick"]


def test_a_send_to_a_waiting_actor_hands_the_message_over_in_order():
    def producer(target, name, n):
        for i in range(n):
            target.send((name, i))
            yield

    def main():
        c = Collector().start()
        yield  # c now waits on its empty mailbox
        tasks = []
        for name in "abc":
            tasks.append((yield coop.spawn(producer(c, name, 50))))
        for task in tasks:
            yield coop.join(task)
        c.close()
        return (yield c.join())

    got = coop.run(main())
    assert len(got) == 150
    for name in "abc":
        assert [i for n, i in got if n == name] == list(range(50))


def test_none_is_a_message_like_any_other():
    def main():
        c = Collector().start()
        yield
        c.send(None)
        c.send(0)
        c.send(None)
        c.close()
        return (yield c.join())

    assert coop.run(main()) == [None, 0, None]


def test_a_message_handed_to_an_actor_cancelled_before_it_ran_is_kept_for_its_successor():
    def main():
        sup = coop.Supervisor([Collector]).start()
        first = sup.children[0]
        yield  # it now waits on its empty mailbox
        first.send(None)  # handed straight to it...
        first.send("after")
        yield coop.cancel(first.task)  # ...but it is cancelled before it ran
        yield coop.sleep(1)
        second = sup.children[0]
        sup.close()
        yield sup.join()
        return first.got, second.got

    assert vrun(main()) == ([], [None, "after"])


def test_a_thousand_actors_take_turns():
    def main():
        actors = [Collector().start() for _ in range(1000)]
        for round_ in range(3):
            for a in actors:
                a.send(round_)
        for a in actors:
            a.close()
        results = []
        for a in actors:
            results.append((yield a.join()))
        return results

    results = coop.run(main())
    assert len(results) == 1000 and all(r == [0, 1, 2] for r in results)


def test_async_def_run_works_too():
    class AsyncCollector(coop.Actor):
        async def run(self):
            got = []
            try:
                while True:
                    got.append(await self.recv())
            except coop.ActorExit:
                return got

    def main():
        a = AsyncCollector().start()
        a.send("x")
        a.close()
        return (yield a.join())

    assert coop.run(main()) == ["x"]


# ------------------------------------------------------------------------ bad input


def test_start_outside_a_scheduler_is_a_clear_error():
    with pytest.raises(coop.CoopUsageError, match=r"Collector.start\(\) needs a running sched"):
        Collector().start()


def test_start_twice_is_an_error():
    def main():
        a = Collector().start()
        try:
            a.start()
        finally:
            a.close()
        yield

    with pytest.raises(coop.CoopUsageError, match="already started"):
        coop.run(main())


def test_a_run_without_yield_is_refused_before_it_is_called():
    called = []

    class Blocking(coop.Actor):
        def run(self):  # the lecture's thread style: would block the scheduler forever
            called.append(True)
            while True:
                self.recv()

    def main():
        Blocking().start()
        yield

    with pytest.raises(TypeError, match=r"run\(\) must be a generator"):
        coop.run(main())
    assert called == []


def test_a_subclass_that_skips_super_init_gets_a_clear_error():
    class Forgetful(coop.Actor):
        def __init__(self):
            self.x = 1

        def run(self):
            yield self.recv()

    def main():
        Forgetful().start()
        yield

    with pytest.raises(coop.CoopUsageError, match=r"super\(\).__init__\(\)"):
        coop.run(main())


def test_join_before_start_and_bad_options_are_refused():
    with pytest.raises(coop.CoopUsageError, match="not been started"):
        Collector().join()
    with pytest.raises(ValueError, match="maxsize"):
        coop.Actor(maxsize=-1)
    with pytest.raises(TypeError, match="predicate"):
        coop.Actor().recv(match="x")
    with pytest.raises(ValueError, match="recv"):
        coop.Actor().recv(timeout=-1)
    with pytest.raises(ValueError, match="ask"):
        coop.Actor().ask("x", timeout=-1)


def test_send_after_the_actor_ended_is_refused_with_its_reason():
    def main():
        a = Crashes().start()
        a.send("go")
        with pytest.raises(ValueError):
            yield a.join()
        with pytest.raises(coop.ActorStopped, match="failed with ValueError") as info:
            a.send("late")
        assert isinstance(info.value.reason, ValueError) and info.value.actor is a
        a.close()  # closing an ended actor does nothing

    coop.run(main())


def test_a_forgotten_close_is_reported_as_a_deadlock_naming_the_mailbox():
    class PrintActor(coop.Actor):
        def run(self):
            while True:
                yield self.recv()

    def main():
        p = PrintActor().start()
        p.send("Hello")
        yield p.join()

    with pytest.raises(coop.Deadlock, match=r"PrintActor-2 waits for a message in "
                                            r"PrintActor-2's mailbox"):
        coop.run(main())


def test_only_one_task_may_wait_on_a_mailbox():
    def main():
        a = coop.Actor()  # never started: two plain tasks try to receive from it

        def reader():
            yield a.recv()

        first = yield coop.spawn(reader())
        yield
        with pytest.raises(coop.CoopUsageError, match="already waiting"):
            yield a.recv()
        yield coop.cancel(first)

    coop.run(main())


# ------------------------------------------------------------------ selective receive


def test_selective_receive_leaves_the_others_queued_in_order():
    class Picker(coop.Actor):
        def run(self):
            first = yield self.recv(match=lambda m: m % 3 == 0)
            later = yield self.recv(match=lambda m: m > 100)  # not there yet: it waits
            rest = []
            for _ in range(4):
                rest.append((yield self.recv()))
            return first, later, rest

    def main():
        p = Picker()
        for m in [1, 2, 3, 4, 5]:
            p.send(m)
        p.start()
        yield
        p.send(6)
        p.send(200)
        return (yield p.join())

    assert coop.run(main()) == (3, 200, [1, 2, 4, 5])


def test_a_failing_predicate_raises_in_the_receiver_and_the_message_stays():
    class Picky(coop.Actor):
        def run(self):
            try:
                yield self.recv(match=lambda m: m["key"])
            except TypeError:
                pass
            return (yield self.recv())

    def main():
        p = Picky().start()
        yield
        p.send("not a dict")  # the predicate fails while the receiver waits
        return (yield p.join())

    assert coop.run(main()) == "not a dict"


def test_a_match_that_can_no_longer_come_raises_actor_exit_and_the_rest_can_be_drained():
    class Drainer(coop.Actor):
        def run(self):
            try:
                yield self.recv(match=lambda m: m == "never")
            except coop.ActorExit:
                pass
            got = []
            try:
                while True:
                    got.append((yield self.recv()))
            except coop.ActorExit:
                return got

    def main():
        d = Drainer()
        d.send("a")
        d.send("b")
        d.close()
        d.start()
        return (yield d.join())

    assert coop.run(main()) == ["a", "b"]


def test_recv_timeout_raises_timeout_at_the_deadline():
    class Waiter(coop.Actor):
        def run(self):
            try:
                yield self.recv(timeout=5)
            except coop.Timeout as err:
                return (yield coop.now()), str(err)

    def main():
        return (yield Waiter().start().join())

    when, message = vrun(main())
    assert when == 5.0
    assert "no message in Waiter-2's mailbox within 5.0s" in message


def test_recv_timeout_is_disarmed_by_a_message():
    class Waiter(coop.Actor):
        def run(self):
            first = yield self.recv(timeout=5)
            yield coop.sleep(10)  # past the old deadline: no stray Timeout
            second = yield self.recv(match=lambda m: True, timeout=5)
            return first, second

    def main():
        w = Waiter().start()
        yield coop.sleep(1)
        w.send("x")
        yield coop.sleep(12)
        w.send("y")
        return (yield w.join())

    assert vrun(main()) == ("x", "y")


def test_recv_with_timeout_zero_only_looks():
    class Poller(coop.Actor):
        def run(self):
            with pytest.raises(coop.Timeout):
                yield self.recv(timeout=0)
            self.send("mine")
            return (yield self.recv(timeout=0))

    def main():
        return (yield Poller().start().join())

    assert coop.run(main()) == "mine"


# ------------------------------------------------------------------------------ ask


def test_ask_returns_the_reply_and_fail_raises_in_the_asker():
    class Calc(coop.Actor):
        def run(self):
            while True:
                request = yield self.recv()
                op, x = request.body
                if op == "sqrt" and x < 0:
                    request.fail(ValueError("negative"))
                else:
                    request.reply(x * x)

    def main():
        c = Calc().start()
        assert (yield c.ask(("square", 7))) == 49
        with pytest.raises(ValueError, match="negative"):
            yield c.ask(("sqrt", -1))
        c.close()
        yield c.join()

    coop.run(main())


def test_ask_to_an_actor_that_dies_while_handling_it_fails_at_once():
    class DiesOnRequest(coop.Actor):
        def run(self):
            yield self.recv()
            yield coop.sleep(1)
            raise RuntimeError("died")

    def main():
        a = DiesOnRequest().start()
        with pytest.raises(coop.ActorStopped, match=r"failed \(RuntimeError\('died'\)\) "
                                                    r"before replying to ask\('q'\)") as info:
            yield a.ask("q")
        assert isinstance(info.value.__cause__, RuntimeError)
        with pytest.raises(RuntimeError):
            yield a.join()
        return (yield coop.now())

    assert vrun(main()) == 1.0


def test_ask_queued_before_close_fails_when_the_actor_ends_without_replying():
    class IgnoresRequests(coop.Actor):
        def run(self):
            while True:
                yield self.recv()

    def main():
        a = IgnoresRequests().start()

        def asker():
            try:
                yield a.ask("hello?")
            except coop.ActorStopped as err:
                return str(err)

        t = yield coop.spawn(asker())
        yield
        a.close()
        with pytest.raises(coop.ActorStopped, match="closed"):
            yield a.ask("too late")  # refused at once
        return (yield coop.join(t))

    assert coop.run(main()) == "IgnoresRequests-2 was closed before replying to ask('hello?')"


def test_ask_of_a_crashed_actor_and_of_a_cancelled_one_fail_at_once():
    def main():
        a = Crashes().start()
        a.send("go")
        yield
        with pytest.raises(coop.ActorStopped, match="failed with ValueError"):
            yield a.ask("q")
        with pytest.raises(ValueError):
            yield a.join()
        b = Echo().start()
        yield
        yield coop.cancel(b.task)
        with pytest.raises(coop.ActorStopped, match="has failed with Cancelled"):
            yield b.ask("q")

    coop.run(main())


def test_an_actor_asking_itself_gets_an_error_at_once():
    class Narcissist(coop.Actor):
        def run(self):
            try:
                yield self.ask("me?")
            except coop.CoopUsageError as err:
                return str(err)

    def main():
        return (yield Narcissist().start().join())

    assert "Narcissist-2 asked itself" in coop.run(main())


def test_two_actors_asking_each_other_is_a_deadlock_cycle():
    class Asker(coop.Actor):
        def run(self):
            other = yield self.recv()
            yield other.ask("ping")

    def main():
        a, b = Asker().start(), Asker().start()
        a.send(b)
        b.send(a)
        yield a.join()

    with pytest.raises(coop.Deadlock, match="wait-for cycle") as info:
        coop.run(main())
    assert "a reply from Asker-3 to ask('ping')" in str(info.value)


def test_ask_timeout_raises_and_withdraws_the_request_and_a_late_reply_is_ignored():
    class Slow(coop.Actor):
        def run(self):
            seen = []
            try:
                while True:
                    request = yield self.recv()
                    seen.append(request.body)
                    yield coop.sleep(10)
                    request.reply("late")  # the asker gave up: ignored
            except coop.ActorExit:
                return seen

    def main():
        s = Slow().start()
        with pytest.raises(coop.Timeout, match="no reply from Slow-2 to ask"):
            yield s.ask("first", timeout=1)
        with pytest.raises(coop.Timeout):
            yield s.ask("withdrawn", timeout=1)  # still queued at the deadline
        s.close()
        return (yield s.join()), (yield coop.now())

    seen, when = vrun(main())
    assert seen == ["first"]
    assert when == 10.0


def test_a_request_is_answered_once_and_yielded_once():
    class Twice(coop.Actor):
        def run(self):
            request = yield self.recv()
            request.reply(1)
            assert request.answered
            with pytest.raises(coop.CoopUsageError, match="already answered"):
                request.reply(2)
            with pytest.raises(coop.CoopUsageError, match="yielded once"):
                yield request

    def main():
        t = Twice().start()
        answer = yield t.ask("x")
        yield t.join()
        return answer

    assert coop.run(main()) == 1


def test_reply_from_another_os_thread_wakes_the_asker():
    class Offloads(coop.Actor):
        def run(self):
            request = yield self.recv()
            worker = threading.Thread(target=lambda: request.reply(request.body * 2))
            worker.start()
            worker.join()

    def main():
        o = Offloads().start()
        return (yield o.ask(21))

    assert coop.run(main()) == 42



def test_a_reply_from_another_thread_to_an_asker_cancelled_meanwhile_is_dropped(caplog):
    class Late(coop.Actor):
        def run(self):
            request = yield self.recv()
            answered = threading.Event()
            yield coop.to_thread(asker_gone.wait)

            def answer():
                request.reply("too late")
                answered.set()

            threading.Thread(target=answer).start()
            yield coop.to_thread(answered.wait)
            yield coop.sleep(0.01)  # the hand-in of the reply runs meanwhile

    asker_gone = threading.Event()

    def main():
        late = Late().start()

        def asker():
            return (yield late.ask("q"))

        task = yield coop.spawn(asker())
        yield coop.sleep(0.01)
        yield coop.cancel(task)
        asker_gone.set()
        yield late.join()
        return task.state

    with caplog.at_level(logging.ERROR, logger="coop"):
        assert coop.run(main()) == coop.TaskState.CANCELLED
    assert not caplog.text


# ------------------------------------------------------------------- bounded mailboxes


def test_a_bounded_mailbox_makes_a_yielding_sender_wait_and_try_send_refuses():
    taken = []

    class Slow(coop.Actor):
        maxsize = 3

        def run(self):
            try:
                while True:
                    taken.append((yield self.recv()))
                    yield coop.sleep(1)
            except coop.ActorExit:
                return taken

    def main():
        s = Slow().start()
        sent = refused = 0
        in_mailbox = []
        for i in range(20):
            yield s.send(i)  # resumes once the message is in the mailbox
            sent += 1
            in_mailbox.append(sent - len(taken))
            if s.try_send(("extra", i)):
                sent += 1
            else:
                refused += 1
        s.close()
        yield s.join()
        return in_mailbox, refused

    in_mailbox, refused = vrun(main())
    assert [m for m in taken if isinstance(m, int)] == list(range(20))
    assert max(in_mailbox) == 3  # full at times, never over the bound
    assert refused > 0 and len(taken) == 20 + (20 - refused)


def test_unyielded_sends_to_a_full_mailbox_wait_in_line_in_order():
    def main():
        c = Collector(maxsize=2)
        for i in range(10):
            c.send(i)  # not yielded: they wait in line, none is lost
        assert c.queued == 10 and not c.try_send("refused")
        c.start()
        c.close()
        return (yield c.join())

    assert coop.run(main()) == list(range(10))


def test_selective_receive_looks_past_a_full_mailbox_into_the_line():
    class Picky(coop.Actor):
        maxsize = 1

        def run(self):
            first = yield self.recv(match=lambda m: m == "wanted")
            rest = [(yield self.recv()), (yield self.recv())]
            return first, rest

    def main():
        p = Picky()
        p.send("a")
        p.send("b")
        p.send("wanted")
        p.start()
        return (yield p.join())

    assert coop.run(main()) == ("wanted", ["a", "b"])


def test_a_sender_waiting_for_room_gets_an_error_when_the_actor_dies():
    class Dies(coop.Actor):
        maxsize = 1

        def run(self):
            yield coop.sleep(1)
            raise RuntimeError("gone")

    def main():
        d = Dies().start()
        yield d.send(1)
        with pytest.raises(coop.ActorStopped, match="before taking the message"):
            yield d.send(2)
        with pytest.raises(RuntimeError):
            yield d.join()

    vrun(main())


def test_a_bounded_mailbox_wait_describes_itself_in_a_deadlock():
    class Stuck(coop.Actor):
        maxsize = 1

        def run(self):
            yield coop.Actor().start().join()  # waits forever on a never-closed actor

    def main():
        s = Stuck().start()
        yield s.send(1)
        yield s.send(2)

    with pytest.raises(coop.Deadlock, match=r"room in Stuck-2's mailbox \(maxsize 1\)"):
        coop.run(main())


# --------------------------------------------------------------------- OS threads


def test_thousands_of_messages_from_several_threads_arrive_complete_and_in_order():
    threads_n, per_thread = 6, 3000

    class Tally(coop.Actor):
        def run(self):
            got = {}
            done = 0
            while done < threads_n:
                sender, i = yield self.recv()
                if i is None:
                    done += 1
                else:
                    got.setdefault(sender, []).append(i)
            return got

    def sender(actor, name, start):
        start.wait()
        for i in range(per_thread):
            actor.send((name, i))
        actor.send((name, None))

    def main():
        tally = Tally().start()
        go = threading.Event()
        threads = [threading.Thread(target=sender, args=(tally, n, go)) for n in range(threads_n)]
        for t in threads:
            t.start()
        go.set()
        got = yield tally.join()
        for t in threads:
            t.join()
        return got

    got = coop.run(main())
    assert sorted(got) == list(range(threads_n))
    for name in range(threads_n):
        assert got[name] == list(range(per_thread))


def test_sends_from_a_thread_to_a_full_bounded_mailbox_never_block_nor_get_lost():
    def main():
        c = Collector(maxsize=2).start()

        def feed():
            for i in range(300):
                c.send(i)  # from a thread: never blocks; extra messages wait in line
            c.close()

        thread = threading.Thread(target=feed)
        thread.start()
        got = yield c.join()
        thread.join()
        return got

    assert coop.run(main()) == list(range(300))


def test_sends_from_a_thread_before_start_are_kept():
    actor = Collector()

    def early():
        for i in range(100):
            actor.send(i)

    thread = threading.Thread(target=early)
    thread.start()
    thread.join()

    def main():
        actor.start()
        actor.close()
        return (yield actor.join())

    assert coop.run(main()) == list(range(100))


def test_close_from_another_thread_after_its_sends():
    def main():
        c = Collector().start()

        def feed():
            for i in range(500):
                c.send(i)
            c.close()

        thread = threading.Thread(target=feed)
        thread.start()
        got = yield c.join()
        thread.join()
        return got

    assert coop.run(main()) == list(range(500))


# -------------------------------------------------------------------- function form


def test_the_actor_decorator_makes_an_actor_class():
    @coop.actor
    def adder(inbox, offset):
        """Adds offset."""
        total = 0
        try:
            while True:
                total += (yield inbox.recv()) + offset
        except coop.ActorExit:
            return total

    @coop.actor(maxsize=2)
    def bounded(inbox):
        yield inbox.recv()

    assert issubclass(adder, coop.Actor) and adder.__name__ == "adder"
    assert adder.__doc__ == "Adds offset."

    def main():
        a = adder(10).start()
        for i in range(3):
            a.send(i)
        a.close()
        b = bounded()
        assert b.try_send(1) and b.try_send(2) and not b.try_send(3)
        b.start()
        yield b.join()
        return (yield a.join()), a.name

    total, name = coop.run(main())
    assert total == 33 and name.startswith("adder-")


def test_the_actor_decorator_refuses_a_plain_function():
    with pytest.raises(TypeError, match="generator function"):
        coop.actor(lambda inbox: None)


# ------------------------------------------------------------------ links, monitors


def test_a_link_cancels_the_peer_when_one_fails_but_not_on_a_normal_end():
    def main():
        a, b = Crashes().start(), Collector().start()
        coop.link(a, b)
        a.send("go")
        with pytest.raises(ValueError):
            yield a.join()
        with pytest.raises(coop.Cancelled, match="linked to Crashes-2"):
            yield b.join()

        c, d = Collector().start(), Collector().start()
        coop.link(c, d)
        c.close()
        yield c.join()
        d.send("still alive")
        d.close()
        return (yield d.join())

    assert coop.run(main()) == ["still alive"]


def test_link_to_an_already_crashed_actor_cancels_at_once_and_bad_links_are_refused():
    def main():
        a = Crashes().start()
        a.send("go")
        with pytest.raises(ValueError):
            yield a.join()
        b = Collector().start()
        coop.link(b, a)
        with pytest.raises(coop.Cancelled):
            yield b.join()
        with pytest.raises(coop.CoopUsageError, match="not been started"):
            coop.link(Collector(), b)
        c = Collector().start()
        with pytest.raises(coop.CoopUsageError, match="itself"):
            coop.link(c, c)
        with pytest.raises(TypeError):
            coop.link(c, "x")
        c.close()

    coop.run(main())


def test_a_monitor_delivers_down_with_the_reason():
    class Watcher(coop.Actor):
        def run(self):
            crashing, closing = Crashes().start(), Collector().start()
            coop.monitor(crashing)
            coop.monitor(closing)
            crashing.send("go")
            closing.close()
            downs = [(yield self.recv()), (yield self.recv())]
            return {d.actor.name: (d.normal, type(d.reason).__name__) for d in downs}

    def main():
        return (yield Watcher().start().join())

    assert coop.run(main()) == {"Crashes-3": (False, "ValueError"),
                                "Collector-4": (True, "NoneType")}


def test_monitor_of_an_ended_actor_sends_down_at_once_and_a_cancelled_monitor_sends_none():
    def main():
        watcher = Collector().start()
        target = Collector().start()
        target.close()
        yield target.join()
        coop.monitor(target, watcher)
        other = Collector().start()
        ref = coop.monitor(other, watcher)
        ref.cancel()
        other.close()
        yield other.join()
        watcher.close()
        return (yield watcher.join())

    got = coop.run(main())
    assert len(got) == 1 and isinstance(got[0], coop.Down) and got[0].reason is None


def test_monitor_outside_an_actor_needs_a_watcher():
    def main():
        a = Collector().start()
        with pytest.raises(coop.CoopUsageError, match="outside an actor"):
            coop.monitor(a)
        with pytest.raises(TypeError):
            coop.monitor("x", a)
        a.close()
        yield

    coop.run(main())


def test_a_crash_nobody_watches_is_reported_and_a_joined_one_is_not(caplog):
    def unwatched():
        Crashes().start().send("go")
        yield

    with caplog.at_level(logging.ERROR, logger="coop"):
        coop.run(unwatched())
    assert "Crashes-2" in caplog.text and "nobody joined it" in caplog.text

    caplog.clear()

    def joined():
        a = Crashes().start()
        a.send("go")
        with pytest.raises(ValueError):
            yield a.join()

    with caplog.at_level(logging.ERROR, logger="coop"):
        coop.run(joined())
    assert "nobody joined" not in caplog.text



def test_monitor_finds_the_actor_whose_code_calls_it_and_only_that():
    class Watcher(coop.Actor):
        def run(self):
            return (yield from self.watch())  # called from a helper the actor yields from

        def watch(self):
            target = Crashes().start()
            ref = coop.monitor(target)
            target.send("go")
            down = yield self.recv()
            return ref.watcher is self, down.actor is target

    class Spawner(coop.Actor):
        def run(self):
            other = Collector().start()

            def helper():  # a task of its own: not the actor's code
                coop.monitor(other)
                yield

            task = yield coop.spawn(helper())
            with pytest.raises(coop.CoopUsageError, match="outside an actor"):
                yield coop.join(task)
            other.close()

    def main():
        spawner = Spawner().start()
        result = yield Watcher().start().join()
        yield spawner.join()
        return result

    assert coop.run(main()) == (True, True)


def test_a_task_has_its_actors_name_from_the_moment_it_is_spawned():
    class Names:
        def __init__(self):
            self.seen = []

        def task_spawned(self, task):
            self.seen.append(task.name)

    names = Names()

    def main():
        coop.lowlevel.add_instrument(names)
        a, b = Collector().start(), Collector(name="bob").start()
        for actor in (a, b):
            actor.close()
            yield actor.join()
        return a.task.name, b.task.name

    assert coop.run(main()) == ("Collector-2", "bob")
    assert names.seen == ["Collector-2", "bob"]


def test_a_crash_a_link_or_a_monitor_took_charge_of_is_not_reported(caplog):
    def main():
        linked, peer = Crashes().start(), Collector().start()
        coop.link(linked, peer)
        watched, watcher = Crashes().start(), Collector().start()
        coop.monitor(watched, watcher)
        linked.send("go")
        watched.send("go")
        yield coop.sleep(0.01)
        for actor in (linked, peer, watched):
            assert actor.task.done()
        watcher.close()

    with caplog.at_level(logging.ERROR, logger="coop"):
        coop.run(main())
    assert "nobody joined" not in caplog.text


def test_ended_actors_are_not_kept_alive():
    import gc
    import weakref

    refs = []

    def main():
        for _ in range(3):
            a = Collector().start()
            coop.monitor(a, Collector())
            refs.append(weakref.ref(a))
            a.close()
            yield a.join()

    coop.run(main())
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


# --------------------------------------------------------------------- supervisors


class Worker(coop.Actor):
    """Logs what it handles into a shared list; "crash" crashes it."""

    log: list = []

    def run(self):
        while True:
            msg = yield self.recv()
            if isinstance(msg, coop.Request):
                msg.reply((self.name, msg.body))
                continue
            if msg == "crash":
                raise RuntimeError(f"{self.name} crashed")
            if msg == "nap":
                yield coop.sleep(100)
                continue
            Worker.log.append((self.name, msg))


@pytest.fixture(autouse=True)
def _fresh_worker_log():
    Worker.log = []


def test_one_for_one_restarts_only_the_crashed_child_with_its_mailbox():
    def main():
        sup = coop.Supervisor([Worker, Worker, Worker]).start()
        first = [c.name for c in sup.children]
        w = sup.children[1]
        for msg in ["a", "crash", "b", "c"]:
            w.send(msg)
        yield coop.sleep(1)
        after = [c.name for c in sup.children]
        sup.close()
        yield sup.join()
        return first, after

    first, after = vrun(main())
    assert first == ["Worker-3", "Worker-4", "Worker-5"]
    assert after[0] == "Worker-3" and after[2] == "Worker-5" and after[1] not in first
    assert Worker.log == [("Worker-4", "a"), (after[1], "b"), (after[1], "c")]


def test_one_for_all_restarts_every_child_and_keeps_their_queued_messages():
    def main():
        sup = coop.Supervisor([Worker, Worker], strategy=coop.one_for_all).start()
        a, b = sup.children
        b.send("nap")  # b is busy when a crashes: its queue is what the new b takes over
        for msg in ["b1", "b2"]:
            b.send(msg)
        yield coop.sleep(1)
        a.send("crash")
        yield coop.sleep(1)
        names = [c.name for c in sup.children]
        b.send("b3")  # an old reference still reaches the new instance
        yield coop.sleep(1)
        sup.close()
        yield sup.join()
        return a.name, b.name, names

    a_name, b_name, names = vrun(main())
    assert a_name not in names and b_name not in names
    assert Worker.log == [(names[1], "b1"), (names[1], "b2"), (names[1], "b3")]


def test_rest_for_one_restarts_the_crashed_child_and_those_started_after_it():
    def main():
        sup = coop.Supervisor([Worker, Worker, Worker], strategy="rest_for_one").start()
        before = [c.name for c in sup.children]
        sup.children[1].send("crash")
        yield coop.sleep(1)
        after = [c.name for c in sup.children]
        sup.close()
        yield sup.join()
        return before, after

    before, after = vrun(main())
    assert after[0] == before[0]
    assert after[1] not in before and after[2] not in before


def test_the_supervisor_gives_up_past_max_restarts_within_the_window():
    def main(spacing):
        sup = coop.Supervisor([Worker], max_restarts=2, within=10).start()
        worker = sup.children[0]
        for _ in range(3):
            worker.send("crash")
            yield coop.sleep(spacing)
        alive = bool(sup.children)
        sup.close()
        try:
            yield sup.join()
        except coop.TooManyRestarts as err:
            return alive, "gave up", err
        return alive, "fine", None

    # Three crashes 4 s apart fall within 10 s: the third is one too many.
    alive, outcome, err = vrun(main(4))
    assert (alive, outcome) == (False, "gave up")
    assert isinstance(err.__cause__, RuntimeError)
    assert "more than 2 restart(s) within 10s" in str(err)
    # Spread 6 s apart, at most two fall within any 10 s: it keeps restarting.
    assert vrun(main(6))[:2] == (True, "fine")


def test_after_giving_up_the_childrens_mailboxes_are_closed_for_good():
    def main():
        sup = coop.Supervisor([Worker, Worker], max_restarts=0).start()
        a, b = sup.children
        a.send("crash")
        with pytest.raises(coop.TooManyRestarts):
            yield sup.join()
        assert sup.children == []
        for child in (a, b):
            with pytest.raises(coop.ActorStopped):
                child.send("x")
        assert b.task.cancelled()

    vrun(main())


def test_a_child_that_ends_normally_is_not_restarted():
    def main():
        sup = coop.Supervisor([Worker, Worker]).start()
        first = sup.children[0]
        first.close()
        yield first.join()
        left = [c.name for c in sup.children]
        sup.close()
        yield sup.join()
        return left

    assert vrun(main()) == ["Worker-4"]


def test_supervisor_close_closes_children_last_first_after_their_messages():
    order = []

    class Named(coop.Actor):
        def __init__(self, label):
            super().__init__()
            self.label = label

        def run(self):
            try:
                while True:
                    order.append((self.label, (yield self.recv())))
            except coop.ActorExit:
                order.append((self.label, "closed"))
                raise

    def main():
        sup = coop.Supervisor([lambda: Named("x"), lambda: Named("y")]).start()
        x, y = sup.children
        x.send(1)
        y.send(2)
        sup.close()
        yield sup.join()
        return sup.task.state, x.task.state, y.task.state

    states = vrun(main())
    assert states == (coop.TaskState.DONE,) * 3
    assert order.index(("y", "closed")) < order.index(("x", "closed"))
    assert order.index(("x", 1)) < order.index(("x", "closed"))


def test_supervisor_close_restarts_a_child_that_crashes_while_finishing_its_mailbox():
    def main():
        sup = coop.Supervisor([Worker]).start()
        worker = sup.children[0]
        for msg in ["a", "crash", "b"]:
            worker.send(msg)
        sup.close()  # before the worker ran at all
        yield sup.join()
        return sup.task.state

    assert vrun(main()) == coop.TaskState.DONE
    assert [m for _, m in Worker.log] == ["a", "b"]
    assert Worker.log[0][0] != Worker.log[1][0]


def test_cancelling_a_supervisor_stops_its_children():
    def main():
        sup = coop.Supervisor([Worker, Worker]).start()
        children = sup.children
        yield
        yield coop.cancel(sup.task)
        return [c.task.state for c in children]

    assert vrun(main()) == [coop.TaskState.CANCELLED] * 2


def test_supervisor_bad_input_is_refused():
    with pytest.raises(TypeError, match="not instances"):
        coop.Supervisor([Worker()])
    with pytest.raises(TypeError, match="not an actor class"):
        coop.Supervisor([42])
    with pytest.raises(ValueError, match="unknown strategy"):
        coop.Supervisor([Worker], strategy="all_for_none")
    with pytest.raises(ValueError, match="max_restarts"):
        coop.Supervisor([Worker], max_restarts=-1)
    with pytest.raises(coop.CoopUsageError, match="needs a running scheduler"):
        coop.Supervisor([Worker]).start()

    def main():
        coop.Supervisor([lambda: "not an actor"]).start()
        yield

    with pytest.raises(TypeError, match="not an Actor"):
        coop.run(main())


def test_a_supervisor_answers_no_requests_and_nests():
    def main():
        inner = lambda: coop.Supervisor([Worker])  # noqa: E731
        outer = coop.Supervisor([inner, Worker]).start()
        inner_sup, worker = outer.children
        with pytest.raises(coop.CoopUsageError, match="answers no requests"):
            yield outer.ask("hi")
        inner_sup.children[0].send("crash")  # the inner supervisor restarts it
        yield coop.sleep(1)
        assert len(inner_sup.children) == 1
        outer.close()
        yield outer.join()
        return inner_sup.task.state, worker.task.state

    assert vrun(main()) == (coop.TaskState.DONE, coop.TaskState.DONE)


def test_no_message_is_lost_when_a_supervisor_restarts_the_actor():
    """Every message but the crashing one is handled exactly once, in each sender's order,
    while senders keep sending to the original reference through several restarts."""

    def producer(worker, name, n):
        for i in range(n):
            worker.send((name, i))
            if i % 7 == 3:
                worker.send("crash")
            yield

    def main():
        sup = coop.Supervisor([Worker], max_restarts=100, within=1).start()
        worker = sup.children[0]
        tasks = []
        for name in "pq":
            tasks.append((yield coop.spawn(producer(worker, name, 40))))
        for t in tasks:
            yield coop.join(t)
        yield coop.sleep(0.5)
        sup.close()
        yield sup.join()

    vrun(main())
    handled = [m for _, m in Worker.log]
    for name in "pq":
        assert [i for n, i in handled if n == name] == list(range(40))
    assert len({n for n, _ in Worker.log}) > 5  # several instances did the work


def test_a_queued_request_survives_a_restart_and_one_in_hand_fails():
    class Slow(coop.Actor):
        def run(self):
            while True:
                msg = yield self.recv()
                if msg == "crash":
                    raise RuntimeError("crash")
                yield coop.sleep(1)
                msg.reply(self.name)

    def asker(worker):
        try:
            return (yield worker.ask("q"))
        except coop.ActorStopped as err:
            return f"stopped: {err}"

    def main():
        sup = coop.Supervisor([Slow]).start()
        worker = sup.children[0]
        in_hand = yield coop.spawn(asker(worker))
        yield
        worker.send("crash")  # queued behind the request being handled...
        queued = yield coop.spawn(asker(worker))
        yield coop.sleep(5)
        # ...so the first one is answered; now crash while one is in hand:
        slow_one = yield coop.spawn(asker(worker))
        yield
        yield coop.sleep(0.5)
        yield coop.cancel(sup.children[0].task)
        results = []
        for t in (in_hand, queued, slow_one):
            results.append((yield coop.join(t)))
        sup.close()
        yield sup.join()
        return results

    first, second, third = vrun(main())
    assert first == "Slow-3"
    assert second.startswith("Slow-") and second != "Slow-3"  # the restarted instance
    assert third.startswith("stopped:") and "was cancelled before replying" in third


# ------------------------------------------------------- random schedules (hypothesis)


class Flaky(coop.Actor):
    """Records each message; a "crash" message crashes it; sleeps now and then."""

    record: list = []

    def run(self):
        while True:
            msg = yield self.recv()
            if msg == "crash":
                raise RuntimeError("flaky")
            Flaky.record.append(msg)
            if msg[1] % 5 == 0:
                yield coop.sleep(0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       strategy=st.sampled_from(["one_for_one", "one_for_all", "rest_for_one"]),
       maxsize=st.sampled_from([0, 0, 2]))
def test_no_message_lost_or_duplicated_under_random_schedules(seed, strategy, maxsize):
    Flaky.record = []

    def flaky():
        return Flaky(maxsize=maxsize)

    def producer(target, name, n, crash_every):
        for i in range(n):
            yield target.send((name, i))
            if crash_every and i % crash_every == crash_every - 1:
                yield target.send("crash")

    def main():
        sup = coop.Supervisor([flaky, flaky], strategy=strategy, max_restarts=10_000,
                              within=1).start()
        a, b = sup.children
        tasks = []
        for name, target, crash_every in (("x", a, 6), ("y", a, 0), ("z", b, 9)):
            tasks.append((yield coop.spawn(producer(target, name, 30, crash_every))))
        for t in tasks:
            yield coop.join(t)
        sup.close()
        yield sup.join()

    coop.run(main(), clock=coop.VirtualClock(), policy=coop.RandomPolicy(seed))
    for name in "xyz":
        assert [i for n, i in Flaky.record if n == name] == list(range(30))
    assert len(Flaky.record) == 90


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), senders=st.integers(1, 4), n=st.integers(0, 40))
def test_asks_and_sends_are_all_answered_under_random_schedules(seed, senders, n):
    def client(echo, name):
        answers = []
        for i in range(n):
            if i % 3:
                echo.send(("note", name, i))
            else:
                answers.append((yield echo.ask((name, i))))
            yield
        return answers

    class Noting(coop.Actor):
        def run(self):
            notes = []
            try:
                while True:
                    msg = yield self.recv()
                    if isinstance(msg, coop.Request):
                        msg.reply(msg.body)
                    else:
                        notes.append(msg)
            except coop.ActorExit:
                return notes

    def main():
        echo = Noting().start()
        tasks = []
        for s in range(senders):
            tasks.append((yield coop.spawn(client(echo, s))))
        answers = []
        for t in tasks:
            answers.append((yield coop.join(t)))
        echo.close()
        notes = yield echo.join()
        return answers, notes

    answers, notes = coop.run(main(), policy=coop.RandomPolicy(seed))
    for s in range(senders):
        assert answers[s] == [(s, i) for i in range(n) if i % 3 == 0]
        assert [i for _, name, i in notes if name == s] == [i for i in range(n) if i % 3]


# ------------------------------------------------------------------------ examples


def test_seed_actor_example_prints_exactly_the_lectures_two_lines():
    result = subprocess.run([sys.executable, str(EXAMPLES / "seed_actor.py")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Print Actor Task Got: Hello\nPrint Actor Task Got: World\n"


def test_seed_actor_example_main(capsys):
    coop.run(load("seed_actor").main())
    assert capsys.readouterr().out.splitlines() == [
        "Print Actor Task Got: Hello", "Print Actor Task Got: World"]


def test_actor_pipeline_example(capsys):
    result = coop.run(load("actor_pipeline").main())
    assert result == sum(i * i for i in range(1, 21) if i % 2 == 0)
    assert capsys.readouterr().out.splitlines() == [
        "asked mid-way: 5 even squares of 1..10, sum 220",
        "pipeline done: 10 even squares of 1..20, sum 1540",
    ]


def test_supervisor_example(capsys):
    vrun(load("supervisor").main())
    out = capsys.readouterr().out.splitlines()
    assert out[:8] == [
        "sending 4, 0, 5, 20 (the 0 crashes the worker)",
        "  divider-1 started",
        "  divider-1: 100 / 4 = 25",
        "  divider-1 crashed on 100 / 0: ZeroDivisionError('division by zero')",
        "  divider-2 started",
        "  divider-2: 100 / 5 = 20",
        "  divider-2: 100 / 20 = 5",
        "supervised now: ['divider-2']",
    ]
    assert out[-2].startswith("send refused: divider-3 has failed with ZeroDivisionError")
    assert out[-1].startswith("supervisor failed: supervisor gave up: more than 2 restart")
