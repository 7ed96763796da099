"""Ctrl-C during run(): the first cancels every task (cleanup runs), the second stops at once."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PROGRAM = textwrap.dedent(
    """
    import sys
    import coop

    def worker(i):
        try:
            yield coop.sleep(3600)
        finally:
            print("worker", i, "cleaned up", flush=True)

    def main():
        try:
            for i in range(3):
                yield coop.spawn(worker(i), name=f"worker-{i}")
            yield  # let the workers reach their sleep, so each has a finally to run
            print("ready", flush=True)
            yield coop.sleep(3600)
        finally:
            print("main cleaned up", flush=True)

    try:
        coop.run(main())
    except KeyboardInterrupt:
        print("run raised KeyboardInterrupt", flush=True)
        sys.exit(3)
    """
)

STUBBORN = textwrap.dedent(
    """
    import coop

    def stubborn():
        # A cleanup that never ends, inside its handler: coop lets cleanup run (it does not
        # cancel it again), so only a second Ctrl-C can end the program now. (A task that
        # catches Cancelled and goes on is cancelled again, then closed: test_kernel_faults.)
        try:
            yield coop.sleep(3600)
        except coop.Cancelled:
            print("ignoring cancel", flush=True)
            yield coop.sleep(3600)

    def main():
        yield coop.spawn(stubborn())
        yield  # let it reach its sleep
        print("ready", flush=True)
        yield coop.sleep(3600)

    try:
        coop.run(main())
    except KeyboardInterrupt:
        print("stopped by the second Ctrl-C", flush=True)
        raise SystemExit(4)
    """
)


def start(program):
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_first_ctrl_c_cancels_every_task_in_order_and_run_raises_keyboardinterrupt():
    proc = start(PROGRAM)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert out.splitlines() == [
        "main cleaned up",
        "worker 0 cleaned up",
        "worker 1 cleaned up",
        "worker 2 cleaned up",
        "run raised KeyboardInterrupt",
    ]


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_second_ctrl_c_stops_at_once_even_if_a_task_ignores_cancellation():
    proc = start(STUBBORN)
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline().strip() == "ignoring cancel"
    time.sleep(0.1)  # the task is back asleep; only a second Ctrl-C can end the program now
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    assert "stopped by the second Ctrl-C" in out
