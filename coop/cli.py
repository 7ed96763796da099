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


# ------------------------------------------------------------------ explore / replay


def _load_program(target: str) -> Callable[[], Any]:
    """``file.py:function`` or ``package.module:function``: the program to explore."""
    where, colon, name = target.rpartition(":")
    if not colon or not where or not name:
        raise SystemExit(f"coop: expected FILE.py:FUNCTION or MODULE:FUNCTION, got {target!r}")
    if where.endswith(".py") or Path(where).is_file():
        path = Path(where)
        if not path.is_file():
            raise SystemExit(f"coop: no such file: {where}")
        sys.path.insert(0, str(path.resolve().parent))
        # Not as __main__: the script's own `if __name__ == "__main__":` block stays out.
        namespace = runpy.run_path(str(path), run_name="__coop_program__")
    else:
        import importlib

        try:
            namespace = vars(importlib.import_module(where))
        except ImportError as exc:
            raise SystemExit(f"coop: cannot import {where}: {exc}") from None
    program: Any = namespace
    for part in name.split("."):
        program = program.get(part) if isinstance(program, dict) else getattr(program, part,
                                                                                 None)
        if program is None:
            raise SystemExit(f"coop: {where} has no {name!r}")
    if not callable(program):
        raise SystemExit(f"coop: {target} is not a function (it is {program!r}); give the "
                         f"function that returns the main generator")
    return program  # type: ignore[no-any-return]


def _strategy(text: str) -> object:
    from .testing import DFS, PCT

    kind, _, number = text.lower().replace("(", ":").rstrip(")").partition(":")
    if kind in ("auto", "random") and not number:
        return kind
    if kind in ("pct", "dfs"):
        try:
            value = int(number.split("=")[-1]) if number else (3 if kind == "pct" else 2)
        except ValueError:
            raise SystemExit(f"coop: --strategy {text}: the bound must be a number") from None
        return PCT(value) if kind == "pct" else DFS(value)
    raise SystemExit(f"coop: --strategy takes auto, random, pct:D or dfs:K, got {text!r}")


def add_explore(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "explore", help="run a program under many schedules and report the first failure",
        description="Run TARGET (FILE.py:FUNCTION or MODULE:FUNCTION, a function returning "
                    "the main generator or coroutine) under coop.testing.explore. The exit "
                    "status is 1 if a failure is found (its shrunk schedule and token are "
                    "printed), 0 if none.")
    parser.add_argument("target", metavar="FILE.py:FUNCTION")
    parser.add_argument("--runs", type=int, default=1000, help="how many runs (1000)")
    parser.add_argument("--strategy", default="auto",
                        help="auto (default), random, pct:D (PCT of depth D) or dfs:K "
                             "(every schedule within K moves)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cancellations", action="store_true",
                        help="also cancel chosen tasks at chosen yields")
    parser.set_defaults(handler=explore_program)


def explore_program(args: argparse.Namespace) -> int:
    from .testing import explore

    program = _load_program(args.target)
    found = explore(program, runs=args.runs, seed=args.seed, strategy=_strategy(args.strategy),
                    cancellations=args.cancellations)
    if found.failure is None:
        bounded = " (every schedule within the bound: exhausted)" if found.exhausted else ""
        print(f"no failure in {found.runs} runs of {found.strategy}{bounded}")
        return 0
    print(found.failure.report(f"or: python -m coop replay {args.target} "
                               f"{found.failure.schedule}"))
    if found.failure.output:
        print("what the failing run printed:")
        print(found.failure.output, end="")
    return 1


def add_replay(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "replay", help="run a program under the schedule a failure reported",
        description="Run TARGET under the schedule TOKEN (from explore or check), exactly: "
                    "the same output, the same exception (the exit status is 1 then, 0 if "
                    "the run passes, 2 if the token does not fit the program any more).")
    parser.add_argument("target", metavar="FILE.py:FUNCTION")
    parser.add_argument("token")
    parser.set_defaults(handler=replay_program)


def replay_program(args: argparse.Namespace) -> int:
    import traceback

    from .testing import ScheduleMismatch, replay

    program = _load_program(args.target)
    try:
        replay(program, args.token)
    except ScheduleMismatch as exc:
        print(f"coop replay: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        if str(exc).startswith(("not a coop schedule token", "the schedule token")):
            print(f"coop replay: {exc}", file=sys.stderr)
            return 2
        traceback.print_exc()
        return 1
    except BaseException:  # the failure it replays: shown as Python would show it
        traceback.print_exc()
        return 1
    print("the run passed under this schedule")
    return 0


# ----------------------------------------------------------------------- examples


def _examples_dir() -> Path | None:
    here = Path(__file__).resolve().parent.parent / "examples"
    return here if here.is_dir() else None


def add_examples(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "examples", help="list the examples, or run one",
        description="With no NAME, list the examples of this checkout (or unpacked sdist) "
                    "with their first docstring line; with NAME, run examples/NAME.py.")
    parser.add_argument("name", nargs="?")
    parser.set_defaults(handler=examples)


def examples(args: argparse.Namespace) -> int:
    import ast

    folder = _examples_dir()
    if folder is None:
        print("coop examples: no examples/ folder beside this coop (they come with a clone "
              "or the source distribution, not with a wheel)", file=sys.stderr)
        return 2
    found = {path.stem: path for path in sorted(folder.glob("*.py"))}
    if args.name is None:
        for stem, path in found.items():
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            print(f"{stem:<22} {doc.strip().splitlines()[0] if doc.strip() else ''}")
        return 0
    name = args.name.removesuffix(".py")
    if name not in found:
        print(f"coop examples: no example {name!r}; there are: {', '.join(found)}",
              file=sys.stderr)
        return 2
    saved = sys.argv[:], sys.path[:]
    sys.argv = [str(found[name])]
    sys.path.insert(0, str(folder))
    try:
        runpy.run_path(str(found[name]), run_name="__main__")
    finally:
        sys.argv[:], sys.path[:] = saved
    return 0


# ----------------------------------------------------------------------- the parser

#: The subcommands, each an ``add_*`` function as above, in the order --help lists them.
SUBCOMMANDS: list[Callable[[Subparsers], None]] = [
    add_run,
    add_explore,
    add_replay,
    add_trace,
    add_examples,
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
