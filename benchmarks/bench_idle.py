"""What an idle scheduler costs: hand-ins while many tasks are parked, and a stuck wait.

    .venv/bin/python benchmarks/bench_idle.py                    # results/idle.json
    .venv/bin/python benchmarks/bench_idle.py --before /path/to/python-of-an-older-coop
    .venv/bin/python benchmarks/bench_idle.py --quick --no-write

Figures (see README.md):

* scheduler CPU for 1,000 hand-ins from a thread, with 1,000 and with 100,000 tasks parked on
  an Event: after each hand-in the loop is idle again and runs its deadlock check, which must
  not cost in proportion to the parked tasks (it once scanned them all: 89.6 s for 100,000).
* CPU while stuck: a task waits for an Event that only a live foreign thread could set; the
  process's CPU over a few seconds of wall time, in percent of one core.

Each variant runs in a fresh interpreter (a 100,000-task run must not tax the next one);
``--before PYTHON`` measures the same with another interpreter whose ``coop`` is an older
checkout, so today's code and the code before the change are side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import ensure_repo_on_path, write_results

HERE = Path(__file__).resolve().parent

# Run in a child interpreter: prints one JSON number.
_HAND_INS = r"""
import json, sys, threading, time
import coop
parked = int(sys.argv[1])
never, done = coop.Event(name="never"), coop.Event(name="done")
count = [0]
def waiter():
    yield never.wait()
def bump():
    count[0] += 1
    if count[0] == 1000:
        done.set()
def feed(sched):
    for _ in range(1000):
        sched.call_soon_threadsafe(bump)
        time.sleep(0.0005)
def main():
    for _ in range(parked):
        yield coop.spawn(waiter(), daemon=True)
    yield
    t0 = time.process_time()
    threading.Thread(target=feed, args=(sched,)).start()
    yield done.wait()
    return time.process_time() - t0
sched = coop.Scheduler()
print(json.dumps(sched.run_main(main())))
"""

_STUCK = r"""
import json, threading, time
import coop
release = threading.Event()
helper = threading.Thread(target=release.wait, daemon=True)
helper.start()
try:
    sched = coop.Scheduler(deadlock_warning=None)
except TypeError:  # a coop from before the warning
    sched = coop.Scheduler()
def main():
    def measure():
        wall, cpu = time.monotonic(), time.process_time()
        time.sleep(3)
        result.append((time.process_time() - cpu) / (time.monotonic() - wall) * 100)
        sched.call_soon_threadsafe(gate.set)
    result = []
    gate = coop.Event(name="gate")
    threading.Thread(target=measure).start()
    yield gate.wait()
    return result[0]
print(json.dumps(sched.run_main(main())))
"""


def _child(python: str, program: str, *args: str) -> float:
    out = subprocess.run([python, "-c", program, *args], capture_output=True, text=True,
                         check=True, timeout=900, cwd=tempfile.gettempdir())
    # Not the repository as cwd: `python -c` puts the cwd first on sys.path, and the older
    # interpreter would import this checkout's coop instead of its own.
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="python of an older coop checkout, measured beside")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10,000 instead of 100,000")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    ensure_repo_on_path()
    many = 10_000 if args.quick else 100_000
    pythons = {"coop": sys.executable}
    if args.before:
        pythons["before"] = args.before
    samples: dict[tuple[str, int], list[float]] = {}
    stuck: dict[str, list[float]] = {}
    for repeat in range(1 if args.quick else args.repeats):
        for label, python in pythons.items():
            for parked in (1_000, many):
                value = _child(python, _HAND_INS, str(parked))
                samples.setdefault((label, parked), []).append(value)
                print(f"repeat {repeat + 1}: {label}, {parked:,} parked: {value:.3f} s CPU",
                      flush=True)
            if label == "coop" or repeat == 0:
                value = _child(python, _STUCK)
                stuck.setdefault(label, []).append(value)
                print(f"repeat {repeat + 1}: {label}, stuck: {value:.3f} % of a core",
                      flush=True)
    med = {key: statistics.median(values) for key, values in samples.items()}
    figures: list[dict[str, Any]] = [
        {"name": f"1,000 hand-ins from a thread, {many:,} tasks parked",
         "unit": "s scheduler CPU", "lower_is_better": True,
         "goal": "coop <= 2x 1000 parked",
         "results": {"coop": med["coop", many], "1000 parked": med["coop", 1_000],
                     **({f"before, {many:,} parked": med["before", many]}
                        if args.before else {})}},
        {"name": "1,000 hand-ins from a thread, 1,000 tasks parked",
         "unit": "s scheduler CPU", "lower_is_better": True,
         "goal": "coop <= 1x before" if args.before else None,
         "results": {"coop": med["coop", 1_000],
                     **({"before": med["before", 1_000]} if args.before else {})}},
        {"name": "CPU while stuck, a foreign thread alive",
         "unit": "% of one core", "lower_is_better": True, "goal": "coop < 0.5",
         "results": {label: statistics.median(values) for label, values in stuck.items()}},
    ]
    if not args.no_write:
        write_results("idle", figures)


if __name__ == "__main__":
    main()
