"""A pipeline of actors: each stage handles a message and passes the result on.

    numbers --> Square --> KeepEven --> Total

Closing the first stage shuts the pipeline down in order: a stage that reaches the close()
sentinel (recv raises ActorExit) closes the next one, so every message sent before the close
flows all the way through. At the end the Total actor is asked for its sum, request/reply
style, while it keeps handling messages in between.
"""

import coop


class Stage(coop.Actor):
    """Applies `handle` to each message and sends what it returns (if not None) downstream."""

    def __init__(self, downstream=None):
        super().__init__()
        self.downstream = downstream

    def handle(self, msg):
        return msg

    def run(self):
        try:
            while True:
                msg = yield self.recv()
                out = self.handle(msg)
                if out is not None and self.downstream is not None:
                    self.downstream.send(out)
        except coop.ActorExit:
            if self.downstream is not None:
                self.downstream.close()  # pass the shutdown on, after everything sent so far
            raise


class Square(Stage):
    def handle(self, n):
        return n * n


class KeepEven(Stage):
    def handle(self, n):
        return n if n % 2 == 0 else None


class Total(coop.Actor):
    """Adds up what reaches it; answers ("total",) requests with the running sum."""

    def run(self):
        total = count = 0
        try:
            while True:
                msg = yield self.recv()
                if isinstance(msg, coop.Request):
                    msg.reply((count, total))
                else:
                    total += msg
                    count += 1
        except coop.ActorExit:
            return count, total


def main(n=10):
    total = Total().start()
    even = KeepEven(total).start()
    square = Square(even).start()
    for i in range(1, n + 1):
        square.send(i)
    yield coop.sleep(0.01)  # let the numbers flow through
    count, so_far = yield total.ask("how far?")
    print(f"asked mid-way: {count} even squares of 1..{n}, sum {so_far}")
    for i in range(n + 1, 2 * n + 1):
        square.send(i)
    square.close()  # handled after every number sent before it, stage by stage
    count, final = yield total.join()
    print(f"pipeline done: {count} even squares of 1..{2 * n}, sum {final}")
    return final


if __name__ == "__main__":
    result = coop.run(main())
    assert result == sum(i * i for i in range(1, 21) if i % 2 == 0)
