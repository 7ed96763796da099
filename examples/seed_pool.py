"""The lecture's fourth program, ``Pool(5).map(square, [1, 2, 3])``, as a coop task.

The original::

    from multiprocessing import Pool

    def square(x):
        return x*x

    p = Pool(5)
    print(p.map(square, [1, 2, 3]))

In coop the map is an effect a task yields, so other tasks keep running while the worker
processes compute. It runs first on the process pool coop starts itself (one worker per CPU,
stopped when ``coop.run`` returns), then on the caller's own ``Pool(5)``, used as it is.
"""

from multiprocessing import Pool

import coop


def square(x):
    return x * x


def main():
    print((yield coop.pmap(square, [1, 2, 3])))


if __name__ == "__main__":  # worker processes import this module: start nothing at import
    coop.run(main())
    with Pool(5) as p:
        coop.run(main(), processes=p)
