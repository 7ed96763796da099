"""Turn benchmarks/results/*.json into tables in benchmarks/README.md, and into bar charts.

    .venv/bin/python benchmarks/report.py                      # rewrite the README's tables
    .venv/bin/python benchmarks/report.py --plots docs/_static/bench   # PNGs only
    .venv/bin/python benchmarks/report.py --plots DIR --readme         # both

The tables go between ``<!-- results:start -->`` and ``<!-- results:end -->`` in the README
(appended at its end if the markers are missing). Goals written in the small language that
``common.py`` documents are checked; any other goal is shown as written, "not checked".
Plotting uses matplotlib's Agg backend: no display is needed. From Python (say, in docs/conf.py)::

    from benchmarks.report import plot_figures      # or import report with benchmarks/ on sys.path
    plot_figures("docs/_static/bench")
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
README = HERE / "README.md"
START = "<!-- results:start -->"
END = "<!-- results:end -->"
SUITE_ORDER = ("core", "sync", "actors", "offload", "explore")


# ------------------------------------------------------------------ loading


def load_results(results_dir: Path | str = RESULTS_DIR) -> list[dict[str, Any]]:
    """Every results file, core first, then the known suites, then the rest by name."""
    docs = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            print(f"report: skipping {path.name}: {exc}", file=sys.stderr)
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("figures"), list):
            print(f"report: skipping {path.name}: no figures", file=sys.stderr)
            continue
        doc.setdefault("suite", path.stem)
        docs.append(doc)

    def key(doc: dict[str, Any]) -> tuple[int, str]:
        suite = str(doc["suite"])
        rank = SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER)
        return rank, suite

    return sorted(docs, key=key)


def subject_of(results: dict[str, Any]) -> str | None:
    """The key results are compared with: "coop", else the first key starting with "coop"."""
    if "coop" in results:
        return "coop"
    for name in results:
        if name.lower().startswith("coop"):
            return name
    return None


# ------------------------------------------------------------------ goals


@dataclass
class Check:
    text: str
    met: bool | None  # None: could not be checked
    detail: str


_OPS = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "==": lambda a, b: a == b,
}
_NUM = r"(\d[\d,_]*(?:\.\d+)?(?:e[+-]?\d+)?)"
_RE_RATIO = re.compile(rf"^coop\s*(<=|<|>=|>|==)\s*{_NUM}\s*x\s+(.+)$", re.I)
_RE_ABS = re.compile(rf"^coop\s*(<=|<|>=|>|==)\s*{_NUM}(?:\s*\S.*)?$", re.I)
_RE_FASTER = re.compile(
    rf"^(?:coop\s+(?:is\s+)?)?(?:(>=|>)|at least)\s*{_NUM}\s*x\s+"
    rf"(?:faster|better|more|smaller|less)\s+than\s+(.+)$", re.I)


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("_", ""))


def find_peer(results: dict[str, Any], name: str) -> str | None:
    """A results key by exact name, case-insensitively, or by unique prefix."""
    name = name.strip().rstrip(".").strip()
    if name in results:
        return name
    lowered = {k.lower(): k for k in results}
    if name.lower() in lowered:
        return lowered[name.lower()]
    matches = [k for k in results if k.lower().startswith(name.lower())]
    return matches[0] if len(matches) == 1 else None


def _fmt_ratio(x: float) -> str:
    return f"{x:.3g}x" if x < 100 else f"{x:,.0f}x"


def check_goal(fig: dict[str, Any]) -> list[Check]:
    """Check each clause of a figure's goal; [] if it has none."""
    goal = fig.get("goal")
    if not goal:
        return []
    results = fig.get("results", {})
    lower = bool(fig.get("lower_is_better", True))
    subject = subject_of(results)
    coop = results.get(subject) if subject else None
    checks = []
    for clause in re.split(r"\s*(?:,|;|\band\b)\s*", str(goal).strip()):
        if not clause:
            continue
        checks.append(_check_clause(clause, results, coop, lower))
    return checks


def _check_clause(clause: str, results: dict[str, Any], coop: Any, lower: bool) -> Check:
    if coop is None:
        return Check(clause, None, "no coop result")
    m = _RE_FASTER.match(clause)
    if m:
        op = m.group(1) or ">="
        k, peer_name = _number(m.group(2)), m.group(3)
        peer = find_peer(results, peer_name)
        if peer is None:
            return Check(clause, None, f"no peer named {peer_name!r}")
        value = results[peer]
        if value is None or (lower and coop == 0) or (not lower and value == 0):
            return Check(clause, None, f"no {peer} result")
        ratio = value / coop if lower else coop / value
        return Check(clause, _OPS[op](ratio, k), f"{_fmt_ratio(ratio)} {peer}")
    m = _RE_RATIO.match(clause)
    if m:
        op, k, peer_name = m.group(1), _number(m.group(2)), m.group(3)
        peer = find_peer(results, peer_name)
        if peer is None:
            return Check(clause, None, f"no peer named {peer_name!r}")
        value = results[peer]
        if value is None or value == 0:
            return Check(clause, None, f"no {peer} result")
        ratio = coop / value
        return Check(clause, _OPS[op](ratio, k), f"coop is {_fmt_ratio(ratio)} {peer}")
    m = _RE_ABS.match(clause)
    if m:
        op, bound = m.group(1), _number(m.group(2))
        return Check(clause, _OPS[op](coop, bound), f"coop = {fmt_value(coop)}")
    return Check(clause, None, "not checked")


# ------------------------------------------------------------------ what each figure means

#: (figure name prefix, one-line definition, caveat), for the docs page and the README. A
#: results file may carry "definition" and "caveat" of its own, which win.
ABOUT: tuple[tuple[str, str, str], ...] = (
    ("switch cost", "The cost of one bare-yield task switch, from the difference of two runs "
     "with different numbers of yields (spawning and finishing cancel out).",
     "A switch that does no work: real tasks spend more time in their own code. curio is run "
     "with fewer tasks: its reschedule asserts scan the ready queue (O(ready tasks) a switch "
     "under a normal interpreter), so its 10,000-task figure is that cost, as shipped."),
    ("spawn-and-finish cost", "Wall time per task spawned from a running task and run to its "
     "end.",
     "Fewer tasks for curio and threads (as the title says); greenlet has no scheduler, so it "
     "pays only for creating and switching into each greenlet."),
    ("memory per sleeping task", "Bytes allocated per task (tracemalloc) while all of them are "
     "parked in a sleep.",
     "tracemalloc sees what Python's allocators hand out, not memory a C extension takes "
     "from malloc itself; the greenlet peer has no timer."),
    ("timers (100,000 sleeps in [0, 0.5] s): CPU", "CPU time (process_time) of the whole run "
     "divided by the number of sleeping tasks: the scheduling overhead of a timed wait.",
     "Waiting in the selector costs no CPU, so this is overhead only, not the sleep."),
    ("timers (100,000 sleeps in [0, 0.5] s): median lateness", "Median of how long after its "
     "deadline each task ran again (an upper bound, by a few microseconds).",
     "A peer that cannot keep up with 100,000 wake-ups is saturated: its lateness then "
     "measures the backlog of its run queue more than its timer precision."),
    ("timers (100,000 sleeps in [0, 0.5] s): p99 lateness", "The 99th percentile of the same "
     "lateness.", "As for the median; the tail also catches garbage-collector pauses."),
    ("timers (100,000 sleeps in [0, 0.5] s): wall time", "Wall time of the run minus the "
     "longest sleep: how long the scheduler needed beyond the sleeping itself.",
     "Includes spawning the 100,000 tasks."),
    ("timers (100,000 sleeps in [0, 0.5] s): early wakes", "Tasks that ran again before their "
     "deadline had certainly passed, in the worst of the runs.", "Zero is the only right "
     "answer; any other count is a bug."),
    ("timers (100,000 sleeps in [0, 0.5] s): out-of-order", "Tasks that woke before another "
     "task that was certainly due earlier, in the worst of the runs.",
     "A scheduler that rounds deadlines to a coarser tick (libuv, under uvloop, counts "
     "milliseconds) wakes the tasks due within one tick in any order, which counts here."),
    ("one-way messages", "Messages per second from a sender to an actor's mailbox (for the "
     "asyncio and trio peers, to a task through a queue or channel).",
     "Higher is better; the thread peers pay for OS thread switches and locks, which is what "
     "they are for."),
    ("ask round trips", "Request-and-reply round trips per second to one actor.",
     "Higher is better; the asyncio and trio peers are queues or channels standing in for "
     "an actor."),
    ("to_thread latency", "Wall time of one call handed to a thread and its result back in "
     "the task, one call at a time.", "Mostly the executor's own hand-off and thread "
     "wake-up, which coop shares with its peers."),
    ("to_process latency", "Wall time of one call handed to a worker process and back, one "
     "call at a time.", "Mostly pickling and the trip through the pipe, which every peer pays."),
    ("2,000 calls in flight, threads", "Wall time per call with 2,000 calls submitted at once "
     "to a thread pool.", "Throughput of the hand-off path, not of the work (the calls do "
     "nothing)."),
    ("2,000 calls in flight, processes", "Wall time per call with 2,000 calls submitted at "
     "once to a process pool.", "Throughput of the hand-off path; the calls do nothing."),
    ("pmap speedup", "How many times faster a CPU-bound map runs on the pool than in turn in "
     "one process.", "Higher is better; bounded by the cores free at the time, so a busy "
     "machine lowers it for every peer."),
    ("idle CPU while waiting", "CPU used by the scheduler while its only task waits for a "
     "thread, in percent of one core.", "Lower is better; anything above zero is polling."),
    ("contended lock hand-off", "Time per hand-off of a lock between tasks that all want it.",
     "A hand-off with no work in between: the cost of the primitive itself."),
    ("queue ping-pong round trip", "Time for one item to go to another task through a queue "
     "and an answer to come back.", "The kernel floor is the same round trip with bare "
     "switches: what any queue must cost at least on this kernel."),
    ("queue put/get stream", "Time per item through a queue of size 1 from a producer to a "
     "consumer task.", "Size 1 makes every item a hand-off between the two tasks."),
    ("pmap of 1,000,000 items", "Wall time of one pmap of 1,000,000 trivial items at the "
     "chunksize given, on a caller's multiprocessing.Pool(2), beside Pool.map on the same pool.",
     "The items do nothing, so this is the cost of moving them. coop sends consecutive chunks "
     "together while calls come back fast (as Pool.map's own task batching does), so it is "
     "not a like-for-like count of round trips at that chunksize."),
    ("kill storm", "Calls that failed and calls that never ended while random SIGKILLs hit "
     "the pool's workers during 3,000 calls of 10 ms (kills about 0.15 s apart).",
     "Failures are bounded by the kills only where a dead worker takes just its own call: a "
     "ProcessPoolExecutor breaks as a whole and fails every call it held."),
    ("1,000 hand-ins from a thread", "Scheduler-process CPU (process_time) while a thread "
     "hands in 1,000 calls 0.5 ms apart and the given number of tasks wait on an Event.",
     "After each hand-in the loop is idle again and runs its deadlock check: this measures "
     "that check. Each variant runs in a fresh interpreter; 'before' is the code before "
     "issue 10, run beside it."),
    ("explore runs per second", "Runs per second of coop.testing.explore on a small correct "
     "program (no failure, so no shrinking), beside detangle.explore on the same program "
     "written for asyncio; random strategy, and the default portfolio as '(auto)'.",
     "Higher is better. Both tools run their whole per-run machinery (a fresh scheduler or "
     "event loop, a virtual clock, a decision at every choice point); detangle with "
     "shrink=False and no database. The programs make few real choices (a lock or a queue "
     "leaves one task ready most of the time), so this is mostly the cost of a controlled run."),
    ("runs to the first failure", "The run at which the exploration found the bug (shrinking "
     "not counted), median over 5 seeds, per strategy; DFS has no seed (one search).",
     "Lower is better. A search that found nothing within the cap counts as the cap: the "
     "figure lists those. detangle's dfs bounds the sum of its choice indices (delays), not "
     "coop's moves (a postponement of a task is one move), so the two DFS are different "
     "searches. The seeds are the same numbers for both tools, not the same schedules."),
    ("CPU while stuck", "Process CPU over 3 s while the only task waits for an Event that only "
     "a live foreign thread could set, in percent of one core.",
     "Anything above zero is polling; the thread watcher and the loop both block."),
)


def about(fig: dict[str, Any]) -> tuple[str, str]:
    """A figure's one-line definition and caveat (empty strings when none is known)."""
    name = str(fig.get("name", ""))
    for prefix, definition, caveat in ABOUT:
        if name.startswith(prefix):
            return (str(fig.get("definition") or definition), str(fig.get("caveat") or caveat))
    return str(fig.get("definition") or ""), str(fig.get("caveat") or "")


# ------------------------------------------------------------------ tables


def fmt_value(value: Any) -> str:
    if value is None:
        return "n/a"
    v = float(value)
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def ratio_text(value: Any, coop: Any) -> str:
    """The peer's value divided by coop's, written so that it reads as a number: never
    exponent notation, never a bare dash (which a reST or Markdown list takes for a bullet)."""
    if value is None or coop is None:
        return "n/a"
    if float(coop) == 0:
        return "same" if float(value) == 0 else "coop is 0"
    return _fmt_ratio(float(value) / float(coop))


def _ratio_cell(value: Any, coop: Any) -> str:
    return ratio_text(value, coop)


def _verdict(checks: list[Check]) -> str:
    if not checks:
        return ""
    states = {c.met for c in checks}
    if states == {True}:
        return "**met**"
    if False in states:
        return "**not met**"
    return "not checked"


def figure_markdown(fig: dict[str, Any]) -> str:
    results: dict[str, Any] = fig.get("results", {})
    unit = fig.get("unit", "")
    lower = bool(fig.get("lower_is_better", True))
    subject = subject_of(results)
    coop = results.get(subject) if subject else None
    order = ([subject] if subject else []) + [k for k in results if k != subject]
    better = "lower is better" if lower else "higher is better"
    lines = [f"**{fig.get('name', '?')}** ({unit}; {better})", ""]
    lines.append(f"| peer | {unit} | ratio to coop |")
    lines.append("|---|---:|---:|")
    for name in order:
        shown = f"**{name}**" if name == subject else name
        lines.append(f"| {shown} | {fmt_value(results[name])} | "
                     f"{_ratio_cell(results[name], coop)} |")
    checks = check_goal(fig)
    lines.append("")
    if fig.get("goal"):
        details = "; ".join(f"{c.text}: {c.detail}"
                            + ("" if c.met is None else (" ✓" if c.met else " ✗"))
                            for c in checks)
        lines.append(f"Goal: {fig['goal']} — {_verdict(checks)} ({details})")
    else:
        lines.append("Goal: none (context for the figures above).")
    return "\n".join(lines)


def results_markdown(docs: list[dict[str, Any]]) -> str:
    if not docs:
        return "_No results yet: run `.venv/bin/python benchmarks/run_all.py`._"
    parts = ["Ratio to coop = the peer's value ÷ coop's. For a cost (lower is better) above 1 "
             "means the peer costs more than coop; for a rate (higher is better) below 1 means "
             "the peer does less. Goals marked ✓/✗ are checked from the figures. Generated by "
             "`benchmarks/report.py` from `benchmarks/results/*.json`; do not edit by hand."]
    summary = ["", "| suite | figure | coop | goal | |", "|---|---|---:|---|---|"]
    for doc in docs:
        for fig in doc["figures"]:
            results = fig.get("results", {})
            subject = subject_of(results)
            coop = results.get(subject) if subject else None
            checks = check_goal(fig)
            if fig.get("goal"):
                summary.append(f"| {doc['suite']} | {fig.get('name')} | {fmt_value(coop)} "
                               f"{fig.get('unit', '')} | {fig['goal']} | {_verdict(checks)} |")
    if len(summary) > 3:
        parts.append("\n".join(["### Goals at a glance", *summary]))
    for doc in docs:
        parts.append(f"### Suite `{doc['suite']}`\n\nPython {doc.get('python', '?')}, "
                     f"{doc.get('date', '?')}, {doc.get('machine', '?')}.")
        for fig in doc["figures"]:
            parts.append(figure_markdown(fig))
    return "\n\n".join(parts)


def update_readme(readme: Path | str = README, results_dir: Path | str = RESULTS_DIR) -> Path:
    """Rewrite the results section of the README from the result files."""
    path = Path(readme)
    text = path.read_text() if path.exists() else "# coop benchmarks\n"
    body = results_markdown(load_results(results_dir))
    block = f"{START}\n{body}\n{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n## Results\n\n" + block + "\n"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ plots


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def plot_figures(out_dir: Path | str, results_dir: Path | str = RESULTS_DIR) -> list[Path]:
    """One horizontal bar chart (PNG) per figure in every results file; returns the paths.

    coop's bar is highlighted; a log scale is used when values span more than 30x. Uses the
    Agg backend, so it works without a display.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in load_results(results_dir):
        for fig in doc["figures"]:
            results = {k: float(v) for k, v in fig.get("results", {}).items() if v is not None}
            if not results:
                continue
            subject = subject_of(results)
            names = list(results)
            values = [results[n] for n in names]
            positive = [v for v in values if v > 0]
            log = bool(positive) and len(positive) == len(values) and \
                max(positive) / min(positive) > 30
            height = 0.9 + 0.38 * len(names)
            f, ax = plt.subplots(figsize=(7.5, height), dpi=110)
            colours = ["#d1495b" if n == subject else "#8da9c4" for n in names]
            ax.barh(range(len(names)), values, color=colours)
            ax.set_yticks(range(len(names)), names)
            ax.invert_yaxis()
            if log:
                ax.set_xscale("log")
            better = "lower is better" if fig.get("lower_is_better", True) else \
                "higher is better"
            ax.set_xlabel(f"{fig.get('unit', '')} ({better}{', log scale' if log else ''})")
            ax.set_title(f"{doc['suite']}: {fig.get('name', '')}", fontsize=9.5, loc="left")
            for i, v in enumerate(values):
                ax.annotate(fmt_value(v), (v, i), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize=8)
            if values and not log:
                ax.set_xlim(0, max(max(values), 0) * 1.18 or 1)
            elif log:
                ax.set_xlim(min(positive) / 1.5, max(positive) * 3)
            ax.grid(axis="x", alpha=0.3)
            f.tight_layout()
            path = out / f"{slug(str(doc['suite']))}-{slug(str(fig.get('name', 'figure')))}.png"
            f.savefig(path)
            plt.close(f)
            paths.append(path)
    return paths


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tables and plots from benchmark results.")
    parser.add_argument("--results", default=str(RESULTS_DIR), help="results directory")
    parser.add_argument("--plots", metavar="DIR", help="write one PNG per figure into DIR")
    parser.add_argument("--readme", nargs="?", const=str(README), default=None,
                        help="rewrite the README's results section (the default action "
                             "when --plots is not given)")
    args = parser.parse_args(argv)
    if args.plots:
        for path in plot_figures(args.plots, args.results):
            print(f"wrote {path}")
    if args.readme or not args.plots:
        path = update_readme(args.readme or README, args.results)
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

