"""Run every benchmarks/bench_*.py present, one after the other, then report.py.

    .venv/bin/python benchmarks/run_all.py                  # all suites, then the README tables
    .venv/bin/python benchmarks/run_all.py core sync        # only bench_core.py, bench_sync.py
    .venv/bin/python benchmarks/run_all.py --plots docs/_static/bench

Each suite runs in its own process with this interpreter (so one suite's garbage, threads or
pools cannot disturb the next), and writes benchmarks/results/<suite>.json itself. A suite that
fails is reported and the others still run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def suites() -> list[Path]:
    """bench_core.py first, the others by name."""
    found = sorted(HERE.glob("bench_*.py"))
    return sorted(found, key=lambda p: (p.stem != "bench_core", p.stem))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark suite, then report.py.")
    parser.add_argument("only", nargs="*", help="suite names to run (core, sync, ...)")
    parser.add_argument("--plots", metavar="DIR", help="also write the PNG charts into DIR")
    parser.add_argument("--no-report", action="store_true", help="do not run report.py")
    args = parser.parse_args(argv)

    chosen = [p for p in suites()
              if not args.only or p.stem.removeprefix("bench_") in args.only]
    if not chosen:
        print(f"no benchmark suites match {args.only}", file=sys.stderr)
        return 2
    failed = []
    for path in chosen:
        print(f"=== {path.name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(path)], cwd=HERE)
        print(f"=== {path.name}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(path.name)
    if not args.no_report:
        cmd = [sys.executable, str(HERE / "report.py")]
        if args.plots:
            cmd += ["--plots", args.plots, "--readme"]
        if subprocess.call(cmd, cwd=HERE) != 0:
            failed.append("report.py")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
