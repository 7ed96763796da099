"""Offloading: to_thread, to_process, pmap, their backends, and nothing hanging or being lost."""

import concurrent.futures
import multiprocessing
import multiprocessing.pool
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

import coop
from coop.offload import backends
from coop.offload.wire import find_unpicklable

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- worker functions
# Module level, so that worker processes can find them by name.


def square(x):
    return x * x


def pid_of(_=None):
    return os.getpid()


def slow_square(x, delay=0.05):
    time.sleep(delay)
    return x * x


def fail(message):
    raise ValueError(message)


def die(code=1):
    os._exit(code)


def segfault():
    import ctypes

    ctypes.string_at(0)


def killed():
    os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer does


def die_on(x, bad=3):
    if x == bad:
        os._exit(7)
    return x


def returns_lambda():
    return lambda: 1


def returns_lock():
    return threading.Lock()


class Unpicklable(Exception):
    def __init__(self, lock):
        super().__init__("has a lock")
        self.lock = lock

    def __reduce__(self):
        raise TypeError("no pickling me")


def raises_unpicklable():
    raise Unpicklable(threading.Lock())


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def write_pid_then_sleep(path, seconds):
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "finished"


def run(main, **kw):
    return coop.run(main, **kw)


# ---------------------------------------------------------------- basics


def test_to_thread_returns_the_result_and_other_tasks_run_meanwhile():
    three_ticks = threading.Event()

    def ticker_then_signal():
        for _ in range(3):
            yield coop.sleep(0.001)
        three_ticks.set()

    def main():
        yield coop.spawn(ticker_then_signal())
        # The thread returns only once the ticker has run three times: main's wait did not
        # stop the scheduler.
        return (yield coop.to_thread(lambda: three_ticks.wait(30) and "ticked"))

    assert run(main()) == "ticked"


def test_to_thread_passes_args_and_kwargs_and_reraises_with_the_traceback():
    def main():
        assert (yield coop.to_thread(slow_square, 3, delay=0)) == 9
        try:
            yield coop.to_thread(fail, "boom")
        except ValueError as err:
            frames = []
            tb = err.__traceback__
            while tb:
                frames.append(tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
            return str(err), frames

    message, frames = run(main())
    assert message == "boom"
    assert "fail" in frames  # the frame that raised, in the worker thread


def test_to_process_runs_in_another_process():
    def main():
        return (yield coop.to_process(pid_of)), (yield coop.to_process(square, 12))

    pid, value = run(main())
    assert pid != os.getpid() and value == 144


def test_pmap_returns_ordered_results_for_any_chunksize():
    def main(chunksize):
        return (yield coop.pmap(square, iter(range(23)), chunksize=chunksize))

    for chunksize in (None, 1, 4, 100):
        assert run(main(chunksize), processes=2) == [x * x for x in range(23)]


def test_pmap_of_nothing_is_an_empty_list_and_starts_no_pool():
    def main():
        return (yield coop.pmap(square, []))

    assert run(main()) == []


def test_pmap_on_threads():
    def main():
        return (yield coop.pmap(slow_square, range(10), backend="threads"))

    assert run(main()) == [x * x for x in range(10)]


def test_many_calls_in_flight_at_once():
    def one(i):
        return (yield coop.to_thread(square, i))

    def main():
        tasks = []
        for i in range(300):
            tasks.append((yield coop.spawn(one(i))))
        results = []
        for task in tasks:
            results.append((yield coop.join(task)))
        return results

    assert run(main(), threads=4) == [i * i for i in range(300)]


def test_waiting_for_a_thread_is_not_a_deadlock_and_the_virtual_clock_waits():
    clock = coop.VirtualClock()

    def sleeper():
        yield coop.sleep(10)

    def main():
        yield coop.spawn(sleeper())
        yield coop.to_thread(time.sleep, 0.05)
        return (yield coop.now())

    assert run(main(), clock=clock) < 10  # the clock did not jump while the thread ran
    assert clock.now() == 10


def test_generator_functions_and_non_callables_are_refused_at_the_call():
    def gen():
        yield

    with pytest.raises(TypeError, match="generator or async function"):
        coop.to_thread(gen)
    with pytest.raises(TypeError, match="needs a function"):
        coop.to_process(42)
    with pytest.raises(ValueError, match="chunksize"):
        coop.pmap(square, [1], chunksize=0)


def test_import_coop_imports_no_optional_library():
    code = ("import sys, coop; bad = [m for m in ('dask', 'distributed', 'ray', 'tqdm', 'loky',"
            " 'multiprocessing', 'concurrent.futures') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- sizes and backends


def test_run_takes_the_sizes_of_the_pools_coop_starts():
    running, peak = [0], [0]
    lock = threading.Lock()

    def tracked():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1

    def one():
        yield coop.to_thread(tracked)

    def main():
        tasks = []
        for _ in range(6):
            tasks.append((yield coop.spawn(one())))
        for t in tasks:
            yield coop.join(t)
        return set((yield coop.pmap(pid_of, range(40), chunksize=1)))

    pids = run(main(), threads=2, processes=2)
    assert peak[0] == 2
    assert 1 <= len(pids) <= 2


@pytest.mark.parametrize("bad", [0, -1, True, "lots", object()])
def test_run_refuses_bad_pool_specs(bad):
    def main():
        yield

    with pytest.raises((TypeError, ValueError)):
        run(main(), threads=bad)


@pytest.fixture(scope="module")
def mp_pool():
    # Not the default "fork": this pool forks replacement workers (after the crash tests)
    # while the test process runs many threads, which a forked child may inherit as locks held
    # forever. Fork pools are covered by the Ctrl-C test and the seed_pool example, which make
    # them before any thread starts, as the lecture did.
    pool = multiprocessing.get_context("forkserver").Pool(2)
    yield pool
    pool.terminate()
    pool.join()


@pytest.fixture(scope="module")
def process_executor():
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def loky_executor():
    loky = pytest.importorskip("loky")
    executor = loky.get_reusable_executor(max_workers=2)
    yield executor
    executor.shutdown(wait=True, kill_workers=True)


@pytest.mark.parametrize("name", ["ProcessPoolExecutor", "multiprocessing.Pool", "loky"])
def test_caller_process_pools_are_used_as_they_are_and_left_running(name, request):
    pool = request.getfixturevalue({"ProcessPoolExecutor": "process_executor",
                                    "multiprocessing.Pool": "mp_pool",
                                    "loky": "loky_executor"}[name])

    def main():
        one = yield coop.to_process(square, 5)
        many = yield coop.pmap(square, range(8), chunksize=3)
        try:
            yield coop.to_process(fail, "remote")
        except ValueError as err:
            cause = err.__cause__
        return one, many, cause

    one, many, cause = run(main(), processes=pool)
    assert one == 25 and many == [x * x for x in range(8)]
    assert isinstance(cause, coop.RemoteTraceback) and "in fail" in str(cause)
    assert run(main(), processes=pool)[0] == 25  # still running after run() ended


@pytest.mark.parametrize("kind", ["ThreadPoolExecutor", "ThreadPool"])
def test_caller_thread_pools(kind):
    pool = (concurrent.futures.ThreadPoolExecutor(2) if kind == "ThreadPoolExecutor"
            else multiprocessing.pool.ThreadPool(2))

    def main():
        name = yield coop.to_thread(lambda: threading.current_thread().name)
        return name, (yield coop.pmap(square, range(5), backend="threads"))

    try:
        name, squares = run(main(), threads=pool)
        assert squares == [0, 1, 4, 9, 16]
        assert not name.startswith("coop-")  # the caller's thread, not coop's
        assert run(main(), threads=pool)[1] == squares  # not shut down by run()
    finally:
        if kind == "ThreadPoolExecutor":
            pool.shutdown()
        else:
            pool.terminate()


def test_one_call_can_name_its_backend(mp_pool):
    def main():
        here = os.getpid()
        in_thread = yield coop.to_thread(pid_of).on("threads")
        in_process = yield coop.to_thread(pid_of).on("processes")
        in_caller_pool = yield coop.to_process(pid_of).on(mp_pool)
        mapped = yield coop.pmap(pid_of, range(4), backend=mp_pool)
        return here, in_thread, in_process, in_caller_pool, mapped

    here, in_thread, in_process, in_caller_pool, mapped = run(main())
    assert in_thread == here and in_process != here
    worker_pids = {p.pid for p in mp_pool._pool}
    assert in_caller_pool in worker_pids and set(mapped) <= worker_pids
    with pytest.raises(TypeError, match="cannot run calls on"):
        coop.to_process(square, 1).on(object())
    with pytest.raises(ValueError, match="unknown backend"):
        coop.pmap(square, [1], backend="gpu")


def test_classify_knows_the_kinds(mp_pool, process_executor):
    assert backends.classify(mp_pool) == "processes"
    assert backends.classify(process_executor) == "processes"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert backends.classify(pool) == "threads"


# ---------------------------------------------------------------- crashes


@pytest.mark.parametrize("how", [die, segfault, killed], ids=["os._exit", "segfault", "SIGKILL"])
def test_a_dead_worker_raises_worker_crashed_naming_the_call_and_later_calls_work(how):
    def main():
        try:
            yield coop.to_process(how)
        except coop.WorkerCrashed as err:
            message = str(err)
        return message, (yield coop.to_process(square, 9))

    message, after = run(main(), processes=1)
    assert f"to_process({how.__name__})" in message
    assert {die: "exit code 1", segfault: "SIGSEGV", killed: "SIGKILL"}[how] in message
    assert after == 81


def test_a_crash_fails_only_the_call_it_killed():
    def main():
        slow = yield coop.spawn(run_slow())
        try:
            yield coop.to_process(die)
        except coop.WorkerCrashed:
            pass
        return (yield coop.join(slow))

    def run_slow():
        return (yield coop.to_process(slow_square, 6, 0.3))

    assert run(main(), processes=2) == 36


@pytest.mark.parametrize("how", [die, segfault, killed], ids=["os._exit", "segfault", "SIGKILL"])
def test_multiprocessing_pool_crash_is_detected_where_its_own_map_would_hang(how, mp_pool):
    def main():
        try:
            yield coop.to_process(how)
        except coop.WorkerCrashed as err:
            message = str(err)
        return message, (yield coop.to_process(square, 4))

    message, after = run(main(), processes=mp_pool)
    assert f"to_process({how.__name__})" in message and "multiprocessing Pool" in message
    assert after == 16  # the pool replaced its worker


def test_pmap_names_the_chunk_whose_worker_died():
    def main():
        try:
            yield coop.pmap(die_on, range(6), chunksize=2)
        except coop.WorkerCrashed as err:
            return str(err)

    message = run(main(), processes=2)
    assert "pmap(die_on) chunk 1" in message and "exit code 7" in message


def test_pmap_on_a_multiprocessing_pool_survives_a_crash(mp_pool):
    def main():
        try:
            yield coop.pmap(die_on, range(6), chunksize=1)
        except coop.WorkerCrashed as err:
            crashed = str(err)
        return crashed, (yield coop.pmap(square, range(6)))

    crashed, after = run(main(), processes=mp_pool)
    assert "pmap(die_on) chunk 3" in crashed
    assert after == [x * x for x in range(6)]


@pytest.mark.parametrize("kind", ["ProcessPoolExecutor", "loky"])
def test_a_broken_process_executor_is_replaced(kind):
    if kind == "loky":
        loky = pytest.importorskip("loky")
        pool = loky.get_reusable_executor(max_workers=1)
    else:
        pool = concurrent.futures.ProcessPoolExecutor(1)

    def main():
        try:
            yield coop.to_process(die)
        except coop.WorkerCrashed as err:
            message = str(err)
        return message, (yield coop.to_process(square, 3))

    try:
        message, after = run(main(), processes=pool)
    finally:
        pool.shutdown(wait=True)
        if kind == "loky":  # the replacement is loky's process-wide reusable executor
            loky.get_reusable_executor(max_workers=1).shutdown(wait=True, kill_workers=True)
    assert "to_process(die)" in message and "broke" in message
    assert after == 9


# ---------------------------------------------------------------- pickling


def local_function_holder():
    def local(x):
        return x

    return local


@pytest.mark.parametrize("call, culprit, why", [
    (lambda: coop.to_process(lambda: 1), "the function", "lambda"),
    (lambda: coop.to_process(local_function_holder()), "the function",
     "defined inside another function"),
    (lambda: coop.to_process(square, open(os.devnull)),  # noqa: SIM115
     "argument 0", "open file"),
    (lambda: coop.to_process(slow_square, 1, delay=threading.Lock()),
     "keyword argument 'delay'", "lock"),
    (lambda: coop.to_process(square, {"a": [1, threading.Lock()]}),
     "argument 0['a'][1]", "lock"),
    (lambda: coop.pmap(square, [1, 2, (x for x in [])], chunksize=2), "item 2", "generator"),
], ids=["lambda", "local function", "open file", "lock kwarg", "nested lock", "pmap item"])
def test_unpicklable_calls_raise_a_clear_type_error_and_the_scheduler_goes_on(call, culprit,
                                                                             why):
    def main():
        try:
            yield call()
        except TypeError as err:
            message = str(err)
        return message, (yield coop.to_process(square, 2))

    message, after = run(main(), processes=1)
    assert culprit in message and why in message and "cannot be sent to" in message
    assert after == 4


@pytest.mark.parametrize("backend", ["coop", "ProcessPoolExecutor", "multiprocessing.Pool"])
@pytest.mark.parametrize("fn, expect", [
    (returns_lambda, "the result, <function returns_lambda.<locals>.<lambda>"),
    (returns_lock, "lock"),
    (raises_unpicklable, "Unpicklable: has a lock (the exception itself cannot be pickled"),
])
def test_unpicklable_results_and_exceptions_come_back_as_clear_errors(fn, expect, backend,
                                                                      mp_pool,
                                                                      process_executor):
    pools = {"coop": 1, "ProcessPoolExecutor": process_executor,
             "multiprocessing.Pool": mp_pool}

    def main():
        try:
            yield coop.to_process(fn)
        except (TypeError, RuntimeError) as err:
            return str(err)

    assert expect in run(main(), processes=pools[backend])


class Holder:
    def __init__(self):
        self.name = "x"
        self.lock = threading.Lock()


def test_find_unpicklable_points_inside_objects():
    path, _culprit, why = find_unpicklable([1, {"k": Holder()}])
    assert path == "[1]['k'].lock" and "lock" in why
    assert find_unpicklable([1, "two"]) is None


# ---------------------------------------------------------------- remote tracebacks


def test_a_worker_exception_carries_the_remote_traceback():
    def main():
        try:
            yield coop.to_process(fail, "in the worker")
        except ValueError as err:
            return err

    err = run(main())
    assert str(err) == "in the worker"
    assert isinstance(err.__cause__, coop.RemoteTraceback)
    assert 'in fail\n    raise ValueError(message)' in str(err.__cause__)


# ---------------------------------------------------------------- cancel and timeout


def test_cancelling_a_queued_thread_call_means_it_never_runs():
    gate = threading.Event()
    ran = []

    def blocker():
        yield coop.to_thread(gate.wait, 5)

    def victim():
        yield coop.to_thread(ran.append, "ran")

    def main():
        first = yield coop.spawn(blocker())
        second = yield coop.spawn(victim())
        yield coop.sleep(0.05)
        yield coop.cancel(second)
        gate.set()
        yield coop.join(first)
        yield coop.to_thread(time.sleep, 0.05)  # the one thread is free again
        return second.cancelled()

    assert run(main(), threads=1) is True
    assert ran == []


def test_timing_out_a_running_thread_call_drops_its_late_result():
    release, finished = threading.Event(), threading.Event()

    def work():
        release.wait(30)  # still running when the timeout fires, whatever the machine's load
        finished.set()
        return "late"

    def main():
        try:
            yield coop.timeout(0.05, coop.to_thread(work))
        except coop.Timeout:
            timed_out = True
        release.set()
        yield coop.to_thread(finished.wait, 5)
        yield coop.sleep(0.05)  # the late result arrives now, and is dropped
        return timed_out

    assert run(main()) is True
    assert finished.is_set()


def test_cancelling_a_running_process_call_stops_its_worker(tmp_path):
    pid_file = tmp_path / "pid"

    def waiter():
        return (yield coop.to_process(write_pid_then_sleep, str(pid_file), 30))

    def main():
        task = yield coop.spawn(waiter())
        while not pid_file.exists() or not pid_file.read_text():
            yield coop.sleep(0.01)
        pid = int(pid_file.read_text())
        yield coop.cancel(task)
        after = yield coop.to_process(square, 5)
        return pid, after, task.cancelled()

    pid, after, cancelled = run(main(), processes=1)
    assert cancelled and after == 25
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_timeout_on_a_multiprocessing_pool_drops_the_late_result(mp_pool):
    def main():
        try:
            yield coop.timeout(0.05, coop.to_process(sleep_then, 1, "late"))
        except coop.Timeout:
            pass
        yield coop.sleep(1.1)  # the late result arrives meanwhile, and goes nowhere
        return (yield coop.to_process(square, 6))

    assert run(main(), processes=mp_pool) == 36


def test_cancelling_a_pmap_withdraws_the_chunks_not_started(process_executor, tmp_path):
    def main():
        task = yield coop.spawn(mapper())
        yield coop.sleep(0.1)
        yield coop.cancel(task)
        return task.cancelled()

    def mapper():
        items = [str(tmp_path / str(i)) for i in range(40)]
        return (yield coop.pmap(mark_then_sleep, items, chunksize=1))

    assert run(main(), processes=process_executor) is True
    assert process_executor.submit(square, 2).result(timeout=60) == 4  # drained
    # 40 calls of 0.2 s on 2 workers would take 4 s; those not started were withdrawn.
    assert len(list(tmp_path.iterdir())) < 40


def mark_then_sleep(path):
    Path(path).touch()
    time.sleep(0.2)


def test_a_failing_chunk_cancels_the_rest_of_the_pmap():
    def main():
        try:
            yield coop.pmap(fail_on_three, range(20), chunksize=1)
        except ValueError as err:
            return str(err), err.__cause__

    message, cause = run(main(), processes=2)
    assert message == "three" and isinstance(cause, coop.RemoteTraceback)


def fail_on_three(x):
    if x == 3:
        raise ValueError("three")
    time.sleep(0.01)
    return x


# ---------------------------------------------------------------- pools stop with run()


def coop_children():
    return [p for p in psutil.Process().children(recursive=True)
            if "forkserver" not in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE]


def test_the_pools_coop_started_stop_when_run_ends():
    before = {p.pid for p in coop_children()}

    def main():
        yield coop.to_thread(square, 1)
        return (yield coop.pmap(pid_of, range(8), chunksize=1))

    pids = set(run(main(), processes=2))
    assert not pids & {p.pid for p in coop_children()} - before
    deadline = time.monotonic() + 5
    while any(t.name.startswith("coop-thread") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "coop's threads did not stop"
        time.sleep(0.01)


def test_worker_processes_ignore_sigint(tmp_path):
    pid_file = tmp_path / "pid"

    def main():
        task = yield coop.spawn(waiter())
        while not pid_file.exists() or not pid_file.read_text():
            yield coop.sleep(0.01)
        os.kill(int(pid_file.read_text()), signal.SIGINT)
        return (yield coop.join(task))

    def waiter():
        return (yield coop.to_process(write_pid_then_sleep, str(pid_file), 0.3))

    assert run(main(), processes=1) == "finished"


CTRL_C_PROGRAM = textwrap.dedent("""
    import sys, time
    import coop

    def spin(seconds):
        time.sleep(seconds)
        return seconds

    def main():
        mapped = yield coop.spawn(mapper())
        yield coop.spawn(threaded())
        yield coop.sleep(0.5)
        print("ready", flush=True)
        yield coop.join(mapped)

    def mapper():
        yield coop.pmap(spin, [60] * 6, chunksize=1)

    def threaded():
        yield coop.to_thread(time.sleep, 60)

    if __name__ == "__main__":
        try:
            coop.run(main(), processes={processes})
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
""")


@pytest.mark.slow
@pytest.mark.parametrize("processes", ["2", "multiprocessing.Pool(2)"])
def test_ctrl_c_cancels_stops_the_pools_and_leaves_no_child_behind(tmp_path, processes):
    script = tmp_path / "prog.py"
    source = CTRL_C_PROGRAM.format(processes=processes)
    if "multiprocessing" in processes:
        source = source.replace("import coop", "import coop, multiprocessing")
    script.write_text(source)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO,
                            start_new_session=True)
    try:
        ready = selectors.DefaultSelector()
        ready.register(proc.stdout, selectors.EVENT_READ)
        assert ready.select(60), "the program did not start"
        assert proc.stdout.readline().strip() == "ready"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the program started no worker process"
        # As a terminal's Ctrl-C does: SIGINT to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in out
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"


# ---------------------------------------------------------------- progress


def test_pmap_progress_uses_tqdm_and_advances_per_chunk(capsys):
    def main():
        return (yield coop.pmap(square, range(12), chunksize=3, progress=True,
                                backend="threads"))

    assert run(main()) == [x * x for x in range(12)]
    err = capsys.readouterr().err
    assert "pmap(square)" in err and "12/12" in err


def test_pmap_progress_falls_back_to_a_plain_line_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if not installed

    def main():
        return (yield coop.pmap(square, range(12), chunksize=3, progress=True,
                                backend="threads"))

    assert run(main()) == [x * x for x in range(12)]
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["3/12", "6/12", "9/12", "12/12"]


# ---------------------------------------------------------------- the examples


def run_example(name, timeout=60):
    done = subprocess.run([sys.executable, str(REPO / "examples" / f"{name}.py")],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_seed_pool_prints_the_lecture_output_twice():
    assert run_example("seed_pool") == "[1, 4, 9]\n[1, 4, 9]\n"


@pytest.mark.slow
def test_gil_example_times_threads_and_processes():
    out = run_example("gil")
    assert "threads" in out and "processes" in out and "speedup" in out


@pytest.mark.slow
def test_crawler_example_fetches_every_page():
    out = run_example("crawler")
    assert "fetched 12 pages" in out


def test_tqdms_monitor_thread_does_not_hide_a_later_deadlock():
    tqdm = pytest.importorskip("tqdm.auto").tqdm

    def show():
        return (yield coop.pmap(square, range(4), progress=True, backend="threads"))

    run(show())
    monitor = getattr(tqdm, "monitor", None)
    if monitor is not None and monitor.is_alive():
        assert monitor in coop._core._deadlock._internal_threads


def test_a_scheduler_that_runs_twice_stops_its_pools_after_each_run():
    sched = coop.Scheduler()

    def main():
        return (yield coop.to_process(pid_of))

    first = sched.spawn(main())
    sched.run()
    second = sched.spawn(main())
    sched.run()
    assert first.result() != second.result()  # a new pool: the first one was stopped
    assert not psutil.pid_exists(second.result()) or \
        psutil.Process(second.result()).status() == psutil.STATUS_ZOMBIE
    sched.close()
