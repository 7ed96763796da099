"""SimPy's "Bank renege" example (SimPy 4 documentation), as published but for one change: a
seeded ``random.Random`` passed in rather than the module's ``random.seed``, so that a test
can run it next to the coop port (examples/sim_bank_renege.py) and compare the output."""

import random

import simpy

RANDOM_SEED = 42
NEW_CUSTOMERS = 5  # Total number of customers
INTERVAL_CUSTOMERS = 10.0  # Generate new customers roughly every x seconds
MIN_PATIENCE = 1  # Min. customer patience
MAX_PATIENCE = 3  # Max. customer patience


def source(env, rng, number, interval, counter):
    """Source generates customers randomly"""
    for i in range(number):
        c = customer(env, rng, f'Customer{i:02d}', counter, time_in_bank=12.0)
        env.process(c)
        t = rng.expovariate(1.0 / interval)
        yield env.timeout(t)


def customer(env, rng, name, counter, time_in_bank):
    """Customer arrives, is served and leaves."""
    arrive = env.now
    print(f'{arrive:7.4f} {name}: Here I am')

    with counter.request() as req:
        patience = rng.uniform(MIN_PATIENCE, MAX_PATIENCE)
        # Wait for the counter or abort at the end of our tether
        results = yield req | env.timeout(patience)

        wait = env.now - arrive

        if req in results:
            # We got to the counter
            print(f'{env.now:7.4f} {name}: Waited {wait:6.3f}')

            tib = rng.expovariate(1.0 / time_in_bank)
            yield env.timeout(tib)
            print(f'{env.now:7.4f} {name}: Finished')

        else:
            # We reneged
            print(f'{env.now:7.4f} {name}: RENEGED after {wait:6.3f}')


def main(seed=RANDOM_SEED, customers=NEW_CUSTOMERS):
    # Setup and start the simulation
    print('Bank renege')
    rng = random.Random(seed)
    env = simpy.Environment()

    # Start processes and run
    counter = simpy.Resource(env, capacity=1)
    env.process(source(env, rng, customers, INTERVAL_CUSTOMERS, counter))
    env.run()


if __name__ == '__main__':
    main()
