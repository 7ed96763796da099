"""Helpers shared by the benchmark scripts: timing, repeats, gc, machine info, result files.

Conventions every ``bench_*.py`` follows (whether or not it uses these helpers):

* Time is read with :func:`time.perf_counter` (``timer()``), CPU time with
  :func:`time.process_time`. Each measurement is repeated and the **median** is reported.
* Peers are measured **interleaved** (repeat 1 of every peer, then repeat 2, ...) in one process,
  so a noisy moment on the shared machine hits every peer alike and the ratios stay meaningful.
* The garbage collector stays **enabled** during timed code, as in a real program (at 100,000
  live tasks its cost is part of what a scheduler costs); ``gc.collect()`` runs before each timed
  repeat so one repeat does not pay for the garbage of the previous one. A benchmark that
  departs from this says so in its figure's name.
* Results go to ``benchmarks/results/<suite>.json`` through :func:`write_results`::

    {"suite": "core", "python": "3.11.7", "date": "2026-11-25", "machine": "...",
     "figures": [{"name": "switch cost, 10 tasks", "unit": "ns per switch",
                  "lower_is_better": true,
                  "goal": "coop <= 2.5x floor, >= 12x faster than asyncio",
                  "results": {"coop": 60.0, "floor (next() loop)": 30.0, "asyncio": 1000.0}}]}

  A result of ``null`` means the peer could not be measured (not installed, failed).

Goals are checked by ``report.py`` when written in this small language (clauses separated by
``,`` ``;`` or `` and ``; ``coop`` is the subject, a peer is named by its key or a unique
prefix of it; text after the number, such as a unit, is ignored)::

    coop <= 600                      absolute bound in the figure's unit (also <, >=, >, ==)
    coop <= 2.5x floor               ratio bound against a peer
    >= 12x faster than asyncio       peer / coop >= 12 (lower is better), coop / peer if higher
    at least 3x faster than asyncio  the same

Any other goal text is shown as written and marked "not checked".
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
REPO = HERE.parent

timer = time.perf_counter
cpu_timer = time.process_time


def ensure_repo_on_path() -> None:
    """Make ``import coop`` find the working copy when run as ``python benchmarks/x.py``."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def collect() -> None:
    """Free the garbage of earlier work before a timed repeat (gc itself stays enabled)."""
    gc.collect()


def time_call(fn: Callable[[], Any]) -> float:
    """Seconds taken by ``fn()`` (wall clock, perf_counter), after a gc.collect()."""
    collect()
    t0 = timer()
    fn()
    return timer() - t0


def repeat_median(fn: Callable[[], float], repeats: int) -> float:
    """Call ``fn`` (which returns a measured number) ``repeats`` times; the median."""
    return median(fn() for _ in range(repeats))


def interleaved_samples(peers: dict[str, Callable[[], Any]], repeats: int,
                        *, label: str = "",
                        limits: dict[str, int] | None = None) -> dict[str, list[Any]]:
    """Call every peer ``repeats`` times, one round over all peers at a time.

    ``limits`` caps the repeats of slow peers (name -> at most that many samples). Returns
    every sample per peer. A peer that raises (or returns None) is dropped from then on and
    reported with no samples, so one broken peer does not sink the whole run.
    """
    samples: dict[str, list[Any]] = {name: [] for name in peers}
    failed: set[str] = set()
    limits = limits or {}
    for _ in range(repeats):
        for name, fn in peers.items():
            if name in failed or len(samples[name]) >= limits.get(name, repeats):
                continue
            collect()
            try:
                value = fn()
            except Exception as exc:
                print(f"  {label}{name}: failed: {exc!r}", file=sys.stderr, flush=True)
                value = None
            if value is None:
                failed.add(name)
                samples[name] = []
            else:
                samples[name].append(value)
    return samples


def interleaved(peers: dict[str, Callable[[], float | None]], repeats: int,
                *, verbose: bool = True, label: str = "",
                limits: dict[str, int] | None = None) -> dict[str, float | None]:
    """Measure every peer ``repeats`` times, interleaved; the median per peer (None if the
    peer failed), in the order of ``peers``."""
    samples = interleaved_samples(peers, repeats, label=label, limits=limits)
    result: dict[str, float | None] = {}
    for name, values in samples.items():
        result[name] = median(values) if values else None
        if verbose:
            shown = "n/a" if result[name] is None else f"{result[name]:.6g}"
            spread = ""
            if len(values) > 1:
                spread = f"  (min {min(values):.4g}, max {max(values):.4g})"
            print(f"  {label}{name:<28} {shown}{spread}", flush=True)
    return result


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_info() -> str:
    """One line: OS, architecture, CPU model and count."""
    return (f"{platform.system()} {platform.machine()}, {cpu_model()}, "
            f"{os.cpu_count()} CPUs")


def python_info() -> str:
    """The Python version, and which coop kernel ran (compiled or pure Python)."""
    import coop

    build = coop.kernel_build().split(":")[0]
    return f"{platform.python_version()}, coop kernel {build}"


def figure(name: str, unit: str, results: dict[str, float | None], *,
           goal: str | None = None, lower_is_better: bool = True) -> dict[str, Any]:
    """One figure in the result file's format."""
    return {"name": name, "unit": unit, "lower_is_better": lower_is_better, "goal": goal,
            "results": {k: (None if v is None else float(v)) for k, v in results.items()}}


def write_results(suite: str, figures: list[dict[str, Any]],
                  directory: Path | str | None = None) -> Path:
    """Write ``benchmarks/results/<suite>.json`` (or into ``directory``); returns its path."""
    out_dir = Path(directory) if directory is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "suite": suite,
        "python": python_info(),
        "date": date.today().isoformat(),
        "machine": machine_info(),
        "figures": figures,
    }
    path = out_dir / f"{suite}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path
