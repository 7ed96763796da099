"""pmap's progress bar: tqdm when it is installed, else a plain line on stderr."""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

from ..lowlevel import ignore_thread


class PlainProgress:
    """A progress line on stderr for when tqdm is not installed."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.total = total
        self.desc = desc
        self.count = 0
        self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self._shown = -1

    def update(self, n: int) -> None:
        self.count += n
        of = "" if self.total is None else f"/{self.total}"
        if self.tty:
            sys.stderr.write(f"\r{self.desc}: {self.count}{of}")
            sys.stderr.flush()
            return
        if self.total is None:  # a log file gets a line per power of two
            if self.count.bit_length() != (self.count - n).bit_length():
                sys.stderr.write(f"{self.desc}: {self.count}\n")
            return
        tenth = self.count * 10 // self.total  # a log file gets at most eleven lines
        if tenth != self._shown:
            self._shown = tenth
            sys.stderr.write(f"{self.desc}: {self.count}/{self.total}\n")

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
        sys.stderr.flush()


def progress_bar(total: int | None, desc: str) -> Any:
    """A bar of ``total`` items (None: unknown) with ``update(n)`` and ``close()``."""
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return PlainProgress(total, desc)
    bar = tqdm(total=total, desc=desc, unit="item")
    monitor = getattr(tqdm, "monitor", None)
    if isinstance(monitor, threading.Thread):
        # tqdm's refresh thread never hands work to a scheduler: it must not make deadlock
        # detection wait for it, here or in any later run.
        ignore_thread(monitor)
    return bar
