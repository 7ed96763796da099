"""A schedule: the moves that make one run differ from the default (FIFO) run, and its token.

A run meets *choice points*: which ready task runs next, in which order the calls other threads
handed in are applied, which value a ``choice`` takes, whether a task is cancelled here. A point
with one option is no choice and is not counted. With no move, each point takes its default
(the oldest ready task, the first option, no cancellation), which is exactly ``coop.run``'s
own order. A *move* changes one point:

``Pick(point, option)``
    take ``option`` (1 or more) at ``point``.
``Postpone(point)``
    at this task choice, pass over the task about to run, and keep passing over it while any
    other task is ready, until one of the others blocks or ends. Starving a task for as long
    as its peers keep running is one move, not one per step.

The token is the moves and a fingerprint of the run they were made on (how many points it
met, and a hash of how many options each had), so that a token replayed on a program that has
changed since says so instead of replaying something else.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

from ..errors import CoopUsageError

TOKEN_PREFIX = "coop1-"


class Pick:
    """Take ``option`` (>= 1; 0 is the default) at choice point ``point``."""

    # A plain class, not a frozen dataclass: a random run makes one at most of its choice
    # points, and a frozen dataclass's __init__ (object.__setattr__ per field) costs 3 times
    # as much.
    __slots__ = ("option", "point")

    def __init__(self, point: int, option: int) -> None:
        self.point = point
        self.option = option

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Pick) and self.point == other.point
                and self.option == other.option)

    def __hash__(self) -> int:
        return hash((self.point, self.option))

    def __repr__(self) -> str:
        return f"Pick(point={self.point}, option={self.option})"


class Postpone:
    """Pass over the task about to run at ``point`` until another task blocks or ends."""

    __slots__ = ("point",)

    def __init__(self, point: int) -> None:
        self.point = point

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Postpone) and self.point == other.point

    def __hash__(self) -> int:
        return hash((self.point,))

    def __repr__(self) -> str:
        return f"Postpone(point={self.point})"


Move = Pick | Postpone


class ScheduleMismatch(CoopUsageError):
    """A replay token does not fit the program: it was recorded on another version of it."""


@dataclass(frozen=True)
class Schedule:
    """Moves, in the order of their points, and the fingerprint of the run they describe."""

    moves: tuple[Move, ...]
    points: int = 0
    shape: int = 0
    #: Whether the run offered cancellations (explore(cancellations=True)): replay must too.
    cancellations: bool = False

    @property
    def token(self) -> str:
        """A short text that :func:`coop.testing.replay` turns back into this schedule."""
        out = bytearray()
        _varint(out, int(self.cancellations))
        _varint(out, self.points)
        _varint(out, self.shape)
        _varint(out, len(self.moves))
        last = 0
        for move in self.moves:
            _varint(out, move.point - last)
            last = move.point
            _varint(out, 0 if isinstance(move, Postpone) else move.option)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(bytes(out)).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> Schedule:
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise ValueError(f"not a coop schedule token (they start with {TOKEN_PREFIX!r}): "
                             f"{token!r}")
        body = token[len(TOKEN_PREFIX):]
        try:
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            values = _read_varints(data)
            flags, points, shape, count = values[0], values[1], values[2], values[3]
            pairs = values[4:]
            if len(pairs) != 2 * count:
                raise ValueError("truncated")
        except (ValueError, IndexError) as err:
            raise ValueError(f"the schedule token {token!r} is damaged ({err}); copy it whole "
                             f"from the failure report") from None
        moves: list[Move] = []
        point = 0
        for delta, option in zip(pairs[::2], pairs[1::2], strict=True):
            point += delta
            moves.append(Postpone(point) if option == 0 else Pick(point, option))
        return cls(tuple(moves), points, shape, bool(flags & 1))


def shape_of(option_counts: list[int]) -> int:
    """A fingerprint of a run's choice points: how many options each one had."""
    return zlib.crc32(b",".join(str(n).encode() for n in option_counts))


def _varint(out: bytearray, value: int) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _read_varints(data: bytes) -> list[int]:
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            values.append(value)
            value = shift = 0
    if shift:
        raise ValueError("truncated")
    return values
