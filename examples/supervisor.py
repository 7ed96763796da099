"""A supervisor restarting a crashing worker, as Erlang/OTP does.

The worker divides 100 by each number it receives; a 0 crashes it. The supervisor restarts it
with a fresh instance that takes over the mailbox, so the messages queued behind the bad one
are still handled, and references to the old worker keep working. When crashes come too fast
(more than max_restarts within `within` seconds) the supervisor gives up: it stops its
children, closes their mailboxes for good and fails with coop.TooManyRestarts.
"""

import coop


class Divider(coop.Actor):
    def run(self):
        print(f"  {self.name} started")
        while True:
            n = yield self.recv()
            print(f"  {self.name}: 100 / {n} = {100 / n:g}")


def main():
    sup = coop.Supervisor([Divider], strategy=coop.one_for_one, max_restarts=2, within=60)
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
