"""SimPy's "Bank renege" example, ported to coop: customers arrive at random, wait for the one
counter, and leave (renege) if their patience runs out first.

SimPy's ``req | env.timeout(patience)`` is :func:`coop.race` of the acquire and a sleep: the
race returns which one finished first, and an acquire that wins hands its unit to the
customer, who gives it back with the ``with`` block. tests/test_simulations.py runs this next
to SimPy's original and checks that both print the same lines.
"""

from __future__ import annotations

import random
from typing import Any

import coop

RANDOM_SEED = 42
NEW_CUSTOMERS = 5           # Total number of customers
INTERVAL_CUSTOMERS = 10.0   # Generate new customers roughly every x seconds
MIN_PATIENCE = 1            # Min. customer patience
MAX_PATIENCE = 3            # Max. customer patience


def source(rng: random.Random, number: int, interval: float, counter: coop.Semaphore) -> Any:
    """Source generates customers randomly."""
    for i in range(number):
        yield coop.spawn(customer(rng, f"Customer{i:02d}", counter, time_in_bank=12.0))
        t = rng.expovariate(1.0 / interval)
        yield coop.sleep(t)


def customer(rng: random.Random, name: str, counter: coop.Semaphore,
             time_in_bank: float) -> Any:
    """Customer arrives, is served and leaves."""
    arrive = coop.current_time()
    print(f"{arrive:7.4f} {name}: Here I am")

    patience = rng.uniform(MIN_PATIENCE, MAX_PATIENCE)
    # Wait for the counter or abort at the end of our tether.
    first, held = yield coop.race(counter.acquire(), coop.sleep(patience))

    wait = coop.current_time() - arrive
    if first == 0:
        # We got to the counter.
        with held:
            print(f"{coop.current_time():7.4f} {name}: Waited {wait:6.3f}")
            tib = rng.expovariate(1.0 / time_in_bank)
            yield coop.sleep(tib)
            print(f"{coop.current_time():7.4f} {name}: Finished")
    else:
        # We reneged.
        print(f"{coop.current_time():7.4f} {name}: RENEGED after {wait:6.3f}")


def main(seed: int = RANDOM_SEED, customers: int = NEW_CUSTOMERS) -> None:
    print("Bank renege")
    rng = random.Random(seed)
    counter = coop.Semaphore(1, name="counter")
    coop.run(source(rng, customers, INTERVAL_CUSTOMERS, counter), clock=coop.VirtualClock())


if __name__ == "__main__":
    main()
