"""The watcher that hands a ``multiprocessing.Pool`` its calls and knows which worker holds
which: a worker that dies fails exactly its call, and a pool a dead worker wedged is mended."""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing import connection
from typing import Any

from ..pools import describe_exit
from ..wire import CRASH, FRAME, WIRE, Done, invoke_pulled

log = logging.getLogger("coop")


class _Peer:
    """One worker process's link to the watcher."""

    __slots__ = ("buffer", "holding", "pid", "process", "trusted")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.trusted = False
        self.pid = 0
        self.process: Any = None
        self.holding = 0  # the id of the call it pulled and has not answered, or 0


def _unread(reader: Any) -> int | None:
    """Bytes waiting in a pipe (a multiprocessing Connection), or None where unknown."""
    try:
        import fcntl
        import termios

        buf = bytearray(4)
        fcntl.ioctl(reader.fileno(), termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)
    except (ImportError, OSError, ValueError, AttributeError):
        return None


class PoolWatch:
    """Hands the calls for a ``multiprocessing.Pool`` to its workers, and knows which worker
    holds which call.

    Each call coop hands the pool waits here; the pool gets an anonymous task
    (:func:`coop.offload.wire.invoke_pulled`) that asks this watcher, over a socket, for the next
    call and sends its outcome back on the same socket. One thread, blocked in ``select``
    until a worker speaks or its socket closes (the worker died: the call it held fails).

    A worker killed inside the pool's own plumbing can wedge the whole pool, which
    multiprocessing never notices: its workers take tasks one at a time under a lock shared
    by all of them (``_inqueue._rlock``; the idle worker holding it sits in ``read`` until a
    task comes), and put results under another (``_outqueue._wlock``); a worker SIGKILLed
    while holding one takes it to its grave, and every other worker blocks on it forever.
    While calls wait here and no worker has asked for one for :attr:`stall` seconds, the
    watcher looks: a lock held by nobody alive is released, and pool tasks lost with a dead
    worker are handed again.
    """

    #: Seconds without any worker asking for a call, while calls wait, before looking for
    #: a wedged pool.
    stall = 0.5

    def __init__(self, pool: Any, label: str) -> None:
        self._pool = pool
        self._label = label
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[bytes, Done]] = {}  # not yet pulled, in order
        self._held: dict[int, Done] = {}  # pulled by a worker, outcome not yet back
        self._ids = itertools.count(1)
        self._progress = time.monotonic()  # when a worker last asked for or answered a call
        self._asleep = False  # the watcher waits without a timeout: wake it for a new call
        self.token = os.urandom(16)
        self._dir: str | None = None
        if hasattr(socket, "AF_UNIX"):
            self._dir = tempfile.mkdtemp(prefix="coop-watch-")
            path = os.path.join(self._dir, "s")
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            self.address: Any = ("unix", path)
        else:
            listener = socket.socket(socket.AF_INET)
            listener.bind(("127.0.0.1", 0))
            self.address = ("inet", listener.getsockname())
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._closed = False
        self._thread = threading.Thread(target=self._watch, daemon=True, name="coop-pool-watch")
        self._thread.start()

    # ------------------------------------------------------------ the scheduler's side

    def hand(self, payload: bytes, done: Done) -> int:
        """Queue a call for the pool's workers and hand the pool a task to pull it."""
        call_id = next(self._ids)
        with self._lock:
            if not self._pending:
                self._progress = time.monotonic()
            self._pending[call_id] = (payload, done)
            wake = self._asleep
        if wake:
            self._wake()
        try:
            self._pull_task()
        except BaseException:
            with self._lock:
                self._pending.pop(call_id, None)
            raise
        return call_id

    def withdraw(self, call_id: int) -> bool:
        """Drop a call no worker has pulled yet; False if one has (its outcome will come)."""
        with self._lock:
            return self._pending.pop(call_id, None) is not None

    def close(self) -> None:
        self._closed = True
        self._wake()
        self._thread.join(2.0)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _pull_task(self) -> None:
        self._pool.apply_async(invoke_pulled, (self.address, self.token),
                               error_callback=self._pull_failed)

    def _pull_failed(self, exc: BaseException) -> None:
        # The task could not reach the watcher (no socket to be had): it took no call, and
        # the call it was sent for must not wait for a pull that will never come.
        with self._lock:
            if not self._pending:
                return
            call_id = next(iter(self._pending))
            _, done = self._pending.pop(call_id)
        done(CRASH, f"a worker process of {self._label} could not ask coop for it "
                    f"({type(exc).__name__}: {exc})")

    # ------------------------------------------------------------ the watcher thread

    def _watch(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._closed:
                with self._lock:
                    waiting = bool(self._pending)
                    self._asleep = not waiting
                    due = self._progress + self.stall
                timeout = max(0.0, due - time.monotonic()) if waiting else None
                for key, _ in selector.select(timeout):
                    if key.fileobj is self._listener:
                        self._accept(selector)
                    elif key.fileobj is self._wake_r:
                        try:
                            self._wake_r.recv(64)
                        except OSError:
                            pass
                    else:
                        self._read(selector, key.fileobj, key.data)  # type: ignore[arg-type]
                with self._lock:
                    stalled = bool(self._pending) and \
                        time.monotonic() - self._progress >= self.stall
                if stalled and not self._closed:
                    self._unwedge()
                    with self._lock:
                        self._progress = time.monotonic()
        finally:
            for key in list(selector.get_map().values()):
                if isinstance(key.fileobj, socket.socket):
                    key.fileobj.close()
            selector.close()
            self._wake_w.close()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, _Peer())

    def _read(self, selector: selectors.BaseSelector, sock: socket.socket, peer: _Peer) -> None:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(selector, sock, peer)
            return
        buffer = peer.buffer
        buffer += data
        if not peer.trusted:
            if len(buffer) < len(self.token):
                return
            if not hmac.compare_digest(bytes(buffer[:len(self.token)]), self.token):
                selector.unregister(sock)
                sock.close()
                return
            peer.trusted = True
            del buffer[:len(self.token)]
        size = FRAME.size
        while len(buffer) >= size:
            kind, number, length = FRAME.unpack_from(buffer)
            if kind == b"P":
                del buffer[:size]
                if peer.pid != number:
                    peer.pid = number
                    peer.process = self._find_process(number)
                if not self._give(sock, peer):
                    self._drop(selector, sock, peer)
                    return
            elif kind == b"R":
                if len(buffer) < size + length:
                    return
                outcome = bytes(buffer[size:size + length])
                del buffer[:size + length]
                peer.holding = 0
                with self._lock:
                    self._progress = time.monotonic()
                    done = self._held.pop(number, None)
                if done is not None:
                    done(WIRE, outcome)
            else:  # not coop's protocol: forget this peer
                self._drop(selector, sock, peer)
                return

    def _give(self, sock: socket.socket, peer: _Peer) -> bool:
        """Answer a worker's pull with the next call, or with nothing; False if it died."""
        with self._lock:
            self._progress = time.monotonic()
            if self._pending:
                call_id = next(iter(self._pending))
                payload, done = self._pending.pop(call_id)
                self._held[call_id] = done
                peer.holding = call_id
            else:
                call_id, payload = 0, b""
        frame = FRAME.pack(b"C" if call_id else b"N", call_id, len(payload))
        try:
            # The worker is waiting for exactly this and reads it at once.
            sock.setblocking(True)
            sock.sendall(frame + payload)
            sock.setblocking(False)
        except OSError:
            return False
        return True

    def _drop(self, selector: selectors.BaseSelector, sock: socket.socket, peer: _Peer) -> None:
        """A worker's socket closed: it died (coop's workers never close theirs)."""
        selector.unregister(sock)
        sock.close()
        if not peer.holding:
            return
        call_id, peer.holding = peer.holding, 0
        exitcode = None
        process = peer.process
        if process is not None:
            try:
                connection.wait([process.sentinel], timeout=1.0)
                exitcode = process.exitcode
            except (OSError, ValueError, AssertionError):
                pass
        with self._lock:
            done = self._held.pop(call_id, None)
        if done is not None:
            done(CRASH, f"its worker process (pid {peer.pid}) of {self._label} died: "
                        f"{describe_exit(exitcode)}")

    def _find_process(self, pid: int) -> Any:
        # multiprocessing.Pool has no public list of its workers; its ``_pool`` (a list of
        # Process objects, the same since Python 2.6) is read only to tell how one died.
        for process in list(getattr(self._pool, "_pool", None) or ()):
            if getattr(process, "pid", None) == pid:
                return process
        return None

    def _unwedge(self) -> None:
        """Calls wait and no worker has asked for one in a while: find out why, and mend.

        This reads three private parts of ``multiprocessing.Pool`` (the same since Python
        3.3), for want of any public way to learn that its queues are stuck: ``_inqueue``
        and ``_outqueue`` (``SimpleQueue``: a pipe and a ``Lock`` for each direction, its
        ``_reader`` and ``_rlock``, ``_wlock``) and ``_taskqueue`` (the tasks its handler
        thread has yet to write to the pipe). Each is looked up with a default, so a Pool
        that differs is only asked again, never broken.
        """
        pool = self._pool
        inqueue = getattr(pool, "_inqueue", None)
        outqueue = getattr(pool, "_outqueue", None)
        taskqueue = getattr(pool, "_taskqueue", None)
        reader = getattr(inqueue, "_reader", None)
        rlock = getattr(inqueue, "_rlock", None)
        if outqueue is None or taskqueue is None or reader is None or rlock is None:
            self._pull_task()  # not the Pool we know: all that can be done is to ask again
            return
        # An idle worker holding the task lock sits in read() and takes a waiting task at
        # once: a task still unread with the lock held, twice over a moment, is a dead
        # worker's lock. A worker holds the result lock only while it writes a result.
        unread = _unread(reader)
        if unread and self._held_by_the_dead(rlock, lambda: _unread(reader) == unread):
            log.warning("coop: a worker of %s died while taking a task and left the pool's "
                        "task lock locked; coop released it", self._label)
        wlock = getattr(outqueue, "_wlock", None)
        if wlock is not None and self._held_by_the_dead(wlock, lambda: True):
            log.warning("coop: a worker of %s died while sending a result and left the "
                        "pool's result lock locked; coop released it", self._label)
        if not unread and taskqueue.empty():
            # Nothing queued in the pool, yet calls wait: the tasks sent for them were lost
            # with workers that died taking them. Tasks that find nothing to run are cheap.
            with self._lock:
                missing = len(self._pending)
            for _ in range(missing):
                self._pull_task()

    @staticmethod
    def _held_by_the_dead(lock: Any, unchanged: Callable[[], bool]) -> bool:
        """Release ``lock`` if it stays held while nothing moves; whether it was."""
        for _ in range(2):
            if lock.acquire(False):
                lock.release()
                return False
            time.sleep(0.05)
            if not unchanged():
                return False
        # A multiprocessing Lock has no owner: any process may release it.
        try:
            lock.release()
        except ValueError:  # released meanwhile after all
            return False
        return True
