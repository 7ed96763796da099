"""Dining philosophers: the deadlock coop reports, and the fix that lets everyone eat.

Five philosophers sit around a table with a fork between each pair. To eat, a philosopher
needs both neighbouring forks (coop.Lock). If each picks up the left fork first, there is a
moment when every one holds a left fork and waits for a right one that never comes: nothing
can ever run again. coop notices, raises coop.Deadlock, and names each stuck task, the fork it
waits for, and who holds that fork.

The classic fix: number the forks and always pick up the lower-numbered one first. The order
of acquisition is then the same for everyone, so no cycle of waits can form.

    python examples/philosophers.py
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import coop

PHILOSOPHERS = 5
MEALS = 3


def philosopher(first: coop.Lock, second: coop.Lock,
                meals: list[int], seat: int) -> Generator[Any, Any, None]:
    for _ in range(MEALS):
        with (yield first.acquire()):
            yield coop.sleep(1)  # reaching for the other fork takes a moment
            with (yield second.acquire()):
                yield coop.sleep(1)  # eating
                meals[seat] += 1
        yield coop.sleep(1)  # thinking


def dinner(ordered: bool) -> Generator[Any, Any, list[int]]:
    forks = [coop.Lock(name=f"fork-{n}") for n in range(PHILOSOPHERS)]
    meals = [0] * PHILOSOPHERS
    seated = []
    for seat in range(PHILOSOPHERS):
        left, right = seat, (seat + 1) % PHILOSOPHERS
        first, second = (min(left, right), max(left, right)) if ordered else (left, right)
        seated.append((yield coop.spawn(philosopher(forks[first], forks[second], meals, seat),
                                        name=f"philosopher-{seat}")))
    for task in seated:
        yield coop.join(task)
    return meals


def main() -> None:
    print(f"{PHILOSOPHERS} philosophers, each picking up the left fork first:")
    try:
        coop.run(dinner(ordered=False), clock=coop.VirtualClock())
    except coop.Deadlock as report:
        print(report)

    print()
    print("The same dinner, each picking up the lower-numbered fork first:")
    clock = coop.VirtualClock()
    meals = coop.run(dinner(ordered=True), clock=clock)
    print(f"every philosopher ate {MEALS} meals: {meals}; dinner ended at t={clock.now():g}")


if __name__ == "__main__":
    main()
