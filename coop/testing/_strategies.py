"""Search strategies: each hands out one decider per run.

``"random"``
    every choice uniformly at random (a ``maybe(p)`` is True with chance p; a cancellation is
    offered rarely, about once per run).
:class:`PCT`
    probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): random distinct task
    priorities, the highest-priority ready task runs, and at ``depth - 1`` random steps the
    running task drops to the lowest priority. A bug of depth d is found with chance at least
    1 / (n k^(d-1)) per run (n tasks, k steps); k is measured from the runs so far.
:class:`DFS`
    every schedule within ``max_preemptions`` moves, fewest moves first, then the exploration
    is ``exhausted``. A move is a different pick at one point, or a postponement of a task
    until another one blocks or ends (so starving a task is one move).
``"auto"``
    a portfolio: the runs go round PCT of depth 1, 2 and 3, random, and DFS of 2 moves.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from typing import Any

from ._control import Controller, Point
from ._schedule import Move, Pick, Postpone


class Strategy:
    """Hands out deciders, one per run; ``exhausted`` once a bounded search is complete."""

    name = "strategy"
    exhausted = False

    def deciders(self, seed: int) -> Iterator[Any]:
        raise NotImplementedError


# ---------------------------------------------------------------- the deciders

class ReplayDecider:
    """Makes the given moves, at their points; ``strict`` refuses a move that does not fit."""

    def __init__(self, moves: tuple[Move, ...], strict: bool = False) -> None:
        self.by_point = {move.point: move for move in moves}
        self.strict = strict
        self.misfit: str | None = None

    def decide(self, point: Point) -> Move | None:
        move = self.by_point.get(point.index)
        if move is None:
            return None
        fits = (point.kind == "task" if isinstance(move, Postpone)
                else move.option < point.options)
        if not fits:
            if self.strict and self.misfit is None:
                self.misfit = (f"at choice point {point.index} ({point.kind}, {point.options} "
                               f"options) the token says {move}")
            return None
        return move

    def observe_run_end(self, controller: Controller) -> None:
        pass


class RecordingDecider(ReplayDecider):
    """A replay of a prefix that also lists, for every later point, the moves one could make
    there instead (the DFS's children)."""

    def __init__(self, moves: tuple[Move, ...]) -> None:
        super().__init__(moves)
        self.after = max((m.point for m in moves), default=-1)
        self.alternatives: list[Move] = []

    def decide(self, point: Point) -> Move | None:
        if point.index > self.after:
            for option in range(1, point.options):
                if option != point.default:
                    self.alternatives.append(Pick(point.index, option))
            if point.kind == "task":
                self.alternatives.append(Postpone(point.index))
        return super().decide(point)


class RandomDecider:
    def __init__(self, rng: random.Random, expected_points: int) -> None:
        self.rng = rng
        self.getrandbits = rng.getrandbits
        self.cancel_chance = 1.0 / max(expected_points, 1)

    def decide(self, point: Point) -> Move | None:
        rng = self.rng
        kind = point.kind
        if kind == "cancel":
            if rng.random() >= self.cancel_chance:
                return None
            return Pick(point.index, rng.randrange(1, point.options))
        if point.p_true is not None:
            return Pick(point.index, 1) if rng.random() < point.p_true else None
        # rng.randrange(options) written out, drawing the same numbers (random.Random's
        # _randbelow_with_getrandbits): its checks and two calls were 40% of a choice.
        options = point.options
        getrandbits = self.getrandbits
        bits = options.bit_length()
        option = getrandbits(bits)
        while option >= options:
            option = getrandbits(bits)
        return None if option == point.default else Pick(point.index, option)

    def observe_run_end(self, controller: Controller) -> None:
        pass


class PCTDecider:
    def __init__(self, rng: random.Random, depth: int, length: int,
                 expected_points: int) -> None:
        self.rng = rng
        self.depth = depth
        self.priority: dict[Any, float] = {}
        # Steps at which the running task drops below every other (d - 1 of them).
        self.change_steps = {rng.randint(1, max(length, 1)): depth - 1 - i
                             for i in range(depth - 1)}
        self.last: Any = None
        self.cancel_step = rng.randint(1, max(length, 1))
        self.random = RandomDecider(rng, expected_points)

    def decide(self, point: Point) -> Move | None:
        if point.kind == "cancel":
            if point.step != self.cancel_step:
                return None
            return Pick(point.index, self.rng.randrange(1, point.options))
        if point.kind != "task":
            return self.random.decide(point)
        drop = self.change_steps.pop(point.step, None)
        if drop is not None and self.last is not None:
            self.priority[self.last] = float(drop)  # below every fresh one (> depth)
        best = point.default
        best_priority = -1.0
        for index, task in enumerate(point.ready):
            priority = self.priority.get(task)
            if priority is None:
                priority = self.priority[task] = self.depth + self.rng.random()
            if priority > best_priority:
                best, best_priority = index, priority
        self.last = point.ready[best]
        return None if best == point.default else Pick(point.index, best)

    def observe_run_end(self, controller: Controller) -> None:
        pass


# -------------------------------------------------------------- the strategies

class RandomWalk(Strategy):
    name = "random"

    def __init__(self) -> None:
        self.expected_points = 50

    def deciders(self, seed: int) -> Iterator[Any]:
        rng = random.Random(seed)
        while True:
            yield RandomDecider(rng, self.expected_points)

    def learn(self, controller: Controller) -> None:
        self.expected_points = max(self.expected_points, controller.points)


class PCT(Strategy):
    """Probabilistic concurrency testing of bug depth ``depth`` (1 = no priority changes)."""

    def __init__(self, depth: int = 3) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"PCT(depth=...) takes an int >= 1, got {depth!r}")
        self.depth = depth
        self.length = 20  # steps per run: measured from the runs so far
        self.expected_points = 50
        self.name = f"PCT(depth={depth})"

    def deciders(self, seed: int) -> Iterator[Any]:
        rng = random.Random(seed)
        while True:
            yield PCTDecider(rng, self.depth, self.length, self.expected_points)

    def learn(self, controller: Controller) -> None:
        self.length = max(self.length, controller.steps)
        self.expected_points = max(self.expected_points, controller.points)

    def __repr__(self) -> str:
        return self.name


class DFS(Strategy):
    """Every schedule within ``max_preemptions`` moves, fewest first."""

    def __init__(self, max_preemptions: int = 2) -> None:
        if (isinstance(max_preemptions, bool) or not isinstance(max_preemptions, int)
                or max_preemptions < 0):
            raise ValueError(f"DFS(max_preemptions=...) takes an int >= 0, got "
                             f"{max_preemptions!r}")
        self.max_moves = max_preemptions
        self.name = f"DFS(max_preemptions={max_preemptions})"
        self.exhausted = False

    def deciders(self, seed: int) -> Iterator[Any]:
        pending: deque[tuple[Move, ...]] = deque([()])
        while pending:
            moves = pending.popleft()
            decider = RecordingDecider(moves)
            yield decider
            if len(moves) < self.max_moves:
                pending.extend((*moves, alternative) for alternative in decider.alternatives)
        self.exhausted = True

    def learn(self, controller: Controller) -> None:
        pass

    def __repr__(self) -> str:
        return self.name


class Auto(Strategy):
    """PCT of depth 1, 2 and 3, random and DFS(2), taking turns run by run."""

    name = "auto"

    def __init__(self) -> None:
        self.members: list[Any] = [PCT(1), DFS(2), PCT(2), RandomWalk(), PCT(3)]
        self.current: Any = None

    @property
    def exhausted(self) -> bool:  # type: ignore[override]
        return any(isinstance(m, DFS) and m.exhausted for m in self.members)

    def deciders(self, seed: int) -> Iterator[Any]:
        streams = [m.deciders(seed + i) for i, m in enumerate(self.members)]
        live = list(range(len(streams)))
        while live:
            for index in list(live):
                try:
                    decider = next(streams[index])
                except StopIteration:
                    live.remove(index)
                    continue
                self.current = self.members[index]
                yield decider

    def learn(self, controller: Controller) -> None:
        for member in self.members:
            member.learn(controller)


def strategy_from(spec: object) -> Any:
    if isinstance(spec, Strategy):
        return spec
    if spec == "auto":
        return Auto()
    if spec == "random":
        return RandomWalk()
    raise ValueError(f"strategy= takes 'auto', 'random', coop.testing.PCT(depth=d) or "
                     f"coop.testing.DFS(max_preemptions=k), got {spec!r}")
