"""explore, check and replay: many runs of one program under controlled schedules."""

from __future__ import annotations

import inspect
import io
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import VirtualClock
from ..lowlevel import Scheduler, check_runnable, fresh_serials
from ._control import Controller
from ._database import FailureDatabase
from ._schedule import Move, Postpone, Schedule, ScheduleMismatch, shape_of
from ._strategies import DFS, ReplayDecider, strategy_from

Program = Callable[[], Any]


@dataclass(frozen=True)
class Failure:
    """A failing run, shrunk to the fewest moves away from coop's default (FIFO) order."""

    #: What went wrong: the exception that escaped main, a coop.Deadlock, or an
    #: InvariantViolated.
    exception: BaseException
    #: The replay token: ``coop.testing.replay(program, failure.schedule)``.
    schedule: str
    #: Which run (1 is the first) failed.
    run: int
    #: The moves, in words: ``step 14: ran 'withdraw' before 'deposit'``.
    steps: tuple[str, ...]
    #: What the failing run printed.
    output: str

    def report(self, replay_hint: str | None = None) -> str:
        lines = [f"{type(self.exception).__name__}: {self.exception}",
                 f"found in run {self.run}; the schedule, shrunk to {len(self.steps)} move(s) "
                 f"away from coop's default order:"]
        lines += [f"  {step}" for step in self.steps] or ["  (none: the default order fails)"]
        lines.append(f"replay it: coop.testing.replay(program, {self.schedule!r})")
        if replay_hint:
            lines.append(replay_hint)
        return "\n".join(lines)


@dataclass(frozen=True)
class Exploration:
    """What :func:`explore` found."""

    #: None, or the first failure found (shrunk).
    failure: Failure | None
    #: How many runs were made (not counting the shrinking's).
    runs: int
    #: True when a bounded search (DFS) covered every schedule in its bound without a failure.
    exhausted: bool
    #: The strategy that ran (its name).
    strategy: str
    #: How many runs the shrinking took.
    shrink_runs: int = 0
    #: Per strategy in a portfolio, how many runs it made.
    runs_by_strategy: dict[str, int] = field(default_factory=dict)
    #: The strategy whose run failed (a member of "auto"), or None.
    found_by: str | None = None


class ExplorationFailed(AssertionError):
    """Raised by :func:`check`: the message has the failure, its token and how to replay it."""

    __module__ = "coop.testing"  # as pytest prints it: where users import it from

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure = failure


@dataclass
class _RunResult:
    exception: BaseException | None
    moves: tuple[Move, ...]
    #: The controller's lines(), called only for a run that is reported.
    describe: Callable[[], tuple[str, ...]]
    option_counts: list[int]
    output: str
    result: Any = None
    misfit: str | None = None


def _run_once(program: Program, decider: Any, invariant: Any, cancellations: bool,
              capture: bool = True) -> tuple[_RunResult, Controller]:
    controller = Controller(decider, invariant, cancellations)
    scheduler = Scheduler(clock=VirtualClock(), policy=controller, deadlock_warning=None)
    controller.scheduler = scheduler
    out = io.StringIO() if capture else None
    exception: BaseException | None = None
    result: Any = None
    # Lock#1 in every run, so that a replay prints what the run did.
    with fresh_serials():
        try:
            main = program()
            try:
                check_runnable(main)
            except (TypeError, ValueError) as err:
                raise TypeError(f"explore: program() must return the main generator or "
                                f"coroutine (pass the function, not its call: explore(main), "
                                f"not explore(main())); {err}") from None
            # sys.stdout swapped by hand: contextlib.redirect_stdout costs a run more.
            saved_stdout = sys.stdout
            if out is not None:
                sys.stdout = out
            try:
                result = scheduler.run_main(main)
                if invariant is not None:
                    controller.check_invariant()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as err:
                exception = err
            finally:
                sys.stdout = saved_stdout
        finally:
            scheduler.close()
    decider.observe_run_end(controller)
    return _RunResult(exception, tuple(controller.moves), controller.lines,
                      controller.option_counts, "" if out is None else out.getvalue(), result,
                      getattr(decider, "misfit", None)), controller


def _where_raised(exc: BaseException) -> tuple[str, int] | None:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return last


def _same_failure(a: BaseException, b: BaseException | None) -> bool:
    """The same bug: the same exception type raised at the same line (so that shrinking
    cannot trade the bug found for another assertion that fails on the way)."""
    return b is not None and type(a) is type(b) and _where_raised(a) == _where_raised(b)


def _shrink(program: Program, found: _RunResult, invariant: Any,
            cancellations: bool) -> tuple[_RunResult, int]:
    """Drop moves one at a time while the run still fails the same way."""
    best = found
    runs = 0
    like = found.exception
    assert like is not None

    def fails(candidate: tuple[Move, ...]) -> _RunResult | None:
        nonlocal runs
        result, _ = _run_once(program, ReplayDecider(candidate), invariant, cancellations)
        runs += 1
        return result if _same_failure(like, result.exception) else None

    changed = True
    while changed and best.moves:
        changed = False
        # A run of picks that kept one task waiting is often one postponement of it.
        for start in range(len(best.moves)):
            for end in range(len(best.moves), start + 1, -1):
                candidate = (*best.moves[:start], Postpone(best.moves[start].point),
                             *best.moves[end:])
                result = fails(candidate)
                if result is not None and len(result.moves) < len(best.moves):
                    best, changed = result, True
                    break
            if changed:
                break
        if changed:
            continue
        for index in range(len(best.moves)):
            result = fails(best.moves[:index] + best.moves[index + 1:])
            if result is not None:
                best, changed = result, True  # its moves are those that took effect
                break
    # Removing moves finds a local minimum; a schedule of fewer moves elsewhere (postponing
    # another task) may fail the same way. The one- and two-move schedules are few: look.
    for size, budget in ((1, 2_000), (2, 5_000)):
        if len(best.moves) <= size:
            break
        smaller = _search(program, invariant, cancellations, size, budget, like)
        runs += smaller[1]
        if smaller[0] is not None:
            best = smaller[0]
            break
    return best, runs


def _search(program: Program, invariant: Any, cancellations: bool, size: int, budget: int,
            like: BaseException) -> tuple[_RunResult | None, int]:
    """The first schedule of at most ``size`` moves that fails as ``like`` did."""
    runs = 0
    for decider in DFS(size).deciders(0):
        if runs >= budget:
            break
        result, _ = _run_once(program, decider, invariant, cancellations)
        runs += 1
        if _same_failure(like, result.exception):
            return result, runs
    return None, runs


def explore(program: Program, *, runs: int = 1000, seed: int = 0, strategy: object = "auto",
            invariant: Callable[[], object] | None = None, time_limit: float | None = None,
            cancellations: bool = False, database: object = None) -> Exploration:
    """Run ``program()`` (a function returning the main generator or coroutine, so that each
    run starts from fresh state) under up to ``runs`` schedules, and return what was found.

    ``strategy``: ``"auto"`` (a portfolio), ``"random"``, :class:`PCT` or :class:`DFS`.
    ``invariant``: a function checked after every step (false or raising is a failure).
    ``time_limit``: seconds of real time to stop after. ``cancellations``: also cancel chosen
    tasks at chosen yields. ``database``: a directory where failing schedules are kept and
    tried first next time (the pytest plugin passes ``.coop/explore``).

    Every run uses a fresh :class:`coop.VirtualClock`, so the program's sleeps take no time.
    A failure is shrunk to the fewest moves from coop's default order before it is reported.

    >>> def program():
    ...     balance = {"value": 100}
    ...     def withdraw(amount, pause):
    ...         for _ in range(pause):
    ...             yield
    ...         seen = balance["value"]          # read ...
    ...         yield                            # ... another task may run here ...
    ...         balance["value"] = seen - amount # ... and write
    ...     def main():
    ...         a = yield coop.spawn(withdraw(30, 0), name="a")
    ...         b = yield coop.spawn(withdraw(50, 2), name="b")
    ...         yield coop.join(a)
    ...         yield coop.join(b)
    ...         assert balance["value"] == 20, f"lost an update: {balance['value']}"
    ...     return main()
    >>> coop.run(program())                      # coop's default order is fine
    >>> found = coop.testing.explore(program)
    >>> found.failure.exception
    AssertionError('lost an update: 70')
    >>> found.failure.steps
    ("step 4: held 'a' back until another task blocked or ended",)
    """
    chosen = strategy_from(strategy)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"explore(runs=...) takes an int >= 1, got {runs!r}")
    store = FailureDatabase.open(database)
    key = _program_key(program)
    if store is not None:
        for token in store.tokens(key):
            try:
                schedule = Schedule.from_token(token)
            except ValueError:
                store.forget(key, token)
                continue
            result, _ = _run_once(program, ReplayDecider(schedule.moves), invariant,
                                  cancellations)
            if result.exception is not None:
                failure = Failure(result.exception, token, 0, result.describe(),
                                  result.output)
                return Exploration(failure, 0, False, f"saved failure from {store.path}")
            store.forget(key, token)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    made = 0
    by_strategy: dict[str, int] = {}
    for decider in chosen.deciders(seed):
        if made >= runs or (deadline is not None and time.monotonic() > deadline):
            break
        made += 1
        result, controller = _run_once(program, decider, invariant, cancellations)
        chosen.learn(controller)
        member = getattr(chosen, "current", None) or chosen
        by_strategy[member.name] = by_strategy.get(member.name, 0) + 1
        if result.exception is not None:
            shrunk, shrink_runs = _shrink(program, result, invariant, cancellations)
            schedule = Schedule(shrunk.moves, len(shrunk.option_counts),
                                shape_of(shrunk.option_counts), cancellations)
            failure = Failure(shrunk.exception or result.exception, schedule.token, made,
                              shrunk.describe(), shrunk.output)
            if store is not None:
                store.keep(key, schedule.token)
            return Exploration(failure, made, False, chosen.name, shrink_runs, by_strategy,
                               member.name)
    return Exploration(None, made, bool(chosen.exhausted), chosen.name, 0, by_strategy)


def check(program: Program, **options: Any) -> Exploration:
    """:func:`explore`, raising :class:`ExplorationFailed` (an AssertionError) if a failure is
    found; the message names the moves, the token and how to replay it."""
    found = explore(program, **options)
    if found.failure is not None:
        name = getattr(program, "__qualname__", repr(program))
        try:
            source = inspect.getsourcefile(program)
        except TypeError:
            source = None
        hint = (f"or from a shell: python -m coop replay {os.path.relpath(source)}:{name} "
                f"{found.failure.schedule}"
                if source and os.path.isfile(source) and "<" not in name else None)
        raise ExplorationFailed(found.failure, found.failure.report(hint)) \
            from found.failure.exception
    return found


def replay(program: Program, schedule: str, *,
           invariant: Callable[[], object] | None = None) -> Any:
    """Run ``program()`` under the schedule a failure reported, exactly: the same exception is
    raised and the same output printed. Returns main's result if the run does not fail.

    :class:`ScheduleMismatch` if the token does not fit the program any more (its code
    changed since the token was made): explore again.
    """
    parsed = Schedule.from_token(schedule)
    decider = ReplayDecider(parsed.moves, strict=True)
    result, controller = _run_once(program, decider, invariant, parsed.cancellations,
                                   capture=False)
    counts = controller.option_counts
    if decider.misfit or len(counts) != parsed.points or shape_of(counts) != parsed.shape:
        why = decider.misfit or (f"it was made on a run with {parsed.points} choice points, "
                                 f"this run had {len(counts)}"
                                 if len(counts) != parsed.points else
                                 "the choice points of this run differ from the recorded ones")
        raise ScheduleMismatch(f"the schedule token does not fit this program ({why}): it was "
                               f"recorded on another version of the code. Explore again to "
                               f"get a token for this one") from result.exception
    if result.exception is not None:
        raise result.exception
    return result.result


def _program_key(program: Program) -> str:
    module = getattr(program, "__module__", "") or ""
    return f"{module}:{getattr(program, '__qualname__', repr(program))}"
