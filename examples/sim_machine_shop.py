"""SimPy's "Machine shop" example, ported to coop: machines make parts and break down now and
then; one repairman mends them, and does less important jobs in between, which a repair
preempts (:class:`coop.PreemptiveResource`, :class:`coop.Preempted`). A breakdown is
:func:`coop.interrupt`, SimPy's ``Process.interrupt``. tests/test_simulations.py runs this next
to SimPy's original and checks that both print the same lines.
"""

from __future__ import annotations

import random
from typing import Any

import coop

RANDOM_SEED = 42
PT_MEAN = 10.0              # Avg. processing time in minutes
PT_SIGMA = 2.0              # Sigma of processing time
MTTF = 300.0                # Mean time to failure in minutes
BREAK_MEAN = 1 / MTTF       # Param. for expovariate distribution
REPAIR_TIME = 30.0          # Time it takes to repair a machine in minutes
JOB_DURATION = 30.0         # Duration of other jobs in minutes
NUM_MACHINES = 10           # Number of machines in the machine shop
WEEKS = 4                   # Simulation time in weeks


class Machine:
    """A machine produces parts and may get broken every now and then.

    If it breaks, it asks for the *repairman* and goes on with the part once repaired.
    """

    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng = rng
        self.name = name
        self.parts_made = 0
        self.broken = False
        self.process: coop.Task[Any] | None = None   # its working task, to interrupt

    def time_per_part(self) -> float:
        """Return actual processing time for a concrete part."""
        t = self.rng.normalvariate(PT_MEAN, PT_SIGMA)
        return t if t > 0 else 0.0

    def time_to_failure(self) -> float:
        """Return time until next failure for a machine."""
        return self.rng.expovariate(BREAK_MEAN)

    def working(self, repairman: coop.PreemptiveResource) -> Any:
        """Produce parts as long as the simulation runs; while making a part, the machine
        may break several times, and asks for the repairman each time."""
        while True:
            done_in = self.time_per_part()
            while done_in:
                start = coop.current_time()
                try:
                    yield coop.sleep(done_in)
                    done_in = 0
                except coop.Interrupted:
                    self.broken = True
                    done_in -= coop.current_time() - start   # How much time left?
                    # Ask for the repairman. This preempts his "other_jobs".
                    with (yield repairman.acquire(priority=1)):
                        yield coop.sleep(REPAIR_TIME)
                    self.broken = False
            self.parts_made += 1

    def break_machine(self) -> Any:
        """Break the machine every now and then."""
        while True:
            yield coop.sleep(self.time_to_failure())
            if not self.broken and self.process is not None:
                coop.interrupt(self.process)


def other_jobs(repairman: coop.PreemptiveResource) -> Any:
    """The repairman's other (unimportant) job: repairs (priority 1) preempt it."""
    while True:
        done_in = JOB_DURATION
        while done_in:
            with (yield repairman.acquire(priority=2)):
                start = coop.current_time()
                try:
                    yield coop.sleep(done_in)
                    done_in = 0
                except coop.Preempted:
                    done_in -= coop.current_time() - start


def setup(rng: random.Random, machines: list[Machine]) -> Any:
    """SimPy starts its processes as the objects are made; coop spawns them, in that order."""
    repairman = coop.PreemptiveResource(1, name="repairman")
    for i in range(NUM_MACHINES):
        machine = Machine(rng, f"Machine {i}")
        machines.append(machine)
        machine.process = yield coop.spawn(machine.working(repairman))
        yield coop.spawn(machine.break_machine())
    yield coop.spawn(other_jobs(repairman))


def main(seed: int = RANDOM_SEED, weeks: int = WEEKS) -> None:
    print("Machine shop")
    rng = random.Random(seed)
    machines: list[Machine] = []
    # SimPy's env.run(until=...): every task still running then is cancelled.
    coop.run(setup(rng, machines), clock=coop.VirtualClock(), until=weeks * 7 * 24 * 60)

    print(f"Machine shop results after {weeks} weeks")
    for machine in machines:
        print(f"{machine.name} made {machine.parts_made} parts.")


if __name__ == "__main__":
    main()
