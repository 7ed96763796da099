"""The lecture's second program, the PrintActor, as a coop actor.

The original is a Thread with a Queue::

    class PrintActor(Actor):
        def run(self):
            while True:
                msg = self.recv()
                print('Print Actor Task Got:', msg)

    p = PrintActor()
    p.start()
    p.send('Hello')
    p.send('World')
    p.close()
    p.join()

The coop twin differs only by `yield`: `msg = yield self.recv()` and `yield p.join()`, the
program being a generator run by `coop.run`.
"""

import coop


class PrintActor(coop.Actor):
    def run(self):
        while True:
            msg = yield self.recv()
            print('Print Actor Task Got:', msg)


def main():
    p = PrintActor(); p.start(); p.send('Hello'); p.send('World'); p.close()  # noqa: E702
    yield p.join()


if __name__ == "__main__":
    coop.run(main())
