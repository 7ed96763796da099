"""One explored run: the policy that meets every choice point and asks a decider what to do.

The controller is the scheduler's policy (``pick_task``, ``pick_handin``, ``choose_value``)
and one of its instruments (to see a task block or end, which ends a postponement). It never
decides anything itself: a *decider* (a strategy's, or a replay's) returns a move or None (the
default) at each point, and the controller records what was done as readable lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..lowlevel import Scheduler, Task, add_instrument, remove_instrument
from ._schedule import Move, Pick, Postpone


class InvariantViolated(AssertionError):
    """The ``invariant`` given to explore returned false (or raised) after a step."""


class Point:
    """What a decider is told about a choice point."""

    __slots__ = ("default", "index", "kind", "options", "p_true", "ready", "step")

    def __init__(self, index: int, kind: str, options: int, default: int, step: int,
                 ready: Sequence[Task[Any]] = (), p_true: float | None = None) -> None:
        self.index = index      # the point's number in the run (only real choices count)
        self.kind = kind        # "task", "cancel", "value" or "handin"
        self.options = options  # how many there are (>= 2)
        self.default = default  # the option taken with no move
        self.step = step        # how many tasks have been picked so far
        self.ready = ready      # the ready tasks (a task point) or the cancellable ones
        self.p_true = p_true    # maybe(p): the chance a random run takes True


class Decider(Protocol):
    def decide(self, point: Point) -> Move | None:
        """A move at this point, or None for its default."""

    def observe_run_end(self, controller: Controller) -> None:
        """Told once the run is over (a strategy learns the run's length from it)."""


class PostponementWatch:
    """The instrument a run has while some task is postponed: a postponement ends when
    another task blocks or ends. Installed only then, so that a run without one pays no
    call per park (a park is most steps of a small program)."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def task_parked(self, task: Task[Any], on: Any) -> None:
        if task not in self.controller.postponed:
            self.controller.someone_blocked = True

    def task_exited(self, task: Task[Any]) -> None:
        self.controller.postponed.pop(task, None)
        self.controller.someone_blocked = True


class Controller:
    """The policy of one run."""

    #: Offloaded calls' results are applied at points the run decides (see coop.policy).
    ordered_handins = True
    #: Threads alive before a run began cannot know its fresh scheduler: a run stuck while
    #: only they live (a pool left by an earlier test) is a deadlock, not a wait for them.
    closed_world = True

    # Slots: pick_task reads a dozen fields per choice, and a slot is the cheapest to read.
    __slots__ = ("cancellations", "decider", "invariant", "moves", "notes", "option_counts",
                 "picks_alone", "points", "postponed", "scheduler", "someone_blocked",
                 "upcoming", "watch")

    def __init__(self, decider: Decider, invariant: Any, cancellations: bool) -> None:
        self.decider = decider
        self.invariant = invariant
        self.cancellations = cancellations
        # Asked at every step only when something is looked at after each one; otherwise the
        # kernel runs a lone ready task without a call here (most steps of a small program).
        self.picks_alone = invariant is not None or cancellations
        self.scheduler: Scheduler | None = None
        self.points = 0
        self.option_counts: list[int] = []
        self.moves: list[Move] = []
        # What each move did, as a format and its values: made into words only for a report
        # (most runs fail nowhere), see lines().
        self.notes: list[tuple[str, tuple[Any, ...]]] = []
        self.upcoming = 0  # the number of the step a task choice is made for
        self.postponed: dict[Task[Any], None] = {}
        self.someone_blocked = False
        self.watch: PostponementWatch | None = None

    @property
    def steps(self) -> int:
        """Steps run so far (the kernel counts them, also those no choice was made at)."""
        assert self.scheduler is not None
        return self.scheduler.steps

    # ----------------------------------------------------------------- the policy

    def pick(self, ready_count: int) -> int:  # the Policy protocol; pick_task is what runs
        return 0

    def pick_task(self, ready: Sequence[Task[Any]]) -> int:
        scheduler = self.scheduler
        assert scheduler is not None
        self.upcoming = upcoming = scheduler.steps + 1
        if self.invariant is not None:
            self.check_invariant()
        if self.someone_blocked:
            self.postponed.clear()
            self.someone_blocked = False
            remove_instrument(self.watch, scheduler)
            self.watch = None
        if self.cancellations:
            self.offer_cancellation()
        count = len(ready)
        if count < 2:
            return 0
        # new_point() written out: this is the one choice point of nearly every run.
        default = self.default_index(ready) if self.postponed else 0
        point = Point(self.points, "task", count, default, upcoming, ready)
        self.points += 1
        self.option_counts.append(count)
        move = self.decider.decide(point)
        if move is None:
            return default
        if isinstance(move, Postpone):
            held = ready[default]
            self.postponed[held] = None
            if self.watch is None:
                self.watch = PostponementWatch(self)
                add_instrument(self.watch, scheduler)
            self.record(move, "step {}: held {!r} back until another task blocked or ended",
                        upcoming, held.name)
            return self.default_index(ready)
        chosen = move.option if move.option < count else default
        if chosen != default:  # record() written out
            self.moves.append(move)
            self.notes.append(("step {}: ran {!r} before {!r}",
                               (upcoming, ready[chosen].name, ready[default].name)))
        return chosen

    def pick_handin(self, count: int) -> int:
        point = self.new_point("handin", count, 0)
        move = self.decider.decide(point)
        if isinstance(move, Pick) and move.option < count:
            self.record(move, "step {}: applied hand-in {} of {} (from another thread) first",
                        self.steps, move.option + 1, count)
            return move.option
        return 0

    def choose_value(self, count: int, what: str, p_true: float | None,
                     options: Sequence[Any] = ()) -> int:
        if count < 2:
            return 0
        point = self.new_point("value", count, 0, p_true=p_true)
        move = self.decider.decide(point)
        if isinstance(move, Pick) and move.option < count:
            taken = options[move.option] if len(options) == count else move.option
            verb = "was" if p_true is not None else "took"
            self.record(move, "step {}: {} {} {!r}", self.steps, what, verb, taken)
            return move.option
        return 0

    # ---------------------------------------------------------------- internals

    def default_index(self, ready: Sequence[Task[Any]]) -> int:
        if self.postponed:
            for index, task in enumerate(ready):
                if task not in self.postponed:
                    return index
        return 0

    def new_point(self, kind: str, count: int, default: int,
                  ready: Sequence[Task[Any]] = (), p_true: float | None = None,
                  step: int | None = None) -> Point:
        point = Point(self.points, kind, count, default, self.steps if step is None else step,
                      ready, p_true)
        self.points += 1
        self.option_counts.append(count)
        return point

    def record(self, move: Move, line: str, *values: Any) -> None:
        self.moves.append(move)
        self.notes.append((line, values))

    def lines(self) -> tuple[str, ...]:
        """The moves made, in words: ``step 14: ran 'withdraw' before 'deposit'``."""
        return tuple(line.format(*values) if values else line for line, values in self.notes)

    def offer_cancellation(self) -> None:
        assert self.scheduler is not None
        scheduler = self.scheduler
        main = scheduler.main_task  # never offered for cancelling
        targets = [t for t in scheduler.tasks()
                   if t is not main and not t.done() and not scheduler.is_cancelling(t)]
        if not targets:
            return
        point = self.new_point("cancel", len(targets) + 1, 0, targets, step=self.upcoming)
        move = self.decider.decide(point)
        if isinstance(move, Pick) and move.option <= len(targets):
            target = targets[move.option - 1]
            where = target.waiting_for or "ready to run"
            self.record(move, f"step {self.upcoming}: cancelled {target.name!r} (it was "
                              f"waiting for {where})" if target.waiting_for else
                        f"step {self.upcoming}: cancelled {target.name!r} ({where})")
            scheduler.cancel(target)

    def check_invariant(self) -> None:
        try:
            holds = self.invariant()
        except Exception as err:
            raise InvariantViolated(f"invariant() raised {err!r} after step {self.steps}") \
                from err
        if not holds:
            raise InvariantViolated(f"invariant() returned {holds!r} after step {self.steps}")
