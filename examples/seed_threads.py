"""The lecture's first program, a thread counting once a second, as a coop task.

The original::

    def counter(n):
        for j in range(n):
            print('count is', j)
            time.sleep(1)

    t = threading.Thread(target=counter, args=[5])
    t.start()

The coop twin differs by one word: `time.sleep(1)` becomes `yield coop.sleep(1)`. Then the
Python Cookbook's countdown/countup pair, which take turns with bare `yield`s.
"""

import coop


def counter(n):
    for j in range(n):
        print("count is", j)
        yield coop.sleep(1)


def countdown(n):
    while n > 0:
        print("T-minus", n)
        yield  # give up the turn
        n -= 1
    print("Blastoff!")


def countup(n):
    x = 0
    while x < n:
        print("Counting up", x)
        yield
        x += 1


def interleaved():
    yield coop.spawn(countdown(3))
    yield coop.spawn(countup(3))


def main(clock=None):
    coop.run(counter(5), clock=clock)
    coop.run(interleaved(), clock=clock)


if __name__ == "__main__":
    main()
