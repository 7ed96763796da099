"""``python -m coop``: coop's command line.

Each subcommand is one ``add_*`` function below that adds its parser and sets its
``handler`` (a function of the parsed arguments returning the exit status); :data:`SUBCOMMANDS`
lists them, in the order ``--help`` shows. A new subcommand is a new function and a line
there.
"""

from __future__ import annotations

import argparse
import inspect
import runpy
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import runner, tracing
from ._native import kernel_build
from .clock import VirtualClock

Subparsers = Any  # argparse's _SubParsersAction, which it does not name publicly


def _version() -> str:
    from . import __version__

    return f"coop {__version__}, kernel: {kernel_build()}"


# ----------------------------------------------------------------------- run


def add_run(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run a script with coop.run's options applied",
        description="Run SCRIPT as python would (as __main__, with ARGS as sys.argv[1:]); "
                    "every coop.run() in it that does not pass an option itself gets the "
                    "ones given here. A script that calls no coop.run() and defines a "
                    "generator or async function main() has it run as the main task.")
    parser.add_argument("--trace", metavar="OUT.json",
                        help="write each run's timeline (Chrome trace JSON) to this file; a "
                             "second run in the script goes to OUT-2.json, and so on")
    parser.add_argument("--virtual-clock", action="store_true",
                        help="run under coop.VirtualClock(): sleeps take no real time")
    parser.add_argument("--debug", action="store_true", help="debug mode (coop.DebugWarning)")
    parser.add_argument("script", help="the Python file to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    parser.set_defaults(handler=run_script)


def _numbered(path: str, n: int) -> str:
    if n == 1:
        return path
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}-{n}.{suffix}" if dot and "/" not in suffix else f"{path}-{n}"


def run_script(args: argparse.Namespace) -> int:
    script = Path(args.script)
    if not script.is_file():
        print(f"coop run: no such file: {script}", file=sys.stderr)
        return 2
    runs = 0

    def defaults() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        given: dict[str, Any] = {}
        if args.virtual_clock:
            given["clock"] = VirtualClock()
        if args.debug:
            given["debug"] = True
        if args.trace:
            given["trace"] = _numbered(args.trace, runs)
            if runs > 1:
                print(f"coop run: run {runs} of the script is traced to {given['trace']}",
                      file=sys.stderr)
        return given

    saved = runner.DEFAULTS, sys.argv[:], sys.path[:]
    runner.DEFAULTS = defaults
    sys.argv = [str(script), *args.args]
    sys.path[0] = str(script.resolve().parent)
    try:
        namespace = runpy.run_path(str(script), run_name="__main__")
        main = namespace.get("main")
        if runs == 0:
            if inspect.isgeneratorfunction(main) or inspect.iscoroutinefunction(main):
                assert main is not None
                runner.run(main())
            else:
                print(f"coop run: {script} called no coop.run() and defines no generator or "
                      f"async function main() to run; nothing was run under coop",
                      file=sys.stderr)
                return 2
    finally:
        runner.DEFAULTS, sys.argv[:], sys.path[:] = saved
    return 0


# ----------------------------------------------------------------------- trace


def add_trace(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "trace", help="check a trace file and draw its timeline",
        description="Read a trace written by coop.run(trace=...) or `coop run --trace`, say "
                    "what is in it and whether it is well formed (the exit status is 1 if "
                    "not), and with --png draw it (needs matplotlib: "
                    "pip install coop-scheduler[plot]). Open the file itself in "
                    "https://ui.perfetto.dev or chrome://tracing.")
    parser.add_argument("file", metavar="TRACE.json")
    parser.add_argument("--png", metavar="OUT.png",
                        help="draw the timeline into this image (.png, .svg, ...)")
    parser.add_argument("--no-arrows", action="store_true",
                        help="leave the flow arrows (spawn, message, reply, wake) out")
    parser.add_argument("--title", help="a title over the picture")
    parser.set_defaults(handler=trace_file)


def trace_file(args: argparse.Namespace) -> int:
    try:
        trace = tracing.load(args.file)
    except (OSError, ValueError) as exc:
        print(f"coop trace: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    events = trace["traceEvents"]
    timed = [e for e in events if e.get("ph") != "M" and isinstance(e.get("ts"), (int, float))]
    tracks = {(e.get("pid"), e.get("tid")) for e in timed}
    span = (max(e["ts"] + e.get("dur", 0) for e in timed) - min(e["ts"] for e in timed)
            if timed else 0)
    clock = trace.get("otherData", {}).get("clock", "unknown")
    print(f"{args.file}: {len(events)} events on {len(tracks)} tracks over "
          f"{span / 1e3:.3f} ms ({clock} clock)")
    problems = tracing.check(trace)
    for problem in problems[:20]:
        print(f"  problem: {problem}")
    if len(problems) > 20:
        print(f"  ... and {len(problems) - 20} more")
    if args.png:
        from .tracing.plot import PlotUnavailable, draw

        try:
            draw(trace, args.png, arrows=not args.no_arrows, title=args.title)
        except PlotUnavailable as exc:
            print(f"coop trace: {exc}", file=sys.stderr)
            return 2
        print(f"drew {args.png}")
    return 1 if problems else 0


# ----------------------------------------------------------------------- the parser

#: The subcommands, each an ``add_*`` function as above. Places kept for those to come:
#: ``add_explore`` (run a program under many interleavings), ``add_replay`` (run one again
#: from its seed), ``add_examples`` (list or run the examples).
SUBCOMMANDS: list[Callable[[Subparsers], None]] = [
    add_run,
    add_trace,
    # add_explore,
    # add_replay,
    # add_examples,
]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m coop", description="coop, a cooperative scheduler for generators")
    top.add_argument("--version", action="version", version=_version())
    subparsers = top.add_subparsers(title="commands", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (``sys.argv[1:]`` by default), run the subcommand, return its status."""
    top = parser()
    args = top.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        top.print_help(sys.stderr)
        return 2
    return handler(args)
