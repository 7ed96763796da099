"""A small program to look at in a trace: tasks, an actor asked and answered, blocking calls
in threads. The picture in docs/guides/tracing.rst is its trace:

    python -m coop run --trace run.json examples/traced.py
    python -m coop trace run.json --png run.png

Two fetchers each block in a thread (time.sleep stands for a download) and then ask a
Counter actor to count what they fetched; main waits for both and asks for the total.
"""

import time

import coop


class Counter(coop.Actor):
    def run(self):
        total = 0
        while True:
            request = yield self.recv()
            if request.body == "total":
                request.reply(total)
            else:
                total += request.body
                request.reply(total)


def fetch(name, seconds, counter):
    size = yield coop.to_thread(lambda: (time.sleep(seconds), len(name) * 100)[1])
    yield counter.ask(size)


def main():
    counter = Counter(name="counter").start()
    fetchers = []
    for name, seconds in [("alpha", 0.02), ("beta", 0.035)]:
        fetchers.append((yield coop.spawn(fetch(name, seconds, counter), name=name)))
    for task in fetchers:
        yield coop.join(task)
    total = yield counter.ask("total")
    counter.close()
    print("fetched", total, "bytes")


if __name__ == "__main__":
    coop.run(main())
