"""Issue 10, b03, a caller's multiprocessing.Pool: a worker that dies never wedges coop's calls.

multiprocessing.Pool's workers take tasks one at a time under a lock they share (the idle
worker holding it sits in ``read`` until a task comes) and send results under another; a
worker killed while it holds one leaves every other worker blocked on it forever, and a task
it had taken is never reported. Each program below runs in a subprocess with a timeout: a
wedged pool makes it hang, and the test fails.
"""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and forkserver")


def run_script(script, *args, timeout=60):
    """Run ``script``; its stdout. A run that hangs fails, and its whole process group (the
    pool's fork server and workers, which a wedged pool leaves behind) is ended."""
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever outlived the program
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, err
    return out


def run_program(tmp_path, source, timeout=60):
    """Run ``source`` as a script (workers import its functions by name); its stdout."""
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(source))
    return run_script(script, timeout=timeout)


def test_an_idle_worker_killed_holding_the_pools_task_lock_wedges_no_call(tmp_path):
    # A pool of one: its idle worker always holds the task lock, waiting in read(). Killed,
    # it takes the lock with it; the pool's replacement waits for it forever. Before: every
    # later call hung, and so did the pool's own terminate().
    out = run_program(tmp_path, """
        import multiprocessing, os, signal, coop

        def square(x):
            return x * x

        def main():
            return (yield coop.gather(*[coop.to_process(square, i) for i in range(10)]))

        if __name__ == "__main__":
            pool = multiprocessing.get_context("forkserver").Pool(1)
            pool.apply(square, (0,))          # the worker is up, and now idle
            worker = pool._pool[0]
            os.kill(worker.pid, signal.SIGKILL)
            worker.join()
            print(coop.run(main(), processes=pool))
            pool.terminate()                  # takes the task lock: it must be free again
            print("terminated")
    """)
    assert out.split("\n")[:2] == [str([i * i for i in range(10)]), "terminated"]


def test_a_worker_dead_with_the_pools_result_lock_wedges_no_call(tmp_path):
    # A worker that dies while it sends a result (the pool's result lock held) is simulated
    # by a call that takes that lock in its worker and exits: only that call may fail.
    out = run_program(tmp_path, """
        import gc, os, multiprocessing.queues, coop

        def square(x):
            return x * x

        def die_holding_the_result_lock():
            for queue in gc.get_objects():
                if isinstance(queue, multiprocessing.queues.SimpleQueue) and \\
                        queue._reader.closed:  # a worker closes the reading end of results
                    queue._wlock.acquire()
                    os._exit(1)

        def main():
            try:
                yield coop.to_process(die_holding_the_result_lock)
            except coop.WorkerCrashed:
                print("crashed")
            return (yield coop.gather(*[coop.to_process(square, i) for i in range(10)]))

        if __name__ == "__main__":
            pool = multiprocessing.get_context("forkserver").Pool(2)
            print(coop.run(main(), processes=pool))
            pool.terminate()
            print("terminated")
    """)
    assert out.split("\n")[:3] == ["crashed", str([i * i for i in range(10)]), "terminated"]


def test_a_pool_task_lost_with_a_worker_that_took_it_loses_no_call(tmp_path):
    # The first worker to take coop's task dies before it can ask for its call (killed while
    # taking it); the pool never reports such a task. Before: that call never ended.
    out = run_program(tmp_path, f"""
        import os, multiprocessing, coop, coop.offload.wire

        FLAG = {str(tmp_path / "died")!r}

        def die_on_first_task():
            if os.path.exists(FLAG):
                return
            open(FLAG, "w").close()
            # Whatever the task coop sends the pool is called, it dies on taking it.
            for name in ("invoke_pulled", "invoke_tracked"):
                setattr(coop.offload.wire, name, lambda *args: os._exit(1))

        def square(x):
            return x * x

        def main():
            return (yield coop.gather(*[coop.to_process(square, i) for i in range(4)]))

        if __name__ == "__main__":
            pool = multiprocessing.get_context("forkserver").Pool(2, die_on_first_task)
            print(coop.run(main(), processes=pool))
            pool.terminate()
    """)
    assert out.split("\n")[0] == str([i * i for i in range(4)])
    assert (tmp_path / "died").exists()


STORM = """
    import multiprocessing, os, random, signal, sys, threading, time, coop

    def work(x):
        time.sleep(0.002)
        return x

    def main(pool, calls, kills, out, killed):
        def killer():
            rng = random.Random(7)
            while len(killed) < kills and not out["over"]:
                # Any live worker: running a call, idle, or in the pool's own plumbing.
                live = [p for p in list(pool._pool) if p.exitcode is None]
                if live:
                    victim = rng.choice(live)
                    try:
                        os.kill(victim.pid, signal.SIGKILL)
                        killed.append(victim.pid)
                    except ProcessLookupError:
                        pass
                time.sleep(rng.uniform(0.002, 0.03))

        def one(i):
            try:
                assert (yield coop.to_process(work, i)) == i
                out["ok"] += 1
            except coop.WorkerCrashed:
                out["crashed"] += 1

        thread = threading.Thread(target=killer, daemon=True)
        coop.lowlevel.ignore_thread(thread)
        thread.start()
        for start in range(0, calls, 100):  # with idle gaps, where the task lock is held
            yield coop.gather(*[one(i) for i in range(start, min(calls, start + 100))])
            yield coop.sleep(0.01)
        out["over"] = True
        thread.join()

    if __name__ == "__main__":
        calls, kills = int(sys.argv[1]), int(sys.argv[2])
        pool = multiprocessing.get_context("forkserver").Pool(2)
        out, killed = {"ok": 0, "crashed": 0, "over": False}, []
        coop.run(main(pool, calls, kills, out, killed), processes=pool)
        pool.terminate()
        print(out["ok"], out["crashed"], len(killed))
"""


@pytest.mark.slow
def test_a_storm_of_kills_on_a_multiprocessing_pool_ends_every_call(tmp_path):
    script = tmp_path / "storm.py"
    script.write_text(textwrap.dedent(STORM))
    ok, crashed, kills = map(int, run_script(script, "600", "30", timeout=240).split())
    assert ok + crashed == 600
    assert crashed <= kills
