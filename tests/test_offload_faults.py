"""Issue 10, offload: a fault fails only its own call, on every backend.

Each test names the reproducer in ../shared/repro/ it stands for. Where the fault is a hang,
the program runs in a subprocess with a timeout and the test asserts that it ended.
"""

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

import coop
from coop.offload import pools
from coop.offload.service import service_of
from coop.offload.wire import CRASH, WIRE, decode, dumps_call

REPO = Path(__file__).resolve().parent.parent


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


class QuotaError(Exception):
    # Its __init__ takes other arguments than it gives Exception: unpickling calls
    # QuotaError("ann is over 10"), which fails. The worker must still bring it home.
    def __init__(self, user, limit):
        super().__init__(f"{user} is over {limit}")
        self.user = user


def charge(user):
    raise QuotaError(user, 10)


def make_local_instance():
    class Local:  # stdlib pickle cannot send this; cloudpickle can
        value = 42

    return Local()


def run_program(source, timeout=60, runs=1):
    """Run ``source`` as a script ``runs`` times; the outputs. A run that hangs fails.

    A file, not ``-c``: worker processes find the script's functions by importing it."""
    import tempfile

    outputs = []
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(textwrap.dedent(source))
    for _ in range(runs):
        proc = subprocess.run([sys.executable, script.name], cwd=REPO,
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    return outputs


# ---------------------------------------------------------------- b02: cancel kills innocent


def test_cancelling_a_call_never_ends_a_worker_that_took_another_call():
    # b02: the cancel looked up the call's worker, then signalled it; by then the worker
    # could have sent the result and taken the next call. Widened here on purpose: the
    # signal waits until the worker has taken the innocent call, wherever it can.
    pool = pools.ProcessPool(1)
    outcomes = {}
    ended = threading.Event()

    def record(name):
        def done(kind, value):
            outcomes[name] = (kind, value)
            if name == "innocent":
                ended.set()
        return done

    try:
        warm = threading.Event()
        pool.submit(dumps_call("warm", sleep_then, (0, 0), {}), lambda k, v: warm.set())
        assert warm.wait(30)
        victim = pool.submit(dumps_call("victim", sleep_then, (0.2, "v"), {}), record("victim"))
        innocent = pool.submit(dumps_call("innocent", sleep_then, (0.5, "i"), {}),
                               record("innocent"))
        while victim.worker is None:
            time.sleep(0.001)
        process = victim.worker.process
        real_terminate = process.terminate

        def late_terminate():
            if not pool._lock.locked():  # where nothing stops the worker taking a call
                deadline = time.monotonic() + 10
                while innocent.worker is None and time.monotonic() < deadline:
                    time.sleep(0.001)
            real_terminate()

        process.terminate = late_terminate
        pool.cancel(victim)
        assert ended.wait(30)
        kind, value = outcomes["innocent"]
        assert kind == WIRE, value
        assert decode(value)[1] == "i"
        assert "victim" not in outcomes
    finally:
        pool.shutdown()


def victim():
    try:
        yield coop.timeout(0.01, coop.to_process(sleep_then, 0.01, None))
    except coop.Timeout:
        pass


def innocent(crashes):
    try:
        yield coop.to_process(sleep_then, 0.001, None)
    except coop.WorkerCrashed as err:
        crashes.append(str(err))


def test_timeouts_on_some_calls_crash_no_other_call():
    def main():
        crashes = []
        for _ in range(10):
            yield coop.gather(*[g for _ in range(10) for g in (victim(), innocent(crashes))])
        return crashes

    assert coop.run(main(), processes=2) == []


# ---------------------------------------------------------------- b03: killed while starting


def test_a_worker_killed_while_starting_fails_no_queued_call():
    # b03: it failed every queued call. Each new worker is killed as soon as it exists, the
    # first two times: wherever a kill lands, at most the call that worker held fails.
    pool = pools.ProcessPool(1)
    results = []
    kills = []
    finished = threading.Semaphore(0)

    def done(kind, value):
        results.append(kind)
        finished.release()

    def killer():
        seen = set()
        while len(kills) < 2:
            with pool._lock:
                workers = [w for w in pool._workers if w.process.pid not in seen]
            for worker in workers:
                seen.add(worker.process.pid)
                os.kill(worker.process.pid, signal.SIGKILL)
                kills.append(worker.process.pid)
            time.sleep(0.0005)

    try:
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        for i in range(20):
            pool.submit(dumps_call("call", sleep_then, (0.001, i), {}), done)
        for _ in range(20):
            assert finished.acquire(timeout=60)
        thread.join(10)
    finally:
        pool.shutdown()
    assert len(results) == 20
    assert results.count(CRASH) <= len(kills)


def test_workers_killed_again_and_again_while_starting_fail_one_call_each():
    # Something kills every worker as it starts (a limit on processes, the OOM killer):
    # calls must not wait forever, and no more fail than workers died.
    pool = pools.ProcessPool(1)
    ended = []
    finished = threading.Semaphore(0)
    stop = threading.Event()
    kills = []

    def done(kind, value):
        ended.append((kind, value))
        finished.release()

    def killer():
        seen = set()
        while not stop.is_set():
            with pool._lock:
                workers = [w for w in pool._workers if w.process.pid not in seen]
            for worker in workers:
                seen.add(worker.process.pid)
                try:
                    os.kill(worker.process.pid, signal.SIGKILL)
                    kills.append(worker.process.pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.0005)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        for i in range(3):
            pool.submit(dumps_call("call", sleep_then, (0, i), {}), done)
        for _ in range(3):
            assert finished.acquire(timeout=60)
    finally:
        stop.set()
        thread.join(10)
        pool.shutdown()
    crashed = [value for kind, value in ended if kind == CRASH]
    assert len(crashed) <= len(kills)
    assert all("died" in text for text in crashed)


def grandchildren():
    return {p.pid for child in psutil.Process().children() for p in child.children()}


def storm(calls, kills, processes):
    """``calls`` calls while a thread SIGKILLs ``kills`` random worker processes."""
    out = {"ok": 0, "crashed": 0}
    killed = []

    def killer(stop):
        rng = random.Random(1)
        while len(killed) < kills and not stop:
            pids = sorted(grandchildren() | {p.pid for p in psutil.Process().children()
                                             if "forkserver" not in " ".join(p.cmdline())})
            workers = [p for p in pids if p != os.getpid()]
            if workers:
                pid = rng.choice(workers)
                try:
                    cmdline = " ".join(psutil.Process(pid).cmdline())
                    if "forkserver" not in cmdline and "resource_tracker" not in cmdline:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                except (psutil.Error, ProcessLookupError):
                    pass
            time.sleep(rng.uniform(0.005, 0.03))

    def one(i):
        try:
            yield coop.to_process(sleep_then, 0.002, i)
            out["ok"] += 1
        except coop.WorkerCrashed:
            out["crashed"] += 1

    def main():
        stop = []
        thread = threading.Thread(target=killer, args=(stop,), daemon=True)
        coop.lowlevel.ignore_thread(thread)
        thread.start()
        yield coop.gather(*[one(i) for i in range(calls)])
        stop.append(True)
        thread.join()

    coop.run(main(), processes=processes)
    return out, killed


@pytest.mark.slow
def test_a_storm_of_kills_on_coops_pool_fails_no_more_calls_than_workers_died():
    out, killed = storm(400, 25, 2)
    assert out["ok"] + out["crashed"] == 400
    assert out["crashed"] <= len(killed)


# ---------------------------------------------------------------- b09: fork server killed


def test_a_worker_outlives_its_killed_fork_server_and_its_result_arrives():
    source = """
        import os, signal, time, psutil, coop

        def slow():
            time.sleep(1.5)
            return "finished"

        def main():
            call = yield coop.spawn(coop.to_process(slow).__iter__())
            yield coop.sleep(0.5)
            me = psutil.Process()
            server = [p for p in me.children() if "forkserver" in " ".join(p.cmdline())][0]
            worker = server.children()[0].pid
            os.kill(server.pid, signal.SIGKILL)
            return (yield coop.join(call)), worker

        if __name__ == "__main__":
            result, worker = coop.run(main(), processes=1)
            for _ in range(100):  # it has closed its pipe; the kernel may still be ending it
                try:
                    state = psutil.Process(worker).status()
                except psutil.NoSuchProcess:
                    state = "gone"
                if state in ("gone", psutil.STATUS_ZOMBIE):
                    break
                time.sleep(0.05)
            print(result, state)
    """
    [out] = run_program(source)
    assert out.split()[0] == "finished"
    assert out.split()[1] in ("gone", psutil.STATUS_ZOMBIE)  # a zombie is dead: init reaps it


# ---------------------------------------------------------------- b10: exit hangs


def test_pmap_on_a_process_executor_with_a_segfaulting_item_exits():
    source = """
        import ctypes, multiprocessing, time, coop
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        def maybe_segv(x):
            if x == 37:
                ctypes.string_at(0)
            time.sleep(0.01)
            return x

        def main():
            try:
                yield coop.pmap(maybe_segv, range(100), chunksize=10)
            except coop.WorkerCrashed:
                print("WorkerCrashed", flush=True)

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(2, mp_context=ctx) as pool:
                coop.run(main(), processes=pool)
            print("exiting", flush=True)
    """
    for out in run_program(source, timeout=30, runs=5):
        assert out.split() == ["WorkerCrashed", "exiting"]


# ---------------------------------------------------------------- b11: the backend's serializer


def test_a_loky_result_of_a_class_in_main_comes_back_as_loky_returns_it():
    pytest.importorskip("loky")
    source = """
        import loky, coop

        class Point:
            pass

        class Oops(Exception):
            pass

        def make_point():
            return Point()

        def oops():
            raise Oops("from __main__")

        def main(pool):
            print(type(pool.submit(make_point).result()).__name__)
            print(type((yield coop.to_process(make_point))).__name__)
            print(type((yield coop.pmap(lambda _: Point(), [1, 2]))[1]).__name__)
            try:
                yield coop.to_process(oops)
            except Oops as err:
                print(type(err).__name__, type(err.__cause__).__name__)

        if __name__ == "__main__":
            pool = loky.get_reusable_executor(max_workers=1)
            coop.run(main(pool), processes=pool)
    """
    [out] = run_program(source)
    assert out.split() == ["Point", "Point", "Point", "Oops", "RemoteTraceback"]


def test_a_result_only_cloudpickle_can_send_comes_back_from_loky():
    loky = pytest.importorskip("loky")
    pool = loky.get_reusable_executor(max_workers=1)

    def main():
        return (yield coop.to_process(make_local_instance))

    try:
        assert pool.submit(make_local_instance).result().value == 42
        assert coop.run(main(), processes=pool).value == 42
    finally:
        # loky's reusable executor outlives the test otherwise, and its manager thread being
        # alive turns a later test's deadlock into a warning (it could hand work in).
        pool.shutdown(wait=True, kill_workers=True)


# ---------------------------------------------------------------- b14: the worker's exception


@pytest.mark.parametrize("backend", ["coop", "ProcessPoolExecutor", "multiprocessing.Pool",
                                     "loky"])
def test_an_exception_that_does_not_unpickle_is_still_raised_as_itself(backend):
    def main():
        try:
            yield coop.to_process(charge, "ann")
        except QuotaError as err:
            return str(err), err.user, type(err.__cause__).__name__, str(err.__cause__)

    ctx = multiprocessing.get_context("forkserver")
    if backend == "coop":
        spec, closer = 1, None
    elif backend == "ProcessPoolExecutor":
        spec = closer = ProcessPoolExecutor(1, mp_context=ctx)
    elif backend == "multiprocessing.Pool":
        spec = closer = ctx.Pool(1)
    else:
        spec, closer = pytest.importorskip("loky").get_reusable_executor(max_workers=1), None
    try:
        message, user, cause, tb = coop.run(main(), processes=spec)
    finally:
        if isinstance(closer, ProcessPoolExecutor):
            closer.shutdown()
        elif closer is not None:
            closer.terminate()
    assert (message, user, cause) == ("ann is over 10", "ann", "RemoteTraceback")
    assert "in charge" in tb


def test_an_exception_class_missing_here_is_reported_by_name_and_message():
    # The worker pickles its exception apart from the outcome, with its description, so a
    # class the parent cannot import still comes back as what it was and where.
    from coop.offload.waits import outcome
    from coop.offload.wire import _dump_error

    class Elsewhere(Exception):
        pass

    data = _dump_error(Elsewhere("quota"), None)
    with pytest.raises(RuntimeError) as info:
        outcome("to_process(f)", WIRE, data)
    assert "Elsewhere: quota" in str(info.value)


# ---------------------------------------------------------------- b15: coop's queue in front


def append_line(path, x, seconds):
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write(f"{x}\n")


@pytest.mark.parametrize("spell", ["pmap", "to_process"])
def test_calls_queued_behind_a_multiprocessing_pool_are_withdrawn_on_timeout(tmp_path, spell):
    log = tmp_path / "log"
    log.write_text("")

    def many():
        if spell == "pmap":
            yield coop.pmap(__import__("functools").partial(append_line, log, seconds=0.3),
                            range(20), chunksize=1)
        else:
            yield coop.gather(*[coop.to_process(append_line, log, i, 0.3) for i in range(20)])

    def main():
        try:
            yield coop.timeout(0.5, many())
        except coop.Timeout:
            return len(log.read_text().splitlines())

    pool = multiprocessing.get_context("forkserver").Pool(2)
    try:
        pool.apply(sleep_then, (0, None))  # both workers started
        at_timeout = coop.run(main(), processes=pool)
        pool.close()
        pool.join()  # whatever the pool was handed has run
    finally:
        pool.terminate()
    after = len(log.read_text().splitlines())
    # The pool held at most its 2 running calls plus one; the other calls never reached it.
    assert after <= at_timeout + 3 < 20


def test_pmap_takes_its_items_as_it_goes():
    pulled = []

    def items():
        for i in range(100_000):
            pulled.append(i)
            yield 0.01

    def main():
        try:
            yield coop.timeout(0.3, coop.pmap(time.sleep, items(), chunksize=1,
                                              backend="threads"))
        except coop.Timeout:
            return len(pulled)

    assert coop.run(main(), threads=2) < 1000


def test_a_failed_pmap_frees_the_slots_of_the_chunks_still_running():
    # A pool cannot withdraw a chunk already running: it keeps its slot in coop's queue until
    # it reports. Before, a pmap that failed forgot such chunks at once, and their slots were
    # never given back: each failure shrank what the pool was handed, down to one call.
    release = threading.Event()

    def item(x):
        if x == 0:
            raise ValueError("the first item fails")
        release.wait(5)
        return x

    def main(pool):
        for _ in range(2):
            with pytest.raises(ValueError, match="the first item fails"):
                yield coop.pmap(item, range(4), chunksize=1, backend=pool)
        release.set()
        me = yield coop.current_task()
        gate = service_of(me.scheduler).gate(pool, "threads")
        deadline = time.monotonic() + 5
        while gate.running and time.monotonic() < deadline:
            yield coop.sleep(0.01)  # the chunks still running report
        return gate.running

    with ThreadPoolExecutor(4) as pool:
        assert coop.run(main(pool)) == 0


def test_pmap_of_an_empty_or_unsized_iterable():
    def main():
        empty = yield coop.pmap(abs, iter(()), chunksize=3)
        some = yield coop.pmap(abs, (x for x in range(-5, 0)), chunksize=2)
        return empty, some

    assert coop.run(main(), processes=1) == ([], [5, 4, 3, 2, 1])


def test_pmap_refuses_what_is_not_iterable():
    with pytest.raises(TypeError, match="needs an iterable of items, got 5"):
        coop.pmap(abs, 5)
