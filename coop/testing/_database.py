"""Failing schedules kept between sessions, so that the next exploration tries them first."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class FailureDatabase:
    """A directory with one file per program, holding the tokens that made it fail."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, where: object) -> FailureDatabase | None:
        if where is None:
            return None
        if not isinstance(where, (str, os.PathLike)):
            raise TypeError(f"explore(database=...) takes a directory path, got {where!r}")
        return cls(Path(where))

    def _file(self, key: str) -> Path:
        return self.path / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".tokens")

    def tokens(self, key: str) -> list[str]:
        try:
            text = self._file(key).read_text()
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines()[1:] if line.strip()]

    def keep(self, key: str, token: str) -> None:
        known = self.tokens(key)
        if token in known:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._file(key).write_text("\n".join([f"# {key}", *known, token]) + "\n")

    def forget(self, key: str, token: str) -> None:
        known = [t for t in self.tokens(key) if t != token]
        file = self._file(key)
        if known:
            file.write_text("\n".join([f"# {key}", *known]) + "\n")
        elif file.exists():
            file.unlink()
