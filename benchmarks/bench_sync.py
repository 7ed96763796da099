"""Synchronization primitives: coop against asyncio and trio, measured in one process.

    .venv/bin/python benchmarks/bench_sync.py            # full run (~30 s): results/sync.json
    .venv/bin/python benchmarks/bench_sync.py --quick    # smoke run: small sizes, writes nothing

Figures:

* contended lock hand-off: 10 tasks, each acquiring the lock, giving up its turn once while
  holding it, and releasing it, over and over. Every release finds waiters, so every
  acquisition is a hand-off: ns per acquisition (switches included).
* queue ping-pong round trip: a producer and a consumer that switch on every item. The
  producer puts an item into one queue and waits for it to come back on a second one; the
  consumer gets it and puts it back: ns per round trip (two items moved, two switches). The
  "kernel floor" peer does the same with two bare effects that park on and wake from a
  WaitQueue, the least any primitive on coop's kernel can cost.
* queue put/get stream, maxsize 1: one producer puts N items into a queue of maxsize 1 that one
  consumer empties: ns per item. asyncio switches on every item here; coop hands an item
  straight to a waiting consumer and lets a blocked producer's item in as soon as one is taken,
  so its two tasks switch about once per one and a half items.

trio has no queue; its peer is a memory channel with a buffer of 1.

Each peer runs in the same process, interleaved (repeat 1 of every peer, then repeat 2, ...),
with ``gc.collect()`` before each timed repeat and the collector enabled while timing; the
median of the repeats is reported. A peer that is not installed shows as n/a (null).

Time is the process's CPU time (:func:`time.process_time`), not wall time: every peer here is
single-threaded and CPU-bound, so the two agree on a quiet machine, and on a shared one CPU
time leaves out the moments the process was not running at all.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from common import ensure_repo_on_path, interleaved, write_results

HERE = Path(__file__).resolve().parent
ensure_repo_on_path()

import coop  # noqa: E402
from coop.lowlevel import WaitQueue  # noqa: E402

try:
    import trio
except ImportError:  # pragma: no cover
    trio = None

LOCK_TASKS = 10


# ------------------------------------------------------------------ lock hand-off


def coop_lock(rounds: int) -> float:
    lock = coop.Lock()

    def worker() -> Generator[Any, Any, None]:
        for _ in range(rounds):
            with (yield lock.acquire()):
                yield

    def main() -> Generator[Any, Any, None]:
        for _ in range(LOCK_TASKS):
            yield coop.spawn(worker())

    t0 = time.process_time()
    coop.run(main())
    return time.process_time() - t0


def asyncio_lock(rounds: int) -> float:
    async def worker(lock: asyncio.Lock) -> None:
        for _ in range(rounds):
            async with lock:
                await asyncio.sleep(0)

    async def main() -> None:
        lock = asyncio.Lock()
        await asyncio.gather(*(worker(lock) for _ in range(LOCK_TASKS)))

    t0 = time.process_time()
    asyncio.run(main())
    return time.process_time() - t0


def trio_lock(rounds: int) -> float:
    async def worker(lock: Any) -> None:
        for _ in range(rounds):
            async with lock:
                await trio.sleep(0)

    async def main() -> None:
        lock = trio.Lock()
        async with trio.open_nursery() as nursery:
            for _ in range(LOCK_TASKS):
                nursery.start_soon(worker, lock)

    t0 = time.process_time()
    trio.run(main)
    return time.process_time() - t0


# ------------------------------------------------------------------ queue ping-pong


class _Send(coop.Effect[None]):
    """Wake the first task parked on a wait queue with a value (the kernel floor peer)."""

    __slots__ = ("queue", "value")

    def __init__(self, queue: WaitQueue, value: Any) -> None:
        self.queue = queue
        self.value = value

    def _coop_apply(self, kernel: Any, task: Any) -> Any:
        self.queue.wake_one(self.value)
        return None


class _Receive(coop.Effect[Any]):
    """Park on a wait queue until woken (the kernel floor peer)."""

    __slots__ = ("queue",)

    def __init__(self, queue: WaitQueue) -> None:
        self.queue = queue

    def _coop_apply(self, kernel: Any, task: Any) -> Any:
        return self.queue.park(task)


def floor_ping_pong(items: int) -> float:
    ping, pong = WaitQueue(), WaitQueue()
    receive_ping, receive_pong = _Receive(ping), _Receive(pong)

    def producer() -> Generator[Any, Any, None]:
        for n in range(items):
            yield _Send(ping, n)
            yield receive_pong

    def consumer() -> Generator[Any, Any, None]:
        for _ in range(items):
            n = yield receive_ping
            yield _Send(pong, n)

    def main() -> Generator[Any, Any, None]:
        yield coop.spawn(consumer())
        yield coop.spawn(producer())

    t0 = time.process_time()
    coop.run(main())
    return time.process_time() - t0


def coop_ping_pong(items: int) -> float:
    ping: coop.Queue[int] = coop.Queue(maxsize=1)
    pong: coop.Queue[int] = coop.Queue(maxsize=1)

    def producer() -> Generator[Any, Any, None]:
        for n in range(items):
            yield ping.put(n)
            yield pong.get()

    def consumer() -> Generator[Any, Any, None]:
        for _ in range(items):
            n = yield ping.get()
            yield pong.put(n)

    def main() -> Generator[Any, Any, None]:
        yield coop.spawn(consumer())
        yield coop.spawn(producer())

    t0 = time.process_time()
    coop.run(main())
    return time.process_time() - t0


def asyncio_ping_pong(items: int) -> float:
    async def producer(ping: asyncio.Queue[int], pong: asyncio.Queue[int]) -> None:
        for n in range(items):
            await ping.put(n)
            await pong.get()

    async def consumer(ping: asyncio.Queue[int], pong: asyncio.Queue[int]) -> None:
        for _ in range(items):
            n = await ping.get()
            await pong.put(n)

    async def main() -> None:
        ping: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        pong: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        await asyncio.gather(consumer(ping, pong), producer(ping, pong))

    t0 = time.process_time()
    asyncio.run(main())
    return time.process_time() - t0


def trio_ping_pong(items: int) -> float:
    async def producer(ping: Any, pong: Any) -> None:
        for n in range(items):
            await ping.send(n)
            await pong.receive()

    async def consumer(ping: Any, pong: Any) -> None:
        for _ in range(items):
            n = await ping.receive()
            await pong.send(n)

    async def main() -> None:
        ping_send, ping_receive = trio.open_memory_channel(1)
        pong_send, pong_receive = trio.open_memory_channel(1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer, ping_receive, pong_send)
            nursery.start_soon(producer, ping_send, pong_receive)

    t0 = time.process_time()
    trio.run(main)
    return time.process_time() - t0


def coop_queue(items: int) -> float:
    q: coop.Queue[int] = coop.Queue(maxsize=1)

    def producer() -> Generator[Any, Any, None]:
        for n in range(items):
            yield q.put(n)

    def consumer() -> Generator[Any, Any, None]:
        for _ in range(items):
            yield q.get()

    def main() -> Generator[Any, Any, None]:
        yield coop.spawn(consumer())
        yield coop.spawn(producer())

    t0 = time.process_time()
    coop.run(main())
    return time.process_time() - t0


def asyncio_queue(items: int) -> float:
    async def producer(q: asyncio.Queue[int]) -> None:
        for n in range(items):
            await q.put(n)

    async def consumer(q: asyncio.Queue[int]) -> None:
        for _ in range(items):
            await q.get()

    async def main() -> None:
        q: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        await asyncio.gather(consumer(q), producer(q))

    t0 = time.process_time()
    asyncio.run(main())
    return time.process_time() - t0


def trio_queue(items: int) -> float:
    async def producer(send: Any) -> None:
        for n in range(items):
            await send.send(n)

    async def consumer(receive: Any) -> None:
        for _ in range(items):
            await receive.receive()

    async def main() -> None:
        send, receive = trio.open_memory_channel(1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer, receive)
            nursery.start_soon(producer, send)

    t0 = time.process_time()
    trio.run(main)
    return time.process_time() - t0


# ---------------------------------------------------------------------- harness


def measure(peers: dict[str, Callable[[], float] | None], per: int,
            repeats: int) -> dict[str, float | None]:
    """Median ns per operation for each peer (None: not installed), repeats interleaved."""
    timed = {name: (lambda fn=fn: fn() / per * 1e9)
             for name, fn in peers.items() if fn is not None}
    medians = interleaved(timed, repeats, verbose=False)
    return {name: medians.get(name) for name in peers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, write nothing")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    rounds = 200 if args.quick else 4000        # per task: 10 tasks
    items = 2000 if args.quick else 40000
    trips = 1000 if args.quick else 15000
    repeats = args.repeats or (2 if args.quick else 7)
    have_trio = trio is not None

    lock = measure({
        "coop": lambda: coop_lock(rounds),
        "asyncio": lambda: asyncio_lock(rounds),
        "trio": (lambda: trio_lock(rounds)) if have_trio else None,
    }, rounds * LOCK_TASKS, repeats)
    ping_pong = measure({
        "coop": lambda: coop_ping_pong(trips),
        "asyncio": lambda: asyncio_ping_pong(trips),
        "trio": (lambda: trio_ping_pong(trips)) if have_trio else None,
        "kernel floor": lambda: floor_ping_pong(trips),
    }, trips, repeats)
    queue = measure({
        "coop": lambda: coop_queue(items),
        "asyncio": lambda: asyncio_queue(items),
        "trio": (lambda: trio_queue(items)) if have_trio else None,
    }, items, repeats)

    figures = [
        {"name": "contended lock hand-off", "unit": "ns per hand-off", "lower_is_better": True,
         "goal": "coop >= 5x faster than asyncio", "results": lock},
        {"name": "queue ping-pong round trip", "unit": "ns per round trip",
         "lower_is_better": True, "goal": "coop >= 5x faster than asyncio",
         "results": ping_pong},
        {"name": "queue put/get stream, maxsize 1", "unit": "ns per item",
         "lower_is_better": True, "goal": "coop >= 5x faster than asyncio", "results": queue},
    ]
    print(f"{'figure':<32} {'unit':<18} {'coop':>8} {'asyncio':>8} {'trio':>8} "
          f"{'floor':>8} {'asyncio/coop':>13}")
    for fig in figures:
        res = fig["results"]
        cells = [f"{res[k]:>8.0f}" if res.get(k) is not None else f"{'':>8}"
                 for k in ("coop", "asyncio", "trio", "kernel floor")]
        ratio = res["asyncio"] / res["coop"] if res["coop"] and res["asyncio"] else None
        shown = f"{ratio:>12.1f}x" if ratio is not None else f"{'n/a':>13}"
        print(f"{fig['name']:<32} {fig['unit']:<18} {' '.join(cells)} {shown}")
    print(f"(CPU time, median of {repeats} repeats; lower is better)")
    if args.quick:
        return
    out = write_results("sync", figures)
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
