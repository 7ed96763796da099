"""Actors: one-way messages/s and ask round trips/s, coop against its peers, in one process.

    .venv/bin/python benchmarks/bench_actors.py            # ~1 min, writes results/actors.json
    .venv/bin/python benchmarks/bench_actors.py --quick    # smoke run: 1/10 sizes, writes nothing

Peers, each doing the same work:

* coop: an ``Actor`` (``msg = yield self.recv()``); ``send`` / ``yield actor.ask(x)``.
* thread+queue actor: the lecture's Actor (a daemon Thread reading a Queue, the ActorExit
  sentinel), written out below as in the lecture. It uses ``queue.Queue``, the thread-safe
  queue meant for threads; the lecture imports ``multiprocessing.Queue``, which pickles every
  message through a pipe and is several times slower again, so this is the kinder baseline.
  A round trip sends ``(x, reply_queue)`` and waits on ``reply_queue.get()``.
* pykka: a ``pykka.ThreadingActor``; ``tell`` / ``ask`` (blocking).
* asyncio queue: a consumer task on an ``asyncio.Queue``; a round trip is a put on a request
  queue and a get from a reply queue.
* trio channel: unbounded ``trio.open_memory_channel``\\ s, the same shapes.

One-way: the clock runs from the first send until the receiver has taken all N messages
(200,000). Round trips: the asker asks, waits for the reply, asks again. Repeats go round robin
over the peers (so a noisy moment on the shared machine hits all alike), the garbage collector
stays on, ``gc.collect()`` runs before each repeat, and each figure is the median.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ensure_repo_on_path, interleaved, write_results

HERE = Path(__file__).resolve().parent
ensure_repo_on_path()

import coop  # noqa: E402

timer = time.perf_counter


# ------------------------------------------------------------- the lecture's Actor


class ActorExit(Exception):
    pass


class ThreadActor:
    """The lecture's Actor: a Thread with a Queue (queue.Queue, see the module docstring)."""

    def __init__(self) -> None:
        self._mailbox: queue.Queue[Any] = queue.Queue()

    def send(self, msg: Any) -> None:
        self._mailbox.put(msg)

    def recv(self) -> Any:
        msg = self._mailbox.get()
        if msg is ActorExit:
            raise ActorExit()
        return msg

    def close(self) -> None:
        self.send(ActorExit)

    def start(self) -> None:
        self._terminated = threading.Event()
        t = threading.Thread(target=self._bootstrap)
        t.daemon = True
        t.start()

    def _bootstrap(self) -> None:
        try:
            self.run()
        except ActorExit:
            pass
        finally:
            self._terminated.set()

    def join(self) -> None:
        self._terminated.wait()

    def run(self) -> None:
        while True:
            self.recv()


class ThreadCounter(ThreadActor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def run(self) -> None:
        while True:
            self.recv()
            self.count += 1


class ThreadEcho(ThreadActor):
    def run(self) -> None:
        while True:
            x, reply = self.recv()
            reply.put(x)


# ----------------------------------------------------------------------- one-way


def oneway_coop(n: int) -> float:
    class Counter(coop.Actor):
        def run(self) -> Any:
            count = 0
            try:
                while True:
                    yield self.recv()
                    count += 1
            except coop.ActorExit:
                return count

    def main() -> Any:
        counter = Counter().start()
        yield  # the counter now waits on its mailbox, as the threads' consumers do
        t0 = timer()
        for i in range(n):
            counter.send(i)
        counter.close()
        got = yield counter.join()
        elapsed = timer() - t0
        assert got == n
        return n / elapsed

    return float(coop.run(main()))


def oneway_thread(n: int) -> float:
    actor = ThreadCounter()
    actor.start()
    t0 = timer()
    for i in range(n):
        actor.send(i)
    actor.close()
    actor.join()
    elapsed = timer() - t0
    assert actor.count == n
    return n / elapsed


def oneway_pykka(n: int) -> float:
    import pykka

    class Counter(pykka.ThreadingActor):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> None:
            self.count += 1

        def on_stop(self) -> None:
            result.append(self.count)

    result: list[int] = []
    ref = Counter.start()
    t0 = timer()
    for i in range(n):
        ref.tell(i)
    ref.stop()  # queued after the messages; blocks until the actor has stopped
    elapsed = timer() - t0
    assert result == [n]
    return n / elapsed


def oneway_asyncio(n: int) -> float:
    async def main() -> float:
        q: asyncio.Queue[Any] = asyncio.Queue()

        async def consumer() -> int:
            count = 0
            for _ in range(n):
                await q.get()
                count += 1
            return count

        task = asyncio.create_task(consumer())
        await asyncio.sleep(0)
        t0 = timer()
        for i in range(n):
            q.put_nowait(i)
        got = await task
        elapsed = timer() - t0
        assert got == n
        return n / elapsed

    return asyncio.run(main())


def oneway_trio(n: int) -> float:
    import trio

    async def main() -> float:
        send, receive = trio.open_memory_channel[Any](math.inf)
        got: list[int] = []

        async def consumer() -> None:
            count = 0
            async with receive:
                async for _ in receive:
                    count += 1
            got.append(count)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await trio.lowlevel.checkpoint()
            t0 = timer()
            async with send:
                for i in range(n):
                    send.send_nowait(i)
        elapsed = timer() - t0
        assert got == [n]
        return n / elapsed

    return float(trio.run(main))


# -------------------------------------------------------------------- round trips


def ask_coop(m: int) -> float:
    class Echo(coop.Actor):
        def run(self) -> Any:
            while True:
                request = yield self.recv()
                request.reply(request.body)

    def main() -> Any:
        echo = Echo().start()
        yield
        t0 = timer()
        for i in range(m):
            assert (yield echo.ask(i)) == i
        elapsed = timer() - t0
        echo.close()
        return m / elapsed

    return float(coop.run(main()))


def ask_thread(m: int) -> float:
    actor = ThreadEcho()
    actor.start()
    reply: queue.Queue[Any] = queue.Queue()
    t0 = timer()
    for i in range(m):
        actor.send((i, reply))
        assert reply.get() == i
    elapsed = timer() - t0
    actor.close()
    actor.join()
    return m / elapsed


def ask_pykka(m: int) -> float:
    import pykka

    class Echo(pykka.ThreadingActor):  # type: ignore[misc]
        def on_receive(self, message: Any) -> Any:
            return message

    ref = Echo.start()
    t0 = timer()
    for i in range(m):
        assert ref.ask(i) == i
    elapsed = timer() - t0
    ref.stop()
    return m / elapsed


def ask_asyncio(m: int) -> float:
    async def main() -> float:
        requests: asyncio.Queue[Any] = asyncio.Queue()
        replies: asyncio.Queue[Any] = asyncio.Queue()

        async def server() -> None:
            while True:
                replies.put_nowait(await requests.get())

        task = asyncio.create_task(server())
        await asyncio.sleep(0)
        t0 = timer()
        for i in range(m):
            requests.put_nowait(i)
            assert await replies.get() == i
        elapsed = timer() - t0
        task.cancel()
        return m / elapsed

    return asyncio.run(main())


def ask_trio(m: int) -> float:
    import trio

    async def main() -> float:
        req_send, req_recv = trio.open_memory_channel[Any](math.inf)
        rep_send, rep_recv = trio.open_memory_channel[Any](math.inf)
        result: list[float] = []

        async def server() -> None:
            async with req_recv, rep_send:
                async for x in req_recv:
                    rep_send.send_nowait(x)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(server)
            await trio.lowlevel.checkpoint()
            t0 = timer()
            for i in range(m):
                req_send.send_nowait(i)
                assert await rep_recv.receive() == i
            result.append(m / (timer() - t0))
            await req_send.aclose()
        return result[0]

    return float(trio.run(main))


# --------------------------------------------------------------------------- driver


def available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def measure(peers: dict[str, Callable[[], float] | None], repeats: int,
            label: str) -> dict[str, float | None]:
    """Each peer ``repeats`` times, round robin; the median per peer (None: not measured)."""
    medians = interleaved({name: fn for name, fn in peers.items() if fn is not None},
                          repeats, label=f"{label} ")
    return {name: medians.get(name) for name in peers}


def table(figures: list[dict[str, Any]]) -> str:
    peers = list(figures[0]["results"])
    lines = [f"{'':<22}" + "".join(f"{p:>20}" for p in peers)]
    for fig in figures:
        cells = []
        for p in peers:
            value = fig["results"][p]
            cells.append(f"{'n/a' if value is None else f'{value:,.0f}':>20}")
        lines.append(f"{fig['name']:<22}" + "".join(cells))
        coop_value = fig["results"]["coop"]
        ratios = []
        for p in peers[1:]:
            value = fig["results"][p]
            ratio = f"{coop_value / value:.1f}x" if value and coop_value else ""
            ratios.append(f"{ratio:>20}")
        lines.append(f"{'  coop is':<22}{'':>20}" + "".join(ratios))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/10 sizes, 1 repeat, no file")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    repeats = 1 if args.quick else args.repeats
    n = 200_000 // scale
    have_pykka, have_trio = available("pykka"), available("trio")

    print(f"one-way messages/s, {n:,} messages, median of {repeats}", flush=True)
    oneway = measure({
        "coop": lambda: oneway_coop(n),
        "thread+queue actor": lambda: oneway_thread(n),
        "pykka": (lambda: oneway_pykka(n)) if have_pykka else None,
        "asyncio queue": lambda: oneway_asyncio(n),
        "trio channel": (lambda: oneway_trio(n)) if have_trio else None,
    }, repeats, "one-way")

    # Round trips per peer sized to take a fraction of a second each.
    m_fast, m_mid, m_slow = 100_000 // scale, 40_000 // scale, 8_000 // scale
    print(f"ask round trips/s, {m_fast:,} (coop), {m_mid:,} (asyncio, trio) and {m_slow:,} "
          f"(threads) round trips, median of {repeats}", flush=True)
    ask = measure({
        "coop": lambda: ask_coop(m_fast),
        "thread+queue actor": lambda: ask_thread(m_slow),
        "pykka": (lambda: ask_pykka(m_slow)) if have_pykka else None,
        "asyncio queue": lambda: ask_asyncio(m_mid),
        "trio channel": (lambda: ask_trio(m_mid)) if have_trio else None,
    }, repeats, "ask")

    figures = [
        {"name": "one-way messages", "unit": "messages/s", "lower_is_better": False,
         "goal": ">= 5x faster than thread+queue actor", "results": oneway},
        {"name": "ask round trips", "unit": "round trips/s", "lower_is_better": False,
         "goal": ">= 25x faster than thread+queue actor, >= 2x faster than asyncio queue",
         "results": ask},
    ]
    print()
    print(table(figures))
    if args.quick or args.no_write:
        return 0
    out = write_results("actors", figures)
    print(f"\nwrote {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
