"""SimPy's "Machine shop" example (SimPy 4 documentation), as published but for one change: a
seeded ``random.Random`` passed in rather than the module's ``random.seed``, so that a test
can run it next to the coop port (examples/sim_machine_shop.py) and compare the output."""

import random

import simpy

RANDOM_SEED = 42
PT_MEAN = 10.0  # Avg. processing time in minutes
PT_SIGMA = 2.0  # Sigma of processing time
MTTF = 300.0  # Mean time to failure in minutes
BREAK_MEAN = 1 / MTTF  # Param. for expovariate distribution
REPAIR_TIME = 30.0  # Time it takes to repair a machine in minutes
JOB_DURATION = 30.0  # Duration of other jobs in minutes
NUM_MACHINES = 10  # Number of machines in the machine shop
WEEKS = 4  # Simulation time in weeks
SIM_TIME = WEEKS * 7 * 24 * 60  # Simulation time in minutes


class Machine:
    """A machine produces parts and may get broken every now and then.

    If it breaks, it requests a *repairman* and continues the production
    after the it is repaired.

    A machine has a *name* and a number of *parts_made* thus far.

    """

    def __init__(self, env, rng, name, repairman):
        self.env = env
        self.rng = rng
        self.name = name
        self.parts_made = 0
        self.broken = False

        # Start "working" and "break_machine" processes for this machine.
        self.process = env.process(self.working(repairman))
        env.process(self.break_machine())

    def time_per_part(self):
        """Return actual processing time for a concrete part."""
        t = self.rng.normalvariate(PT_MEAN, PT_SIGMA)
        # Make sure we always return a positive value
        return t if t > 0 else 0.0

    def time_to_failure(self):
        """Return time until next failure for a machine."""
        return self.rng.expovariate(BREAK_MEAN)

    def working(self, repairman):
        """Produce parts as long as the simulation runs.

        While making a part, the machine may break multiple times.
        Request a repairman when this happens.

        """
        while True:
            # Start making a new part
            done_in = self.time_per_part()
            while done_in:
                start = self.env.now
                try:
                    # Working on the part
                    yield self.env.timeout(done_in)
                    done_in = 0  # Set to 0 to exit while loop.

                except simpy.Interrupt:
                    self.broken = True
                    done_in -= self.env.now - start  # How much time left?

                    # Request a repairman. This will preempt its "other_job".
                    with repairman.request(priority=1) as req:
                        yield req
                        yield self.env.timeout(REPAIR_TIME)

                    self.broken = False

            # Part is done.
            self.parts_made += 1

    def break_machine(self):
        """Break the machine every now and then."""
        while True:
            yield self.env.timeout(self.time_to_failure())
            if not self.broken:
                # Only break the machine if it is currently working.
                self.process.interrupt()


def other_jobs(env, repairman):
    """The repairman's other (unimportant) job."""
    while True:
        # Start a new job
        done_in = JOB_DURATION
        while done_in:
            # Retry the job until it is done.
            # Its priority is lower than that of machine repairs.
            with repairman.request(priority=2) as req:
                yield req
                start = env.now
                try:
                    yield env.timeout(done_in)
                    done_in = 0
                except simpy.Interrupt:
                    done_in -= env.now - start


def main(seed=RANDOM_SEED, weeks=WEEKS):
    # Setup and start the simulation
    print('Machine shop')
    rng = random.Random(seed)  # This helps reproducing the results

    # Create an environment and start the setup process
    env = simpy.Environment()
    repairman = simpy.PreemptiveResource(env, capacity=1)
    machines = [
        Machine(env, rng, f'Machine {i}', repairman) for i in range(NUM_MACHINES)
    ]
    env.process(other_jobs(env, repairman))

    # Execute!
    env.run(until=weeks * 7 * 24 * 60)

    # Analysis/results
    print(f'Machine shop results after {weeks} weeks')
    for machine in machines:
        print(f'{machine.name} made {machine.parts_made} parts.')


if __name__ == '__main__':
    main()
