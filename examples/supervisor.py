"""A supervisor restarting a crashing worker, as Erlang/OTP does.

The worker divides 100 by each number it receives; a 0 crashes it. The supervisor restarts it
with a fresh instance that takes over the mailbox, so the messages queued behind the bad one
are still handled, and references to the old worker keep working. When crashes come too fast
(more than max_restarts within `within` seconds) the supervisor gives up: it stops its
children, closes their mailboxes for good and fails with coop.TooManyRestarts.

The supervisor is given a factory rather than the class, so that each instance it starts gets
the next number: divider-1, then divider-2 after the first restart, and so on.
"""

import itertools

import coop


class Divider(coop.Actor):
    def run(self):
        print(f"  {self.name} started")
        while True:
            n = yield self.recv()
            try:
                print(f"  {self.name}: 100 / {n} = {100 / n:g}")
            except ZeroDivisionError as err:
                print(f"  {self.name} crashed on 100 / {n}: {err!r}")
                raise  # the crash is the supervisor's to handle


numbers = itertools.count(1)


def new_divider():
    return Divider(name=f"divider-{next(numbers)}")


def main():
    sup = coop.Supervisor([new_divider], strategy=coop.one_for_one, max_restarts=2, within=60,
                          name="supervisor")
    sup.start()
    worker = sup.children[0]
    print("sending 4, 0, 5, 20 (the 0 crashes the worker)")
    for n in [4, 0, 5, 20]:
        worker.send(n)  # the old reference keeps working after the restart
    yield coop.sleep(0.01)
    print(f"supervised now: {[child.name for child in sup.children]}")

    print("sending 0s: more than max_restarts=2 crashes within 60s")
    try:
        while True:
            worker.send(0)
            yield coop.sleep(0.01)
    except coop.ActorStopped as err:
        print(f"send refused: {err}")
    try:
        yield sup.join()
    except coop.TooManyRestarts as err:
        print(f"supervisor failed: {err}")


if __name__ == "__main__":
    coop.run(main())
