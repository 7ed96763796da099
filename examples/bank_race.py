"""A lost update in a bank transfer: coop.testing finds it, replays it, and a Lock fixes it.

Two transfers leave Alice's account at once. Each reads the balance, waits for a (pretend)
fraud check, then writes the balance it read minus its amount. If the second transfer reads
before the first one writes, the first withdrawal is lost and money appears from nowhere.

coop's default order (first come, first served) happens not to show it: the second transfer
logs its request first, so by the time it reads, the first one has written. ``coop.run``
passes, and so would a test that only ran the program once. ``coop.testing.explore`` runs it
under many schedules, stops at the first that fails, shrinks that schedule to the fewest moves
away from the default order and hands it back as a token; ``coop.testing.replay`` runs that
exact schedule again. Holding a ``coop.Lock`` from the read to the write fixes it: the fixed
program then passes 10,000 random schedules, and every schedule within two moves of the
default order (``DFS(max_preemptions=2)`` is exhausted).

    python examples/bank_race.py

Everything here is deterministic: explore's strategies are seeded (seed=0 unless told), every
run has a fresh virtual clock, so this prints the same lines every time.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import coop
from coop.testing import DFS, explore, replay

Gen = Generator[Any, Any, Any]
OPENING = {"alice": 100, "bob": 50, "carol": 0}
TRANSFERS = [("alice", "bob", 30), ("alice", "carol", 50)]


def bank(locked: bool) -> Callable[[], Gen]:
    """The program to explore: a function that returns a fresh main generator each time, so
    that every run starts from the opening balances."""

    def program() -> Gen:
        balances = dict(OPENING)
        lock = coop.Lock(name="ledger")

        def transfer(source: str, target: str, amount: int, log_first: bool) -> Gen:
            if log_first:
                yield                            # write the request to the audit log
            if locked:
                yield lock.acquire()
            try:
                seen = balances[source]          # read ...
                yield                            # ... the fraud check: others run here ...
                if seen >= amount:
                    balances[source] = seen - amount   # ... and write what was read
                    balances[target] += amount
            finally:
                if locked:
                    lock.release()

        def main() -> Gen:
            tasks = []
            for n, (source, target, amount) in enumerate(TRANSFERS):
                tasks.append((yield coop.spawn(transfer(source, target, amount, n > 0),
                                               name=f"{source}->{target}")))
            for task in tasks:
                yield coop.join(task)
            total = sum(balances.values())
            print("   balances", balances)
            assert total == sum(OPENING.values()), f"money appeared: the bank holds {total}"
            return balances

        return main()

    return program


def main() -> None:
    racy, fixed = bank(locked=False), bank(locked=True)

    print("1. coop.run, the default order:")
    coop.run(racy())

    print("\n2. explore the racy transfer:")
    found = explore(racy)
    failure = found.failure
    assert failure is not None, "explore should find the lost update"
    print(f"   {type(failure.exception).__name__}: {failure.exception}")
    print(f"   found in run {failure.run} (strategy {found.strategy!r}), shrunk in "
          f"{found.shrink_runs} more runs to {len(failure.steps)} move(s) from the default order:")
    for step in failure.steps:
        print(f"     {step}")
    print(f"   what the failing run printed: {failure.output.strip()}")
    print(f"   token: {failure.schedule}")

    print("\n3. replay the token (the same run, exactly):")
    try:
        replay(racy, failure.schedule)
    except AssertionError as err:
        print(f"   raised again: {err}")
    else:
        raise SystemExit("the replay should have failed")

    print("\n4. the fix, a coop.Lock held from the read to the write:")
    shuffled = explore(fixed, runs=10_000, strategy="random")
    assert shuffled.failure is None, shuffled.failure
    print(f"   strategy='random': {shuffled.runs:,} runs, no failure")
    bounded = explore(fixed, runs=100_000, strategy=DFS(max_preemptions=2))
    assert bounded.failure is None and bounded.exhausted, bounded
    print(f"   DFS(max_preemptions=2): every schedule within 2 moves ({bounded.runs:,} runs), "
          f"exhausted={bounded.exhausted}, no failure")
    print("   and the racy token, replayed on the fixed program:")
    try:
        replay(fixed, failure.schedule)
    except coop.testing.ScheduleMismatch:
        print("   ScheduleMismatch: the token was made on other code (its choice points "
              "differ); explore again")
    else:
        raise SystemExit("the racy token should not fit the fixed program")


if __name__ == "__main__":
    main()
